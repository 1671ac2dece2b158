import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CpuRecorders, HIGHEST_NS, MergedOps } from '../src/measure/histogram.js';
import { bucketHighUs, bucketLowUs, log2UsBucketsOfSamples } from '../src/measure/buckets.js';
import { opStats, type OpStats } from '../src/measure/op_stats.js';
import { formatSeedBlock, KARA_2017_ROWS } from '../src/measure/seed_format.js';

const live: CpuRecorders[] = [];
afterEach(() => {
  for (const r of live.splice(0)) r.destroy();
});

/** Records the samples as one CPU's stores, then encodes, decodes and summarises them as the main thread does. */
function statsOf(samplesNs: readonly number[]): OpStats {
  const set = new CpuRecorders();
  live.push(set);
  for (const ns of samplesNs) set.record('store', ns);
  return opStats(MergedOps.merge([set.encode()]).get('store'));
}

const range = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

describe('log2 microsecond buckets', () => {
  it('put a latency in [2^k, 2^(k+1) - 1] whole µs, sub-µs in 0 - 0', () => {
    expect([0, 999, 1_000, 1_999, 2_000, 3_999, 4_000, 15_999, 16_000, 127_999, 128_000].map(bucketLowUs)).toEqual([
      0, 0, 1, 1, 2, 2, 4, 8, 16, 64, 128,
    ]);
    expect([0, 1, 2, 8, 128].map(bucketHighUs)).toEqual([0, 1, 3, 15, 255]);
    expect(bucketLowUs(HIGHEST_NS)).toBe(2 ** 31);
  });

  it('are exact from the histogram at every edge, up to an hour', () => {
    const edges = [0, 1];
    for (let k = 0; k <= 31; k++) {
      const edge = 1000 * 2 ** k;
      if (edge - 1 <= HIGHEST_NS) edges.push(edge - 1);
      if (edge <= HIGHEST_NS) edges.push(edge);
    }
    const s = statsOf(edges);
    expect(s.buckets).toEqual(log2UsBucketsOfSamples(edges));
    expect(s.buckets[0]).toEqual({ lowUs: 0, highUs: 0, count: 3 });
    expect(s.buckets[1]).toEqual({ lowUs: 1, highUs: 1, count: 2 }); // 1000 and 1999
  });

  it("reproduce the seed's first row from samples of that distribution", () => {
    // 512 faults: 508 in 8 - 15 µs (the fastest 9.0 µs), 3 in 16 - 31, 1 at 46.9 µs.
    const samples = [
      9_000,
      ...range(507, (i) => 9_500 + ((i * 37) % 2_500)),
      16_000,
      20_500,
      31_999,
      46_999,
    ];
    const s = statsOf(samples);
    expect(s.count).toBe(512);
    expect(s.buckets).toEqual([
      { lowUs: 8, highUs: 15, count: 508 },
      { lowUs: 16, highUs: 31, count: 3 },
      { lowUs: 32, highUs: 63, count: 1 },
    ]);
    expect(formatSeedBlock(s, KARA_2017_ROWS[0].title)).toBe(
      'File preallocated, no background load no MAP_SYNC:\nmin=9 avg=10 max=46\n8 - 15 us: 508\n16 - 31 us: 3\n32 - 63 us: 1\n',
    );
  });

  it("reproduce the seed's empty-file MAP_SYNC row, whose average the tail pulls up", () => {
    const samples = [40_500, ...range(333, (i) => 96_000 + ((i * 61) % 20_000)), ...range(177, (i) => 150_000 + ((i * 113) % 20_000)), 242_999];
    const s = statsOf(samples);
    expect(s.count).toBe(512);
    expect(s.meanNs).toBe(samples.reduce((a, b) => a + b, 0) / 512);
    expect(formatSeedBlock(s)).toBe('min=40 avg=124 max=242\n32 - 63 us: 1\n64 - 127 us: 333\n128 - 255 us: 178\n');
  });

  it('truncate avg as integer division does: 10.999 µs prints 10', () => {
    expect(formatSeedBlock(statsOf([10_998, 11_000]))).toBe('min=10 avg=10 max=11\n8 - 15 us: 2\n');
  });
});

describe('op stats', () => {
  const latency = fc
    .tuple(fc.integer({ min: 0, max: 43 }), fc.double({ min: 0, max: 1, noNaN: true }))
    .map(([e, f]) => Math.floor(2 ** e * (1 + f))); // 1 ns to ~17 000 s: some beyond the hour, clamped

  it('property: buckets sum to count and equal the samples; min <= p50 <= p90 <= p99 <= p99.9 <= max; figures exact', () => {
    fc.assert(
      fc.property(fc.array(latency, { minLength: 1, maxLength: 300 }), (raw) => {
        const s = statsOf(raw);
        const ns = raw.map((v) => Math.min(v, HIGHEST_NS));
        const sorted = [...ns].sort((a, b) => a - b);
        expect(s.count).toBe(ns.length);
        expect(s.buckets.reduce((n, b) => n + b.count, 0)).toBe(s.count);
        expect(s.buckets).toEqual(log2UsBucketsOfSamples(ns));
        expect(s.minNs).toBe(sorted[0]);
        expect(s.maxNs).toBe(sorted[sorted.length - 1]);
        expect(s.meanNs).toBeCloseTo(ns.reduce((a, b) => a + b, 0) / ns.length, 6);
        const chain = [s.minNs, s.p50Ns, s.p90Ns, s.p99Ns, s.p999Ns, s.maxNs];
        for (let i = 1; i < chain.length; i++) expect(chain[i - 1]).toBeLessThanOrEqual(chain[i]);
        // Each percentile within the histogram's 3 significant digits of the samples' own.
        for (const [q, p] of [[50, s.p50Ns], [90, s.p90Ns], [99, s.p99Ns], [99.9, s.p999Ns]] as const) {
          const truth = sorted[Math.max(1, Math.ceil((q / 100) * sorted.length)) - 1];
          expect(p).toBeGreaterThanOrEqual(truth);
          expect(p - truth).toBeLessThanOrEqual(truth / 1000 + 1);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('give an empty kind zeros and no buckets', () => {
    expect(opStats(undefined)).toEqual({ count: 0, minNs: 0, meanNs: 0, maxNs: 0, p50Ns: 0, p90Ns: 0, p99Ns: 0, p999Ns: 0, buckets: [] });
  });
});
