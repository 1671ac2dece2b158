// `daxlab compare a b`: per configuration (matched by name) and operation kind, the p50, p99
// and p99.9 of each side with 95 % confidence intervals, the ratio b/a, and a verdict from
// the Mann-Whitney U test, all computed from the merged histograms in results.json. A tail
// regression is a p99 or p99.9 of b above a's by more than a threshold, counted only where
// the U test says the distributions differ, so that noise in a few tail values does not fail
// a CI job.
//
// Each row is tested on its own at alpha: with many rows some will differ by chance (at 0.05,
// one in twenty identical pairs). The regression threshold is what keeps a CI gate quiet.

import { MergedOps, OP_KINDS, type OpHistogram, type OpKind } from './histogram.js';
import { mannWhitneyU, percentileInterval, type PercentileInterval } from './hist_stats.js';
import { opStats } from './op_stats.js';
import type { ConfigResult, RunResults } from './results.js';
import { formatAligned, formatUs } from './text_table.js';

export const COMPARED_PERCENTILES = [
  { label: 'p50', q: 0.5, field: 'p50Ns' },
  { label: 'p99', q: 0.99, field: 'p99Ns' },
  { label: 'p99.9', q: 0.999, field: 'p999Ns' },
] as const;
export type PercentileLabel = (typeof COMPARED_PERCENTILES)[number]['label'];

export type Verdict = 'faster' | 'slower' | 'same';

export interface PercentileSide extends PercentileInterval {
  ns: number;
}

export interface PercentileComparison {
  label: PercentileLabel;
  a: PercentileSide;
  b: PercentileSide;
  /** b / a (1 when both are 0, Infinity when only a is). */
  ratio: number;
}

export interface ComparisonRow {
  config: string;
  kind: OpKind;
  nA: number;
  nB: number;
  percentiles: PercentileComparison[];
  /** Mann-Whitney U of a. */
  u: number;
  z: number;
  p: number;
  /** P(a value of b exceeds one of a), ties counted half. */
  probBGreater: number;
  verdict: Verdict;
}

export interface CompareOptions {
  /** A tail regression is a p99 or p99.9 of b more than this many percent above a's (default 0). */
  failOnRegressionPct?: number;
  /** Significance level of the U test (default 0.05). */
  alpha?: number;
  /** Names of the two sides in the text (default 'a', 'b'). */
  labels?: readonly [string, string];
}

export interface Comparison {
  labels: readonly [string, string];
  alpha: number;
  thresholdPct: number;
  rows: ComparisonRow[];
  /** Rows whose p99 or p99.9 regressed beyond the threshold with a significant U test. */
  regressions: ComparisonRow[];
  /** "config" or "config: kind" present only on one side. */
  onlyInA: string[];
  onlyInB: string[];
  /** What makes the two less comparable than they look (different virtual-clock windows). */
  notes: string[];
}

/** The clock a run's figures are in, as a phrase. */
export function describeClock(r: RunResults): string {
  return r.clock.kind === 'virtual' ? `the virtual clock (window ${r.clock.windowNs} ns)` : 'the wall clock';
}

/**
 * Refuses two runs on different clocks: a wall-clock figure holds the host's speed and load,
 * a virtual one the model's alone. `what` names the command.
 */
export function checkSameClock(what: string, a: RunResults, b: RunResults, labels: readonly [string, string]): void {
  if (a.clock.kind === b.clock.kind) return;
  throw new RangeError(
    `${what}: ${labels[0]} ran on ${describeClock(a)} and ${labels[1]} on ${describeClock(b)}; figures from the two are not comparable ` +
      `(a wall-clock figure includes the host's speed and load). Re-run one with --clock ${a.clock.kind} or --clock ${b.clock.kind}.`,
  );
}

export function compareRuns(a: RunResults, b: RunResults, options: CompareOptions = {}): Comparison {
  const alpha = options.alpha ?? 0.05;
  const thresholdPct = options.failOnRegressionPct ?? 0;
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha: expected a number between 0 and 1, got ${alpha}`);
  if (!(thresholdPct >= 0 && Number.isFinite(thresholdPct))) {
    throw new RangeError(`--fail-on-regression: expected a percentage of 0 or more, got ${thresholdPct}`);
  }
  const labels = options.labels ?? (['a', 'b'] as const);
  checkSameClock('compare', a, b, labels);
  const notes: string[] = [];
  if (a.clock.windowNs !== b.clock.windowNs) {
    notes.push(`a ran with a ${a.clock.windowNs} ns window and b with ${b.clock.windowNs} ns: differences within the larger window are the window's, not the change's`);
  }
  const rows: ComparisonRow[] = [];
  const onlyInA: string[] = [];
  const onlyInB: string[] = [];
  const bByName = new Map(b.configs.map((c) => [c.name, c]));
  const aNames = new Set(a.configs.map((c) => c.name));
  for (const ca of a.configs) {
    const cb = bByName.get(ca.name);
    if (cb === undefined) {
      onlyInA.push(ca.name);
      continue;
    }
    const opsA = decodeConfigOps(ca, labels[0]);
    const opsB = decodeConfigOps(cb, labels[1]);
    for (const kind of OP_KINDS) {
      const ha = opsA.get(kind);
      const hb = opsB.get(kind);
      const hasA = (ha?.count ?? 0) > 0;
      const hasB = (hb?.count ?? 0) > 0;
      if (hasA && hasB) rows.push(compareKind(ca.name, kind, ha!, hb!, alpha));
      else if (hasA) onlyInA.push(`${ca.name}: ${kind}`);
      else if (hasB) onlyInB.push(`${ca.name}: ${kind}`);
    }
  }
  for (const cb of b.configs) if (!aNames.has(cb.name)) onlyInB.push(cb.name);
  const regressions = rows.filter((r) => isTailRegression(r, thresholdPct, alpha));
  return { labels, alpha, thresholdPct, rows, regressions, onlyInA, onlyInB, notes };
}

/**
 * b's p99 or p99.9 above a's by more than pct percent, and the difference is real: the U test
 * says b is slower, or that percentile's two 95% intervals do not overlap (a faster b whose
 * tail grew within the intervals' reach is not a regression). The
 * second clause catches a regression confined to the tail (a few operations 4x slower, the
 * rest unchanged), which a rank test over the whole distribution cannot see.
 */
export function isTailRegression(row: ComparisonRow, pct: number, alpha = 0.05): boolean {
  return row.percentiles.some(
    (p) => p.label !== 'p50' && p.b.ns > p.a.ns * (1 + pct / 100) && ((row.p < alpha && row.verdict === 'slower') || (!p.a.openHigh && p.b.lowNs > p.a.highNs)),
  );
}

/** A configuration's histograms, decoded; one the lab cannot read is a RangeError naming `side` and the configuration. */
export function decodeConfigOps(c: ConfigResult, side: string): MergedOps {
  try {
    return MergedOps.merge([c.encoded]);
  } catch (e) {
    // A histogram the lab cannot read is a bad input file, not a failure of the comparison.
    throw new RangeError(`${side}: configuration ${c.name}: ${(e as Error).message}`);
  }
}

function compareKind(config: string, kind: OpKind, a: OpHistogram, b: OpHistogram, alpha: number): ComparisonRow {
  const sa = opStats(a);
  const sb = opStats(b);
  const percentiles = COMPARED_PERCENTILES.map(({ label, q, field }) => ({
    label,
    a: { ns: sa[field], ...percentileInterval(a, q) },
    b: { ns: sb[field], ...percentileInterval(b, q) },
    ratio: ratio(sb[field], sa[field]),
  }));
  const u = mannWhitneyU(a.histogram, b.histogram);
  let verdict: Verdict = 'same';
  if (u.p < alpha) {
    // The median's shift says which way; at the histogram's resolution the medians can be
    // equal while the test still sees a shift, and then U's own direction decides.
    const shift = sb.p50Ns - sa.p50Ns || u.probBGreater - 0.5;
    verdict = shift > 0 ? 'slower' : shift < 0 ? 'faster' : 'same';
  }
  return { config, kind, nA: u.nA, nB: u.nB, percentiles, u: u.uA, z: u.z, p: u.p, probBGreater: u.probBGreater, verdict };
}

function ratio(b: number, a: number): number {
  if (a === 0) return b === 0 ? 1 : Infinity;
  return b / a;
}

/** The comparison as text: one block per configuration and kind, columns aligned across blocks. */
export function formatComparison(c: Comparison): string {
  const [la, lb] = c.labels;
  const head = [
    `a = ${la}`,
    `b = ${lb}`,
    ...c.notes.map((n) => `note: ${n}`),
    `times in µs; [95 % confidence interval] from binomial order statistics (+: too few values to bound it from above)`,
    `verdict: Mann-Whitney U test, two-sided, alpha ${c.alpha}; ` +
      `a tail regression: p99 or p99.9 of b over a by more than ${c.thresholdPct} % and the test significant`,
    '',
  ].join('\n');
  const table: string[][] = [];
  for (const r of c.rows) {
    const mark = c.regressions.includes(r) ? '  TAIL REGRESSION' : '';
    table.push([
      `${r.config} / ${r.kind}: ${r.verdict} (p = ${formatP(r.p)}, n ${r.nA} vs ${r.nB}, P(b > a) = ${r.probBGreater.toFixed(2)})${mark}`,
    ]);
    table.push(['', 'a', '[95 % CI]', 'b', '[95 % CI]', 'b/a']);
    for (const p of r.percentiles) {
      table.push([`  ${p.label}`, formatUs(p.a.ns), formatCi(p.a), formatUs(p.b.ns), formatCi(p.b), formatRatio(p.ratio)]);
    }
  }
  // Block titles are one long cell: align only the figure lines.
  const lines = formatAligned(
    table.map((row) => (row.length === 1 ? [] : row)),
    { indent: '', align: ['l', 'r', 'l', 'r', 'l', 'r'] },
  ).split('\n');
  // A blank line before each block's title.
  const body = table.map((row, i) => (row.length === 1 ? `\n${row[0]}` : lines[i])).join('\n');
  const summary = formatSummary(c);
  return `${head}${body}${body === '' ? '' : '\n\n'}${summary}`;
}

function formatSummary(c: Comparison): string {
  const count = (v: Verdict) => c.rows.filter((r) => r.verdict === v).length;
  const lines = [`${c.rows.length} compared: ${count('slower')} slower, ${count('faster')} faster, ${count('same')} same`];
  if (c.onlyInA.length > 0) lines.push(`only in a: ${c.onlyInA.join(', ')}`);
  if (c.onlyInB.length > 0) lines.push(`only in b: ${c.onlyInB.join(', ')}`);
  lines.push(
    c.regressions.length === 0
      ? `no tail regression over ${c.thresholdPct} %`
      : `${c.regressions.length} tail regression${c.regressions.length === 1 ? '' : 's'} over ${c.thresholdPct} %: ` +
          c.regressions.map((r) => `${r.config} / ${r.kind}`).join(', '),
  );
  return lines.join('\n') + '\n';
}

function formatCi(s: PercentileSide): string {
  return `[${formatUs(s.lowNs)}, ${formatUs(s.highNs)}${s.openHigh ? '+' : ''}]`;
}

function formatRatio(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(2)}x` : 'inf';
}

function formatP(p: number): string {
  return p >= 0.001 ? p.toFixed(3) : p.toExponential(1);
}
