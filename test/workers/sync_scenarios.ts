// Scenarios for the machine, spinlock and wait-queue tests, run on test CPUs (test/support/workers.ts).
//
// Locking rules of the scenarios: the test lock is mapping 0's tree_lock (class tree_lock,
// at views.indexRoots[INDEX_ROOT.lockState]); a test-only scratch SharedArrayBuffer holds
// the conditions and counters. In entryLockRounds, as in fs/dax.c, tree_lock guards the
// entry's lock bit (scratch word ENTRY_LOCKED), the entry lock guards the counter, and a
// CPU sleeps on the entry's wait queue only after dropping tree_lock.

import { INDEX_ROOT, LOCK_CLASS, REGION_NAMES } from '../../src/machine/layout.js';
import type { Cpu } from '../../src/sync/cpu.js';
import { spin_lock, spin_unlock } from '../../src/sync/spinlock.js';
import {
  __wake_up,
  dax_entry_waitqueue,
  entryLockAcquired,
  entryLockReleased,
  finish_wait,
  init_wait,
  prepare_to_wait_exclusive,
  schedule,
  type WaitQueueEntry,
} from '../../src/sync/waitqueue.js';

/** Scratch words (Int32) shared by the scenarios and their tests. */
export const SCRATCH = { cond: 0, go: 1, counter: 2, entryLocked: 3, stage: 4, failed: 5, words: 16 } as const;

const TREE_LOCK = 0 * INDEX_ROOT.stride + INDEX_ROOT.lockState;
let sink = 0;

/** Burns about `n` loop iterations where the optimiser cannot drop them. */
function busy(n: number): void {
  let x = sink;
  for (let i = 0; i < n; i++) x = (Math.imul(x, 31) + i) | 0;
  sink = x;
}

/** Reads the first and last element of every region (the main thread's marks) and leaves its own. */
export function regionEcho(cpu: Cpu): Record<string, [number, number]> {
  const seen: Record<string, [number, number]> = {};
  REGION_NAMES.forEach((name, i) => {
    const v = cpu.machine.views[name];
    seen[name] = [v[0], v[v.length - 1]];
    v[0] = 100 + i;
    v[v.length - 1] = 150 + i;
  });
  return seen;
}

/** Increments a plain (non-atomic) counter under tree_lock: read, work, write. */
export function lockedIncrements(cpu: Cpu, args: { scratch: SharedArrayBuffer; rounds: number; work: number }): number {
  const s = new Int32Array(args.scratch);
  const roots = cpu.machine.views.indexRoots;
  for (let r = 0; r < args.rounds; r++) {
    spin_lock(cpu, roots, TREE_LOCK, LOCK_CLASS.tree_lock);
    const v = s[SCRATCH.counter];
    busy(args.work);
    s[SCRATCH.counter] = v + 1;
    spin_unlock(cpu, roots, TREE_LOCK, LOCK_CLASS.tree_lock);
  }
  return args.rounds;
}

/** Takes tree_lock, says so (stage 1), and holds it until the test says stage 2. */
export function holdUntilReleased(cpu: Cpu, args: { scratch: SharedArrayBuffer }): void {
  const s = new Int32Array(args.scratch);
  const roots = cpu.machine.views.indexRoots;
  spin_lock(cpu, roots, TREE_LOCK, LOCK_CLASS.tree_lock);
  Atomics.store(s, SCRATCH.stage, 1);
  Atomics.notify(s, SCRATCH.stage);
  while (Atomics.load(s, SCRATCH.stage) !== 2) Atomics.wait(s, SCRATCH.stage, 1, 1000);
  spin_unlock(cpu, roots, TREE_LOCK, LOCK_CLASS.tree_lock);
}

/**
 * Sleeps on the key's bucket until scratch cond becomes 1. Returns how often schedule()
 * slept and whether a sleep timed out (a lost wake-up: the test wakes well within it).
 */
export function sleepUntilCond(
  cpu: Cpu,
  args: { scratch: SharedArrayBuffer; mapping: number; index: number; timeoutMs: number },
): { slept: number; timedOut: boolean } {
  const s = new Int32Array(args.scratch);
  const bucket = dax_entry_waitqueue(args.mapping, args.index);
  const w = init_wait(cpu);
  let slept = 0;
  let timedOut = false;
  for (;;) {
    prepare_to_wait_exclusive(w, bucket);
    if (Atomics.load(s, SCRATCH.cond) === 1) break;
    const r = schedule(w, args.timeoutMs);
    if (r !== 'not-equal') slept++;
    if (r === 'timed-out') {
      timedOut = true;
      break;
    }
  }
  finish_wait(w);
  return { slept, timedOut };
}

/** Waits for the test's go, then sets cond and wakes the key's bucket; returns how many it woke. */
export function wakeWhenTold(cpu: Cpu, args: { scratch: SharedArrayBuffer; mapping: number; index: number }): number {
  const s = new Int32Array(args.scratch);
  while (Atomics.load(s, SCRATCH.go) === 0) Atomics.wait(s, SCRATCH.go, 0, 1000);
  Atomics.store(s, SCRATCH.cond, 1);
  return __wake_up(cpu, dax_entry_waitqueue(args.mapping, args.index));
}

/**
 * A token ring of n CPUs: CPU `me` waits for turn % n === me, passes the turn on and wakes
 * the next CPU's bucket (or the one bucket all share). A lost wake-up shows as a timeout,
 * which raises scratch `failed` so that every CPU gives up instead of timing out in turn.
 */
export function tokenRing(
  cpu: Cpu,
  args: { scratch: SharedArrayBuffer; n: number; me: number; rounds: number; sharedBucket: boolean; timeoutMs: number },
): { timeouts: number; sleeps: number } {
  const s = new Int32Array(args.scratch);
  const bucketOf = (who: number) => dax_entry_waitqueue(0, args.sharedBucket ? 0 : 1000 + who);
  const mine = bucketOf(args.me);
  const next = bucketOf((args.me + 1) % args.n);
  let timeouts = 0;
  let sleeps = 0;
  for (let r = 0; r < args.rounds && Atomics.load(s, SCRATCH.failed) === 0; r++) {
    const w = init_wait(cpu);
    for (;;) {
      prepare_to_wait_exclusive(w, mine);
      if (Atomics.load(s, SCRATCH.cond) % args.n === args.me || Atomics.load(s, SCRATCH.failed) !== 0) break;
      const res = schedule(w, args.timeoutMs);
      if (res !== 'not-equal') sleeps++;
      if (res === 'timed-out') {
        timeouts++;
        Atomics.store(s, SCRATCH.failed, 1);
      }
    }
    finish_wait(w);
    if (Atomics.load(s, SCRATCH.failed) !== 0) break;
    Atomics.add(s, SCRATCH.cond, 1);
    __wake_up(cpu, next);
  }
  return { timeouts, sleeps };
}

/**
 * The fs/dax.c entry-lock pattern: under tree_lock wait until the entry is unlocked
 * (get_unlocked_mapping_entry), lock it (lock_slot), drop tree_lock, increment a plain
 * counter under the entry lock, then unlock it under tree_lock and wake its waiters
 * (put_locked_mapping_entry). Returns the schedule() timeouts, which a lost wake-up causes;
 * the first raises scratch `failed` and every CPU stops after its current round.
 */
export function entryLockRounds(
  cpu: Cpu,
  args: { scratch: SharedArrayBuffer; rounds: number; work: number; mapping: number; index: number; timeoutMs: number },
): number {
  const s = new Int32Array(args.scratch);
  const roots = cpu.machine.views.indexRoots;
  const lock = () => spin_lock(cpu, roots, TREE_LOCK, LOCK_CLASS.tree_lock);
  const unlock = () => spin_unlock(cpu, roots, TREE_LOCK, LOCK_CLASS.tree_lock);
  const bucket = dax_entry_waitqueue(args.mapping, args.index);
  let timeouts = 0;
  for (let r = 0; r < args.rounds && Atomics.load(s, SCRATCH.failed) === 0; r++) {
    lock();
    let w: WaitQueueEntry | null = null;
    while (s[SCRATCH.entryLocked] !== 0) {
      w ??= init_wait(cpu);
      prepare_to_wait_exclusive(w, bucket);
      unlock();
      if (schedule(w, args.timeoutMs) === 'timed-out') {
        timeouts++;
        Atomics.store(s, SCRATCH.failed, 1);
      }
      finish_wait(w);
      lock();
    }
    s[SCRATCH.entryLocked] = 1;
    entryLockAcquired(cpu);
    unlock();

    const v = s[SCRATCH.counter];
    busy(args.work);
    s[SCRATCH.counter] = v + 1;

    lock();
    s[SCRATCH.entryLocked] = 0;
    entryLockReleased(cpu);
    unlock();
    __wake_up(cpu, bucket);
  }
  return timeouts;
}
