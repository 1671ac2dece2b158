// A reader-writer semaphore on Atomics (struct rw_semaphore: down_read/down_write), for
// i_mmap_sem. Two words: the count (readers holding it, or -1 while a writer does) and the
// writers waiting, which keeps new readers out so a truncate is not starved by a stream of
// faults. Waiters sleep in Atomics.wait on the count; lock_stat counts acquisitions,
// contentions, wait time and its histogram. A holder may sleep (it is a semaphore, not a
// spinlock).
//
// For the watchdog, a waiting CPU's cpuState record reads waitKind WAIT_KIND_RWSEM,
// waitRegion the semaphore's region, waitAt the offset of its count word and waitClass its
// lock class, from the first failed attempt until it holds the semaphore. There is no owner
// word: the count says how many readers hold it, or that a writer does.
//
// On the virtual clock (sync/vclock.ts) an acquisition charges lockNs, and waiters sleep with
// vwait() and are woken by vnotify(), so a wait is the virtual time until the release that
// let the CPU in.

import { CPU_STATE, LOCK_STAT } from '../machine/layout.js';
import { nowNs } from '../util/clock.js';
import type { Cpu } from './cpu.js';
import { recordLockWait } from './lock_wait_hist.js';
import { charge, vnotify, vwaitEvent } from './vclock.js';

/** cpuState waitKind of a CPU waiting for a reader-writer semaphore (spinlock 1, entry wait 2, journal 3). */
export const WAIT_KIND_RWSEM = 4;

export const RWSEM_WORDS = { count: 0, writers: 1 } as const;

const COUNT = RWSEM_WORDS.count;
/** The wall clock's re-check interval, ms: a guard against a wake-up lost between up_read's check and a writer counting itself. */
const WALL_POLL_MS = 5;
const WRITERS = RWSEM_WORDS.writers;

function account(cpu: Cpu, cls: number, waitedNs: number): void {
  const stat = cpu.machine.views.lockStat;
  const s = cpu.statBase + cls * LOCK_STAT.stride;
  stat[s + LOCK_STAT.acquisitions]++;
  if (cpu.lockNs > 0) charge(cpu.lockNs);
  if (waitedNs < 0) return;
  stat[s + LOCK_STAT.contentions]++;
  stat[s + LOCK_STAT.waitNsTotal] += waitedNs;
  if (waitedNs > stat[s + LOCK_STAT.waitNsMax]) stat[s + LOCK_STAT.waitNsMax] = waitedNs;
  if (stat[s + LOCK_STAT.contentions] === 1 || waitedNs < stat[s + LOCK_STAT.waitNsMin]) stat[s + LOCK_STAT.waitNsMin] = waitedNs;
  recordLockWait(cpu, cls, waitedNs);
}

/** Tells the watchdog this CPU waits on the semaphore at words[at] (or, with cls -1, no longer waits). */
function markWaiting(cpu: Cpu, words: Int32Array, at: number, cls: number): void {
  const st = cpu.machine.views.cpuState;
  const base = cpu.stateBase;
  if (cls < 0) {
    Atomics.store(st, base + CPU_STATE.waitKind, 0);
    return;
  }
  st[base + CPU_STATE.waitRegion] = cpu.regionOf(words.buffer);
  st[base + CPU_STATE.waitAt] = at;
  st[base + CPU_STATE.waitClass] = cls;
  Atomics.store(st, base + CPU_STATE.waitKind, WAIT_KIND_RWSEM);
}

/** down_read(): shares the semaphore with other readers; waits while a writer holds or wants it. */
export function down_read(cpu: Cpu, words: Int32Array, at: number, cls: number): void {
  let t0 = -1;
  for (;;) {
    const c = Atomics.load(words, at + COUNT);
    if (c >= 0 && Atomics.load(words, at + WRITERS) === 0) {
      if (Atomics.compareExchange(words, at + COUNT, c, c + 1) === c) break;
      continue;
    }
    if (t0 < 0) {
      t0 = nowNs();
      markWaiting(cpu, words, at, cls);
    }
    vwaitEvent(cpu, words, at + COUNT, c, WALL_POLL_MS);
  }
  if (t0 >= 0) markWaiting(cpu, words, at, -1);
  account(cpu, cls, t0 < 0 ? -1 : nowNs() - t0);
}

/**
 * up_read(). The last reader wakes a writer only if one waits (writers count themselves
 * before sleeping): Atomics.notify costs tens of nanoseconds even with nobody to wake, on
 * every fault's i_mmap_sem. A writer that counts itself just after this check finds the
 * count changed when it sleeps, so Atomics.wait returns at once and it tries again.
 */
export function up_read(cpu: Cpu, words: Int32Array, at: number): void {
  if (Atomics.sub(words, at + COUNT, 1) === 1 && Atomics.load(words, at + WRITERS) !== 0) vnotify(cpu, words, at + COUNT);
}

/** down_write(): waits until nobody holds it, keeping new readers out meanwhile. */
export function down_write(cpu: Cpu, words: Int32Array, at: number, cls: number): void {
  if (Atomics.compareExchange(words, at + COUNT, 0, -1) === 0) {
    account(cpu, cls, -1);
    return;
  }
  const t0 = nowNs();
  markWaiting(cpu, words, at, cls);
  Atomics.add(words, at + WRITERS, 1);
  for (;;) {
    const c = Atomics.compareExchange(words, at + COUNT, 0, -1);
    if (c === 0) break;
    vwaitEvent(cpu, words, at + COUNT, c, WALL_POLL_MS);
  }
  Atomics.sub(words, at + WRITERS, 1);
  markWaiting(cpu, words, at, -1);
  account(cpu, cls, nowNs() - t0);
}

/** up_write(). */
export function up_write(cpu: Cpu, words: Int32Array, at: number): void {
  Atomics.store(words, at + COUNT, 0);
  vnotify(cpu, words, at + COUNT);
}
