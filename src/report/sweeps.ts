// The sweep plots of the shipped experiments: the figure each one is about against its swept
// parameter, a line per other axis. Which parameter is the x and which figure the y is the
// experiment's question, so each has its own recipe, found by the workload's name; a run
// whose configurations lack the recipe's parameters (a --set that pinned them) gets a note
// instead of an empty plot.

import type { ConfigResult, RunResults } from '../measure/results.js';
import type { LabelledRun } from './latency.js';
import type { Plot, Section, Series } from './model.js';

type Point = { x: number; y: number; note?: string };
/** How a line is told apart beyond its colour: the key of its colour and its dash. */
type Style = Pick<Series, 'colorKey' | 'dash'>;

/** Lines from labelled points, each sorted by x; the order of first appearance is kept. */
function toSeries(groups: Map<string, Point[]>, styles: Map<string, Style> = new Map()): Series[] {
  return [...groups].map(([label, points]) => {
    const sorted = [...points].sort((a, b) => a.x - b.x);
    const s: Series = { label, ...styles.get(label), x: sorted.map((p) => p.x), y: sorted.map((p) => p.y) };
    if (sorted.some((p) => p.note !== undefined)) s.notes = sorted.map((p) => p.note ?? '');
    return s;
  });
}

function push(groups: Map<string, Point[]>, key: string, p: Point): void {
  const g = groups.get(key);
  if (g === undefined) groups.set(key, [p]);
  else g.push(p);
}

/** The configuration's own name, before the sweep's `path=value` parts. */
const baseName = (c: ConfigResult) => c.name.split(',')[0];

/** A pause in µs as people say it. */
export function formatPauseUs(us: number): string {
  if (us === 0) return '0';
  if (us >= 1e6 && us % 1e6 === 0) return `${us / 1e6} s`;
  if (us >= 1000 && us % 1000 === 0) return `${us / 1000} ms`;
  return `${us} µs`;
}

/** ordering-tax: MAP_SYNC fault p50 and p99 against the pause, a line per policy and dirtying rate. */
export function orderingTaxPlots(runs: readonly LabelledRun[]): Plot[] {
  const pauses = new Set<number>();
  const rates = new Set<number>();
  const rows: { key: string; pause: number; c: ConfigResult }[] = [];
  // A colour per policy, a dash per rate: 18 lines read as 6 policies at 3 rates.
  const styles = new Map<string, Style & { rate: number }>();
  for (const { prefix, results } of runs) {
    for (const c of results.configs) {
      const pause = c.params['cpus[0].intervalUs'];
      const rate = c.params['cpus[1].rateHz'];
      if (typeof pause !== 'number' || typeof rate !== 'number' || (c.ops['sync-fault']?.count ?? 0) === 0) continue;
      pauses.add(pause);
      rates.add(rate);
      const policy = `${prefix}${baseName(c).replace(/\.sync$/, '')}`;
      const key = `${policy} @ ${rate} Hz`;
      rows.push({ key, pause, c });
      styles.set(key, { colorKey: policy, rate });
    }
  }
  if (rows.length === 0) return [];
  const rateOrder = [...rates].sort((a, b) => a - b);
  const DASHES = [undefined, 'dashed', 'dotted'] as const;
  const lineStyles = new Map<string, Style>(
    [...styles].map(([k, s]) => {
      const dash = DASHES[rateOrder.indexOf(s.rate) % DASHES.length];
      return [k, { colorKey: s.colorKey, ...(dash !== undefined ? { dash } : {}) }];
    }),
  );
  const xs = [...pauses].sort((a, b) => a - b);
  return (['p50', 'p99'] as const).map((fig) => {
    const groups = new Map<string, Point[]>();
    for (const { key, pause, c } of rows) {
      const bpc = c.counters.blocksPerCommit;
      push(groups, key, {
        x: xs.indexOf(pause),
        y: c.ops['sync-fault']![fig === 'p50' ? 'p50Ns' : 'p99Ns'] / 1000,
        note: typeof bpc === 'number' ? `${bpc.toFixed(1)} blocks/commit` : 'no commit',
      });
    }
    return {
      id: `sweep-ordering-${fig}`,
      title: `MAP_SYNC fault ${fig} against the pause between faults`,
      kind: 'line',
      xLabel: 'pause between faults',
      yLabel: `sync-fault ${fig} (µs, log)`,
      xLog: false,
      yLog: true,
      xCategories: xs.map(formatPauseUs),
      series: toSeries(groups, lineStyles),
      caption: `a colour per journal policy, a dash per dirtying rate (${rateOrder.map((r, i) => `${r} Hz ${['solid', 'dashed', 'dotted'][i % 3]}`).join(', ')}); hover for blocks per commit`,
    };
  });
}

/**
 * Where tracked writeback costs as much as the big hammer (its mean over k), as the
 * experiment's summary defines it (bench/experiments.ts): between the two measured k where
 * the tracked line reaches it, else where the least-squares line through the tracked points
 * does (extrapolated). Null when tracked is dearer from the first k or never grows.
 */
export function crossover(tracked: Series, hammer: Series): { k: number; extrapolated: boolean } | null {
  const hs = hammer.y.filter((y): y is number => y !== null);
  const pts = tracked.x.map((k, i) => ({ k, t: tracked.y[i] })).filter((p): p is { k: number; t: number } => p.t !== null);
  if (hs.length === 0 || pts.length === 0) return null;
  const bh = hs.reduce((a, b) => a + b, 0) / hs.length;
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1];
    const b = pts[i];
    if (a.t < bh && b.t >= bh) return { k: a.k + ((bh - a.t) * (b.k - a.k)) / (b.t - a.t), extrapolated: false };
  }
  if (pts[0].t >= bh || pts.length < 2) return null;
  const mx = pts.reduce((s, p) => s + p.k, 0) / pts.length;
  const my = pts.reduce((s, p) => s + p.t, 0) / pts.length;
  const slope = pts.reduce((s, p) => s + (p.k - mx) * (p.t - my), 0) / pts.reduce((s, p) => s + (p.k - mx) ** 2, 0);
  return slope > 0 ? { k: mx + (bh - my) / slope, extrapolated: true } : null;
}

/** fsync-crossover: fsync cost against dirty pages, tracked writeback and the big hammer, crossovers marked. */
export function fsyncCrossoverPlots(runs: readonly LabelledRun[]): { plots: Plot[]; notes: string[] } {
  const groups = new Map<string, Point[]>();
  const styles = new Map<string, Style>();
  const pairs = new Map<string, { tracked?: string; hammer?: string }>();
  for (const { prefix, results } of runs) {
    for (const c of results.configs) {
      const k = c.params['cpus[0].fsyncEvery'];
      const wb = c.params['fs.writeback'];
      const fsync = c.ops.fsync;
      if (typeof k !== 'number' || (wb !== 'tracked' && wb !== 'big-hammer') || fsync === undefined || fsync.count === 0) continue;
      // The line is the configuration less its k (the named part) and its writeback.
      const file = c.params['files[0].size'];
      const device = c.params['device.size'];
      const rest =
        file !== undefined && device !== undefined
          ? `file ${String(file)}, device ${String(device)}`
          : c.name.split(',').slice(1).filter((p) => !p.startsWith('fs.writeback=')).join(', ');
      const where = `${prefix}${rest}`;
      const key = `${wb}${where === '' ? '' : `, ${where}`}`;
      push(groups, key, { x: k, y: fsync.meanNs / 1000 });
      styles.set(key, { colorKey: where, ...(wb === 'big-hammer' ? { dash: 'dashed' as const } : {}) });
      const pair = pairs.get(where) ?? {};
      pair[wb === 'tracked' ? 'tracked' : 'hammer'] = key;
      pairs.set(where, pair);
    }
  }
  if (groups.size === 0) return { plots: [], notes: [] };
  const series = toSeries(groups, styles);
  const byLabel = new Map(series.map((s) => [s.label, s]));
  const vlines: NonNullable<Plot['vlines']> = [];
  const crossings: string[] = [];
  const notes: string[] = [];
  for (const [where, { tracked, hammer }] of pairs) {
    if (tracked === undefined || hammer === undefined) continue;
    const x = crossover(byLabel.get(tracked)!, byLabel.get(hammer)!);
    if (x === null) notes.push(`${where || 'fsync'}: no crossover: tracked writeback is dearer from the first k, or does not grow with k`);
    else {
      vlines.push({ x: x.k, label: `k ≈ ${Math.round(x.k)}`, colorKey: where });
      crossings.push(`${where ? `${where}: ` : ''}k ≈ ${Math.round(x.k)}${x.extrapolated ? ' (extrapolated)' : ''}`);
    }
  }
  return {
    plots: [
      {
        id: 'sweep-fsync',
        title: 'fsync cost against dirty pages: tracked writeback and the big hammer',
        kind: 'line',
        xLabel: 'pages dirtied per fsync (log)',
        yLabel: 'fsync mean (µs, log)',
        xLog: true,
        yLog: true,
        vlines,
        series,
        caption:
          "solid: tracked writeback, dashed: the big hammer (a colour per file and device size); vertical lines: the crossover, where tracked costs as much as flushing the whole namespace (extrapolated: the tracked points' least-squares line, as in summary.txt)" +
          (crossings.length > 0 ? `. Crossovers: ${crossings.join('; ')}` : ''),
      },
    ],
    notes,
  };
}

/** The faulting CPUs a configuration runs: the workload's faulters less those its params disable. */
function faulters(results: RunResults, c: ConfigResult): number | null {
  const cpus = (results.workload.source as { cpus?: unknown }).cpus;
  if (!Array.isArray(cpus)) return null;
  let n = 0;
  cpus.forEach((cpu: { role?: unknown; enabled?: unknown }, i) => {
    const enabled = c.params[`cpus[${i}].enabled`] ?? cpu.enabled ?? true;
    if (cpu.role === 'faulter' && enabled !== false) n++;
  });
  return n;
}

/** contention: fault latency and tree_lock contentions against the faulting CPUs. */
export function contentionPlots(runs: readonly LabelledRun[]): Plot[] {
  const latency = new Map<string, Point[]>();
  const contentions = new Map<string, Point[]>();
  for (const { prefix, results } of runs) {
    for (const c of results.configs) {
      const n = faulters(results, c);
      const kind = (c.ops['write-fault']?.count ?? 0) > 0 ? 'write-fault' : 'fault';
      const s = c.ops[kind];
      if (n === null || n === 0 || s === undefined || s.count === 0) continue;
      push(latency, `${prefix}${kind} p50`, { x: n, y: s.p50Ns / 1000 });
      push(latency, `${prefix}${kind} p99`, { x: n, y: s.p99Ns / 1000 });
      const tl = c.locks.tree_lock;
      if (tl !== undefined) push(contentions, `${prefix}tree_lock contentions`, { x: n, y: tl.contentions, note: `of ${tl.acquisitions} acquisitions` });
    }
  }
  if (latency.size === 0) return [];
  const base = { kind: 'line', xLabel: 'faulting CPUs', xLog: false } as const;
  return [
    { ...base, id: 'sweep-contention-latency', title: 'Fault latency against CPUs', yLabel: 'latency (µs, log)', yLog: true, series: toSeries(latency) },
    { ...base, id: 'sweep-contention-locks', title: 'tree_lock contentions against CPUs', yLabel: 'contentions', yLog: false, series: toSeries(contentions) },
  ];
}

/** The sweep section, or null for a workload without a recipe. */
export function sweepSection(runs: readonly LabelledRun[]): Section | null {
  const names = new Set(runs.map((r) => r.results.workload.name));
  if (names.size !== 1) return null;
  const name = [...names][0];
  const section = (plots: Plot[], notes: string[] = []): Section => ({
    id: 'sweep',
    title: `Sweep: ${name}`,
    plots,
    notes: plots.length === 0 ? [`no sweep plot: the configurations lack the parameters ${name}'s plots are drawn against`, ...notes] : notes,
  });
  if (name === 'ordering-tax') return section(orderingTaxPlots(runs));
  if (name === 'fsync-crossover') {
    const { plots, notes } = fsyncCrossoverPlots(runs);
    return section(plots, notes);
  }
  if (name === 'contention') return section(contentionPlots(runs));
  return null;
}
