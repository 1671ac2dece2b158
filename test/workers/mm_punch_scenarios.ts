// Test CPUs for a hole punched inside a dirty PMD mapping while other CPUs store (seed 003):
// two storers dirty every line of the PMD, then keep storing to its first half only; a third
// CPU punches one page of the second half once both first sweeps are done.

import type { Cpu } from '../../src/sync/cpu.js';
import type { JournalPolicy } from '../../src/journal/policy.js';
import { mountFs } from '../../src/fs/super.js';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, vfs_fallocate } from '../../src/fs/inode.js';
import type { DaxVariant } from '../../src/dax/variant.js';
import { attachMm } from '../../src/mm/mm.js';
import { attachVma } from '../../src/mm/mmap.js';
import type { VmaRef } from '../../src/mm/memory.js';

const LINE = 64;
const PAGE = 4096;

export interface PunchArgs {
  ref: VmaRef;
  ino: number;
  k: number;
  storers: number;
  /** Page punched; pages at or past `keepFrom` are stored to only in the first sweep. */
  punchPage: number;
  keepFrom: number;
  policy: Partial<JournalPolicy>;
  variant: DaxVariant;
  /** Int32 [first sweeps done, punched]. */
  sync: SharedArrayBuffer;
}

/** Sweeps its share of the lines once (value k + 1), then stores to the first half until the punch is done. */
export function sweepThenStore(cpu: Cpu, a: PunchArgs): number {
  const fs = mountFs(cpu, { journalPolicy: a.policy });
  const mm = attachMm(cpu, fs, { variant: a.variant });
  const vma = attachVma(mm, a.ref);
  const s = new Int32Array(a.sync);
  const value = new Uint8Array(LINE).fill(a.k + 1);
  const lines = vma.length / LINE;
  for (let line = a.k; line < lines; line += a.storers) vma.store(line * LINE, value);
  Atomics.add(s, 0, 1);
  Atomics.notify(s, 0);
  const firstHalf = (a.keepFrom * PAGE) / LINE;
  let n = 0;
  for (let line = a.k; Atomics.load(s, 1) === 0 || n < 2000; line = (line + a.storers) % firstHalf, n++) vma.store(line * LINE, value);
  return n;
}

/** Waits for both first sweeps, then punches one page of the PMD's second half. */
export function puncher(cpu: Cpu, a: PunchArgs): void {
  const fs = mountFs(cpu, { journalPolicy: a.policy });
  attachMm(cpu, fs, { variant: a.variant });
  const s = new Int32Array(a.sync);
  for (let v = Atomics.load(s, 0); v < a.storers; v = Atomics.load(s, 0)) Atomics.wait(s, 0, v, 100);
  vfs_fallocate(fs, a.ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, a.punchPage * PAGE, PAGE);
  Atomics.store(s, 1, 1);
}
