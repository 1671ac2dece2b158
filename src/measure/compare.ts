// `daxlab compare a b`, judged as benchstat judges: per configuration (matched by name),
// operation kind and figure (mean, p50, p99, p99.9), the samples are the figure's values in
// each repeat, not the operations (a run's operations are not independent trials of the code).
// Each side's center is the median of its repeats, with a 95 % interval; b/a has a bootstrap
// interval; the Mann-Whitney U test over the repeats says whether the two differ
// (repeat_stats.ts says how each is computed and why).
//
// A regression is a figure of b that the test calls significantly slower than a's AND whose
// b/a exceeds 1 + threshold: the test alone would fail a CI job for a real but negligible
// shift, the threshold alone for noise. A faster figure is never one.
//
// Many figures are tested at once (a kara-2017 comparison tests about a hundred), each at
// alpha with no correction: with 5 repeats a side the exact test's smallest p is 0.008, which
// no Bonferroni-style correction over a hundred figures lets through, so a corrected gate
// could never fire. Noise passes the test at about alpha, but seldom also by more than the
// threshold; bench/compare_verdicts.ts measures how often the gate fires on same-code runs and
// on a real slowdown (results/compare/verdicts.txt).

import { FAULT_KINDS, MergedOps, OP_KINDS, type OpKind } from './histogram.js';
import {
  BOOTSTRAP_RESAMPLES,
  CONFIDENCE,
  EXACT_MAX_N,
  bootstrapRatioInterval,
  geomean,
  mannWhitney,
  median,
  medianInterval,
  seedOf,
  smallestP,
} from './repeat_stats.js';
import type { ConfigResult, RunResults } from './results.js';
import { isProbeResults } from './probe_marker.js';

export const COMPARED_FIGURES = [
  { label: 'mean', field: 'meanNs' },
  { label: 'p50', field: 'p50Ns' },
  { label: 'p99', field: 'p99Ns' },
  { label: 'p99.9', field: 'p999Ns' },
] as const;
export type FigureLabel = (typeof COMPARED_FIGURES)[number]['label'];

/** `~`: no significant difference; `too few repeats`: no test at alpha could say (1 repeat a side, say). */
export type Verdict = 'slower' | 'faster' | '~' | 'too few repeats';

export interface SideFigure {
  /** The median of the repeats' values (NaN, null in JSON, without a complete repeat). */
  centerNs: number;
  /** Its 95 % interval; null with fewer repeats than one needs (6). */
  interval: { lowNs: number; highNs: number } | null;
  /** The repeats' values, in repeat order. */
  valuesNs: number[];
}

export interface FigureComparison {
  figure: FigureLabel;
  a: SideFigure;
  b: SideFigure;
  /** b's center / a's (1 when both are 0, Infinity when only a's is). */
  ratio: number;
  /** Bootstrap interval of the ratio; null with fewer than 6 repeats a side. */
  ratioInterval: { low: number; high: number } | null;
  /** Two-sided p of the U test over the repeats; null when too few repeats to test. */
  p: number | null;
  verdict: Verdict;
  /** Slower, significant, and b/a beyond the threshold. */
  regression: boolean;
}

export interface ComparisonRow {
  config: string;
  kind: OpKind;
  /** Complete repeats holding this kind on each side: the samples. */
  repeatsA: number;
  repeatsB: number;
  /** Operations of this kind over all repeats (for scale only: they are not the samples). */
  opsA: number;
  opsB: number;
  figures: FigureComparison[];
}

export interface Regression {
  config: string;
  kind: OpKind;
  figure: FigureLabel;
  ratio: number;
  p: number;
}

export interface GeomeanFigure {
  figure: FigureLabel;
  /** Geometric mean of b/a over the rows whose two centers are positive. */
  ratio: number;
  rows: number;
}

export interface CompareOptions {
  /** A regression is b worse than a by more than this many percent, and significant (default 0). */
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
  method: {
    samples: string;
    center: string;
    interval: string;
    ratioInterval: string;
    test: string;
    multipleComparisons: string;
  };
  rows: ComparisonRow[];
  regressions: Regression[];
  geomean: GeomeanFigure[];
  /** Figures the test could judge (enough repeats on both sides). */
  judged: number;
  /** "config: fault" rows left out because they hold the same faults as one other kind's row. */
  faultSameAs: string[];
  /** "config" or "config: kind" present only on one side. */
  onlyInA: string[];
  onlyInB: string[];
  /** What makes the two less comparable than they look (different virtual-clock windows, repeats left out). */
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

/**
 * The comparison of two runs. Two runs with no configuration and kind in common are a
 * RangeError (nothing could be judged, and a CI gate must not pass on nothing).
 */
export function compareRuns(a: RunResults, b: RunResults, options: CompareOptions = {}): Comparison {
  const alpha = options.alpha ?? 0.05;
  const thresholdPct = options.failOnRegressionPct ?? 0;
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha: expected a number between 0 and 1, got ${alpha}`);
  if (!(thresholdPct >= 0 && Number.isFinite(thresholdPct))) {
    throw new RangeError(`--fail-on-regression: expected a percentage of 0 or more, got ${thresholdPct}`);
  }
  const labels = options.labels ?? (['a', 'b'] as const);
  const notes: string[] = [];
  const probes = [a, b].filter(isProbeResults).length;
  if (probes === 1 && a.clock.kind !== b.clock.kind) {
    // A real kernel beside the model is what a probe is for: shapes compare, absolute times less so.
    notes.push(
      "one side is a probe of a real kernel (its own clock), the other a lab run on the virtual clock: compare the shape (ratios between configurations) before absolute times; an emulated kernel's times are several times a real one's",
    );
  } else checkSameClock('compare', a, b, labels);
  if (a.clock.kind === 'wall' && b.clock.kind === 'wall') {
    // Seen on the shared development machine: two runs of the same kara-2017, minutes apart,
    // differed by +78 % in one mean, every repeat of one beyond every repeat of the other.
    notes.push("both ran on the wall clock: their figures include the host's speed and load, so a difference may be the host's, not the change's");
  }
  if (a.clock.kind === b.clock.kind && a.clock.windowNs !== b.clock.windowNs) {
    notes.push(`a ran with a ${a.clock.windowNs} ns window and b with ${b.clock.windowNs} ns: differences within the larger window are the window's, not the change's`);
  }
  const rows: ComparisonRow[] = [];
  const faultSameAs: string[] = [];
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
    noteLeftOut(notes, 'a', ca);
    noteLeftOut(notes, 'b', cb);
    const sameA = faultOnlyKind(ca);
    const sameB = faultOnlyKind(cb);
    for (const kind of OP_KINDS) {
      const hasA = opCount(ca, kind) > 0;
      const hasB = opCount(cb, kind) > 0;
      if (kind === 'fault' && faultRepeatsRow(hasA ? sameA : null, hasB ? sameB : null)) {
        if (hasA && hasB) faultSameAs.push(`${ca.name}: fault = ${sameA}`);
        continue;
      }
      if (hasA && hasB) rows.push(compareKind(ca, cb, kind, alpha, thresholdPct));
      else if (hasA) onlyInA.push(`${ca.name}: ${kind}`);
      else if (hasB) onlyInB.push(`${ca.name}: ${kind}`);
    }
  }
  for (const cb of b.configs) if (!aNames.has(cb.name)) onlyInB.push(cb.name);
  if (rows.length === 0) {
    throw new RangeError(
      `compare: ${labels[0]} and ${labels[1]} have nothing in common: no configuration with an operation kind on both sides ` +
        `(${labels[0]}: ${describeConfigs(a)}; ${labels[1]}: ${describeConfigs(b)})`,
    );
  }
  const regressions: Regression[] = rows.flatMap((r) =>
    r.figures.filter((f) => f.regression).map((f) => ({ config: r.config, kind: r.kind, figure: f.figure, ratio: f.ratio, p: f.p! })),
  );
  const geo = COMPARED_FIGURES.map(({ label }) => {
    const ratios = rows.map((r) => r.figures.find((f) => f.figure === label)!).filter((f) => f.a.centerNs > 0 && f.b.centerNs > 0).map((f) => f.ratio);
    return { figure: label, ratio: geomean(ratios), rows: ratios.length };
  });
  const judged = rows.reduce((s, r) => s + r.figures.filter((f) => f.verdict !== 'too few repeats').length, 0);
  const figures = rows.length * COMPARED_FIGURES.length;
  const method = {
    samples: "each repeat's figure (the repeats, not the operations, are the samples)",
    center: 'their median',
    interval: `${CONFIDENCE * 100} % interval of the median from the repeats' order statistics (±∞: fewer than 6 repeats)`,
    ratioInterval: `${CONFIDENCE * 100} % percentile bootstrap of the repeats, ${BOOTSTRAP_RESAMPLES} resamples, seeded by the figure's name (±∞: fewer than 6 repeats a side)`,
    test: `Mann-Whitney U over the repeats, two-sided, exact up to ${EXACT_MAX_N} repeats in all (normal approximation beyond), alpha ${alpha}`,
    multipleComparisons:
      `each of the ${figures} figures is tested at alpha ${alpha} without correction, so about ${Math.round(figures * alpha)} may differ by chance; ` +
      `a regression must also exceed the threshold, which is what keeps the gate quiet on noise (measured: bench/compare_verdicts.ts, results/compare/verdicts.txt)`,
  };
  return { labels, alpha, thresholdPct, method, rows, regressions, geomean: geo, judged, faultSameAs, onlyInA, onlyInB, notes };
}

function compareKind(ca: ConfigResult, cb: ConfigResult, kind: OpKind, alpha: number, thresholdPct: number): ComparisonRow {
  const figures = COMPARED_FIGURES.map(({ label, field }): FigureComparison => {
    const va = repeatValues(ca, kind, field);
    const vb = repeatValues(cb, kind, field);
    const a = side(va);
    const b = side(vb);
    const ratio = ratioOf(b.centerNs, a.centerNs);
    const ratioInterval = bootstrapRatioInterval(va, vb, seedOf(`${ca.name}\0${kind}\0${label}`));
    if (smallestP(va.length, vb.length) >= alpha) {
      return { figure: label, a, b, ratio, ratioInterval, p: null, verdict: 'too few repeats', regression: false };
    }
    const t = mannWhitney(va, vb);
    const verdict: Verdict = t.p >= alpha ? '~' : t.probBGreater > 0.5 ? 'slower' : t.probBGreater < 0.5 ? 'faster' : '~';
    const regression = verdict === 'slower' && ratio > 1 + thresholdPct / 100;
    return { figure: label, a, b, ratio, ratioInterval, p: t.p, verdict, regression };
  });
  return {
    config: ca.name,
    kind,
    repeatsA: figures[0].a.valuesNs.length,
    repeatsB: figures[0].b.valuesNs.length,
    opsA: opCount(ca, kind),
    opsB: opCount(cb, kind),
    figures,
  };
}

function side(values: number[]): SideFigure {
  const ci = medianInterval(values);
  return { centerNs: median(values), interval: ci && { lowNs: ci.low, highNs: ci.high }, valuesNs: values };
}

/** The figure in each complete repeat that holds the kind: an interrupted repeat is shorter than the others, not a sample like them. */
function repeatValues(c: ConfigResult, kind: OpKind, field: (typeof COMPARED_FIGURES)[number]['field']): number[] {
  return c.perRepeat.flatMap((r) => {
    const o = r.ops[kind];
    return !r.partial && o !== undefined && o.count > 0 ? [o[field]] : [];
  });
}

function noteLeftOut(notes: string[], side: string, c: ConfigResult): void {
  const n = c.perRepeat.filter((r) => r.partial).length;
  if (n > 0) notes.push(`${side}: ${c.name}: ${n} interrupted repeat${n === 1 ? '' : 's'} left out`);
}

function opCount(c: ConfigResult, kind: OpKind): number {
  return c.ops[kind]?.count ?? 0;
}

/** The one fault kind a configuration recorded, when its `fault` (the union) therefore holds exactly those faults. */
function faultOnlyKind(c: ConfigResult): OpKind | undefined {
  const kinds = FAULT_KINDS.filter((k) => opCount(c, k) > 0);
  return kinds.length === 1 && opCount(c, kinds[0]) === opCount(c, 'fault') ? kinds[0] : undefined;
}

/**
 * `fault` holds, on each side it is on (null: not on that side), the faults of one other
 * kind's row, the same kind on both: judging or listing it again would count that row twice.
 */
function faultRepeatsRow(onlyA: OpKind | undefined | null, onlyB: OpKind | undefined | null): boolean {
  if (onlyA !== null && onlyB !== null) return onlyA !== undefined && onlyA === onlyB;
  if (onlyA !== null) return onlyA !== undefined;
  return onlyB !== null && onlyB !== undefined;
}

function ratioOf(b: number, a: number): number {
  if (a === 0) return b === 0 ? 1 : Infinity;
  return b / a;
}

/** A run's configurations and kinds for the "nothing in common" message, a few at most. */
function describeConfigs(r: RunResults): string {
  if (r.configs.length === 0) return 'no configurations';
  const shown = r.configs.slice(0, 3).map((c) => `${c.name} (${OP_KINDS.filter((k) => opCount(c, k) > 0).join(', ') || 'no operations'})`);
  return shown.join(', ') + (r.configs.length > 3 ? ` and ${r.configs.length - 3} more` : '');
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
