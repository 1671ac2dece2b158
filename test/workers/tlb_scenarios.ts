// Test CPUs for TLB shootdowns (test/mm_tlb.test.ts), on the virtual clock: CPUs that attach
// a mapping (so they join mm_cpumask) and then either run (charging time in small steps) or
// sleep until told to stop, and a flusher that dirties pages and times the msync or punch
// that write-protects or zaps them. Flags: Int32 [ready count, stop, turn].

import type { Cpu } from '../../src/sync/cpu.js';
import { mountFs } from '../../src/fs/super.js';
import { attachMm } from '../../src/mm/mm.js';
import { attachVma } from '../../src/mm/mmap.js';
import type { VmaRef } from '../../src/mm/memory.js';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, vfs_fallocate } from '../../src/fs/inode.js';
import { CPU_STATE, PAGE_SIZE } from '../../src/machine/layout.js';
import { V_BLOCKED, charge, vnotify, vwait } from '../../src/sync/vclock.js';
import { nowNs } from '../../src/util/clock.js';

const READY = 0;
const STOP = 1;
/** Whose turn it is to fault: the bystanders fault one after the other, so no lock they share is contended. */
const TURN = 2;

export interface BystanderArgs {
  ref: VmaRef;
  flags: SharedArrayBuffer;
  sleep: boolean;
  /** The page it write-faults at the end (its own: the CPUs share the mapping's page table). */
  page: number;
  /** Its place in the order the bystanders fault in (from 0). */
  turn: number;
}

/**
 * Attaches the mapping, says it is ready, then runs (charge in 100 ns steps) or sleeps until
 * the flusher is done; then times a write fault on its page (which pays for the flushes it was sent).
 */
export function bystander(cpu: Cpu, a: BystanderArgs): number {
  const fs = mountFs(cpu);
  const mm = attachMm(cpu, fs);
  const vma = attachVma(mm, a.ref);
  const flags = new Int32Array(a.flags);
  Atomics.add(flags, READY, 1);
  if (a.sleep) {
    while (Atomics.load(flags, STOP) === 0) vwait(cpu, flags, STOP, 0);
  } else {
    while (Atomics.load(flags, STOP) === 0) charge(100);
  }
  // Two faults at once could meet on a lock, and which waits would be the host's choice.
  while (Atomics.load(flags, TURN) < a.turn) vwait(cpu, flags, TURN, Atomics.load(flags, TURN));
  const t0 = nowNs();
  vma.store(a.page * PAGE_SIZE, new Uint8Array([1]));
  const ns = nowNs() - t0;
  Atomics.add(flags, TURN, 1);
  vnotify(cpu, flags, TURN);
  return ns;
}

export interface FlusherArgs {
  ref: VmaRef;
  flags: SharedArrayBuffer;
  bystanders: number;
  pages: number;
  how: 'msync' | 'punch';
  ino: number;
  /** CPUs of sleeping bystanders: timed only once each is asleep. */
  sleepers: number[];
}

export interface FlusherResult {
  ns: number;
  tlbShootdowns: number;
}

/** Stores to `pages` pages, waits for the bystanders, then times one msync (or hole punch) of them. */
export function flusher(cpu: Cpu, a: FlusherArgs): FlusherResult {
  const fs = mountFs(cpu);
  const mm = attachMm(cpu, fs);
  const vma = attachVma(mm, a.ref);
  const flags = new Int32Array(a.flags);
  for (let p = 0; p < a.pages; p++) vma.store(p * PAGE_SIZE, new Uint8Array([p + 1]));
  while (Atomics.load(flags, READY) < a.bystanders) Atomics.wait(flags, READY, Atomics.load(flags, READY), 1);
  const st = cpu.machine.views.cpuState;
  for (const c of a.sleepers) while (Atomics.load(st, c * CPU_STATE.stride + CPU_STATE.vstate) !== V_BLOCKED) Atomics.wait(flags, STOP, 0, 1);
  try {
    const before = mm.counters.tlbShootdowns;
    const t0 = nowNs();
    if (a.how === 'msync') vma.msync(0, a.pages * PAGE_SIZE);
    else vfs_fallocate(fs, a.ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, a.pages * PAGE_SIZE);
    return { ns: nowNs() - t0, tlbShootdowns: mm.counters.tlbShootdowns - before };
  } finally {
    Atomics.store(flags, STOP, 1);
    vnotify(cpu, flags, STOP);
  }
}
