import { afterEach, describe, expect, it } from 'vitest';
import type { JsHistogram } from 'hdr-histogram-js';
import { createMachine } from '../src/machine/machine.js';
import { MiB } from '../src/machine/layout.js';
import {
  CpuRecorders,
  HIGHEST_NS,
  MergedOps,
  OP_KINDS,
  RECORDED_OP_KINDS,
  type EncodedOps,
  type OpHistogram,
} from '../src/measure/histogram.js';
import { log2UsBucketsOfSamples } from '../src/measure/buckets.js';
import { formatHgrm } from '../src/measure/hgrm.js';
import { opStats, opStatsByKind } from '../src/measure/op_stats.js';
import { runCpus } from './support/workers.js';
import { recordSamples, samplesFor, type MeasureArgs } from './workers/measure_scenarios.js';

const live: CpuRecorders[] = [];
function recorders(): CpuRecorders {
  const r = new CpuRecorders();
  live.push(r);
  return r;
}
afterEach(() => {
  for (const r of live.splice(0)) r.destroy();
});

const merged = (set: CpuRecorders) => MergedOps.merge([set.encode()]);

/** Every non-zero count of the histogram as "index:count". */
function counts(h: JsHistogram): string[] {
  const out: string[] = [];
  for (let i = 0; i < h.countsArrayLength; i++) if (h.getCountAtIndex(i) !== 0) out.push(`${i}:${h.getCountAtIndex(i)}`);
  return out;
}

function expectSameOp(a: OpHistogram | undefined, b: OpHistogram | undefined): void {
  expect(a === undefined).toBe(b === undefined);
  if (a === undefined || b === undefined) return;
  expect({ count: a.count, sumNs: a.sumNs, minNs: a.minNs, maxNs: a.maxNs, outOfRange: a.outOfRange }).toEqual({
    count: b.count,
    sumNs: b.sumNs,
    minNs: b.minNs,
    maxNs: b.maxNs,
    outOfRange: b.outOfRange,
  });
  expect(a.histogram.totalCount).toBe(b.histogram.totalCount);
  expect(counts(a.histogram)).toEqual(counts(b.histogram));
  expect(opStats(a)).toEqual(opStats(b));
  expect(formatHgrm(a)).toBe(formatHgrm(b));
}

describe('recorders', () => {
  it('keep exact count, sum, min and max beside the histogram', () => {
    const set = recorders();
    for (const ns of [12_345.9, 9_001, 250_000, 46_999]) set.record('store', ns);
    const op = merged(set).get('store')!;
    expect(op).toMatchObject({ count: 4, sumNs: 12_345 + 9_001 + 250_000 + 46_999, minNs: 9_001, maxNs: 250_000, outOfRange: 0 });
    expect(op.histogram.totalCount).toBe(4);
    expect(opStats(op).meanNs).toBe(op.sumNs / 4);
  });

  it('clamp values outside 0..HIGHEST_NS and count them', () => {
    const set = recorders();
    set.record('fsync', -5);
    set.record('fsync', Number.NaN);
    set.record('fsync', HIGHEST_NS * 2);
    set.record('fsync', 60e9);
    const op = merged(set).get('fsync')!;
    expect(op).toMatchObject({ count: 4, minNs: 0, maxNs: HIGHEST_NS, outOfRange: 3 });
    expect(opStats(op).buckets.map((b) => [b.lowUs, b.count])).toEqual([
      [0, 2],
      [2 ** 25, 1], // 60 s = 60e6 µs in 33554432 - 67108863
      [2 ** 31, 1], // one hour = 3.6e9 µs
    ]);
  });

  it('correct for coordinated omission with the library, exact figures included', () => {
    const set = recorders();
    set.recordWithExpectedInterval('store', 10_000, 1_000);
    set.recordWithExpectedInterval('store', 1_500, 1_000); // under two intervals: no synthetic values
    set.recordWithExpectedInterval('store', 700, 0); // no interval: plain record
    const op = merged(set).get('store')!;
    // 10 µs at a 1 µs pace also stands for the 9 operations it held up: 9, 8, ..., 1 µs.
    expect(op).toMatchObject({ count: 12, minNs: 700, maxNs: 10_000, sumNs: 55_000 + 1_500 + 700 });
    expect(op.histogram.totalCount).toBe(12);
    // p50 is the 6th of 700, 1000, 1500, 2000, ..., 10000: 4000, reported as HdrHistogram reports
    // a percentile, the highest value equivalent to it (the unit is 2 ns there).
    expect(opStats(op).p50Ns).toBe(4_001);
  });

  it('derive fault from the three fault kinds and refuse to record it directly', () => {
    const set = recorders();
    set.record('read-fault', 2_000);
    set.record('write-fault', 20_000);
    set.record('write-fault', 21_000);
    set.record('sync-fault', 150_000);
    set.record('store', 100);
    const m = merged(set);
    expect(m.kinds()).toEqual(['read-fault', 'write-fault', 'sync-fault', 'fault', 'store']);
    expect(m.get('fault')).toMatchObject({ count: 4, minNs: 2_000, maxNs: 150_000, sumNs: 193_000 });
    expect(opStats(m.get('fault')).buckets.map((b) => [b.lowUs, b.count])).toEqual([
      [2, 1],
      [16, 2],
      [128, 1],
    ]);
    expect(() => set.record('fault' as never, 1)).toThrow(/fault is derived/);
    expect(() => set.record('pagefault' as never, 1)).toThrow(/unknown operation kind "pagefault"/);
    expect(Object.keys(opStatsByKind(m))).toEqual(['read-fault', 'write-fault', 'sync-fault', 'fault', 'store']);
    expect(Object.keys(opStatsByKind(m, { includeEmpty: true }))).toEqual([...OP_KINDS]);
    expect(opStatsByKind(m, { includeEmpty: true }).commit).toEqual({
      count: 0, minNs: 0, meanNs: 0, maxNs: 0, p50Ns: 0, p90Ns: 0, p99Ns: 0, p999Ns: 0, buckets: [],
    });
  });

  it('encode to plain data that survives structuredClone and JSON, holding only kinds with values', () => {
    const set = recorders();
    set.record('commit', 5_000_000);
    set.record('msync', 3_000);
    const enc = set.encode();
    expect(Object.keys(enc.ops)).toEqual(['msync', 'commit']);
    expect(enc.ops.commit!.histogram).toMatch(/^HISTF/); // HdrHistogram V2 compressed, base64
    const viaJson = JSON.parse(JSON.stringify(enc)) as EncodedOps;
    const direct = MergedOps.merge([enc]);
    for (const e of [structuredClone(enc), viaJson]) {
      const copy = MergedOps.merge([e]);
      for (const kind of OP_KINDS) expectSameOp(copy.get(kind), direct.get(kind));
    }
  });

  it('reset forgets what was recorded', () => {
    const set = recorders();
    set.record('store', 1_000);
    set.reset();
    set.record('store', 3_000);
    expect(merged(set).get('store')).toMatchObject({ count: 1, minNs: 3_000, maxNs: 3_000, sumNs: 3_000 });
    set.reset();
    expect(set.encode().ops).toEqual({});
  });

  it('reject encodings of another histogram shape, format or kind', () => {
    const set = recorders();
    set.record('store', 1);
    const enc = set.encode();
    expect(() => MergedOps.merge([{ ...enc, significantDigits: 2 }])).toThrow(/at 2 digits, expected 1\.\.3600000000000 ns at 3 digits/);
    expect(() => MergedOps.merge([{ ...enc, format: 'x' as never }])).toThrow(/expected format daxlab-ops-1/);
    expect(() => MergedOps.merge([{ ...enc, ops: { ...enc.ops, bogus: enc.ops.store } } as never])).toThrow(/unknown operation kind "bogus"/);
    expect(() => MergedOps.merge([{ ...enc, ops: { store: { ...enc.ops.store!, count: 2 } } }])).toThrow(/holds 1 values, its figures say 2/);
  });
});

describe('merging across worker threads', () => {
  const args: MeasureArgs = { seed: 7, n: 3000 };

  it('equals recording every sample on one thread', async () => {
    const machine = createMachine({ pmemBytes: 2 * MiB, cpus: 3, indexNodes: 2 });
    const posted = await runCpus<EncodedOps>(
      machine,
      [0, 1, 2].map((cpu) => ({ cpu, module: 'measure_scenarios', fn: 'recordSamples', args })),
    );
    const fromWorkers = MergedOps.merge(posted);

    const one = recorders();
    const all = [0, 1, 2].flatMap((cpu) => samplesFor(cpu, args));
    for (const s of all) {
      if (s.intervalNs > 0) one.recordWithExpectedInterval(s.kind, s.ns, s.intervalNs);
      else one.record(s.kind, s.ns);
    }
    const single = merged(one);

    expect(fromWorkers.kinds()).toEqual(single.kinds());
    for (const kind of OP_KINDS) expectSameOp(fromWorkers.get(kind), single.get(kind));

    // And both equal the samples themselves where no correction was applied.
    for (const kind of RECORDED_OP_KINDS.filter((k) => k !== 'store')) {
      const ns = all.filter((s) => s.kind === kind).map((s) => Math.floor(s.ns));
      const op = fromWorkers.get(kind);
      if (ns.length === 0) continue;
      expect(op).toMatchObject({ count: ns.length, minNs: Math.min(...ns), maxNs: Math.max(...ns), sumNs: ns.reduce((a, b) => a + b, 0) });
      expect(opStats(op).buckets).toEqual(log2UsBucketsOfSamples(ns));
    }
  });

  it('merges merges: shards merged pairwise equal one merge', () => {
    const posted = [0, 1, 2].map((cpu) => recordSamples({ id: cpu } as never, { seed: 3, n: 500 }));
    const once = MergedOps.merge(posted);
    const shardA = MergedOps.merge(posted.slice(0, 2)).encode();
    const shardB = MergedOps.merge(posted.slice(2));
    const twice = MergedOps.merge([shardA]).add(shardB);
    for (const kind of OP_KINDS) expectSameOp(twice.get(kind), once.get(kind));
  });
});
