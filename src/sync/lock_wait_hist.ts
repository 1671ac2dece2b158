// Recording lock_stat's wait-time histograms: every contended wait that lock_stat adds to a
// class's waitNsTotal is also counted in a log2 nanosecond bucket of that CPU's histogram
// for the class (LOCK_WAIT_HIST in views.lockWaitHist), so that the waits inside a slow
// operation can be told from the mean. Reading and diffing are in lockstat.ts.
//
// Locking rules: none. A CPU writes only its own rows, with plain adds, and only on a
// contended path that has already paid two clock reads; readers see exact figures once the
// CPUs are quiescent, as with the rest of lock_stat.

import { LOCK_WAIT_BUCKETS, LOCK_WAIT_HIST } from '../machine/layout.js';
import type { Cpu } from './cpu.js';

const TWO_32 = 0x1_0000_0000;
const LAST = LOCK_WAIT_BUCKETS - 1;
const LAST_LOW_NS = 2 ** LAST;

/** The bucket of a wait of ns nanoseconds: floor(log2(ns)), 0 below 2 ns, the last bucket from 2^41 ns on. */
export function lockWaitBucket(ns: number): number {
  if (!(ns >= 2)) return 0;
  if (ns >= LAST_LOW_NS) return LAST;
  // Math.clz32 sees only 32 bits (truncating, which is the floor we want); a wait of 4.3 s
  // or more is counted from its high word instead of through Math.log2's rounding.
  if (ns < TWO_32) return 31 - Math.clz32(ns);
  return 63 - Math.clz32(ns / TWO_32);
}

/** Lower bound of bucket k in ns (0 for bucket 0). */
export function lockWaitBucketLowNs(k: number): number {
  return k === 0 ? 0 : 2 ** k;
}

/** Upper bound (exclusive) of bucket k in ns. */
export function lockWaitBucketHighNs(k: number): number {
  return 2 ** (k + 1);
}

/** Counts one contended wait of this CPU on lock class cls. */
export function recordLockWait(cpu: Cpu, cls: number, ns: number): void {
  cpu.machine.views.lockWaitHist[cpu.waitHistBase + cls * LOCK_WAIT_HIST.stride + lockWaitBucket(ns)]++;
}

/**
 * Moves one wait already counted at oldNs to newNs: a wait-queue entry that sleeps again
 * after its finish_wait() stays one contention whose wait grew (waitqueue.ts).
 */
export function extendLockWait(cpu: Cpu, cls: number, oldNs: number, newNs: number): void {
  const from = lockWaitBucket(oldNs);
  const to = lockWaitBucket(newNs);
  if (from === to) return;
  const hist = cpu.machine.views.lockWaitHist;
  const row = cpu.waitHistBase + cls * LOCK_WAIT_HIST.stride;
  hist[row + from]--;
  hist[row + to]++;
}
