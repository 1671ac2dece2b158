import { describe, expect, it } from 'vitest';
import { createMachine, type Machine } from '../src/machine/machine.js';
import { CPU_STATE, LOCK_CLASS, LOCK_CLASSES, LOCK_WAIT_BUCKETS, MiB, type LockClassName, type MachineConfig } from '../src/machine/layout.js';
import { STEP } from '../src/measure/steps.js';
import { attachCpu } from '../src/sync/cpu.js';
import {
  lockWaitBucket,
  lockWaitBucketHighNs,
  lockWaitBucketLowNs,
  recordLockWait,
  extendLockWait,
} from '../src/sync/lock_wait_hist.js';
import {
  diffLockStat,
  diffLockWaitHist,
  readLockClass,
  readLockWaitHist,
  resetLockStat,
  snapshotLockStat,
  snapshotLockWaitHist,
  type LockWaitBucket,
} from '../src/sync/lockstat.js';
import { runCpus } from './support/workers.js';
import { WAIT_SCRATCH } from './workers/lock_wait_scenarios.js';

function machineWith(config: Partial<MachineConfig> = {}): Machine {
  return createMachine({ cpus: 4, pmemBytes: 2 * MiB, indexNodes: 8, mappings: 2, ...config });
}

const total = (buckets: LockWaitBucket[]) => buckets.reduce((n, b) => n + b.count, 0);

/** Checks the histogram against its class's lock_stat figures: same count, sum bracketed by the bucket bounds. */
function expectConsistent(buckets: LockWaitBucket[], contentions: number, waitNsTotal: number): void {
  expect(contentions).toBeGreaterThan(0);
  expect(total(buckets)).toBe(contentions);
  const low = buckets.reduce((n, b) => n + b.count * b.lowNs, 0);
  const high = buckets.reduce((n, b) => n + b.count * b.highNs, 0);
  expect(low).toBeLessThanOrEqual(waitNsTotal);
  expect(waitNsTotal).toBeLessThan(high);
  for (const b of buckets) {
    expect(b.count).toBeGreaterThan(0);
    expect(b.highNs).toBeGreaterThan(b.lowNs);
  }
  const lows = buckets.map((b) => b.lowNs);
  expect(lows).toEqual([...lows].sort((a, b) => a - b));
}

/** CPUs 0..n-1 running fn; CPU 0 leads (arranges the first contention), all share one fresh scratch. */
function jobs(n: number, fn: string, args: Record<string, unknown>) {
  const scratch = new SharedArrayBuffer(WAIT_SCRATCH.words * 4);
  return Array.from({ length: n }, (_, cpu) => ({
    cpu,
    module: 'lock_wait_scenarios',
    fn,
    args: { ...args, scratch, leader: cpu === 0 },
  }));
}

describe('lock wait-time buckets', () => {
  it('puts a wait of [2^k, 2^(k+1)) ns in bucket k, across the 32-bit boundary and up to the last bucket', () => {
    expect(lockWaitBucket(0)).toBe(0);
    expect(lockWaitBucket(1.9)).toBe(0);
    expect(lockWaitBucket(2)).toBe(1);
    expect(lockWaitBucket(3.99)).toBe(1);
    expect(lockWaitBucket(1000)).toBe(9);
    expect(lockWaitBucket(1024)).toBe(10);
    expect(lockWaitBucket(2 ** 31 + 0.5)).toBe(31);
    expect(lockWaitBucket(2 ** 32 - 0.5)).toBe(31);
    expect(lockWaitBucket(2 ** 32)).toBe(32);
    expect(lockWaitBucket(3.6e12)).toBe(41); // an hour
    expect(lockWaitBucket(1e15)).toBe(LOCK_WAIT_BUCKETS - 1);
    expect(lockWaitBucket(Number.NaN)).toBe(0);
    for (let k = 1; k < LOCK_WAIT_BUCKETS; k++) {
      expect(lockWaitBucket(lockWaitBucketLowNs(k))).toBe(k);
      expect(lockWaitBucket(lockWaitBucketHighNs(k) * (1 - 1e-12))).toBe(k);
    }
    expect(lockWaitBucketLowNs(0)).toBe(0);
  });

  it('is kept per CPU and class, reset with lock_stat, and moves a grown wait without counting it twice', () => {
    const m = machineWith();
    const [a, b] = [attachCpu(m, 0), attachCpu(m, 3)];
    recordLockWait(a, LOCK_CLASS.tree_lock, 1500);
    recordLockWait(b, LOCK_CLASS.tree_lock, 1500);
    recordLockWait(b, LOCK_CLASS.j_state_lock, 5);
    extendLockWait(b, LOCK_CLASS.j_state_lock, 5, 70);
    const h = readLockWaitHist(m);
    expect(Object.keys(h)).toEqual([...LOCK_CLASSES]);
    expect(h.tree_lock).toEqual([{ lowNs: 1024, highNs: 2048, count: 2 }]);
    expect(h.j_state_lock).toEqual([{ lowNs: 64, highNs: 128, count: 1 }]);
    expect(h.dax_entry_lock).toEqual([]);
    resetLockStat(m, 'tree_lock');
    expect(readLockWaitHist(m).tree_lock).toEqual([]);
    expect(readLockWaitHist(m).j_state_lock).toHaveLength(1);
    resetLockStat(m);
    expect(readLockWaitHist(m).j_state_lock).toEqual([]);
  });

  it('diffs confine counts to the window, undo a move of a wait counted before it, and survive a reset', () => {
    const m = machineWith();
    const c = attachCpu(m, 1);
    const cls = LOCK_CLASS.dax_entry_lock;
    recordLockWait(c, cls, 100);
    const before = snapshotLockStat(m);
    const histOnly = snapshotLockWaitHist(m);
    extendLockWait(c, cls, 100, 5000); // the wait counted before the window grows in it
    recordLockWait(c, cls, 20);
    const d = diffLockWaitHist(before, snapshotLockStat(m));
    expect(d.dax_entry_lock).toEqual([{ lowNs: 16, highNs: 32, count: 1 }]);
    expect(diffLockWaitHist(histOnly, snapshotLockWaitHist(m))).toEqual(d);
    // A reset between the snapshots takes the later record whole: no negative counts.
    resetLockStat(m);
    expect(diffLockWaitHist(before, snapshotLockStat(m)).dax_entry_lock).toEqual([]);
    expect(() => diffLockWaitHist(before, snapshotLockStat(machineWith({ cpus: 3 })))).toThrow(RangeError);
  });
});

describe('lock wait-time histograms under contention', () => {
  it('counts every contended tree_lock wait once, and a diff after a snapshot counts only the later waits', async () => {
    // Four CPUs on few cores: holders get preempted and waiters spin out and sleep, so the
    // waits spread over many buckets.
    const m = machineWith({ lockSpinNs: 2_000 });
    await runCpus(m, jobs(4, 'treeLockRounds', { mapping: 1, rounds: 2000, work: 300 }));
    const first = readLockClass(m, 'tree_lock');
    const firstHist = readLockWaitHist(m).tree_lock;
    expect(first.contentions).toBeGreaterThan(0);
    expectConsistent(firstHist, first.contentions, first.waitNsTotal);
    expect(firstHist[0].lowNs).toBeLessThanOrEqual(first.waitNsMin);
    expect(firstHist[firstHist.length - 1].highNs).toBeGreaterThan(first.waitNsMax);

    const warm = snapshotLockStat(m);
    await runCpus(m, jobs(3, 'treeLockRounds', { mapping: 1, rounds: 1500, work: 300 }));
    const end = snapshotLockStat(m);
    const window = diffLockStat(warm, end).tree_lock;
    const windowHist = diffLockWaitHist(warm, end).tree_lock;
    expectConsistent(windowHist, window.contentions, window.waitNsTotal);
    expect(total(readLockWaitHist(m).tree_lock)).toBe(total(firstHist) + total(windowHist));
    // Nothing else waited.
    for (const name of LOCK_CLASSES.filter((n): n is LockClassName => n !== 'tree_lock')) {
      expect(readLockWaitHist(m)[name]).toEqual([]);
    }
  });

  it('counts i_mmap_sem waits (rwsem) like the spinlock ones', async () => {
    const m = machineWith();
    await runCpus(m, jobs(3, 'mmapSemRounds', { rounds: 500, work: 2000 }));
    const f = readLockClass(m, 'i_mmap_sem');
    expect(f.acquisitions).toBe(1501); // the leader's first hold, then 500 rounds each
    expectConsistent(readLockWaitHist(m).i_mmap_sem, f.contentions, f.waitNsTotal);
    for (let cpu = 0; cpu < 4; cpu++) expect(m.views.cpuState[cpu * CPU_STATE.stride + CPU_STATE.waitKind]).toBe(0);
  });

  it('counts each entry wait once although it sleeps and finishes repeatedly, and attributes its time once', async () => {
    const m = machineWith({ lockSpinNs: 0 });
    const rounds = 400;
    type Res = { ops: { latencyNs: number; steps: number[] }[]; treeWaitNs: number; treeInsideNs: number; entryWaitNs: number };
    const res = await runCpus<Res>(m, jobs(3, 'attributedEntryRounds', { rounds, work: 3000, treeWork: 2000, mapping: 0, index: 7 }));
    const entry = readLockClass(m, 'dax_entry_lock');
    const tree = readLockClass(m, 'tree_lock');
    expect(entry.contentions).toBeGreaterThan(0);
    expectConsistent(readLockWaitHist(m).dax_entry_lock, entry.contentions, entry.waitNsTotal);
    expectConsistent(readLockWaitHist(m).tree_lock, tree.contentions, tree.waitNsTotal);
    for (const r of res) {
      expect(r.ops).toHaveLength(rounds);
      let treeSteps = 0;
      let entrySteps = 0;
      for (const op of r.ops) {
        const sum = op.steps.reduce((a, b) => a + b, 0);
        expect(Math.abs(sum - op.latencyNs)).toBeLessThan(1e-3 * op.latencyNs + 1);
        // A tree_lock wait inside an entry wait counted in both would push `other` below 0.
        expect(op.steps[STEP.other]).toBeGreaterThanOrEqual(-1e-6 * op.latencyNs);
        expect(op.steps[STEP.entry_lock_wait]).toBeGreaterThanOrEqual(0);
        treeSteps += op.steps[STEP.tree_lock_wait];
        entrySteps += op.steps[STEP.entry_lock_wait];
      }
      // Every tree_lock acquisition of the CPU was inside an operation.
      expect(Math.abs(treeSteps - r.treeWaitNs)).toBeLessThan(1e-6 * r.treeWaitNs + 1);
      // The entry waits are attributed less the tree_lock waits inside them, which went to the tree_lock step.
      const entryOnly = r.entryWaitNs - r.treeInsideNs;
      expect(Math.abs(entrySteps - entryOnly)).toBeLessThan(1e-6 * r.entryWaitNs + 1);
    }
    expect(res.some((r) => r.treeInsideNs > 0)).toBe(true);
  });
});
