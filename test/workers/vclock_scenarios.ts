// CPUs for test/vclock.test.ts: fixed schedules on the virtual clock, reporting the virtual
// instants they saw so the test can compare them with what the schedule implies.

import type { Cpu } from '../../src/sync/cpu.js';
import { CPU_CLOCK, LOCK_CLASS, INDEX_ROOT } from '../../src/machine/layout.js';
import { spin_lock, spin_unlock } from '../../src/sync/spinlock.js';
import { charge, idleWakeupsDrawn, seedIdleWakeups, vnotify, vwait } from '../../src/sync/vclock.js';
import { sleepUntil } from '../../src/lab/pace.js';
import { nowNs } from '../../src/util/clock.js';
import { PmemDevice } from '../../src/pmem/device.js';
import { fsGeometry } from '../../src/machine/layout.js';
import { Journal, jbd2_complete_transaction, jbd2_journal_dirty_metadata, jbd2_journal_get_write_access, jbd2_journal_start, jbd2_journal_stop } from '../../src/journal/journal.js';
import { kjournald2, type KjournaldSummary } from '../../src/journal/kjournald.js';

export interface TurnsArgs {
  rounds: number;
  /** Virtual ns before the first attempt (the second CPU starts later). */
  startNs: number;
  holdNs: number;
  thinkNs: number;
}

export interface TurnsResult {
  /** Per round: the instant the CPU asked for the lock, and how long it waited for it. */
  asked: number[];
  waited: number[];
}

/** Takes mapping 0's tree_lock `rounds` times: ask, hold holdNs, release, think thinkNs. */
export function lockTurns(cpu: Cpu, a: TurnsArgs): TurnsResult {
  const words = cpu.machine.views.indexRoots;
  const at = INDEX_ROOT.lockState;
  const out: TurnsResult = { asked: [], waited: [] };
  charge(a.startNs);
  for (let r = 0; r < a.rounds; r++) {
    const t = nowNs();
    spin_lock(cpu, words, at, LOCK_CLASS.tree_lock);
    out.asked.push(t);
    out.waited.push(nowNs() - t);
    charge(a.holdNs);
    spin_unlock(cpu, words, at, LOCK_CLASS.tree_lock);
    charge(a.thinkNs);
  }
  return out;
}

/** Sleeps until the virtual instants `at` as a paced role does (lab/pace.ts), one after the other; returns when each sleep ended. */
export function paced(cpu: Cpu, a: { at: number[]; workNs: number }): number[] {
  void cpu;
  const woke: number[] = [];
  for (const t of a.at) {
    sleepUntil(t, () => false);
    woke.push(nowNs());
    charge(a.workNs);
  }
  return woke;
}

/**
 * Waits on a word of the wait table until another CPU changes it; returns the instant it woke,
 * the instant it began waiting, and how many idle wake-up draws it paid (seeded with `seed`, repeat 0, when given).
 */
export function waitForWord(cpu: Cpu, a: { idx: number; startNs: number; seed?: number }): { began: number; woke: number; drawn: number } {
  const table = cpu.machine.views.waitTable;
  if (a.seed !== undefined) seedIdleWakeups(a.seed, 0);
  charge(a.startNs);
  const began = nowNs();
  while (Atomics.load(table, a.idx) === 0) vwait(cpu, table, a.idx, 0);
  return { began, woke: nowNs(), drawn: idleWakeupsDrawn() };
}

/** kjournald2 with its idle wake-ups seeded as a run seeds them; returns how many draws it paid. */
export function seededCommitThread(cpu: Cpu, a: { seed: number; repeat: number }): { summary: KjournaldSummary; drawn: number } {
  seedIdleWakeups(a.seed, a.repeat);
  const summary = kjournald2(cpu, {});
  return { summary, drawn: idleWakeupsDrawn() };
}

/**
 * A task that changes a metadata block in a handle, works workNs, then waits for its commit
 * (jbd2_complete_transaction, as fsync does); returns when it asked and when it woke.
 */
export function commitWait(cpu: Cpu, a: { seed: number; repeat: number; workNs: number }): { asked: number; woke: number; drawn: number } {
  seedIdleWakeups(a.seed, a.repeat);
  const j = new Journal(cpu, new PmemDevice(cpu), {});
  const block = fsGeometry(cpu.machine.config).extentStart + 4;
  charge(a.workNs);
  const h = jbd2_journal_start(j, 1);
  jbd2_journal_get_write_access(h, block);
  jbd2_journal_dirty_metadata(h, block);
  const tid = h.tid;
  jbd2_journal_stop(h);
  charge(a.workNs);
  const asked = nowNs();
  jbd2_complete_transaction(j, tid);
  return { asked, woke: nowNs(), drawn: idleWakeupsDrawn() };
}

/** Works workNs, then sets the word and wakes its sleepers; returns the instant it did. */
export function setWord(cpu: Cpu, a: { idx: number; workNs: number }): number {
  const table = cpu.machine.views.waitTable;
  charge(a.workNs);
  Atomics.store(table, a.idx, 1);
  vnotify(cpu, table, a.idx);
  return nowNs();
}

/** Charges `steps` costs of stepNs each and reports the largest gap seen between its clock and the others'. */
export function skewProbe(cpu: Cpu, a: { steps: number; stepNs: number; others: number[] }): number {
  const clk = cpu.machine.views.cpuClock;
  let worst = 0;
  for (let i = 0; i < a.steps; i++) {
    charge(a.stepNs);
    const mine = nowNs();
    for (const o of a.others) {
      const d = clk[o * CPU_CLOCK.stride + CPU_CLOCK.now] - mine;
      if (d > worst) worst = d;
    }
  }
  return worst;
}
