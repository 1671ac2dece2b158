import { afterEach, describe, expect, it } from 'vitest';
import { CpuRecorders, MergedOps, type OpHistogram } from '../src/measure/histogram.js';
import { compareRuns, formatComparison, isTailRegression } from '../src/measure/compare.js';
import { erfc, mannWhitneyU, percentileInterval } from '../src/measure/hist_stats.js';
import { latencies, makeConfig, makeRun } from './support/run_results.js';
import { parseResults } from '../src/measure/results.js';

const live: CpuRecorders[] = [];
afterEach(() => {
  for (const r of live.splice(0)) r.destroy();
});

function hist(samples: readonly number[]): OpHistogram {
  const set = new CpuRecorders();
  live.push(set);
  for (const ns of samples) set.record('store', ns);
  return MergedOps.merge([set.encode()]).get('store')!;
}

/** U of a by definition: pairs with a > b, ties half. */
function bruteU(a: readonly number[], b: readonly number[]): number {
  let u = 0;
  for (const x of a) for (const y of b) u += x > y ? 1 : x === y ? 0.5 : 0;
  return u;
}

describe('Mann-Whitney U on histograms', () => {
  it('equals the brute-force U of the raw samples, ties included', () => {
    // Below 2048 ns the histogram keeps every nanosecond apart, so its ties are the samples' ties.
    const cases: [number[], number[]][] = [
      [[1, 2, 2, 3, 5, 8, 8, 8], [2, 3, 3, 4, 9, 10, 12, 8, 8]],
      [[5, 5, 5], [5, 5]],
      [[100], [200, 50, 100]],
      [latencies(40, 100, 60, 11), latencies(55, 120, 60, 12)],
    ];
    for (const [a, b] of cases) {
      const u = mannWhitneyU(hist(a).histogram, hist(b).histogram);
      expect(u.uA).toBe(bruteU(a, b));
      expect(u.uB).toBe(bruteU(b, a));
      expect(u.nA).toBe(a.length);
      expect(u.nB).toBe(b.length);
    }
  });

  it("counts values the histogram cannot tell apart as ties (higher up, 0.1 % wide bins)", () => {
    const a = latencies(60, 1_000_000, 50_000, 5);
    const b = latencies(70, 1_010_000, 50_000, 6);
    const ha = hist(a);
    const hb = hist(b);
    const binned = (xs: number[], h: OpHistogram) => xs.map((x) => h.histogram.lowestEquivalentValue(x));
    expect(mannWhitneyU(ha.histogram, hb.histogram).uA).toBe(bruteU(binned(a, ha), binned(b, hb)));
  });

  it("gives scipy's asymptotic p-value (tie and continuity corrections)", () => {
    // scipy.stats.mannwhitneyu(a, b, alternative='two-sided', method='asymptotic')
    const r1 = mannWhitneyU(hist([1, 2, 2, 3, 5, 8, 8, 8]).histogram, hist([2, 3, 3, 4, 9, 10, 12, 8, 8]).histogram);
    expect(r1.uA).toBe(22);
    expect(r1.p).toBeCloseTo(0.18619612164260446, 6);
    const range = (lo: number, hi: number) => Array.from({ length: hi - lo }, (_, i) => lo + i);
    const r2 = mannWhitneyU(hist(range(100, 140)).histogram, hist(range(130, 170)).histogram);
    expect(r2.uA).toBe(50);
    expect(r2.p / 5.493794800445032e-13).toBeCloseTo(1, 5);
  });

  it('has an erfc accurate to 1.2e-7 relative', () => {
    expect(Math.abs(erfc(0) - 1)).toBeLessThan(1.2e-7);
    expect(erfc(1) / 0.15729920705028513 - 1).toBeLessThan(1.2e-7);
    expect(Math.abs(erfc(5) / 1.5374597944280349e-12 - 1)).toBeLessThan(1.2e-7);
    expect(erfc(-1)).toBeCloseTo(2 - 0.15729920705028513, 7);
  });
});

describe('percentile confidence intervals', () => {
  it('contain the sample percentile and narrow as n grows', () => {
    for (const n of [50, 1000, 20000]) {
      const samples = latencies(n, 5_000, 100_000, n);
      const sorted = [...samples].sort((x, y) => x - y);
      const h = hist(samples);
      for (const q of [0.5, 0.99, 0.999]) {
        const truth = sorted[Math.ceil(n * q) - 1];
        const ci = percentileInterval(h, q);
        expect(ci.lowNs).toBeLessThanOrEqual(truth);
        expect(ci.highNs).toBeGreaterThanOrEqual(truth);
        expect(ci.lowNs).toBeGreaterThanOrEqual(sorted[0]);
        expect(ci.highNs).toBeLessThanOrEqual(sorted[n - 1]);
      }
    }
    const wide = percentileInterval(hist(latencies(100, 0, 100_000, 9)), 0.5);
    const narrow = percentileInterval(hist(latencies(20000, 0, 100_000, 9)), 0.5);
    expect(narrow.highNs - narrow.lowNs).toBeLessThan((wide.highNs - wide.lowNs) / 5);
  });

  it('say when too few values bound a tail percentile from above', () => {
    expect(percentileInterval(hist(latencies(100, 1000, 1000)), 0.999).openHigh).toBe(true);
    expect(percentileInterval(hist(latencies(100_000, 1000, 1000)), 0.999).openHigh).toBe(false);
  });
});

describe('compareRuns', () => {
  const run = (samples: number[], name = 'cfg') => makeRun([makeConfig(name, { 'write-fault': samples })]);

  it('refuses runs on different clocks, saying why and what to re-run; different windows get a note', () => {
    const s = latencies(200, 10_000, 5_000);
    const wall = makeRun([makeConfig('cfg', { 'write-fault': s })], { clock: { kind: 'wall', windowNs: null } });
    expect(() => compareRuns(run(s), wall, { labels: ['before', 'after'] })).toThrow(
      /^compare: before ran on the virtual clock \(window 2000 ns\) and after on the wall clock; figures from the two are not comparable .*--clock virtual or --clock wall\.$/,
    );
    const wide = makeRun([makeConfig('cfg', { 'write-fault': s })], { clock: { kind: 'virtual', windowNs: 50_000 } });
    const c = compareRuns(run(s), wide);
    expect(c.notes).toEqual([expect.stringMatching(/^a ran with a 2000 ns window and b with 50000 ns/)]);
    expect(formatComparison(c)).toMatch(/^note: a ran with a 2000 ns window/m);
    // results.json files from before the virtual clock read as the wall clock's.
    const old = JSON.parse(JSON.stringify(wall)) as Record<string, unknown>;
    delete old.clock;
    expect(parseResults(JSON.stringify(old)).clock).toEqual({ kind: 'wall', windowNs: null });
  });

  it('calls identical runs the same, p = 1', () => {
    const s = latencies(2000, 10_000, 5_000);
    const c = compareRuns(run(s), run(s));
    expect(c.rows.map((r) => [r.config, r.kind, r.verdict])).toEqual([
      ['cfg', 'write-fault', 'same'],
      ['cfg', 'fault', 'same'],
    ]);
    for (const r of c.rows) {
      expect(r.p).toBe(1);
      expect(r.probBGreater).toBe(0.5);
      for (const p of r.percentiles) expect(p.ratio).toBe(1);
    }
    expect(c.regressions).toEqual([]);
  });

  it('calls a shifted distribution slower (and the reverse faster) with a tiny p', () => {
    const a = run(latencies(2000, 10_000, 5_000, 1));
    const b = run(latencies(2000, 11_000, 5_000, 2));
    const slower = compareRuns(a, b).rows[0];
    expect(slower.verdict).toBe('slower');
    expect(slower.p).toBeLessThan(1e-10);
    expect(slower.probBGreater).toBeGreaterThan(0.6);
    expect(slower.percentiles[0].ratio).toBeGreaterThan(1.05);
    expect(compareRuns(b, a).rows[0].verdict).toBe('faster');
  });

  it('does not call a small random difference significant', () => {
    const c = compareRuns(run(latencies(2000, 10_000, 5_000, 1)), run(latencies(2000, 10_000, 5_000, 2)));
    expect(c.rows[0].verdict).toBe('same');
    expect(c.rows[0].p).toBeGreaterThan(0.05);
  });

  it('reports a tail regression only beyond the threshold and when the test or the intervals say it is real', () => {
    const base = latencies(5000, 10_000, 5_000, 1);
    // Five percent of values pushed far out: the p99 and p99.9 grow a lot, and the test sees it.
    const tail = base.map((v, i) => (i % 20 === 0 ? v * 4 : v));
    const a = run(base);
    const b = run(tail);
    const c = compareRuns(a, b, { failOnRegressionPct: 10 });
    const row = c.rows[0];
    expect(row.percentiles[2].ratio).toBeGreaterThan(2);
    expect(row.p).toBeLessThan(0.05);
    expect(c.regressions.map((r) => r.kind)).toEqual(['write-fault', 'fault']);
    expect(compareRuns(a, b, { failOnRegressionPct: 1000 }).regressions).toEqual([]);
    // Faster is never a regression; a tail over the threshold without a significant test is not either.
    expect(compareRuns(b, a, { failOnRegressionPct: 0 }).regressions).toEqual([]);
    // Only the ten largest values grow: the p99.9 regresses, but too few values moved for the test.
    const cut = [...base].sort((x, y) => x - y)[base.length - 10];
    const fewGrow = run(base.map((v) => (v >= cut ? v * 4 : v)));
    const quiet = compareRuns(a, fewGrow, { failOnRegressionPct: 10 });
    expect(quiet.rows[0].p).toBeGreaterThan(0.05);
    expect(quiet.rows[0].percentiles[2].ratio).toBeGreaterThan(2);
    expect(quiet.regressions.length > 0).toBe(isTailRegression(quiet.rows[0], 10));
    // Two percent of values 4x slower, the rest unchanged: the p99's intervals part, so it counts.
    const twoPct = run(base.map((v, i) => (i % 50 === 0 ? v * 4 : v)));
    const tailOnly = compareRuns(a, twoPct, { failOnRegressionPct: 10 });
    const p99 = tailOnly.rows[0].percentiles[1];
    expect(p99.b.lowNs).toBeGreaterThan(p99.a.highNs);
    expect(tailOnly.regressions.map((r) => r.kind)).toContain('write-fault');
    expect(compareRuns(a, run(base), { failOnRegressionPct: 0 }).regressions).toEqual([]);
  });

  it('does not call a faster run whose few slowest values grew a tail regression', () => {
    const base = latencies(5000, 10_000, 5_000, 3);
    const cut = [...base].sort((x, y) => x - y)[base.length - 8];
    // Everything 20 % faster, the eight slowest values twice as slow.
    const b = run(base.map((v) => (v >= cut ? v * 2 : v * 0.8)));
    const c = compareRuns(run(base), b, { failOnRegressionPct: 10 });
    expect(c.rows[0].verdict).toBe('faster');
    expect(c.rows[0].percentiles[2].ratio).toBeGreaterThan(1.1);
    expect(c.regressions).toEqual([]);
  });

  it('lists configurations and kinds found on one side only', () => {
    const a = makeRun([makeConfig('x', { store: [100, 200] }), makeConfig('only-a', { store: [1] })]);
    const b = makeRun([makeConfig('x', { store: [100, 200], fsync: [5000] }), makeConfig('only-b', { store: [1] })]);
    const c = compareRuns(a, b);
    expect(c.rows.map((r) => `${r.config}/${r.kind}`)).toEqual(['x/store']);
    expect(c.onlyInA).toEqual(['only-a']);
    expect(c.onlyInB).toEqual(['x: fsync', 'only-b']);
  });

  it('prints an aligned table with verdicts, intervals and the summary', () => {
    const a = run(latencies(2000, 10_000, 5_000, 1));
    const b = run(latencies(2000, 11_000, 5_000, 2));
    const text = formatComparison(compareRuns(a, b, { labels: ['base.json', 'new.json'], failOnRegressionPct: 5 }));
    expect(text).toMatch(/^a = base\.json\nb = new\.json\n/);
    expect(text).toMatch(/^cfg \/ write-fault: slower \(p = \d\.\de-\d+, n 2000 vs 2000, P\(b > a\) = 0\.\d\d\)/m);
    const figures = text.split('\n').filter((l) => /^ {2}p(50|99|99\.9) /.test(l));
    expect(figures).toHaveLength(6);
    expect(new Set(figures.map((l) => l.length)).size).toBe(1); // aligned across blocks
    expect(figures[0]).toMatch(/^ {2}p50 +\d+\.\d+ +\[\d+\.\d+, \d+\.\d+\] +\d+\.\d+ +\[\d+\.\d+, \d+\.\d+\] +1\.\d\dx$/);
    expect(text).toMatch(/2 compared: 2 slower, 0 faster, 0 same\n/);
  });

  it('rejects a bad threshold', () => {
    const r = run([1000]);
    expect(() => compareRuns(r, r, { failOnRegressionPct: -1 })).toThrow(RangeError);
  });
});
