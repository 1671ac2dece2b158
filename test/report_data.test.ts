// The report's data, built from results without a browser: what each plot draws, the seed's
// rows beside kara-2017's, the sweeps of the shipped experiments (from their reference
// results), attribution, tables, and the page's HTML with its data inlined safely.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { build } from 'hdr-histogram-js';
import type { JsHistogram } from 'hdr-histogram-js';
import { parseResults, type RunResults } from '../src/measure/results.js';
import { KARA_2017_ROWS } from '../src/measure/seed_format.js';
import { cdfPoints, snapToLogGrid, thin } from '../src/report/cdf.js';
import { latencySection, sharedKinds } from '../src/report/latency.js';
import { crossover, formatPauseUs, fsyncCrossoverPlots } from '../src/report/sweeps.js';
import { buildReport, fitLogAxes } from '../src/report/build.js';
import { attributionCharts } from '../src/report/attribution.js';
import { renderReportHtml, scriptJson } from '../src/report/html.js';
import type { Plot } from '../src/report/model.js';
import { latencies, makeConfig, makeRun, sampleAttribution } from './support/run_results.js';

const reference = (name: string): RunResults =>
  parseResults(readFileSync(new URL(`../results/${name}/reference/results.json`, import.meta.url), 'utf8'));
const one = (results: RunResults) => [{ prefix: '', results }];
const points = (p: Plot) => p.series.reduce((n, s) => n + s.y.filter((y) => y !== null).length, 0);

function histogramOf(values: readonly number[]): JsHistogram {
  const h = build({ lowestDiscernibleValue: 1, highestTrackableValue: 3600e9, numberOfSignificantValueDigits: 3, bitBucketSize: 64, useWebAssembly: false }) as JsHistogram;
  for (const v of values) h.recordValue(v);
  return h;
}

describe('cdf', () => {
  it('rises to 1 at the maximum, never falls, and keeps every point of a small distribution', () => {
    const values = [1000, 2000, 2000, 3000, 9000];
    const pts = cdfPoints(histogramOf(values), 9000);
    expect(pts.map((p) => p.fraction)).toEqual([0.2, 0.6, 0.8, 1]);
    expect(pts.at(-1)!.ns).toBe(9000);
    expect(pts.map((p) => p.ns)).toEqual([...pts.map((p) => p.ns)].sort((a, b) => a - b));
  });

  it('thins a hundred thousand distinct values to a few hundred points, keeping the tail', () => {
    // A long tail (Pareto-like): its top thousandth spans 1 ms to 100 ms.
    const values = Array.from({ length: 100_000 }, (_, i) => Math.round(1000 / (1 - i / 100_000)));
    const h = histogramOf(values);
    const pts = cdfPoints(h, Math.max(...values));
    expect(pts.length).toBeGreaterThan(100);
    expect(pts.length).toBeLessThan(300);
    // Past p99.9 there are points still: the tail is not cut to the body's step.
    expect(pts.filter((p) => p.fraction > 0.999).length).toBeGreaterThanOrEqual(10);
    for (let i = 1; i < pts.length; i++) expect(pts[i].fraction).toBeGreaterThan(pts[i - 1].fraction);
  });

  it('thin keeps the first and last point however close', () => {
    const pts = [0.1, 0.1001, 0.1002].map((fraction, i) => ({ ns: i + 1, fraction }));
    expect(thin(pts).map((p) => p.ns)).toEqual([1, 3]);
  });

  it('snaps latencies to a shared log grid, keeping the highest fraction at each', () => {
    const snapped = snapToLogGrid([
      { ns: 100_000, fraction: 0.2 },
      { ns: 100_100, fraction: 0.5 },
      { ns: 200_000, fraction: 1 },
    ]);
    expect(snapped).toEqual([
      { ns: 100_000, fraction: 0.5 },
      { ns: 199_526, fraction: 1 },
    ]);
  });
});

describe('latency section', () => {
  it("draws kara-2017's configurations with the seed's row beside each of its six", () => {
    const s = latencySection(one(reference('kara-2017')));
    const hist = s.plots.find((p) => p.id === 'hist-write-fault')!;
    const cdf = s.plots.find((p) => p.id === 'cdf-write-fault')!;
    const sync = s.plots.find((p) => p.id === 'hist-sync-fault')!;
    const seeds = [...hist.series, ...sync.series].filter((x) => x.dash === 'dashed').map((x) => x.label.replace('seed 002: ', ''));
    expect(seeds.sort()).toEqual(KARA_2017_ROWS.map((r) => r.name).sort());
    // Each histogram is a share of the operations: every series sums to 100 %.
    for (const x of hist.series) expect(x.y.reduce((a: number, b) => a + (b ?? 0), 0)).toBeCloseTo(100, 9);
    // The seed's row of prealloc-nobg-nosync: 508 of 512 in 8-15 µs.
    const seed = hist.series.find((x) => x.label === 'seed 002: prealloc-nobg-nosync')!;
    expect(seed.y[hist.xCategories!.indexOf('8–15')]).toBeCloseTo((100 * 508) / 512, 9);
    expect(seed.colorKey).toBe('prealloc-nobg-nosync');
    // The CDF marks p50, p99 and p99.9 at the run's own figures.
    const lab = cdf.series.find((x) => x.label === 'prealloc-nobg-nosync')!;
    const stats = reference('kara-2017').configs[0].ops['write-fault']!;
    expect(lab.marks).toEqual([
      { name: 'p50', x: stats.p50Ns / 1000, y: 50 },
      { name: 'p99', x: stats.p99Ns / 1000, y: 99 },
      { name: 'p99.9', x: stats.p999Ns / 1000, y: 99.9 },
    ]);
    expect(lab.y.at(-1)).toBe(100);
  });

  it('overlays only the kinds every run has, and says which it left out', () => {
    const a = makeRun([makeConfig('a', { 'sync-fault': latencies(50, 60_000, 9_000), fsync: [5_000, 6_000] })]);
    const b = makeRun([makeConfig('b', { 'sync-fault': latencies(50, 70_000, 9_000), store: [100, 200] })], { workload: { name: 'other', description: '', source: {} } });
    const runs = [
      { prefix: 'A: ', results: a },
      { prefix: 'B: ', results: b },
    ];
    expect(sharedKinds(runs)).toEqual({ kinds: ['sync-fault'], leftOut: ['store', 'fsync'] });
    const s = latencySection(runs);
    expect(s.plots.map((p) => p.id)).toEqual(['hist-sync-fault', 'cdf-sync-fault']);
    expect(s.plots[0].series.map((x) => x.label)).toEqual(['A: a', 'B: b']);
    expect(s.notes).toEqual(['not drawn, as not every run has them: store, fsync']);
    const report = buildReport([
      { label: 'A', results: a },
      { label: 'B', results: b },
    ]);
    expect(report.notes).toEqual(['runs of different workloads (kara-2017, other): only what they share is overlaid; no sweep plot']);
    expect(report.sections[0].notes).toEqual(['not drawn, as not every run has them: store, fsync']);
    expect(report.sections.map((x) => x.id)).toEqual(['latency']);
  });
});

describe('sweeps', () => {
  it('ordering-tax: p50 and p99 against the pause, a line per policy and rate, blocks per commit on each point', () => {
    const r = reference('ordering-tax');
    const sweep = buildReport([{ label: 'x', results: r }]).sections.find((s) => s.id === 'sweep')!;
    expect(sweep.plots.map((p) => p.id)).toEqual(['sweep-ordering-p50', 'sweep-ordering-p99']);
    const p50 = sweep.plots[0];
    expect(p50.xCategories).toEqual(['0', '1 ms', '10 ms', '100 ms']);
    expect(p50.series).toHaveLength(18); // 6 policies x 3 rates
    expect(points(p50)).toBe(72);
    const line = p50.series.find((s) => s.label === 'ext4-5s @ 50000 Hz')!;
    const c = r.configs.find((x) => x.name === 'ext4-5s.sync,cpus[0].intervalUs=10000,cpus[1].rateHz=50000')!;
    expect(line.y[2]).toBe(c.ops['sync-fault']!.p50Ns / 1000);
    expect(line.notes![2]).toBe(`${c.counters.blocksPerCommit.toFixed(1)} blocks/commit`);
    expect(line.colorKey).toBe('ext4-5s');
    expect(line.dash).toBe('dotted');
  });

  it("crossover: where tracked reaches the big hammer's mean, between measured k or extrapolated", () => {
    const tracked = { label: 't', x: [1, 16, 256], y: [1, 10, 1000] };
    const hammer = { label: 'h', x: [1, 16, 256], y: [100, 100, 100] };
    // Between k = 16 (10) and 256 (1000): 16 + 90 * 240 / 990.
    expect(crossover(tracked, hammer)).toEqual({ k: 16 + (90 * 240) / 990, extrapolated: false });
    // Never reached: the least-squares line through (1, 1), (2, 2), (3, 3) meets 10 at k = 10.
    expect(crossover({ label: 't', x: [1, 2, 3], y: [1, 2, 3] }, { label: 'h', x: [1, 2, 3], y: [10, 10, 10] })).toEqual({ k: 10, extrapolated: true });
    expect(crossover(tracked, { ...hammer, y: [0.5, 0.5, 0.5] })).toBeNull(); // dearer from the first k
    expect(crossover({ label: 't', x: [1, 2], y: [3, 2] }, hammer)).toBeNull(); // falls: never meets
  });

  it('fsync-crossover: a line per writeback and sizes, each crossing marked or noted', () => {
    const { plots, notes } = fsyncCrossoverPlots(one(reference('fsync-crossover')));
    expect(plots).toHaveLength(1);
    const p = plots[0];
    expect(p.series).toHaveLength(8); // tracked and big hammer x 2 file sizes x 2 devices
    for (const s of p.series) expect(s.x).toEqual([1, 16, 256, 4096]);
    // Four pairs, each crossing marked where summary.txt puts it (all extrapolated in the reference).
    expect(notes).toEqual([]);
    expect(p.vlines).toContainEqual({ x: expect.closeTo(27338, 0), label: 'k ≈ 27338', colorKey: 'file 64MiB, device 128MiB' });
    expect(p.caption).toContain('file 64MiB, device 128MiB: k ≈ 27338 (extrapolated)');
    expect(p.series.map((s) => s.label)).toContain('big-hammer, file 64MiB, device 128MiB');
    expect(p.vlines).toHaveLength(4);
  });

  it('contention: latency and tree_lock contentions against the faulting CPUs', () => {
    const r = reference('contention');
    const sweep = buildReport([{ label: 'x', results: r }]).sections.find((s) => s.id === 'sweep')!;
    const [lat, locks] = sweep.plots;
    expect(lat.series.map((s) => s.label)).toEqual(['write-fault p50', 'write-fault p99']);
    expect(lat.series[0].x).toEqual([1, 2, 4]);
    expect(locks.series[0].y).toEqual(r.configs.map((c) => c.locks.tree_lock.contentions));
  });

  it('a run that timed nothing says so where its plots would be', () => {
    const empty = { ...reference('contention'), configs: [] };
    const data = buildReport([{ label: 'e', results: empty }]);
    expect(data.sections[0].notes).toEqual(['no operation was timed: nothing to draw']);
    expect(data.sections[1].notes[0]).toMatch(/^no sweep plot: the configurations lack the parameters contention's plots are drawn against/);
  });

  it('a workload without a recipe, or runs of two workloads, get no sweep section', () => {
    expect(buildReport([{ label: 'k', results: reference('kara-2017') }]).sections.map((s) => s.id)).toEqual(['latency']);
  });

  it('formats pauses as people say them', () => {
    expect([0, 500, 1000, 10_000, 2_000_000].map(formatPauseUs)).toEqual(['0', '500 µs', '1 ms', '10 ms', '2 s']);
  });
});

describe('attribution, tables, banner', () => {
  it("a bar per configuration for the mean and the p99, each step's share in STEP_NAMES order", () => {
    const r = makeRun([makeConfig('s', { 'sync-fault': latencies(300, 60_000, 9_000) }, { attribution: { 'sync-fault': sampleAttribution(300) } })]);
    const charts = attributionCharts(one(r));
    expect(charts.map((c) => c.id)).toEqual(['attr-sync-fault']); // not `fault`, which would repeat it
    const [mean, p99] = charts[0].bars;
    expect(mean.figure).toBe('mean');
    expect(mean.shares[charts[0].steps.indexOf('journal commit wait')]).toBe(0.6);
    expect(p99.shares.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(p99.latencyNs).toBe(r.configs[0].ops['sync-fault']!.p99Ns);
  });

  it('says first that a run is partial, and holds one lock row per configuration and class', () => {
    const r = makeRun([makeConfig('a', { fsync: [1000] }), makeConfig('b', { fsync: [2000] })], { partial: true, failure: 'SIGBUS on cpu 1' });
    const data = buildReport([{ label: 'p', results: r }]);
    expect(data.notes[0]).toMatch(/^partial: p holds what was gathered/);
    expect(data.runs[0]).toMatchObject({ partial: true, failure: 'SIGBUS on cpu 1', workload: 'kara-2017', seed: 1, clock: 'virtual (window 2000 ns)' });
    const locks = data.tables.find((t) => t.id === 'table-locks')!;
    expect(locks.rows.map((row) => `${row[0]}/${row[1]}`)).toEqual(['a/tree_lock', 'a/j_state_lock', 'b/tree_lock', 'b/j_state_lock']);
    const html = renderReportHtml(data);
    expect(html).toMatch(/<div class="partial" role="alert" data-partial="1">Partial run: .*\(SIGBUS on cpu 1\)/);
  });
});

describe('html', () => {
  it('inlines data that cannot close its script element, and labels escaped', () => {
    expect(scriptJson({ a: '</script><!--\u2028' })).toBe('{"a":"\\u003c/script>\\u003c!--\\u2028"}');
    const r = makeRun([makeConfig('<b>x</b>', { fsync: [1000] })], { workload: { name: 'w"<>', description: '<i>d</i>', source: {} } });
    const html = renderReportHtml(buildReport([{ label: 'r', results: r }]));
    expect(html).not.toMatch(/<b>x<\/b>|<i>d<\/i>/);
    expect(html).toContain('&lt;i&gt;d&lt;/i&gt;');
    // One script element per part: the data, uPlot, the page's script.
    expect(html.match(/<script/g)).toHaveLength(3);
    expect(html).toContain(`content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"`);
  });

  it('fitLogAxes drops what a log axis cannot place', () => {
    const p: Plot = {
      ...{ id: 'p', title: 't', kind: 'line', xLabel: 'x', yLabel: 'y', xLog: true, yLog: true },
      series: [{ label: 's', x: [0, 1, 2], y: [5, 0, 7], notes: ['a', 'b', 'c'] }],
    };
    expect(fitLogAxes(p).series[0]).toEqual({ label: 's', x: [1, 2], y: [null, 7], notes: ['b', 'c'] });
  });
});
