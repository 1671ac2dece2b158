// The hashed wait queues fs/dax.c puts CPUs to sleep on while a DAX entry is locked
// (wait_table[DAX_WAIT_TABLE_ENTRIES]), with lock_stat accounting for the entry lock.
//
// A bucket (WAIT_BUCKET in views.waitTable) is an event count, not a list: `seq` is
// bumped by every wake-up and `waiters` counts the CPUs between prepare_to_wait_exclusive()
// and finish_wait(). A sleeper reads `seq` before it drops the lock that protects its
// condition and sleeps only while `seq` still has that value, so a wake-up that lands
// between the unlock and the sleep is never lost.
//
// Locking rules, as for get_unlocked_mapping_entry() in fs/dax.c:
//  - The condition a CPU sleeps on (the entry's lock bit) is guarded by mapping->tree_lock,
//    or is itself read and written with Atomics. The sleeper checks it, and calls
//    prepare_to_wait_exclusive(), under tree_lock; then drops tree_lock and calls
//    schedule(). The waker changes the condition under tree_lock and calls __wake_up()
//    after (it may drop tree_lock first, as dax_wake_mapping_entry_waiter() is called).
//  - schedule() is the only call here that sleeps: never call it holding a spinlock.
//    prepare_to_wait_exclusive(), finish_wait(), waitqueue_active() and __wake_up() never
//    sleep and may be called with any lock held.
//  - After schedule() returns, the condition must be checked again under tree_lock:
//    wake-ups are spurious when another key in the same bucket was woken, when another
//    waiter won the entry first, or when a timeout expired.
//  - Buckets are shared between keys (mapping, index) and there is no key-matching wake
//    function (the kernel's wake_exceptional_entry_func), so every wake-up wakes all
//    sleepers of the bucket, where the kernel wakes one exclusive waiter of the key. The
//    sleepers that lose the race go back to sleep.
//  - A CPU's own lock_stat record and its cpuState record are written only by that CPU.
//
// A sleep loop may finish_wait() after every schedule(), as fs/dax.c does, or stay queued
// across its iterations and finish_wait() once at the end; both are correct.
//
// lock_stat for LOCK_CLASS.dax_entry_lock: one wait entry (init_wait()) is one contention,
// however many times its owner sleeps on it (with wake-all, the losers of a wake-up sleep
// again; the kernel would not have woken them); the wait time runs from its first
// prepare_to_wait_exclusive() to its last finish_wait(). A wait that never called
// schedule() is not a contention. Acquisitions and hold times are counted by the entry
// lock's owner through entryLockAcquired() and entryLockReleased(). The entry lock is a
// bit in a radix-tree slot with no owner word, so its bounce columns stay 0. The wait-time
// histogram counts each contention once, in the bucket of its wait so far: a wait that grows
// moves between buckets (lock_wait_hist.ts).
//
// Attribution (measure/steps.ts): a wait's time goes to the operation's entry-lock wait step,
// less the tree_lock waits inside it (the sleep loop retakes tree_lock), which spin_lock()
// attributes to the tree_lock wait step itself; so neither is counted twice.
//
// For the watchdog, a queued CPU's cpuState record reads waitKind WAIT_KIND_ENTRY,
// waitRegion the waitTable's region number, waitAt the bucket number (not a word offset,
// unlike a spinlock's) and waitClass LOCK_CLASS.dax_entry_lock, from
// prepare_to_wait_exclusive() to finish_wait().

import { CPU_STATE, LIMITS, LOCK_CLASS, LOCK_STAT, PAGE_SHIFT, PMD_SIZE, WAIT_BUCKET, WAIT_TABLE_BITS } from '../machine/layout.js';
import { RADIX_TREE_MAX_INDEX } from '../dax/radix_tree.js';
import { checkInt } from '../util/check.js';
import { STEP, stepAdd } from '../measure/steps.js';
import { nowNs } from '../util/clock.js';
import type { Cpu } from './cpu.js';
import { extendLockWait, recordLockWait } from './lock_wait_hist.js';
import { recordHold } from './spinlock.js';
import { vnotify, vwait } from './vclock.js';

/** cpuState waitKind of a CPU asleep on an entry wait queue (spinlock.ts has WAIT_KIND_LOCK = 1). */
export const WAIT_KIND_ENTRY = 2;

export const DAX_WAIT_TABLE_BITS = WAIT_TABLE_BITS;
export const DAX_WAIT_TABLE_ENTRIES = 1 << DAX_WAIT_TABLE_BITS;
/** PG_PMD_COLOUR: the page-index bits inside one PMD entry. */
const PG_PMD_COLOUR = (PMD_SIZE >> PAGE_SHIFT) - 1;
/** include/linux/hash.h. */
export const GOLDEN_RATIO_32 = 0x61c88647;

const SEQ = WAIT_BUCKET.seq;
const WAITERS = WAIT_BUCKET.waiters;
const STRIDE = WAIT_BUCKET.stride;
const CLS = LOCK_CLASS.dax_entry_lock;
/** Offset of the tree_lock wait total in a CPU's lock_stat records. */
const TREE_WAIT_TOTAL = LOCK_CLASS.tree_lock * LOCK_STAT.stride + LOCK_STAT.waitNsTotal;

/**
 * One CPU's place on a wait queue (the kernel's struct wait_exceptional_entry_queue):
 * made by init_wait() once per wait, reused across the caller's sleep loop.
 */
export interface WaitQueueEntry {
  readonly cpu: Cpu;
  /** The bucket it is queued on, or -1 when not queued. */
  bucket: number;
  /** The bucket's seq when last prepared: schedule() sleeps only while seq still has it. */
  seq: number;
  /** When the wait began (first prepare_to_wait_exclusive), NaN before. */
  startNs: number;
  /** True once schedule() has been called: only then is the wait a contention. */
  scheduled: boolean;
  /** Wait time already added to this CPU's lock_stat. */
  recordedNs: number;
  /** The CPU's waitNsMin before this wait was counted (Infinity when it had none). */
  prevMinNs: number;
  /** True once this wait is one of the CPU's dax_entry_lock contentions. */
  counted: boolean;
  /** The CPU's tree_lock waitNsTotal when the wait began: tree_lock waits inside it are attributed apart. */
  treeWaitNs0: number;
  /** Time already attributed to the entry-lock wait step. */
  attributedNs: number;
}

/**
 * hash_32(): the kernel's multiplicative hash of a 32-bit value down to `bits` bits
 * (hash_long() is hash_32() on a 32-bit kernel; ours hashes 32-bit keys).
 */
export function hash_32(val: number, bits: number): number {
  return Math.imul(val, GOLDEN_RATIO_32) >>> (32 - bits);
}

/**
 * dax_entry_waitqueue(): the bucket a key sleeps on. A PMD entry's index is aligned to
 * the start of its 2 MiB so that every offset it covers shares one bucket. The kernel
 * hashes the address_space pointer xor the index; here a mapping's number is spread by
 * a multiplicative hash to stand in for the pointer, so mappings do not collide trivially.
 * Indexes above 2^32 fold their high word in. Pure: no locks, no shared memory.
 */
export function dax_entry_waitqueue(mappingId: number, index: number, pmd = false): number {
  // A bad key would hash quietly to some bucket, and its sleeper would never be woken.
  if (!((mappingId >>> 0) === mappingId && mappingId < LIMITS.mappings.max)) checkInt('mappingId', mappingId, 0, LIMITS.mappings.max - 1);
  if (!(index >= 0 && index <= RADIX_TREE_MAX_INDEX && Number.isInteger(index))) checkInt('index', index, 0, RADIX_TREE_MAX_INDEX);
  if (pmd) index -= index % (PG_PMD_COLOUR + 1);
  const mapping = Math.imul(mappingId + 1, 0x9e3779b1);
  const lo = index >>> 0;
  const hi = (index / 0x1_0000_0000) >>> 0;
  return hash_32(mapping ^ lo ^ Math.imul(hi, 0x85ebca6b), DAX_WAIT_TABLE_BITS);
}

/** init_wait(): a fresh wait entry for one wait of this CPU (DEFINE_WAIT in the kernel). */
export function init_wait(cpu: Cpu): WaitQueueEntry {
  return {
    cpu,
    bucket: -1,
    seq: 0,
    startNs: Number.NaN,
    scheduled: false,
    recordedNs: 0,
    prevMinNs: Number.POSITIVE_INFINITY,
    counted: false,
    treeWaitNs0: 0,
    attributedNs: 0,
  };
}

function checkBucket(bucket: number): void {
  if (!(Number.isInteger(bucket) && bucket >= 0 && bucket < DAX_WAIT_TABLE_ENTRIES)) {
    throw new RangeError(`bucket: expected an integer from 0 to ${DAX_WAIT_TABLE_ENTRIES - 1}, got ${String(bucket)}`);
  }
}

/**
 * prepare_to_wait_exclusive(): queues the CPU on the bucket and samples its seq. Call it
 * before checking the condition for the last time and before dropping the lock that
 * guards it. Preparing again (a sleep loop) samples seq afresh; on another bucket (the
 * entry became a PMD entry) it moves the CPU there.
 */
export function prepare_to_wait_exclusive(wait: WaitQueueEntry, bucket: number): void {
  // Checked first, every time: -1 equals wait.bucket of an entry not queued, and would
  // otherwise slip past to the cpuState writes below.
  checkBucket(bucket);
  const cpu = wait.cpu;
  const table = cpu.machine.views.waitTable;
  if (wait.bucket !== bucket) {
    if (wait.bucket !== -1) Atomics.sub(table, wait.bucket * STRIDE + WAITERS, 1);
    // Count the waiter before sampling seq: a waker that bumps seq after our sample
    // must already see waiters > 0.
    Atomics.add(table, bucket * STRIDE + WAITERS, 1);
    wait.bucket = bucket;
  }
  if (Number.isNaN(wait.startNs)) {
    wait.startNs = nowNs();
    wait.treeWaitNs0 = cpu.machine.views.lockStat[cpu.statBase + TREE_WAIT_TOTAL];
  }
  // Written on every prepare: a spin_lock() in the caller's loop clears waitKind.
  const state = cpu.machine.views.cpuState;
  const st = cpu.stateBase;
  state[st + CPU_STATE.waitRegion] = cpu.regionOf(table.buffer);
  state[st + CPU_STATE.waitAt] = bucket;
  state[st + CPU_STATE.waitClass] = CLS;
  Atomics.store(state, st + CPU_STATE.waitKind, WAIT_KIND_ENTRY);
  wait.seq = Atomics.load(table, bucket * STRIDE + SEQ);
}

/**
 * schedule() (schedule_timeout() when timeoutMs is given, in the CPU's time: virtual or
 * the host's, sync/vclock.ts): sleeps until the bucket is
 * woken after the last prepare_to_wait_exclusive(). Returns 'not-equal' without sleeping
 * when a wake-up came in between, 'timed-out' when the timeout passed. Never hold a
 * spinlock here.
 */
export function schedule(wait: WaitQueueEntry, timeoutMs?: number): 'ok' | 'not-equal' | 'timed-out' {
  if (wait.bucket === -1) throw new Error(`schedule: cpu ${wait.cpu.id} is not on a wait queue; prepare_to_wait_exclusive() first`);
  wait.scheduled = true;
  const r = vwait(wait.cpu, wait.cpu.machine.views.waitTable, wait.bucket * STRIDE + SEQ, wait.seq, timeoutMs === undefined ? Infinity : timeoutMs * 1e6);
  if (r !== 'not-equal') {
    wait.cpu.machine.views.lockStat[wait.cpu.statBase + CLS * LOCK_STAT.stride + LOCK_STAT.sleeps]++;
  }
  return r;
}

/**
 * finish_wait(): takes the CPU off the bucket and, when it slept, records the wait as one
 * dax_entry_lock contention (extended, not counted again, when the same entry waits again).
 * Harmless on an entry that is not queued.
 */
export function finish_wait(wait: WaitQueueEntry): void {
  if (wait.bucket === -1) return;
  const cpu = wait.cpu;
  const views = cpu.machine.views;
  Atomics.sub(views.waitTable, wait.bucket * STRIDE + WAITERS, 1);
  wait.bucket = -1;
  Atomics.store(views.cpuState, cpu.stateBase + CPU_STATE.waitKind, 0);
  if (wait.scheduled) recordWait(wait);
}

/** Adds a wait entry's time so far to its CPU's dax_entry_lock figures, exactly once per entry. */
function recordWait(wait: WaitQueueEntry): void {
  const cpu = wait.cpu;
  const stat = cpu.machine.views.lockStat;
  const s = cpu.statBase + CLS * LOCK_STAT.stride;
  const waited = nowNs() - wait.startNs;
  if (!wait.counted) {
    wait.counted = true;
    wait.prevMinNs = stat[s + LOCK_STAT.contentions] === 0 ? Number.POSITIVE_INFINITY : stat[s + LOCK_STAT.waitNsMin];
    stat[s + LOCK_STAT.contentions]++;
    recordLockWait(cpu, CLS, waited);
  } else {
    extendLockWait(cpu, CLS, wait.recordedNs, waited);
  }
  const entryNs = waited - (stat[cpu.statBase + TREE_WAIT_TOTAL] - wait.treeWaitNs0);
  stepAdd(STEP.entry_lock_wait, entryNs - wait.attributedNs);
  wait.attributedNs = entryNs;
  stat[s + LOCK_STAT.waitNsTotal] += waited - wait.recordedNs;
  wait.recordedNs = waited;
  if (waited > stat[s + LOCK_STAT.waitNsMax]) stat[s + LOCK_STAT.waitNsMax] = waited;
  // This CPU alone writes its record and runs one wait at a time, so the minimum over its
  // earlier waits is exactly prevMinNs, and this wait's figure may still grow.
  stat[s + LOCK_STAT.waitNsMin] = Math.min(wait.prevMinNs, waited);
}

/** waitqueue_active(): true when some CPU may be queued on the bucket. */
export function waitqueue_active(cpu: Cpu, bucket: number): boolean {
  checkBucket(bucket);
  return Atomics.load(cpu.machine.views.waitTable, bucket * STRIDE + WAITERS) > 0;
}

/**
 * __wake_up(): wakes every CPU asleep on the bucket (all, not one exclusive waiter: see
 * the header) and returns how many were asleep in Atomics.wait. A no-op when nobody is
 * queued, as the kernel's walk of an empty list is. Never sleeps.
 */
export function __wake_up(cpu: Cpu, bucket: number): number {
  checkBucket(bucket);
  const table = cpu.machine.views.waitTable;
  const at = bucket * STRIDE;
  if (Atomics.load(table, at + WAITERS) === 0) return 0;
  Atomics.add(table, at + SEQ, 1);
  return vnotify(cpu, table, at + SEQ);
}

/** Counts an acquisition of a DAX entry lock by this CPU (the lock_acquired() of lock_stat). */
export function entryLockAcquired(cpu: Cpu): void {
  cpu.machine.views.lockStat[cpu.statBase + CLS * LOCK_STAT.stride + LOCK_STAT.acquisitions]++;
  if (cpu.holdTimes) cpu.holdStart[CLS] = nowNs();
}

/**
 * Counts the release of the entry lock this CPU took last (the lock_release() of
 * lock_stat): its hold time when the machine measures hold times. A CPU holds one entry
 * lock at a time, as fs/dax.c does; nested holds would be timed from the latest acquisition.
 */
export function entryLockReleased(cpu: Cpu): void {
  if (cpu.holdTimes) recordHold(cpu, CLS);
}
