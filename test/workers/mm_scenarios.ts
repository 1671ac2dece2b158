// Test CPUs for mm/ (test/mm_workers.test.ts): storers that fault and store through a shared
// mapping, and a CPU that msyncs it over and over. Every CPU mounts the file system and
// attaches the address space itself, then attaches the mapping the main thread made.

import type { Cpu } from '../../src/sync/cpu.js';
import type { JournalPolicy } from '../../src/journal/policy.js';
import { mountFs } from '../../src/fs/super.js';
import type { DaxVariant } from '../../src/dax/variant.js';
import { attachMm, type MmCounters } from '../../src/mm/mm.js';
import { attachVma } from '../../src/mm/mmap.js';
import type { VmaRef } from '../../src/mm/memory.js';
import { checkMm, checkSyncMappings } from '../../src/mm/check.js';

export const LINE = 64;

export interface StorerArgs {
  ref: VmaRef;
  /** Storer number k of `storers`: it owns the cache lines whose number is k modulo storers. */
  k: number;
  storers: number;
  rounds: number;
  /** Flush each store from userspace (clwb + fence) every this many stores; 0: never. */
  flushEvery: number;
  policy: Partial<JournalPolicy>;
  /** A known-bad DAX variant this CPU's mappings run (default none). */
  variant?: DaxVariant;
  /** Int32 [storers done]. */
  done: SharedArrayBuffer;
  /** Int32 [pause requested, storers paused]: the msync CPU stops the storers to check invariants. */
  pause: SharedArrayBuffer;
}

export interface StorerResult {
  /** The byte each line of the mapping holds last (0: never stored by this CPU). */
  last: Uint8Array;
  counters: MmCounters;
}

/** Stores 64-byte lines it owns at random, each line filled with its own rising counter (1..255). */
export function storer(cpu: Cpu, a: StorerArgs): StorerResult {
  const fs = mountFs(cpu, { journalPolicy: a.policy });
  const mm = attachMm(cpu, fs, { variant: a.variant ?? 'none' });
  const vma = attachVma(mm, a.ref);
  const lines = vma.length / LINE;
  const last = new Uint8Array(lines);
  const bufs = Array.from({ length: 256 }, (_, v) => new Uint8Array(LINE).fill(v));
  const check = new Uint8Array(LINE);
  let x = (cpu.id * 2654435761) >>> 0 || 1;
  try {
    const pause = new Int32Array(a.pause);
    for (let r = 0; r < a.rounds; r++) {
      if (Atomics.load(pause, 0) !== 0) waitWhilePaused(pause);
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      const line = Math.floor((x % Math.floor(lines / a.storers)) * a.storers + a.k);
      const v = (last[line] % 255) + 1;
      vma.store(line * LINE, bufs[v]);
      last[line] = v;
      if (a.flushEvery > 0 && r % a.flushEvery === 0) vma.flushUser(line * LINE, LINE);
      if ((r & 63) === 0) {
        vma.loadInto(line * LINE, check);
        if (check[0] !== v || check[LINE - 1] !== v) throw new Error(`cpu ${cpu.id}: line ${line} reads ${check[0]}, stored ${v}`);
      }
    }
  } finally {
    Atomics.add(new Int32Array(a.done), 0, 1);
  }
  return { last, counters: mm.counters };
}

export interface MsyncerArgs {
  ref: VmaRef;
  storers: number;
  policy: Partial<JournalPolicy>;
  variant?: DaxVariant;
  done: SharedArrayBuffer;
  pause: SharedArrayBuffer;
  /** Stop the storers and run the invariant checks before this many of the msyncs. */
  checks: number;
}

export interface MsyncerResult {
  passes: number;
  checks: number;
  /** What checkMm and checkSyncMappings found at the pauses (first few). */
  violations: string[];
}

/** A storer between two operations: counts itself paused and sleeps until the pause ends. */
function waitWhilePaused(pause: Int32Array): void {
  Atomics.add(pause, 1, 1);
  Atomics.notify(pause, 1);
  while (Atomics.load(pause, 0) !== 0) Atomics.wait(pause, 0, 1, 100);
  Atomics.sub(pause, 1, 1);
}

/**
 * msync(MS_SYNC) of the whole mapping until every storer is done. Before each of the first
 * `checks` msyncs it stops the storers between two stores and runs the invariant checks
 * (no writable page without a DIRTY entry; every writable MAP_SYNC page durable).
 */
export function msyncer(cpu: Cpu, a: MsyncerArgs): MsyncerResult {
  const fs = mountFs(cpu, { journalPolicy: a.policy });
  const mm = attachMm(cpu, fs, { variant: a.variant ?? 'none' });
  const vma = attachVma(mm, a.ref);
  const done = new Int32Array(a.done);
  const pause = new Int32Array(a.pause);
  const out: MsyncerResult = { passes: 0, checks: 0, violations: [] };
  while (Atomics.load(done, 0) < a.storers) {
    if (out.checks < a.checks) {
      Atomics.store(pause, 0, 1);
      for (let p = Atomics.load(pause, 1); p + Atomics.load(done, 0) < a.storers; p = Atomics.load(pause, 1)) Atomics.wait(pause, 1, p, 100);
      const found = [...checkMm(mm), ...checkSyncMappings(mm)];
      out.checks++;
      Atomics.store(pause, 0, 0);
      Atomics.notify(pause, 0);
      if (out.violations.length < 10) out.violations.push(...found.slice(0, 10 - out.violations.length));
    }
    vma.msync(0, vma.length);
    out.passes++;
  }
  return out;
}
