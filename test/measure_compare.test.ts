import { describe, expect, it } from 'vitest';
import type { RecordedOpKind } from '../src/measure/histogram.js';
import { compareRuns, type Comparison } from '../src/measure/compare.js';
import { formatComparison } from '../src/measure/compare_format.js';
import { bootstrapRatioInterval, erfc, geomean, mannWhitney, medianInterval, smallestP } from '../src/measure/repeat_stats.js';
import { latencies, makeConfig, makeRun } from './support/run_results.js';
import { parseResults, type ConfigResult, type RepeatResult } from '../src/measure/results.js';

/**
 * A configuration whose repeat i of each kind has mean v = values[i] (p50 0.98 v, p99 1.2 v,
 * p99.9 1.5 v): known per-repeat values, which are compare's samples. The histograms hold
 * 100 operations per repeat, so the operation counts are a run's.
 */
function config(name: string, perKind: Partial<Record<RecordedOpKind, number[]>>, partialRepeats: number[] = []): ConfigResult {
  const entries = Object.entries(perKind) as [RecordedOpKind, number[]][];
  const c = makeConfig(name, Object.fromEntries(entries.map(([k, vs]) => [k, vs.flatMap((v) => latencies(100, v, 1, 1))])));
  const figs = (v: number) => ({ count: 100, meanNs: v, p50Ns: 0.98 * v, p99Ns: 1.2 * v, p999Ns: 1.5 * v, maxNs: 2 * v });
  const n = Math.max(...entries.map(([, vs]) => vs.length));
  const perRepeat: RepeatResult[] = Array.from({ length: n }, (_, i) => {
    const ops: RepeatResult['ops'] = {};
    const faults: number[] = [];
    for (const [k, vs] of entries) {
      if (i >= vs.length) continue;
      ops[k] = figs(vs[i]);
      if (k.endsWith('-fault')) faults.push(vs[i]);
    }
    if (faults.length > 0) ops.fault = figs(faults.reduce((s, v) => s + v, 0) / faults.length);
    return { repeat: i, partial: partialRepeats.includes(i), elapsedNs: 1e9, ops };
  });
  return { ...c, repeats: n, perRepeat };
}

const NOISE_A = [10_010, 9_990, 10_050, 9_970, 10_020];
const NOISE_B = [9_995, 10_030, 9_980, 10_040, 10_005];
const scaled = (xs: number[], f: number) => xs.map((x) => x * f);
const run = (kind: RecordedOpKind, values: number[], name = 'cfg') => makeRun([config(name, { [kind]: values })]);
const verdicts = (c: Comparison) => c.rows.flatMap((r) => r.figures.map((f) => `${r.kind} ${f.figure} ${f.verdict}`));

/** U test p by definition: every split of the pooled values into groups of a's size, midranks for ties. */
function bruteP(a: number[], b: number[]): number {
  const pool = [...a, ...b];
  const sorted = [...pool].sort((x, y) => x - y);
  const rank = (v: number) => (sorted.indexOf(v) + sorted.lastIndexOf(v)) / 2 + 1;
  const sums: number[] = [];
  const choose = (start: number, left: number, sum: number) => {
    if (left === 0) return void sums.push(sum);
    for (let i = start; i <= pool.length - left; i++) choose(i + 1, left - 1, sum + rank(pool[i]));
  };
  choose(0, a.length, 0);
  const w = a.reduce((s, v) => s + rank(v), 0);
  const le = sums.filter((s) => s <= w + 1e-9).length / sums.length;
  const ge = sums.filter((s) => s >= w - 1e-9).length / sums.length;
  return Math.min(1, 2 * Math.min(le, ge));
}

describe('statistics over repeats', () => {
  it('gives the exact U test p, ties at midranks as a permutation test counts them', () => {
    // scipy.stats.mannwhitneyu(method='exact'), no ties: 2 / C(10, 5)
    expect(mannWhitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]).p).toBeCloseTo(0.007936507936507936, 12);
    const cases: [number[], number[]][] = [
      [[3, 1, 4, 1, 5, 9, 2], [6, 5, 3, 5, 8, 9, 7, 9]], // 0.0438 by enumeration; scipy's 'exact' ignores the ties (0.054)
      [[5, 5, 5, 6], [5, 6, 6, 6, 7]],
      [[1, 2], [1, 2, 3]],
    ];
    for (const [a, b] of cases) expect(mannWhitney(a, b).p).toBeCloseTo(bruteP(a, b), 12);
    expect(mannWhitney([7, 7, 7, 7, 7], [7, 7, 7, 7, 7]).p).toBe(1);
    expect(mannWhitney([1, 2, 3, 4], [5, 6, 7, 8]).probBGreater).toBe(1);
  });

  it("uses scipy's asymptotic p beyond 40 repeats in all", () => {
    const a = [10, 10, 10, 11, 12, 12, 13, 14, 15, 15, 15, 16, 17, 18, 19, 20, 20, 21, 22, 23, 24];
    const t = mannWhitney(a, a.map((x) => x + 3));
    expect(t.exact).toBe(false);
    // scipy.stats.mannwhitneyu(a, b, alternative='two-sided', method='asymptotic')
    expect(t.p / 0.04775483784738568).toBeCloseTo(1, 5);
    expect(Math.abs(erfc(1) / 0.15729920705028513 - 1)).toBeLessThan(1.2e-7);
  });

  it('knows the smallest p a number of repeats allows', () => {
    expect(smallestP(1, 1)).toBe(1);
    expect(smallestP(3, 3)).toBeCloseTo(0.1, 12);
    expect(smallestP(4, 4)).toBeCloseTo(2 / 70, 12);
    expect(smallestP(5, 5)).toBeCloseTo(2 / 252, 12);
  });

  it("bounds the median by order statistics, from 6 repeats on (benchstat's rule at 95 %)", () => {
    expect(medianInterval([1, 2, 3, 4, 5])).toBeNull();
    expect(medianInterval([6, 1, 5, 2, 4, 3])).toEqual({ low: 1, high: 6 });
    // n = 20: the textbook [x(6), x(15)], coverage 95.9 %
    expect(medianInterval(Array.from({ length: 20 }, (_, i) => 20 - i))).toEqual({ low: 6, high: 15 });
  });

  it('bootstraps b/a deterministically, around the ratio, and not from fewer than 6 repeats', () => {
    const a = [100, 102, 98, 101, 99, 103, 97, 100];
    const b = scaled(a, 1.2).map((v, i) => v + (i % 3));
    const ci = bootstrapRatioInterval(a, b, 42)!;
    expect(bootstrapRatioInterval(a, b, 42)).toEqual(ci);
    expect(ci.low).toBeLessThan(1.2);
    expect(ci.high).toBeGreaterThan(1.2);
    expect(ci.low).toBeGreaterThan(1.1);
    expect(bootstrapRatioInterval(a.slice(0, 5), b, 42)).toBeNull();
  });

  it('takes the geometric mean of positive finite ratios', () => {
    expect(geomean([1.21, 1])).toBeCloseTo(1.1, 12);
    expect(geomean([2, 0.5, Infinity, 0])).toBeCloseTo(1, 12);
    expect(geomean([])).toBeNaN();
  });
});

describe('compareRuns', () => {
  it('refuses runs on different clocks, saying why and what to re-run; different windows get a note', () => {
    const wall = run('write-fault', NOISE_B);
    wall.clock = { kind: 'wall', windowNs: null };
    expect(() => compareRuns(run('write-fault', NOISE_A), wall, { labels: ['before', 'after'] })).toThrow(
      /^compare: before ran on the virtual clock \(window 2000 ns\) and after on the wall clock; figures from the two are not comparable .*--clock virtual or --clock wall\.$/,
    );
    const wide = makeRun([config('cfg', { 'write-fault': NOISE_B })], { clock: { kind: 'virtual', windowNs: 50_000 } });
    const c = compareRuns(run('write-fault', NOISE_A), wide);
    expect(c.notes).toEqual([expect.stringMatching(/^a ran with a 2000 ns window and b with 50000 ns/)]);
    expect(formatComparison(c)).toMatch(/^note: a ran with a 2000 ns window/m);
    const wallToo = makeRun([config('cfg', { 'write-fault': NOISE_A })], { clock: { kind: 'wall', windowNs: null } });
    expect(compareRuns(wallToo, wall).notes).toEqual([expect.stringMatching(/^both ran on the wall clock: .*a difference may be the host's, not the change's$/)]);
    // results.json files from before the virtual clock read as the wall clock's.
    const old = JSON.parse(JSON.stringify(wall)) as Record<string, unknown>;
    delete old.clock;
    expect(parseResults(JSON.stringify(old)).clock).toEqual({ kind: 'wall', windowNs: null });
  });

  it('judges repeats, not operations: same-code noise is ~ in every figure and no regression even at 0 %', () => {
    const c = compareRuns(run('write-fault', NOISE_A), run('write-fault', NOISE_B), { failOnRegressionPct: 0 });
    expect(verdicts(c)).toEqual(['mean', 'p50', 'p99', 'p99.9'].map((f) => `write-fault ${f} ~`));
    expect(c.rows[0]).toMatchObject({ repeatsA: 5, repeatsB: 5, opsA: 500, opsB: 500 });
    for (const f of c.rows[0].figures) expect(f.p).toBeGreaterThan(0.05);
    expect(c.regressions).toEqual([]);
  });

  it('calls a real 15 % shift a regression over 10 %, with the exact p of 5 repeats a side, but not over 20 %', () => {
    const c = compareRuns(run('write-fault', NOISE_A), run('write-fault', scaled(NOISE_B, 1.15)), { failOnRegressionPct: 10 });
    const mean = c.rows[0].figures[0];
    expect(mean).toMatchObject({ figure: 'mean', verdict: 'slower', regression: true });
    expect(mean.p).toBeCloseTo(2 / 252, 12);
    expect(mean.ratio).toBeCloseTo(median(scaled(NOISE_B, 1.15)) / median(NOISE_A), 12);
    expect(c.regressions.map((r) => `${r.kind} ${r.figure}`)).toEqual(['write-fault mean', 'write-fault p50', 'write-fault p99', 'write-fault p99.9']);
    const over20 = compareRuns(run('write-fault', NOISE_A), run('write-fault', scaled(NOISE_B, 1.15)), { failOnRegressionPct: 20 });
    expect(over20.rows[0].figures.every((f) => f.verdict === 'slower')).toBe(true);
    expect(over20.regressions).toEqual([]);
  });

  it('calls a significant 1 % shift slower but not a regression over 10 %', () => {
    const c = compareRuns(run('write-fault', [10_000, 10_001, 10_002, 10_003, 10_004]), run('write-fault', scaled([10_000, 10_001, 10_002, 10_003, 10_004], 1.01)), {
      failOnRegressionPct: 10,
    });
    expect(c.rows[0].figures.every((f) => f.verdict === 'slower' && f.p! < 0.01)).toBe(true);
    expect(c.regressions).toEqual([]);
  });

  it('never flags a faster figure, even at a 0 % threshold', () => {
    const c = compareRuns(run('write-fault', NOISE_A), run('write-fault', scaled(NOISE_B, 0.8)), { failOnRegressionPct: 0 });
    expect(c.rows[0].figures.map((f) => f.verdict)).toEqual(['faster', 'faster', 'faster', 'faster']);
    expect(c.regressions).toEqual([]);
  });

  it('says when there are too few repeats to test, instead of calling anything', () => {
    const one = compareRuns(run('write-fault', [10_000]), run('write-fault', [20_000]), { failOnRegressionPct: 10 });
    expect(one.rows[0].figures.every((f) => f.verdict === 'too few repeats' && f.p === null && !f.regression)).toBe(true);
    expect(one.judged).toBe(0);
    expect(formatComparison(one)).toMatch(/^ {2}mean .* 2\.00x +±∞ +\?$/m);
    // 3 a side: the exact test's smallest p is 0.1; 4 a side: 0.029.
    expect(compareRuns(run('write-fault', [1, 2, 3]), run('write-fault', [7, 8, 9])).judged).toBe(0);
    expect(compareRuns(run('write-fault', [1, 2, 3, 4]), run('write-fault', [7, 8, 9, 10])).rows[0].figures[0].verdict).toBe('slower');
  });

  it('shows no center for a side without a complete repeat, and judges nothing there', () => {
    const bare = makeRun([makeConfig('cfg', { store: latencies(50, 10_000, 100) })]); // perRepeat: []
    const c = compareRuns(bare, run('store', NOISE_B));
    expect(c.rows[0].repeatsA).toBe(0);
    expect(c.judged).toBe(0);
    expect(c.geomean[0].rows).toBe(0);
    expect(formatComparison(c)).toMatch(/^ {2}mean +- +±∞ +10\.01 +±∞ +- +±∞ +\?$/m);
  });

  it('leaves out interrupted repeats, with a note', () => {
    const a = makeRun([config('cfg', { store: NOISE_A }, [4])]);
    const c = compareRuns(a, run('store', NOISE_B));
    expect(c.rows[0].repeatsA).toBe(4);
    expect(c.notes).toEqual(['a: cfg: 1 interrupted repeat left out']);
  });

  it('does not judge a fault row that holds the same faults as one other kind, so no regression counts twice', () => {
    const a = makeRun([config('sync', { 'sync-fault': NOISE_A }), config('mixed', { 'read-fault': NOISE_A, 'write-fault': NOISE_A })]);
    const b = makeRun([config('sync', { 'sync-fault': scaled(NOISE_B, 1.5) }), config('mixed', { 'read-fault': NOISE_B, 'write-fault': NOISE_B })]);
    const c = compareRuns(a, b, { failOnRegressionPct: 10 });
    expect(c.rows.map((r) => `${r.config}/${r.kind}`)).toEqual(['sync/sync-fault', 'mixed/read-fault', 'mixed/write-fault', 'mixed/fault']);
    expect(c.faultSameAs).toEqual(['sync: fault = sync-fault']);
    expect(c.regressions.map((r) => `${r.config}/${r.kind} ${r.figure}`)).toEqual(['mean', 'p50', 'p99', 'p99.9'].map((f) => `sync/sync-fault ${f}`));
    expect(formatComparison(c)).toMatch(/^fault: left out where it holds the same faults as one other kind \(sync: fault = sync-fault\)$/m);
    // MAP_SYNC on in b only: the fault row is the one that compares the two, and is kept.
    const turned = compareRuns(makeRun([config('x', { 'write-fault': NOISE_A })]), makeRun([config('x', { 'sync-fault': NOISE_B })]));
    expect(turned.rows.map((r) => r.kind)).toEqual(['fault']);
    expect(turned.onlyInA).toEqual(['x: write-fault']);
    expect(turned.onlyInB).toEqual(['x: sync-fault']);
  });

  it('refuses two runs with nothing in common, naming what each holds', () => {
    expect(() => compareRuns(run('store', NOISE_A, 'x'), run('store', NOISE_A, 'y'), { labels: ['old', 'new'] })).toThrow(
      /^compare: old and new have nothing in common: no configuration with an operation kind on both sides \(old: x \(store\); new: y \(store\)\)$/,
    );
    expect(() => compareRuns(run('store', NOISE_A), run('msync', NOISE_A))).toThrow(RangeError);
    expect(() => compareRuns(makeRun([]), makeRun([]))).toThrow(/nothing in common.*\(a: no configurations; b: no configurations\)/);
  });

  it('lists configurations and kinds found on one side only', () => {
    const a = makeRun([config('x', { store: NOISE_A }), config('only-a', { store: NOISE_A })]);
    const b = makeRun([config('x', { store: NOISE_B, fsync: NOISE_B }), config('only-b', { store: NOISE_B })]);
    const c = compareRuns(a, b);
    expect(c.rows.map((r) => `${r.config}/${r.kind}`)).toEqual(['x/store']);
    expect(c.onlyInA).toEqual(['only-a']);
    expect(c.onlyInB).toEqual(['x: fsync', 'only-b']);
  });

  it('sums up with the geometric mean of b/a per figure, as benchstat does', () => {
    const a = makeRun([config('one', { store: NOISE_A }), config('two', { store: NOISE_A })]);
    const b = makeRun([config('one', { store: scaled(NOISE_A, 1.21) }), config('two', { store: NOISE_A })]);
    const c = compareRuns(a, b);
    expect(c.geomean.map((g) => [g.figure, g.rows])).toEqual([
      ['mean', 2],
      ['p50', 2],
      ['p99', 2],
      ['p99.9', 2],
    ]);
    for (const g of c.geomean) expect(g.ratio).toBeCloseTo(1.1, 12);
    expect(formatComparison(c)).toMatch(/^geomean b\/a over 2 rows: mean 1\.10x, p50 1\.10x, p99 1\.10x, p99\.9 1\.10x$/m);
  });

  it('prints an aligned table with intervals, verdicts, the method and the summary', () => {
    const many = (f: number) => [10_010, 9_990, 10_050, 9_970, 10_020, 10_000, 10_030, 9_980].map((v) => v * f);
    const c = compareRuns(run('write-fault', many(1)), run('write-fault', many(1.15)), { labels: ['base.json', 'new.json'], failOnRegressionPct: 10 });
    const text = formatComparison(c);
    expect(text).toMatch(/^a = base\.json\nb = new\.json\n/);
    expect(text).toMatch(/^verdict: Mann-Whitney U over the repeats, two-sided, exact .*alpha 0\.05; ~: no significant difference/m);
    expect(text).toMatch(/^multiple comparisons: each of the 4 figures is tested at alpha 0\.05 without correction/m);
    expect(text).toMatch(/^cfg \/ write-fault: 8 vs 8 repeats \(800 vs 800 operations\)$/m);
    const figures = text.split('\n').filter((l) => /^ {2}(mean|p50|p99|p99\.9) /.test(l));
    expect(figures).toHaveLength(4);
    expect(figures[0]).toMatch(/^ {2}mean +10\.01 +\[9\.970, 10\.05\] +11\.51 +\[11\.47, 11\.56\] +1\.15x +\[1\.1\d, 1\.1\d\] +\+15\.0 % \(p = 1\.6e-4\) {2}REGRESSION$/);
    expect(text).toMatch(/^4 figures: 4 slower, 0 faster, 0 ~, 0 too few repeats to tell$/m);
    expect(text).toMatch(/^4 regressions over 10 %: cfg \/ write-fault mean \(\+15\.0 %, p = 1\.6e-4\), /m);
  });

  it('rejects a bad threshold', () => {
    expect(() => compareRuns(run('store', NOISE_A), run('store', NOISE_A), { failOnRegressionPct: -1 })).toThrow(RangeError);
  });
});

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[(s.length - 1) >> 1];
}
