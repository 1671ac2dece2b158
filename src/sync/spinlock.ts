// spinlock_t on Atomics, with lock_stat accounting.
//
// Locking rules: a lock is two Int32 words in some shared region (LOCK_WORDS): the state
// (0 free, 1 held, 2 held and somebody may sleep on it) and the last owner (CPU + 1). The
// owner word is informational (lock_stat bounces, the watchdog) and is written with plain
// stores. A contended CPU spins for machine.config.lockSpinNs, then sleeps in Atomics.wait
// on the state word (Drepper's three-state futex mutex), so a lock stays correct and live
// when workers outnumber cores. A holder must not sleep on another wait while it holds a
// lock of the same class unless the module's own rules say so.
//
// A contended acquisition's wait also goes into the class's wait-time histogram
// (lock_wait_hist.ts) and, for tree_lock, into the operation's attribution (measure/steps.ts);
// the uncontended path pays for neither.
//
// The kernel's spin_lock never sleeps; here sleeping stands in for the scheduler running
// the holder, which the kernel gets by disabling preemption.
//
// On the virtual clock (sync/vclock.ts) an acquisition charges lockNs, and a contended one
// does not spin in the host: the CPU queues on the state word and the holder's spin_unlock()
// hands the lock to the CPU queued longest (qspinlock's FIFO queue), which resumes at the
// holder's instant plus lockHandoffNs. Its wait is virtual time, not the host's.

import { CPU_STATE, LOCK_CLASS, LOCK_CLASSES, LOCK_STAT, LOCK_WORDS } from '../machine/layout.js';
import { STEP, stepAdd } from '../measure/steps.js';
import { nowNs } from '../util/clock.js';
import type { Cpu } from './cpu.js';
import { recordLockWait } from './lock_wait_hist.js';
import { charge, isVirtual, vspinLockContended, vspinUnlockContended } from './vclock.js';

export const WAIT_KIND_LOCK = 1;

const STATE = LOCK_WORDS.state;
const OWNER = LOCK_WORDS.owner;

const LOCK_SPAN = LOCK_WORDS.stride;
const N_CLASSES = LOCK_CLASSES.length;

// The argument checks are cheap enough for the uncontended path: `x >>> 0 === x` rejects a
// negative, fractional, NaN or huge number in one compare, then one compare bounds it. A bad
// `at` would otherwise take or clear some other word (V8 truncates a fractional index), and a
// bad `cls` would count into another CPU's lock_stat record.

/** Whether `at` is a lock's first word in words. */
function lockAtOk(words: Int32Array, at: number): boolean {
  return (at >>> 0) === at && at <= words.length - LOCK_SPAN;
}

/** Whether `at` is a lock's first word in words and `cls` a lock class. */
function lockArgsOk(words: Int32Array, at: number, cls: number): boolean {
  return lockAtOk(words, at) && (cls >>> 0) === cls && cls < N_CLASSES;
}

/** Throws a RangeError naming the bad one of at and cls. */
function badLockArgs(words: Int32Array, at: number, cls: number): never {
  if (!lockAtOk(words, at)) badLockAt(words, at);
  throw new RangeError(`cls: expected a lock class from 0 to ${N_CLASSES - 1} (LOCK_CLASS), got ${String(cls)}`);
}

function badLockAt(words: Int32Array, at: number): never {
  throw new RangeError(
    `at: expected an integer from 0 to ${words.length - LOCK_SPAN} (a lock's first word in words), got ${String(at)}`,
  );
}

/** spin_lock(): takes the lock whose words start at words[at]; cls is its lock_stat class. */
export function spin_lock(cpu: Cpu, words: Int32Array, at: number, cls: number): void {
  if (!lockArgsOk(words, at, cls)) badLockArgs(words, at, cls);
  if (Atomics.compareExchange(words, at + STATE, 0, 1) !== 0) lockContended(cpu, words, at, cls);
  lockAcquired(cpu, words, at, cls);
  if (cpu.lockNs > 0) charge(cpu.lockNs);
}

/** spin_trylock(): takes the lock only if it is free; true when taken. */
export function spin_trylock(cpu: Cpu, words: Int32Array, at: number, cls: number): boolean {
  if (!lockArgsOk(words, at, cls)) badLockArgs(words, at, cls);
  if (Atomics.compareExchange(words, at + STATE, 0, 1) !== 0) return false;
  lockAcquired(cpu, words, at, cls);
  if (cpu.lockNs > 0) charge(cpu.lockNs);
  return true;
}

/** spin_unlock(): releases the lock and wakes one sleeper if any may be sleeping. Throws when the lock is free. */
export function spin_unlock(cpu: Cpu, words: Int32Array, at: number, cls: number): void {
  if (!lockArgsOk(words, at, cls)) badLockArgs(words, at, cls);
  if (cpu.holdTimes) {
    // Checked before the hold is recorded: a refused unlock changes no figure.
    if (Atomics.load(words, at + STATE) === 0) unlockOfFreeLock(cpu, at, cls);
    recordHold(cpu, cls);
  }
  if (isVirtual()) {
    // The hand-off needs the queue untouched until it picks a waiter: free only a lock nobody queued on.
    const s = Atomics.compareExchange(words, at + STATE, 1, 0);
    if (s === 2) vspinUnlockContended(cpu, words, at + STATE, cpu.lockHandoffNs);
    else if (s === 0) unlockOfFreeLock(cpu, at, cls);
    return;
  }
  const state = Atomics.exchange(words, at + STATE, 0);
  if (state !== 1) {
    if (state === 2) Atomics.notify(words, at + STATE, 1);
    // Writing 0 over 0 changed nothing.
    else if (state === 0) unlockOfFreeLock(cpu, at, cls);
  }
}

function unlockOfFreeLock(cpu: Cpu, at: number, cls: number): never {
  throw new Error(`spin_unlock: cpu ${cpu.id} released the ${LOCK_CLASSES[cls]} lock at word ${at}, which is not held`);
}

/** spin_is_locked(). */
export function spin_is_locked(words: Int32Array, at: number): boolean {
  if (!lockAtOk(words, at)) badLockAt(words, at);
  return Atomics.load(words, at + STATE) !== 0;
}

/** The CPU that holds the lock, or -1 when it is free. */
export function lockHolder(words: Int32Array, at: number): number {
  if (!lockAtOk(words, at)) badLockAt(words, at);
  return Atomics.load(words, at + STATE) === 0 ? -1 : Atomics.load(words, at + OWNER) - 1;
}

function lockAcquired(cpu: Cpu, words: Int32Array, at: number, cls: number): void {
  const stat = cpu.machine.views.lockStat;
  const s = cpu.statBase + cls * LOCK_STAT.stride;
  stat[s + LOCK_STAT.acquisitions]++;
  if (words[at + OWNER] !== cpu.tag) {
    stat[s + LOCK_STAT.acqBounces]++;
    words[at + OWNER] = cpu.tag;
  }
  if (cpu.holdTimes) cpu.holdStart[cls] = nowNs();
}

/** Adds the hold that began at cpu.holdStart[cls] to the class's lock_stat hold figures. */
export function recordHold(cpu: Cpu, cls: number): void {
  const held = nowNs() - cpu.holdStart[cls];
  const stat = cpu.machine.views.lockStat;
  const s = cpu.statBase + cls * LOCK_STAT.stride;
  stat[s + LOCK_STAT.holdSamples]++;
  stat[s + LOCK_STAT.holdNsTotal] += held;
  if (held > stat[s + LOCK_STAT.holdNsMax]) stat[s + LOCK_STAT.holdNsMax] = held;
  if (stat[s + LOCK_STAT.holdSamples] === 1 || held < stat[s + LOCK_STAT.holdNsMin]) stat[s + LOCK_STAT.holdNsMin] = held;
}

/** The slow path: spin, then sleep; counts the contention, its wait time and its histogram bucket. */
function lockContended(cpu: Cpu, words: Int32Array, at: number, cls: number): void {
  const t0 = nowNs();
  const views = cpu.machine.views;
  const st = cpu.stateBase;
  views.cpuState[st + CPU_STATE.waitRegion] = cpu.regionOf(words.buffer);
  views.cpuState[st + CPU_STATE.waitAt] = at;
  views.cpuState[st + CPU_STATE.waitClass] = cls;
  Atomics.store(views.cpuState, st + CPU_STATE.waitKind, WAIT_KIND_LOCK);

  const s = cpu.statBase + cls * LOCK_STAT.stride;
  const stat = views.lockStat;
  if (words[at + OWNER] !== cpu.tag) stat[s + LOCK_STAT.conBounces]++;

  if (isVirtual()) {
    vspinLockContended(cpu, words, at + STATE);
  } else if (!spinFor(words, at + STATE, t0 + cpu.machine.config.lockSpinNs)) {
    // Announce a sleeper (state 2) and sleep until the holder's unlock notifies us.
    while (Atomics.exchange(words, at + STATE, 2) !== 0) {
      stat[s + LOCK_STAT.sleeps]++;
      Atomics.wait(words, at + STATE, 2);
    }
  }

  Atomics.store(views.cpuState, st + CPU_STATE.waitKind, 0);
  const waited = nowNs() - t0;
  stat[s + LOCK_STAT.contentions]++;
  stat[s + LOCK_STAT.waitNsTotal] += waited;
  if (waited > stat[s + LOCK_STAT.waitNsMax]) stat[s + LOCK_STAT.waitNsMax] = waited;
  if (stat[s + LOCK_STAT.contentions] === 1 || waited < stat[s + LOCK_STAT.waitNsMin]) stat[s + LOCK_STAT.waitNsMin] = waited;
  recordLockWait(cpu, cls, waited);
  if (cls === LOCK_CLASS.tree_lock) stepAdd(STEP.tree_lock_wait, waited);
}

/** Spins until the lock is taken (true) or the deadline passes (false); reads the clock every 64 polls. */
function spinFor(words: Int32Array, state: number, deadlineNs: number): boolean {
  for (;;) {
    for (let i = 0; i < 64; i++) {
      if (Atomics.load(words, state) === 0 && Atomics.compareExchange(words, state, 0, 1) === 0) return true;
    }
    if (nowNs() >= deadlineNs) return false;
  }
}
