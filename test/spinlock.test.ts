import { describe, expect, it } from 'vitest';
import { createMachine, type Machine } from '../src/machine/machine.js';
import { INDEX_ROOT, LOCK_CLASS, MiB, type MachineConfig } from '../src/machine/layout.js';
import { attachCpu } from '../src/sync/cpu.js';
import { lockHolder, spin_is_locked, spin_lock, spin_trylock, spin_unlock } from '../src/sync/spinlock.js';
import { readLockClass } from '../src/sync/lockstat.js';
import { runCpus } from './support/workers.js';
import { SCRATCH } from './workers/sync_scenarios.js';

const TREE_LOCK = 0 * INDEX_ROOT.stride + INDEX_ROOT.lockState;
const TL = LOCK_CLASS.tree_lock;

function machineWith(config: Partial<MachineConfig>): Machine {
  return createMachine({ cpus: 8, pmemBytes: 2 * MiB, indexNodes: 8, mappings: 2, ...config });
}

/** Resolves once `pred` holds, polling without blocking the event loop the test CPUs need. */
async function until(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; !pred(); i++) {
    if (i > 20_000) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

async function hammer(machine: Machine, workers: number, rounds: number, work: number) {
  const scratch = new SharedArrayBuffer(SCRATCH.words * 4);
  const jobs = Array.from({ length: workers }, (_, cpu) => ({
    cpu,
    module: 'sync_scenarios',
    fn: 'lockedIncrements',
    args: { scratch, rounds, work },
  }));
  await runCpus(machine, jobs);
  return { counter: new Int32Array(scratch)[SCRATCH.counter], stat: readLockClass(machine, 'tree_lock') };
}

describe('spinlock', () => {
  // Eight CPUs on a two-core machine: holders get preempted, so waiters spin out and sleep.
  for (const lockSpinNs of [0, undefined]) {
    it(`keeps a plain read-modify-write exact under 8 CPUs (lockSpinNs ${lockSpinNs ?? 'default'})`, async () => {
      const machine = machineWith(lockSpinNs === undefined ? {} : { lockSpinNs });
      const rounds = 3000;
      const { counter, stat } = await hammer(machine, 8, rounds, 200);
      expect(counter).toBe(8 * rounds);
      expect(stat.acquisitions).toBe(8 * rounds);
      expect(stat.contentions).toBeGreaterThan(0);
      expect(stat.contentions).toBeLessThanOrEqual(stat.acquisitions);
      expect(stat.waitNsTotal).toBeGreaterThan(0);
      expect(stat.waitNsMin).toBeLessThanOrEqual(stat.waitNsMax);
      expect(stat.waitNsMax).toBeLessThanOrEqual(stat.waitNsTotal);
      expect(stat.acqBounces).toBeGreaterThan(0);
      expect(stat.conBounces).toBeLessThanOrEqual(stat.contentions);
      expect(stat.holdSamples).toBe(0); // hold times are off by default
      if (lockSpinNs === 0) expect(stat.sleeps).toBeGreaterThan(0);
      expect(spin_is_locked(machine.views.indexRoots, TREE_LOCK)).toBe(false);
    });
  }

  it('records hold times when lockStatHoldTimes is on', async () => {
    const machine = machineWith({ lockStatHoldTimes: true });
    const { counter, stat } = await hammer(machine, 3, 500, 500);
    expect(counter).toBe(1500);
    expect(stat.holdSamples).toBe(1500);
    expect(stat.holdNsMin).toBeGreaterThan(0);
    expect(stat.holdNsMin).toBeLessThanOrEqual(stat.holdNsMax);
    expect(stat.holdNsMax).toBeLessThanOrEqual(stat.holdNsTotal);
    expect(stat.holdNsTotal / stat.holdSamples).toBeGreaterThanOrEqual(stat.holdNsMin);
  });

  it('spin_trylock takes only a free lock and counts only what it takes', () => {
    const machine = machineWith({ cpus: 2 });
    const [a, b] = [attachCpu(machine, 0), attachCpu(machine, 1)];
    const w = machine.views.indexRoots;
    expect(lockHolder(w, TREE_LOCK)).toBe(-1);
    expect(spin_trylock(a, w, TREE_LOCK, TL)).toBe(true);
    expect(lockHolder(w, TREE_LOCK)).toBe(0);
    expect(spin_trylock(b, w, TREE_LOCK, TL)).toBe(false);
    expect(spin_trylock(a, w, TREE_LOCK, TL)).toBe(false); // not recursive
    spin_unlock(a, w, TREE_LOCK, TL);
    expect(lockHolder(w, TREE_LOCK)).toBe(-1);
    expect(spin_trylock(b, w, TREE_LOCK, TL)).toBe(true);
    expect(lockHolder(w, TREE_LOCK)).toBe(1);
    spin_unlock(b, w, TREE_LOCK, TL);
    spin_lock(a, w, TREE_LOCK, TL);
    spin_unlock(a, w, TREE_LOCK, TL);
    const stat = readLockClass(machine, TL);
    expect(stat.acquisitions).toBe(3);
    expect(stat.contentions).toBe(0);
    expect(stat.acqBounces).toBe(3); // 0 (never owned) -> a -> b -> a
  });

  it('rejects a bad at or cls with a RangeError naming it, changing no lock word or figure', () => {
    const machine = machineWith({ cpus: 2 });
    const a = attachCpu(machine, 0);
    const w = machine.views.indexRoots; // 2 mappings: words 0..31, a lock may start at 0..30
    spin_lock(a, w, TREE_LOCK, TL);
    const words = w.slice();
    const stats = machine.views.lockStat.slice();
    const atRange = /^at: expected an integer from 0 to 30 \(a lock's first word in words\), got /;
    const clsRange = /^cls: expected a lock class from 0 to 7 \(LOCK_CLASS\), got /;
    const cases: [string, () => unknown, RegExp][] = [];
    for (const at of [-1, 0.5, 31, 1e10, NaN]) {
      cases.push([`spin_lock at ${at}`, () => spin_lock(a, w, at, TL), atRange]);
      cases.push([`spin_trylock at ${at}`, () => spin_trylock(a, w, at, TL), atRange]);
      cases.push([`spin_unlock at ${at}`, () => spin_unlock(a, w, at, TL), atRange]);
      cases.push([`spin_is_locked at ${at}`, () => spin_is_locked(w, at), atRange]);
      cases.push([`lockHolder at ${at}`, () => lockHolder(w, at), atRange]);
    }
    for (const cls of [-1, 1.5, 8, NaN]) {
      cases.push([`spin_lock cls ${cls}`, () => spin_lock(a, w, 16, cls), clsRange]);
      cases.push([`spin_trylock cls ${cls}`, () => spin_trylock(a, w, 16, cls), clsRange]);
      cases.push([`spin_unlock cls ${cls}`, () => spin_unlock(a, w, TREE_LOCK, cls), clsRange]);
    }
    for (const [what, call, message] of cases) {
      expect(call, what).toThrow(RangeError);
      expect(call, what).toThrow(message);
    }
    expect(w).toEqual(words);
    expect(machine.views.lockStat).toEqual(stats);
    spin_unlock(a, w, TREE_LOCK, TL);
  });

  for (const lockStatHoldTimes of [false, true]) {
    it(`refuses to release a free lock with a clear Error, changing nothing (hold times ${lockStatHoldTimes ? 'on' : 'off'})`, () => {
      const machine = machineWith({ cpus: 2, lockStatHoldTimes });
      const a = attachCpu(machine, 1);
      const w = machine.views.indexRoots;
      spin_lock(a, w, TREE_LOCK, TL);
      spin_unlock(a, w, TREE_LOCK, TL);
      const words = w.slice();
      const stats = machine.views.lockStat.slice();
      expect(() => spin_unlock(a, w, TREE_LOCK, TL)).toThrow(/^spin_unlock: cpu 1 released the tree_lock lock at word 0, which is not held$/);
      expect(w).toEqual(words);
      expect(machine.views.lockStat).toEqual(stats);
      expect(readLockClass(machine, TL).holdSamples).toBe(lockStatHoldTimes ? 1 : 0);
    });
  }

  it('lockHolder reports a worker that holds the lock, and trylock fails meanwhile', async () => {
    const machine = machineWith({ cpus: 4 });
    const scratch = new SharedArrayBuffer(SCRATCH.words * 4);
    const s = new Int32Array(scratch);
    const w = machine.views.indexRoots;
    const done = runCpus(machine, [{ cpu: 3, module: 'sync_scenarios', fn: 'holdUntilReleased', args: { scratch } }]);
    await until(() => Atomics.load(s, SCRATCH.stage) === 1, 'worker holds the lock');
    expect(lockHolder(w, TREE_LOCK)).toBe(3);
    expect(spin_is_locked(w, TREE_LOCK)).toBe(true);
    const me = attachCpu(machine, 0);
    expect(spin_trylock(me, w, TREE_LOCK, TL)).toBe(false);
    Atomics.store(s, SCRATCH.stage, 2);
    Atomics.notify(s, SCRATCH.stage);
    await done;
    expect(lockHolder(w, TREE_LOCK)).toBe(-1);
    expect(spin_trylock(me, w, TREE_LOCK, TL)).toBe(true);
    expect(lockHolder(w, TREE_LOCK)).toBe(0);
    spin_unlock(me, w, TREE_LOCK, TL);
  });
});
