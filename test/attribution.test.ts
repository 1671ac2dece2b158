import { afterEach, describe, expect, it } from 'vitest';
import { PAGE_SIZE } from '../src/machine/layout.js';
import { mmap } from '../src/mm/mmap.js';
import { MAP_SHARED, MAP_SHARED_VALIDATE, MAP_SYNC, PROT_READ, PROT_WRITE } from '../src/mm/mman.js';
import { vfs_create, vfs_truncate } from '../src/fs/inode.js';
import { STEP, STEP_COUNT, STEP_NAMES, opBegin, opCommitCarriedOtherInodes, opEnd, setAttributing } from '../src/measure/steps.js';
import { AttributionRecorder, SLOWEST, bucketOf, mergeAttribution, type EncodedAttribution } from '../src/measure/attribution.js';
import { AttributionSchema } from '../src/measure/results.js';
import { nowNs } from '../src/util/clock.js';
import { makeFile, setupMm, type MmSetup } from './workers/mm_support.js';
import { runCpus } from './support/workers.js';
import { startCommitThread } from './support/commit_thread.js';
import { bindThreadCpu, unbindThreadCpu } from '../src/sync/vclock.js';
import { readCommitRecords } from '../src/journal/stats.js';
import type { FaultOp } from './workers/attribution_scenarios.js';

const RW = PROT_READ | PROT_WRITE;
const TRAP_NS = 5000;
const ZERO_NS = 3000;
const COSTS = { trapNs: TRAP_NS, zeroBlockNs: ZERO_NS, syscallNs: 1000, flushLineNs: 20, fenceNs: 100, journalBlockWriteNs: 2000, journalFlushNs: 1000 };

interface Op {
  latencyNs: number;
  steps: number[];
  carried: boolean;
}

/** Write-faults each page of the mapping once on this thread, timing each with its own clock reads. */
function faultEachPage(s: MmSetup, ino: number, pages: number, flags: number): Op[] {
  const vma = mmap(s.mm, ino, pages * PAGE_SIZE, RW, flags, 0);
  const bytes = new Uint8Array(8).fill(7);
  const ops: Op[] = [];
  for (let p = 0; p < pages; p++) {
    const t0 = nowNs();
    opBegin(t0);
    vma.store(p * PAGE_SIZE, bytes);
    const t1 = nowNs();
    const steps = opEnd(t1);
    ops.push({ latencyNs: t1 - t0, steps: Array.from(steps), carried: opCommitCarriedOtherInodes() });
  }
  return ops;
}

const sum = (a: readonly number[]) => a.reduce((x, y) => x + y, 0);

/** The checks every attributed MAP_SYNC write fault into a hole must pass. */
function expectSyncFaultBreakdown(op: Op | FaultOp): void {
  // The steps add up to the latency measured around the operation (within 5 %).
  expect(Math.abs(sum(op.steps) - op.latencyNs)).toBeLessThanOrEqual(0.05 * op.latencyNs);
  expect(op.steps.every((v) => v >= 0)).toBe(true);
  expect(op.steps[STEP.trap]).toBeGreaterThanOrEqual(TRAP_NS);
  expect(op.steps[STEP.alloc_zero]).toBeGreaterThanOrEqual(ZERO_NS);
  expect(op.steps[STEP.iomap_begin]).toBeGreaterThan(0);
  expect(op.steps[STEP.journal_commit_wait]).toBeGreaterThan(0);
}

afterEach(() => setAttributing(false));

describe('attribution through the real fault path', () => {
  it('splits each MAP_SYNC fault on an empty file into steps that add up to its latency (one CPU, inline commits)', () => {
    const s = setupMm('ext4', { costs: COSTS });
    const ino = makeFile(s.fs, 8, 'empty');
    setAttributing(true);
    const ops = faultEachPage(s, ino, 8, MAP_SHARED_VALIDATE | MAP_SYNC);
    for (const op of ops) {
      expectSyncFaultBreakdown(op);
      // The commit made the block map durable: the flushes and fence of the commit are a cache flush.
      expect(op.steps[STEP.cache_flush]).toBeGreaterThan(0);
      expect(op.carried).toBe(false);
    }
  });

  it('a fault without MAP_SYNC waits for no commit, and a fault on an allocated page zeroes nothing', () => {
    const s = setupMm('ext4', { costs: COSTS });
    const ino = makeFile(s.fs, 4, 'empty');
    setAttributing(true);
    const first = faultEachPage(s, ino, 4, MAP_SHARED);
    for (const op of first) {
      expect(op.steps[STEP.trap]).toBeGreaterThanOrEqual(TRAP_NS);
      expect(op.steps[STEP.alloc_zero]).toBeGreaterThanOrEqual(ZERO_NS);
      expect(op.steps[STEP.journal_commit_wait]).toBe(0);
      expect(Math.abs(sum(op.steps) - op.latencyNs)).toBeLessThanOrEqual(0.05 * op.latencyNs);
    }
    const again = faultEachPage(s, ino, 4, MAP_SHARED); // a new mapping of the blocks just allocated
    for (const op of again) {
      expect(op.steps[STEP.trap]).toBeGreaterThanOrEqual(TRAP_NS);
      expect(op.steps[STEP.alloc_zero]).toBe(0);
    }
  });

  it("notes when the commit a sync fault waited for carried another inode's metadata", () => {
    const s = setupMm('ext4', { costs: COSTS });
    const ino = makeFile(s.fs, 2, 'empty');
    const other = vfs_create(s.fs);
    vfs_truncate(s.fs, other, 4 * PAGE_SIZE); // the other inode's change sits in the running transaction
    setAttributing(true);
    const [op] = faultEachPage(s, ino, 1, MAP_SHARED_VALIDATE | MAP_SYNC);
    expectSyncFaultBreakdown(op);
    expect(op.carried).toBe(true);
  });

  it('with attribution off the hooks record nothing', () => {
    const s = setupMm('ext4', { costs: COSTS });
    const ino = makeFile(s.fs, 4, 'empty');
    setAttributing(true);
    opBegin(0);
    const cleared = opEnd(0);
    expect(Array.from(cleared)).toEqual(new Array(STEP_COUNT).fill(0));
    setAttributing(false);
    const t0 = nowNs();
    opBegin(t0);
    faultEachPage(s, ino, 4, MAP_SHARED_VALIDATE | MAP_SYNC);
    const steps = opEnd(nowNs());
    expect(Array.from(steps)).toEqual(new Array(STEP_COUNT).fill(0));
    expect(opCommitCarriedOtherInodes()).toBe(false);
  });

  it('attributes MAP_SYNC faults on a worker CPU that sleeps for the commit thread', async () => {
    const s = setupMm('ext4', { costs: COSTS });
    const pages = 12;
    const ino = makeFile(s.fs, pages, 'empty');
    const vma = mmap(s.mm, ino, pages * PAGE_SIZE, RW, MAP_SHARED_VALIDATE | MAP_SYNC, 0);
    const stop = await startCommitThread(s.machine, 5, {});
    let res: { ops: FaultOp[]; encoded: EncodedAttribution }[];
    try {
      res = await runCpus(s.machine, [{ cpu: 1, module: 'attribution_scenarios', fn: 'attributedFaults', args: { ref: vma.ref, pages } }]);
    } finally {
      await stop();
    }
    const { ops, encoded } = res[0];
    expect(ops).toHaveLength(pages);
    for (const op of ops) {
      expect(op.needDsync).toBe(true);
      expectSyncFaultBreakdown(op);
    }
    const merged = mergeAttribution([encoded]);
    expect(Object.keys(merged)).toEqual(['sync-fault', 'fault']);
    expect(merged.fault!.count).toBe(pages);
    expect(AttributionSchema.parse(merged.fault)).toEqual(merged.fault);
    expect(merged.fault!.meanNs.trap!).toBeGreaterThanOrEqual(TRAP_NS);
    expect(merged.fault!.meanShare['journal commit wait']!).toBeGreaterThan(0);
  });
});

describe('AttributionRecorder and mergeAttribution', () => {
  const steps = (values: Partial<Record<keyof typeof STEP, number>>) => {
    const a = new Float64Array(STEP_COUNT);
    for (const [k, v] of Object.entries(values)) a[STEP[k as keyof typeof STEP]] = v;
    return a;
  };

  it('keeps means, shares of the tail at or above the p99, and the slowest operations of every CPU', () => {
    const cpus = [new AttributionRecorder(), new AttributionRecorder()];
    // 990 fast faults (10 µs: trap + other) and 10 slow ones (1 ms, mostly a commit wait).
    for (let i = 0; i < 990; i++) cpus[i % 2].record('write-fault', 10_000, steps({ trap: 5000, other: 5000 }), i % 2, 0, false);
    for (let i = 0; i < 10; i++) {
      const lat = 1_000_000 + i * 1000;
      cpus[i % 2].record('sync-fault', lat, steps({ trap: 5000, journal_commit_wait: lat - 15_000, other: 10_000 }), i % 2, 1, i === 9);
    }
    cpus[0].record('store', 50, steps({ other: 50 }), 0, 0, false);
    const encoded = cpus.map((c) => JSON.parse(JSON.stringify(c.encode())) as EncodedAttribution);
    const m = mergeAttribution(encoded);
    expect(Object.keys(m)).toEqual(['write-fault', 'sync-fault', 'fault', 'store']);
    for (const a of Object.values(m)) {
      expect(AttributionSchema.safeParse(a).success).toBe(true);
      expect(sum(Object.values(a.meanShare))).toBeCloseTo(1, 9);
      expect(sum(Object.values(a.p99Share))).toBeCloseTo(1, 9);
    }
    const f = m.fault!;
    expect(f.count).toBe(1000);
    expect(f.meanNs.trap).toBeCloseTo(5000, 6);
    // The p99 of 1000 operations: the 10 slowest, all commit waits.
    expect(f.p99Share['journal commit wait']!).toBeGreaterThan(0.97);
    expect(f.meanShare['journal commit wait']!).toBeLessThan(0.6);
    expect(f.slowest).toHaveLength(SLOWEST);
    expect(f.slowest[0]).toMatchObject({ latencyNs: 1_009_000, cpu: 1, repeat: 1, commitCarriedOtherInodes: true });
    expect(f.slowest.map((o) => o.latencyNs)).toEqual([...f.slowest.map((o) => o.latencyNs)].sort((a, b) => b - a));
    expect(f.slowest[0].steps['journal commit wait']).toBe(1_009_000 - 15_000);
    expect(m['write-fault']!.slowest.every((o) => o.latencyNs === 10_000)).toBe(true);
  });

  it('merging equals recording everything on one CPU', () => {
    const one = new AttributionRecorder();
    const many = [new AttributionRecorder(), new AttributionRecorder(), new AttributionRecorder()];
    let x = 12345;
    for (let i = 0; i < 3000; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      const lat = 1000 + (x % 200_000);
      const st = steps({ trap: lat / 4, iomap_begin: lat / 4, other: lat / 2 });
      one.record('read-fault', lat, st, 0, 0, false);
      many[i % 3].record('read-fault', lat, st, 0, 0, false);
    }
    expect(mergeAttribution(many.map((r) => r.encode()))).toEqual(mergeAttribution([one.encode()]));
  });

  it('buckets latencies at 1/8 octave and rejects the derived kind', () => {
    expect(bucketOf(1)).toBe(0);
    expect(bucketOf(2)).toBe(8);
    expect(bucketOf(1024)).toBe(80);
    expect(bucketOf(1100)).toBe(80);
    expect(bucketOf(1024 * 2 ** (1 / 8) + 1)).toBe(81);
    expect(bucketOf(0)).toBe(0);
    expect(() => new AttributionRecorder().record('fault' as never, 1, new Float64Array(STEP_COUNT), 0, 0, false)).toThrow(/derived/);
    expect(STEP_NAMES).toHaveLength(STEP_COUNT);
  });
});

describe('attribution on the virtual clock: exact', () => {
  // Every step below costs what the profile says and nothing else; the costs left out are 0.
  const V = { trapNs: 5000, zeroBlockNs: 3000, allocNs: 700, syscallNs: 1000, fenceNs: 100, journalBlockWriteNs: 2000, journalFlushNs: 1000, commitNs: 10_000, iomapNs: 300, handleNs: 200, pteNs: 50, wakeupNs: 3000 };
  afterEach(() => unbindThreadCpu());

  it('a write fault into a hole is its steps, each exactly its modeled cost', () => {
    const s = setupMm('ext4', { clock: 'virtual', costs: V });
    bindThreadCpu(s.fs.cpu);
    const ino = makeFile(s.fs, 4, 'empty');
    setAttributing(true);
    for (const op of faultEachPage(s, ino, 4, MAP_SHARED)) {
      expect(sum(op.steps)).toBe(op.latencyNs);
      expect(op.steps[STEP.trap]).toBe(V.trapNs);
      // ext4_map_blocks' lookup; the allocation and its zeroing are a step of their own.
      expect(op.steps[STEP.iomap_begin]).toBe(V.iomapNs);
      expect(op.steps[STEP.alloc_zero]).toBe(V.allocNs + V.zeroBlockNs);
      // The fence after the zeroing's non-temporal stores.
      expect(op.steps[STEP.cache_flush]).toBe(V.fenceNs);
      // The fault's journal handle and its PTE.
      expect(op.steps[STEP.other]).toBe(V.handleNs + V.pteNs);
      expect(op.steps[STEP.journal_commit_wait]).toBe(0);
    }
  });

  it('a MAP_SYNC fault is its own steps plus the commit it waited for, request to durable, and its wake-up', async () => {
    const s = setupMm('ext4', { clock: 'virtual', costs: V, windowNs: 500 });
    const ino = makeFile(s.fs, 4, 'empty');
    const vma = mmap(s.mm, ino, 4 * PAGE_SIZE, RW, MAP_SHARED_VALIDATE | MAP_SYNC, 0);
    const before = readCommitRecords(s.machine).length;
    const [, r] = await runCpus<unknown>(s.machine, [
      { cpu: 4, module: 'kjournald_cpu', fn: 'commitThread', args: { policy: {} } },
      { cpu: 1, module: 'attribution_scenarios', fn: 'attributedFaultsThenStopJournal', args: { ref: vma.ref, pages: 4 } },
    ]);
    const { ops } = r as { ops: FaultOp[] };
    const commits = readCommitRecords(s.machine).slice(before);
    expect(commits).toHaveLength(4);
    for (const [i, op] of ops.entries()) {
      const c = commits[i];
      expect(op.needDsync).toBe(true);
      expect(sum(op.steps)).toBe(op.latencyNs);
      // The commit: its own work, its blocks, and two flushes with their fences; kjournald2
      // was asleep, so it began one wake-up after the request.
      expect(c.commitNs).toBe(V.commitNs + c.blocks * V.journalBlockWriteNs + 2 * (V.journalFlushNs + V.fenceNs));
      expect(c.requestToDurableNs).toBe(V.wakeupNs + c.commitNs);
      // The fault waited from its request until the commit was durable, then its own wake-up.
      expect(op.steps[STEP.journal_commit_wait]).toBe(c.requestToDurableNs + V.wakeupNs);
      expect(op.steps[STEP.trap]).toBe(V.trapNs);
      expect(op.steps[STEP.iomap_begin]).toBe(V.iomapNs);
      expect(op.steps[STEP.alloc_zero]).toBe(V.allocNs + V.zeroBlockNs);
    }
  });
});
