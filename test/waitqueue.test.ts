import { describe, expect, it } from 'vitest';
import { createMachine, type Machine } from '../src/machine/machine.js';
import { CPU_STATE, LOCK_CLASS, MiB, REGION_NAMES, WAIT_BUCKET, type MachineConfig } from '../src/machine/layout.js';
import { attachCpu } from '../src/sync/cpu.js';
import {
  DAX_WAIT_TABLE_ENTRIES,
  WAIT_KIND_ENTRY,
  __wake_up,
  dax_entry_waitqueue,
  entryLockAcquired,
  entryLockReleased,
  finish_wait,
  init_wait,
  prepare_to_wait_exclusive,
  schedule,
  waitqueue_active,
} from '../src/sync/waitqueue.js';
import { WAIT_KIND_LOCK } from '../src/sync/spinlock.js';
import { readLockClass } from '../src/sync/lockstat.js';
import { runCpus } from './support/workers.js';
import { SCRATCH } from './workers/sync_scenarios.js';

function machineWith(config: Partial<MachineConfig> = {}): Machine {
  return createMachine({ cpus: 4, pmemBytes: 2 * MiB, indexNodes: 8, mappings: 2, ...config });
}

const scratchBuffer = () => new SharedArrayBuffer(SCRATCH.words * 4);
const waiters = (m: Machine, bucket: number) => Atomics.load(m.views.waitTable, bucket * WAIT_BUCKET.stride + WAIT_BUCKET.waiters);
const cpuState = (m: Machine, cpu: number, field: keyof typeof CPU_STATE) =>
  Atomics.load(m.views.cpuState, cpu * CPU_STATE.stride + CPU_STATE[field]);

/** Equal but for float rounding of summed nanoseconds. */
const near = (a: number, b: number) => expect(Math.abs(a - b), `${a} vs ${b}`).toBeLessThan(1e-3);

async function until(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; !pred(); i++) {
    if (i > 20_000) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

describe('dax_entry_waitqueue', () => {
  it('hashes a key to one bucket of the table, the same every time', () => {
    for (let m = 0; m < 4; m++) {
      for (let i = 0; i < 2000; i += 7) {
        const b = dax_entry_waitqueue(m, i);
        expect(Number.isInteger(b) && b >= 0 && b < DAX_WAIT_TABLE_ENTRIES).toBe(true);
        expect(dax_entry_waitqueue(m, i)).toBe(b);
      }
    }
    expect(dax_entry_waitqueue(0, 2 ** 40 + 5)).toBeLessThan(DAX_WAIT_TABLE_ENTRIES);
  });

  it('rejects a bad mapping or index with a RangeError naming it', () => {
    const cases: [() => unknown, RegExp][] = [
      [() => dax_entry_waitqueue(-1, 0), /^mappingId: expected an integer from 0 to 65535, got -1$/],
      [() => dax_entry_waitqueue(1.5, 0), /^mappingId: .*got 1.5$/],
      [() => dax_entry_waitqueue(65536, 0), /^mappingId: .*got 65536$/],
      [() => dax_entry_waitqueue(0, NaN), /^index: expected an integer from 0 to 281474976710655, got NaN$/],
      [() => dax_entry_waitqueue(0, -62, true), /^index: .*got -62$/],
      [() => dax_entry_waitqueue(0, 0.5), /^index: .*got 0.5$/],
      [() => dax_entry_waitqueue(0, 2 ** 48), /^index: .*got 281474976710656$/],
    ];
    for (const [call, message] of cases) {
      expect(call).toThrow(RangeError);
      expect(call).toThrow(message);
    }
    expect(dax_entry_waitqueue(65535, 2 ** 48 - 1)).toBeLessThan(DAX_WAIT_TABLE_ENTRIES);
  });

  it('gives every page of a PMD entry one bucket, and spreads PTE entries', () => {
    const pmd = new Set(Array.from({ length: 512 }, (_, i) => dax_entry_waitqueue(1, 1024 + i, true)));
    expect(pmd).toEqual(new Set([dax_entry_waitqueue(1, 1024, true)]));
    expect(dax_entry_waitqueue(1, 1024, true)).toBe(dax_entry_waitqueue(1, 1024));
    const pte = new Set(Array.from({ length: DAX_WAIT_TABLE_ENTRIES }, (_, i) => dax_entry_waitqueue(0, i)));
    expect(pte.size).toBeGreaterThan(DAX_WAIT_TABLE_ENTRIES / 2);
    const sameIndex = new Set(Array.from({ length: 64 }, (_, m) => dax_entry_waitqueue(m, 0)));
    expect(sameIndex.size).toBeGreaterThan(32);
  });
});

describe('entry wait queues on one thread', () => {
  it('does not lose a wake-up that lands between prepare_to_wait_exclusive and schedule', () => {
    const machine = machineWith();
    const [me, waker] = [attachCpu(machine, 0), attachCpu(machine, 1)];
    const bucket = dax_entry_waitqueue(0, 9);
    expect(waitqueue_active(waker, bucket)).toBe(false);
    expect(__wake_up(waker, bucket)).toBe(0); // nobody queued: a no-op

    const w = init_wait(me);
    prepare_to_wait_exclusive(w, bucket);
    expect(waitqueue_active(waker, bucket)).toBe(true);
    expect(cpuState(machine, 0, 'waitKind')).toBe(WAIT_KIND_ENTRY);
    expect(WAIT_KIND_ENTRY).not.toBe(WAIT_KIND_LOCK);
    __wake_up(waker, bucket);
    expect(schedule(w, 5000)).toBe('not-equal'); // at once, instead of sleeping until the timeout
    finish_wait(w);
    expect(waiters(machine, bucket)).toBe(0);
    expect(cpuState(machine, 0, 'waitKind')).toBe(0);
  });

  it('times out without a wake-up, counting one contention per wait however often it sleeps', () => {
    const machine = machineWith();
    const me = attachCpu(machine, 0);
    const bucket = dax_entry_waitqueue(1, 77);
    const w = init_wait(me);
    for (let i = 0; i < 3; i++) {
      prepare_to_wait_exclusive(w, bucket);
      expect(schedule(w, 10)).toBe('timed-out');
      finish_wait(w);
    }
    const stat = readLockClass(machine, 'dax_entry_lock');
    expect(stat.contentions).toBe(1);
    expect(stat.sleeps).toBe(3);
    expect(stat.waitNsTotal).toBeGreaterThan(0);
    near(stat.waitNsMin, stat.waitNsTotal);
    near(stat.waitNsMax, stat.waitNsTotal);

    // A second wait is a second contention; min and max are per wait, not per sleep.
    const w2 = init_wait(me);
    prepare_to_wait_exclusive(w2, bucket);
    schedule(w2, 1);
    finish_wait(w2);
    const after = readLockClass(machine, 'dax_entry_lock');
    const [first, second] = [stat.waitNsMax, after.waitNsTotal - stat.waitNsTotal];
    expect(after.contentions).toBe(2);
    expect(after.sleeps).toBe(4);
    near(after.waitNsMax, Math.max(first, second));
    near(after.waitNsMin, Math.min(first, second));
  });

  it('does not count a wait that never called schedule as a contention', () => {
    const machine = machineWith();
    const me = attachCpu(machine, 0);
    const w = init_wait(me);
    prepare_to_wait_exclusive(w, 5);
    finish_wait(w);
    finish_wait(w); // harmless twice
    expect(readLockClass(machine, 'dax_entry_lock').contentions).toBe(0);
    expect(() => schedule(w)).toThrow(/not on a wait queue/);
    expect(() => prepare_to_wait_exclusive(w, DAX_WAIT_TABLE_ENTRIES)).toThrow(RangeError);
    // Preparing on another bucket moves the CPU there.
    prepare_to_wait_exclusive(w, 5);
    prepare_to_wait_exclusive(w, 6);
    expect([waiters(machine, 5), waiters(machine, 6)]).toEqual([0, 1]);
    expect(cpuState(machine, 0, 'waitAt')).toBe(6);
    // A spin_lock() in the caller's loop clears waitKind; the next prepare sets it again.
    Atomics.store(machine.views.cpuState, CPU_STATE.waitKind, 0);
    prepare_to_wait_exclusive(w, 6);
    expect(cpuState(machine, 0, 'waitKind')).toBe(WAIT_KIND_ENTRY);
    expect(waiters(machine, 6)).toBe(1);
    finish_wait(w);
    expect(waiters(machine, 6)).toBe(0);
  });

  it('rejects a bad bucket before writing anything, -1 (the not-queued marker) included', () => {
    const machine = machineWith();
    const me = attachCpu(machine, 0);
    const w = init_wait(me);
    const state = machine.views.cpuState.slice();
    const table = machine.views.waitTable.slice();
    for (const bucket of [-1, -2, 0.5, NaN, DAX_WAIT_TABLE_ENTRIES]) {
      expect(() => prepare_to_wait_exclusive(w, bucket)).toThrow(RangeError);
      expect(() => prepare_to_wait_exclusive(w, bucket)).toThrow(/^bucket: expected an integer from 0 to 4095, got /);
    }
    expect(machine.views.cpuState).toEqual(state);
    expect(machine.views.waitTable).toEqual(table);
    expect(w).toEqual(init_wait(me));
    // Queued, it stays as it was: on its bucket, its start time and seq sample kept.
    prepare_to_wait_exclusive(w, 7);
    const queued = { ...w };
    const queuedState = machine.views.cpuState.slice();
    expect(() => prepare_to_wait_exclusive(w, -1)).toThrow(/^bucket: /);
    expect(w).toEqual(queued);
    expect(machine.views.cpuState).toEqual(queuedState);
    expect(waiters(machine, 7)).toBe(1);
    finish_wait(w);
  });

  it('counts entry-lock acquisitions and hold times for the caller', () => {
    const machine = machineWith({ lockStatHoldTimes: true });
    const me = attachCpu(machine, 2);
    for (let i = 0; i < 5; i++) {
      entryLockAcquired(me);
      entryLockReleased(me);
    }
    const stat = readLockClass(machine, LOCK_CLASS.dax_entry_lock);
    expect(stat.acquisitions).toBe(5);
    expect(stat.holdSamples).toBe(5);
    expect(stat.holdNsMin).toBeLessThanOrEqual(stat.holdNsMax);
    expect(readLockClass(machine, 'tree_lock').acquisitions).toBe(0);
  });
});

describe('entry wait queues across CPUs', () => {
  it('sleeps until another CPU changes the condition and wakes it; the watchdog sees the sleeper', async () => {
    const machine = machineWith();
    const scratch = scratchBuffer();
    const s = new Int32Array(scratch);
    const key = { scratch, mapping: 1, index: 4242, timeoutMs: 5000 };
    const bucket = dax_entry_waitqueue(1, 4242);
    const done = runCpus<{ slept: number; timedOut: boolean } | number>(machine, [
      { cpu: 0, module: 'sync_scenarios', fn: 'sleepUntilCond', args: key },
      { cpu: 1, module: 'sync_scenarios', fn: 'wakeWhenTold', args: key },
    ]);
    await until(() => cpuState(machine, 0, 'waitKind') === WAIT_KIND_ENTRY, 'cpu 0 waits on its entry');
    expect(cpuState(machine, 0, 'waitRegion')).toBe(REGION_NAMES.indexOf('waitTable'));
    expect(cpuState(machine, 0, 'waitAt')).toBe(bucket);
    expect(cpuState(machine, 0, 'waitClass')).toBe(LOCK_CLASS.dax_entry_lock);
    expect(waiters(machine, bucket)).toBe(1);
    // Still asleep a while later: only the wake-up ends it.
    await new Promise((r) => setTimeout(r, 20));
    expect(cpuState(machine, 0, 'waitKind')).toBe(WAIT_KIND_ENTRY);

    Atomics.store(s, SCRATCH.go, 1);
    Atomics.notify(s, SCRATCH.go);
    const [sleeper] = await done;
    expect(sleeper).toMatchObject({ timedOut: false });
    expect((sleeper as { slept: number }).slept).toBeGreaterThanOrEqual(1);
    expect(cpuState(machine, 0, 'waitKind')).toBe(0);
    expect(waiters(machine, bucket)).toBe(0);
    const stat = readLockClass(machine, 'dax_entry_lock');
    expect(stat.contentions).toBe(1);
    expect(stat.sleeps).toBeGreaterThanOrEqual(1);
    expect(stat.waitNsTotal).toBeGreaterThanOrEqual(20e6); // it slept through the 20 ms above
    near(stat.waitNsMin, stat.waitNsTotal);
  });

  for (const [n, sharedBucket] of [
    [2, false],
    [3, true],
    [4, false],
  ] as const) {
    it(`loses no wake-up over many sleep/wake rounds (${n} CPUs, ${sharedBucket ? 'one shared bucket' : 'a bucket each'})`, async () => {
      const machine = machineWith();
      const scratch = scratchBuffer();
      const rounds = 1500;
      const results = await runCpus<{ timeouts: number; sleeps: number }>(
        machine,
        Array.from({ length: n }, (_, me) => ({
          cpu: me,
          module: 'sync_scenarios',
          fn: 'tokenRing',
          args: { scratch, n, me, rounds, sharedBucket, timeoutMs: 2000 },
        })),
      );
      expect(new Int32Array(scratch)[SCRATCH.cond]).toBe(n * rounds);
      expect(results.map((r) => r.timeouts)).toEqual(new Array(n).fill(0));
      expect(results.reduce((a, r) => a + r.sleeps, 0)).toBeGreaterThan(0);
      for (let b = 0; b < DAX_WAIT_TABLE_ENTRIES; b++) expect(waiters(machine, b)).toBe(0);
      const stat = readLockClass(machine, 'dax_entry_lock');
      expect(stat.contentions).toBeGreaterThan(0);
      expect(stat.contentions).toBeLessThanOrEqual(n * rounds);
    });
  }

  for (const lockStatHoldTimes of [false, true]) {
    it(`serialises fs/dax.c-style entry locking under tree_lock with no lost wake-up (hold times ${lockStatHoldTimes ? 'on' : 'off'})`, async () => {
      const machine = machineWith({ lockStatHoldTimes, lockSpinNs: 0 });
      const scratch = scratchBuffer();
      const rounds = 800;
      const timeouts = await runCpus<number>(
        machine,
        [0, 1, 2, 3].map((cpu) => ({
          cpu,
          module: 'sync_scenarios',
          fn: 'entryLockRounds',
          args: { scratch, rounds, work: 300, mapping: 0, index: 12, timeoutMs: 2000 },
        })),
      );
      expect(timeouts).toEqual([0, 0, 0, 0]);
      const s = new Int32Array(scratch);
      expect(s[SCRATCH.counter]).toBe(4 * rounds);
      expect(s[SCRATCH.entryLocked]).toBe(0);
      const stat = readLockClass(machine, 'dax_entry_lock');
      expect(stat.acquisitions).toBe(4 * rounds);
      expect(stat.contentions).toBeGreaterThan(0);
      expect(stat.contentions).toBeLessThanOrEqual(stat.acquisitions); // one per contended acquisition
      expect(stat.waitNsMin).toBeLessThanOrEqual(stat.waitNsMax);
      expect(stat.waitNsMax).toBeLessThanOrEqual(stat.waitNsTotal);
      expect(stat.holdSamples).toBe(lockStatHoldTimes ? 4 * rounds : 0);
      for (let cpu = 0; cpu < 4; cpu++) expect(cpuState(machine, cpu, 'waitKind')).toBe(0);
    });
  }
});
