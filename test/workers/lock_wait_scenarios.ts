// Scenarios for the lock wait-time histogram and watchdog tests, run on test CPUs.
//
// Locking rules of the scenarios: the contended lock is mapping `mapping`'s tree_lock
// (class tree_lock); i_mmap_sem is inode 0's (class i_mmap_sem). In attributedEntryRounds,
// as in fs/dax.c, tree_lock guards the entry's lock bit (scratch word ENTRY_LOCKED) and a CPU
// sleeps on the entry's wait queue only after dropping tree_lock. stuckHolder takes a
// tree_lock and never gives it back: the test ends it with Worker.terminate().

import { CPU_STATE, FS_INODE, INDEX_ROOT, LOCK_CLASS, LOCK_STAT } from '../../src/machine/layout.js';
import { opBegin, opEnd, setAttributing } from '../../src/measure/steps.js';
import type { Cpu } from '../../src/sync/cpu.js';
import { down_write, up_write, WAIT_KIND_RWSEM } from '../../src/sync/rwsem.js';
import { spin_lock, spin_unlock, WAIT_KIND_LOCK } from '../../src/sync/spinlock.js';
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
  WAIT_KIND_ENTRY,
} from '../../src/sync/waitqueue.js';
import { nowNs } from '../../src/util/clock.js';

/** Scratch words (Int32) shared by the scenarios and their tests. */
export const WAIT_SCRATCH = { stage: 0, counter: 1, entryLocked: 2, nap: 3, words: 16 } as const;

let sink = 0;

/** Burns about `n` loop iterations where the optimiser cannot drop them. */
function busy(n: number): void {
  let x = sink;
  for (let i = 0; i < n; i++) x = (Math.imul(x, 31) + i) | 0;
  sink = x;
}

function treeLockAt(mapping: number): number {
  return mapping * INDEX_ROOT.stride + INDEX_ROOT.lockState;
}

/**
 * Sleeps in 1 ms naps until another CPU (or CPU `only`) says in its cpuState that it waits
 * with `kind`, and returns it. The first contention of a scenario is arranged this way, so a
 * loaded machine that happens to run the CPUs one after the other still produces one.
 */
function untilAnotherWaits(cpu: Cpu, s: Int32Array, kind: number, only = -1): number {
  const st = cpu.machine.views.cpuState;
  for (let nap = 0; nap < 10_000; nap++) {
    for (let c = 0; c < cpu.machine.config.cpus; c++) {
      if (c === cpu.id || (only >= 0 && c !== only)) continue;
      if (Atomics.load(st, c * CPU_STATE.stride + CPU_STATE.waitKind) === kind) return c;
    }
    Atomics.wait(s, WAIT_SCRATCH.nap, 0, 1);
  }
  throw new Error(`cpu ${cpu.id}: no other CPU started waiting (kind ${kind}) within 10 s`);
}

function announce(s: Int32Array): void {
  Atomics.store(s, WAIT_SCRATCH.stage, 1);
  Atomics.notify(s, WAIT_SCRATCH.stage);
}

function untilAnnounced(s: Int32Array): void {
  while (Atomics.load(s, WAIT_SCRATCH.stage) === 0) Atomics.wait(s, WAIT_SCRATCH.stage, 0, 100);
}

/**
 * Takes and drops mapping's tree_lock `rounds` times, holding it for `work` iterations. The
 * `leader` first holds it until another CPU waits on it; the others start when it has it.
 */
export function treeLockRounds(
  cpu: Cpu,
  args: { scratch: SharedArrayBuffer; leader: boolean; mapping: number; rounds: number; work: number },
): number {
  const s = new Int32Array(args.scratch);
  const roots = cpu.machine.views.indexRoots;
  const at = treeLockAt(args.mapping);
  if (args.leader) {
    spin_lock(cpu, roots, at, LOCK_CLASS.tree_lock);
    announce(s);
    untilAnotherWaits(cpu, s, WAIT_KIND_LOCK);
    spin_unlock(cpu, roots, at, LOCK_CLASS.tree_lock);
  } else {
    untilAnnounced(s);
  }
  for (let r = 0; r < args.rounds; r++) {
    spin_lock(cpu, roots, at, LOCK_CLASS.tree_lock);
    busy(args.work);
    spin_unlock(cpu, roots, at, LOCK_CLASS.tree_lock);
  }
  return args.rounds;
}

/** Takes and drops inode 0's i_mmap_sem for write `rounds` times; the `leader` forces a first contention as in treeLockRounds. */
export function mmapSemRounds(cpu: Cpu, args: { scratch: SharedArrayBuffer; leader: boolean; rounds: number; work: number }): number {
  const s = new Int32Array(args.scratch);
  const inodes = cpu.machine.views.fsInodeState;
  const at = 0 * FS_INODE.stride + FS_INODE.mmapSemCount;
  if (args.leader) {
    down_write(cpu, inodes, at, LOCK_CLASS.i_mmap_sem);
    announce(s);
    untilAnotherWaits(cpu, s, WAIT_KIND_RWSEM);
    up_write(cpu, inodes, at);
  } else {
    untilAnnounced(s);
  }
  for (let r = 0; r < args.rounds; r++) {
    down_write(cpu, inodes, at, LOCK_CLASS.i_mmap_sem);
    busy(args.work);
    up_write(cpu, inodes, at);
  }
  return args.rounds;
}

/**
 * The fs/dax.c entry-lock pattern, one attributed operation per round: wait for the entry
 * under tree_lock, retaking tree_lock inside the wait (finish_wait() after every sleep, so a
 * wait can grow), lock it, work, unlock and wake; tree_lock is held for `treeWork` iterations
 * each time. The `leader` first arranges one entry wait with a tree_lock wait inside it: it
 * holds the entry until another CPU sleeps on it, then wakes it while holding tree_lock until
 * that CPU waits for tree_lock too. Returns per operation its latency and its steps, and this
 * CPU's tree_lock wait total, the part of it spent inside entry waits, and its entry wait total.
 */
export function attributedEntryRounds(
  cpu: Cpu,
  args: { scratch: SharedArrayBuffer; leader: boolean; rounds: number; work: number; treeWork: number; mapping: number; index: number },
): { ops: { latencyNs: number; steps: number[] }[]; treeWaitNs: number; treeInsideNs: number; entryWaitNs: number } {
  const s = new Int32Array(args.scratch);
  const roots = cpu.machine.views.indexRoots;
  const at = treeLockAt(args.mapping);
  // Work under tree_lock too, so that retaking it after a sleep contends inside the entry wait.
  const lock = () => {
    spin_lock(cpu, roots, at, LOCK_CLASS.tree_lock);
    busy(args.treeWork);
  };
  const unlock = () => spin_unlock(cpu, roots, at, LOCK_CLASS.tree_lock);
  const bucket = dax_entry_waitqueue(args.mapping, args.index);
  const ops: { latencyNs: number; steps: number[] }[] = [];
  const stat = cpu.machine.views.lockStat;
  const row = (cls: number) => cpu.statBase + cls * LOCK_STAT.stride + LOCK_STAT.waitNsTotal;
  const treeWait = row(LOCK_CLASS.tree_lock);
  let treeInsideNs = 0;
  if (args.leader) {
    lock();
    s[WAIT_SCRATCH.entryLocked] = 1;
    entryLockAcquired(cpu);
    unlock();
    announce(s);
    const sleeper = untilAnotherWaits(cpu, s, WAIT_KIND_ENTRY);
    lock();
    s[WAIT_SCRATCH.entryLocked] = 0;
    entryLockReleased(cpu);
    __wake_up(cpu, bucket);
    untilAnotherWaits(cpu, s, WAIT_KIND_LOCK, sleeper);
    unlock();
  } else {
    untilAnnounced(s);
  }
  // Only the waits of the attributed operations: the leader's setup can contend too.
  const treeBefore = stat[treeWait];
  const entryBefore = stat[row(LOCK_CLASS.dax_entry_lock)];
  setAttributing(true);
  for (let r = 0; r < args.rounds; r++) {
    const t0 = nowNs();
    opBegin(t0);
    lock();
    let w: WaitQueueEntry | null = null;
    while (s[WAIT_SCRATCH.entryLocked] !== 0) {
      w ??= init_wait(cpu);
      prepare_to_wait_exclusive(w, bucket);
      unlock();
      schedule(w, 1000);
      const tree0 = stat[treeWait];
      lock();
      treeInsideNs += stat[treeWait] - tree0;
      finish_wait(w);
    }
    s[WAIT_SCRATCH.entryLocked] = 1;
    entryLockAcquired(cpu);
    unlock();
    busy(args.work);
    lock();
    s[WAIT_SCRATCH.entryLocked] = 0;
    entryLockReleased(cpu);
    unlock();
    __wake_up(cpu, bucket);
    const t1 = nowNs();
    ops.push({ latencyNs: t1 - t0, steps: Array.from(opEnd(t1)) });
  }
  setAttributing(false);
  return { ops, treeWaitNs: stat[treeWait] - treeBefore, treeInsideNs, entryWaitNs: stat[row(LOCK_CLASS.dax_entry_lock)] - entryBefore };
}

/** Takes mapping's tree_lock, says so (stage 1), and never releases it: it spins until terminated. */
export function stuckHolder(cpu: Cpu, args: { scratch: SharedArrayBuffer; mapping: number }): never {
  const s = new Int32Array(args.scratch);
  spin_lock(cpu, cpu.machine.views.indexRoots, treeLockAt(args.mapping), LOCK_CLASS.tree_lock);
  Atomics.store(s, WAIT_SCRATCH.stage, 1);
  Atomics.notify(s, WAIT_SCRATCH.stage);
  for (;;) busy(1_000_000);
}

/** Waits for stage 1, counts one step of progress, then tries to take mapping's tree_lock. */
export function blockedTaker(cpu: Cpu, args: { scratch: SharedArrayBuffer; mapping: number }): void {
  const s = new Int32Array(args.scratch);
  while (Atomics.load(s, WAIT_SCRATCH.stage) !== 1) Atomics.wait(s, WAIT_SCRATCH.stage, 0, 100);
  Atomics.add(s, WAIT_SCRATCH.counter, 1);
  const roots = cpu.machine.views.indexRoots;
  spin_lock(cpu, roots, treeLockAt(args.mapping), LOCK_CLASS.tree_lock);
  spin_unlock(cpu, roots, treeLockAt(args.mapping), LOCK_CLASS.tree_lock);
}
