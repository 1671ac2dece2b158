// A reader-writer semaphore on Atomics (struct rw_semaphore: down_read/down_write), for
// i_mmap_sem. Two words: the count (readers holding it, or -1 while a writer does) and the
// writers waiting, which keeps new readers out so a truncate is not starved by a stream of
// faults. Waiters sleep in Atomics.wait on the count; lock_stat counts acquisitions,
// contentions and wait time. A holder may sleep (it is a semaphore, not a spinlock).

import { LOCK_STAT } from '../machine/layout.js';
import { nowNs } from '../util/clock.js';
import type { Cpu } from './cpu.js';

const COUNT = 0;
const WRITERS = 1;

function account(cpu: Cpu, cls: number, waitedNs: number): void {
  const stat = cpu.machine.views.lockStat;
  const s = cpu.statBase + cls * LOCK_STAT.stride;
  stat[s + LOCK_STAT.acquisitions]++;
  if (waitedNs < 0) return;
  stat[s + LOCK_STAT.contentions]++;
  stat[s + LOCK_STAT.waitNsTotal] += waitedNs;
  if (waitedNs > stat[s + LOCK_STAT.waitNsMax]) stat[s + LOCK_STAT.waitNsMax] = waitedNs;
  if (stat[s + LOCK_STAT.contentions] === 1 || waitedNs < stat[s + LOCK_STAT.waitNsMin]) stat[s + LOCK_STAT.waitNsMin] = waitedNs;
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
    if (t0 < 0) t0 = nowNs();
    Atomics.wait(words, at + COUNT, c, 5);
  }
  account(cpu, cls, t0 < 0 ? -1 : nowNs() - t0);
}

/** up_read(). */
export function up_read(words: Int32Array, at: number): void {
  if (Atomics.sub(words, at + COUNT, 1) === 1) Atomics.notify(words, at + COUNT);
}

/** down_write(): waits until nobody holds it, keeping new readers out meanwhile. */
export function down_write(cpu: Cpu, words: Int32Array, at: number, cls: number): void {
  if (Atomics.compareExchange(words, at + COUNT, 0, -1) === 0) {
    account(cpu, cls, -1);
    return;
  }
  const t0 = nowNs();
  Atomics.add(words, at + WRITERS, 1);
  for (;;) {
    const c = Atomics.compareExchange(words, at + COUNT, 0, -1);
    if (c === 0) break;
    Atomics.wait(words, at + COUNT, c, 5);
  }
  Atomics.sub(words, at + WRITERS, 1);
  account(cpu, cls, nowNs() - t0);
}

/** up_write(). */
export function up_write(words: Int32Array, at: number): void {
  Atomics.store(words, at + COUNT, 0);
  Atomics.notify(words, at + COUNT);
}
