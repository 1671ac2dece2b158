// The latency section: for each operation kind, the histogram in the seed's log2 buckets and
// the CDF with p50, p99 and p99.9 marked, every configuration (of every run) overlaid. For
// kara-2017's configurations the seed's own rows are drawn dashed beside the lab's.

import { MergedOps, OP_KINDS, FAULT_KINDS, type OpKind } from '../measure/histogram.js';
import { reportedKinds } from '../measure/reported_kinds.js';
import type { ConfigResult, OpStatsJson, RunResults } from '../measure/results.js';
import { KARA_2017_ROWS, type SeedRow } from '../measure/seed_format.js';
import { cdfPoints, snapToLogGrid } from './cdf.js';
import type { Plot, Section, Series } from './model.js';

export interface LabelledRun {
  /** Prefix of this run's series ('' for a report of one run). */
  prefix: string;
  results: RunResults;
}

/** The kinds a configuration's tables show, with operations. */
function shownKinds(c: ConfigResult): OpKind[] {
  return reportedKinds(c.ops).filter((k) => (c.ops[k]?.count ?? 0) > 0);
}

/** Kinds shown by some configuration of every run, in OP_KINDS order; and those left out. */
export function sharedKinds(runs: readonly LabelledRun[]): { kinds: OpKind[]; leftOut: OpKind[] } {
  const perRun = runs.map((r) => new Set(r.results.configs.flatMap(shownKinds)));
  const any = OP_KINDS.filter((k) => perRun.some((s) => s.has(k)));
  const kinds = any.filter((k) => perRun.every((s) => s.has(k)));
  return { kinds, leftOut: any.filter((k) => !kinds.includes(k)) };
}

/** Low edges (µs) of the log2 buckets from lo to hi, every one between: empty ones are drawn at 0. */
function bucketRange(lows: readonly number[]): number[] {
  if (lows.length === 0) return [];
  const hi = Math.max(...lows);
  const out: number[] = [];
  for (let b = Math.min(...lows); b <= hi; b = b === 0 ? 1 : b * 2) out.push(b);
  return out;
}

const bucketLabel = (low: number) => (low === 0 ? '<1' : low === 1 ? '1' : `${low}–${2 * low - 1}`);

interface Row {
  label: string;
  colorKey: string;
  buckets: { lowUs: number; count: number }[];
  count: number;
  dash?: 'dashed';
}

function histogramPlot(id: string, kind: string, rows: readonly Row[]): Plot {
  const lows = bucketRange(rows.flatMap((r) => r.buckets.filter((b) => b.count > 0).map((b) => b.lowUs)));
  const at = new Map(lows.map((l, i) => [l, i]));
  return {
    id,
    title: `${kind}: latency histogram (the seed's log2 buckets)`,
    kind: 'histogram',
    xLabel: 'latency bucket (µs)',
    yLabel: '% of operations (log)',
    xLog: false,
    // Log: the seed's tails (3 of 512, 1 of 512) are what its buckets are read for.
    yLog: true,
    xCategories: lows.map(bucketLabel),
    series: rows.map((r) => {
      const y = lows.map(() => 0);
      for (const b of r.buckets) if (b.count > 0) y[at.get(b.lowUs)!] += (100 * b.count) / r.count;
      return { label: r.label, colorKey: r.colorKey, x: lows.map((_, i) => i), y, ...(r.dash ? { dash: r.dash } : {}) };
    }),
  };
}

/** The seed's row drawn as a CDF: the fraction at or below each bucket's end (whole µs, so highUs + 1). */
function seedCdf(label: string, colorKey: string, row: SeedRow): Series {
  const x: number[] = [];
  const y: number[] = [];
  let seen = 0;
  for (const b of row.buckets) {
    seen += b.count;
    x.push(b.highUs + 1);
    y.push((100 * seen) / row.count);
  }
  return { label, colorKey, x, y, dash: 'dashed' };
}

const PERCENTILES = [
  { name: 'p50', field: 'p50Ns', y: 50 },
  { name: 'p99', field: 'p99Ns', y: 99 },
  { name: 'p99.9', field: 'p999Ns', y: 99.9 },
] as const;

function labCdf(label: string, merged: MergedOps, kind: OpKind, stats: OpStatsJson): Series {
  const h = merged.get(kind);
  const points = h === undefined ? [] : snapToLogGrid(cdfPoints(h.histogram, stats.maxNs));
  return {
    label,
    colorKey: label,
    x: points.map((p) => p.ns / 1000),
    y: points.map((p) => 100 * p.fraction),
    marks: PERCENTILES.map((p) => ({ name: p.name, x: stats[p.field] / 1000, y: p.y })),
  };
}

/**
 * The kind whose plot the seed's row of a configuration goes beside: the seed counts every
 * fault, the lab's `fault`, which the tables leave out when one fault kind holds them all.
 */
function seedKind(c: ConfigResult): OpKind {
  if (shownKinds(c).includes('fault')) return 'fault';
  return FAULT_KINDS.find((k) => (c.ops[k]?.count ?? 0) > 0) ?? 'fault';
}

export function latencySection(runs: readonly LabelledRun[]): Section {
  const { kinds, leftOut } = sharedKinds(runs);
  const notes = leftOut.length > 0 ? [`not drawn, as not every run has them: ${leftOut.join(', ')}`] : [];
  if (kinds.length === 0 && leftOut.length === 0) notes.push('no operation was timed: nothing to draw');
  const plots: Plot[] = [];
  // Decoding is the costly part (144 configurations in ordering-tax): once per configuration.
  const decoded = new Map<ConfigResult, MergedOps>();
  const merged = (c: ConfigResult) => decoded.get(c) ?? decoded.set(c, MergedOps.merge([c.encoded])).get(c)!;
  for (const kind of kinds) {
    const hist: Row[] = [];
    const cdf: Series[] = [];
    for (const { prefix, results } of runs) {
      for (const c of results.configs) {
        const stats = c.ops[kind];
        if (stats === undefined || stats.count === 0 || !shownKinds(c).includes(kind)) continue;
        const label = prefix + c.name;
        hist.push({ label, colorKey: label, buckets: stats.buckets, count: stats.count });
        cdf.push(labCdf(label, merged(c), kind, stats));
        const seed = results.workload.name === 'kara-2017' && seedKind(c) === kind ? KARA_2017_ROWS.find((s) => s.name === c.name) : undefined;
        if (seed !== undefined) {
          const seedLabel = `${prefix}seed 002: ${c.name}`;
          hist.push({ label: seedLabel, colorKey: label, buckets: seed.row.buckets, count: seed.row.count, dash: 'dashed' });
          cdf.push(seedCdf(seedLabel, label, seed.row));
        }
      }
    }
    const slug = kind.replace(/[^a-z0-9]/g, '-');
    plots.push(histogramPlot(`hist-${slug}`, kind, hist));
    plots.push({
      id: `cdf-${slug}`,
      title: `${kind}: CDF`,
      kind: 'cdf',
      xLabel: 'latency (µs, log)',
      yLabel: '% of operations at or below',
      xLog: true,
      yLog: false,
      hlines: PERCENTILES.map((p) => ({ y: p.y, label: p.name })),
      series: cdf,
      ...(cdf.some((s) => s.dash === 'dashed') ? { caption: "dashed: the seed's rows (Jan Kara, 2017, ramdisk), to its bucket resolution" } : {}),
    });
  }
  return { id: 'latency', title: 'Latency', plots, notes };
}
