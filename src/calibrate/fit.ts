// Fitting a profile's step costs to measured rows, by damped fixed-point iteration on the
// virtual clock. Shared by bench/kara_fidelity.ts --calibrate (seed 002's table) and
// `daxlab calibrate` (a probe of the user's kernel).
//
// Each fittable row fits one constant, the cost of the kernel step that row adds to the
// others (a constant is charged wherever its step runs, in every row):
//   trapNs    a fault that allocates nothing and commits nothing: a written file (prealloc-*;
//             MAP_SYNC adds nothing there, so either row)
//   allocNs   a fault that allocates a block: an empty file without MAP_SYNC (empty-*-nosync)
//   commitNs  a fault that waits for a journal commit: MAP_SYNC on an empty or fallocated file
// Every row pays the trap once per fault; an empty-file row also an allocation; a MAP_SYNC
// row that changes metadata also a commit. So a row's mean moves by about one unit per unit
// of its own constant and of those before it, and an iteration solves that triangular system
// for the fitted rows' residuals (the bench's old rule: trap from the written row, allocation
// from what the empty row adds to it, commit from what MAP_SYNC adds to that). Runs are
// deterministic for a seed, but the idle wake-up draws and lock waits make the response only
// about linear: each step takes a share (damping) of the solution.
//
// The idle wake-up distribution's median (idleWakeup.medianNs) can be fitted beside commitNs,
// from the commit row's histogram: a MAP_SYNC fault waits for a commit and pays two idle
// wake-ups (kjournald2's, then its own), so the commit row's spread is the draws' spread. Its
// mean fixes commitNs; its share of faults up to the end of the target's fullest bucket (seed
// 002: 334 of 512 under 128 µs) fixes the median, sigma staying what the profile says (one
// split cannot pin both). A larger median spreads the row, so fewer faults stay in the
// fullest bucket: the median moves by IDLE_GAIN times the shares' difference (log scale),
// and commitNs gives back the mean that two draws' change adds.

import { COST_NAMES, type CostName } from '../cost/costs.js';
import type { LabRow } from './lab_rows.js';
import type { TargetRow } from './target.js';

/** The constants a row can fit, in the order the triangular system solves them. */
export const FIT_PARAMS = ['trapNs', 'allocNs', 'commitNs'] as const satisfies readonly CostName[];
export type FitParam = (typeof FIT_PARAMS)[number];

/** The rows that can fit each constant (kara-2017's configuration names). */
export const FITTABLE: Readonly<Record<FitParam, readonly string[]>> = {
  trapNs: ['prealloc-nobg-nosync', 'prealloc-nobg-sync'],
  allocNs: ['empty-nobg-nosync', 'empty-bg-nosync'],
  commitNs: ['empty-nobg-sync', 'empty-bg-sync', 'fallocated-nobg-sync'],
};

/** What is fitted when nobody says: one row per constant, the background copy's rows left as predictions. */
export const DEFAULT_FIT = ['prealloc-nobg-nosync', 'empty-nobg-nosync', 'empty-nobg-sync'] as const;

/** The constant a row fits, or undefined when it fits none. */
export function paramOf(row: string): FitParam | undefined {
  return FIT_PARAMS.find((p) => FITTABLE[p].includes(row));
}

/** How much a fault of `row` pays of `param`'s step: once, or not at all (see the header). */
export function sensitivity(row: string, param: FitParam): number {
  if (param === 'trapNs') return 1;
  const mapSync = row.includes('-sync');
  if (param === 'allocNs') return row.startsWith('empty-') ? 1 : 0;
  return mapSync && !row.startsWith('prealloc-') ? 1 : 0;
}

/** A profile file's JSON (src/cost/profile.ts documents it), as the fitter reads and rewrites it. */
export interface ProfileJson {
  name: string;
  description: string;
  costs: Record<string, { ns: number; kind: string; source: string; rows?: string[] }>;
  idleWakeup: Record<string, unknown>;
  notes?: string[];
}

/** d ln(median) per unit of share difference: about 1/0.15, measured on seed 002's commit row (median 22 -> 28 µs moved the share by 3.5 points); under 1/0.15 so that steps undershoot. */
const IDLE_GAIN = 5;
/** The idle wake-ups a MAP_SYNC fault that waits for a commit pays: kjournald2's and its own. */
const IDLE_WAKEUPS_PER_COMMIT = 2;

/** The share (0-1) of a histogram's faults in buckets up to and including the one starting at lowUs. */
export function shareUpTo(buckets: readonly { lowUs: number; count: number }[], lowUs: number): number {
  const total = buckets.reduce((n, b) => n + b.count, 0);
  return total === 0 ? NaN : buckets.filter((b) => b.lowUs <= lowUs).reduce((n, b) => n + b.count, 0) / total;
}

/** The low edge (µs) of the fullest bucket. */
function fullestLowUs(buckets: readonly { lowUs: number; count: number }[]): number {
  return buckets.reduce((best, b) => (b.count > best.count ? b : best), buckets[0]).lowUs;
}

export interface FitStep {
  iteration: number;
  lab: Record<string, number>;
  values: Record<string, number>;
}

export interface FitOptions {
  base: ProfileJson;
  targets: readonly TargetRow[];
  /** The rows to fit (each fits the constant paramOf names); checked by checkFitRows. */
  fit: readonly string[];
  /** Runs the lab on a candidate profile and returns at least the fitted rows. */
  measure: (profile: ProfileJson, rows: readonly string[]) => Promise<LabRow[]>;
  iterations: number;
  /** Also fit idleWakeup.medianNs to the commit row's split (needs a fitted commit row and a distribution whose median is not 0). */
  fitIdleMedian?: boolean;
  /** The share of each step's solution taken (0-1]. */
  damping?: number;
  /** Stop early once every fitted row is within this many ns of its target. */
  toleranceNs?: number;
  onStep?: (s: FitStep) => void;
}

export interface FitResult {
  profile: ProfileJson;
  /** Each fitted constant, its row, and the row's target and the lab's mean at the last iteration. */
  fitted: { param: FitParam; row: string; value: number; targetNs: number; labNs: number }[];
  /** The fitted idle median, when fitIdleMedian: its row, the target's and the lab's share up to the target's fullest bucket. */
  idleMedian?: { row: string; value: number; upToUs: number; targetShare: number; labShare: number };
  steps: FitStep[];
}

/** The fitted rows, one per constant, in FIT_PARAMS order; throws a RangeError naming the row when one cannot be fitted. */
export function orderFitRows(rows: readonly string[]): { param: FitParam; row: string }[] {
  const out: { param: FitParam; row: string }[] = [];
  for (const row of rows) {
    const param = paramOf(row);
    if (param === undefined) {
      throw new RangeError(`${row}: no constant is fitted from this row (fittable: ${FIT_PARAMS.map((p) => `${FITTABLE[p].join(' or ')} -> ${p}`).join('; ')})`);
    }
    const twice = out.find((x) => x.param === param);
    if (twice !== undefined) throw new RangeError(`${row}: ${param} is already fitted from ${twice.row}; fit one row per constant`);
    out.push({ param, row });
  }
  return out.sort((a, b) => FIT_PARAMS.indexOf(a.param) - FIT_PARAMS.indexOf(b.param));
}

/** Solves the lower-triangular system: each fitted constant's change for the rows' residuals. */
function solve(order: readonly { param: FitParam; row: string }[], residual: (row: string) => number): number[] {
  const delta: number[] = [];
  for (let i = 0; i < order.length; i++) {
    let r = residual(order[i].row);
    for (let k = 0; k < i; k++) r -= sensitivity(order[i].row, order[k].param) * delta[k];
    delta.push(r / sensitivity(order[i].row, order[i].param));
  }
  return delta;
}

export async function fitProfile(o: FitOptions): Promise<FitResult> {
  const order = orderFitRows(o.fit);
  const damping = o.damping ?? 0.8;
  const profile = structuredClone(o.base);
  const target = (row: string) => {
    const t = o.targets.find((x) => x.name === row);
    if (t === undefined || !(t.meanNs >= 0)) throw new RangeError(`${row}: no measured target row to fit`);
    return t.meanNs;
  };
  const rows = order.map((x) => x.row);
  const steps: FitStep[] = [];
  let lab: LabRow[] = [];
  const labMean = (row: string) => {
    const r = lab.find((x) => x.name === row);
    if (r === undefined) throw new Error(`calibrate: the lab did not measure ${row}`);
    return r.meanNs;
  };
  const idle = o.fitIdleMedian ? idleFit(profile, order, o.targets) : undefined;
  let idleShares = { target: NaN, lab: NaN };
  for (let it = 1; it <= o.iterations; it++) {
    lab = await o.measure(profile, rows);
    const delta = solve(order, (row) => target(row) - labMean(row));
    const done = o.toleranceNs !== undefined && rows.every((row) => Math.abs(target(row) - labMean(row)) <= o.toleranceNs!);
    if (idle !== undefined) {
      const l = lab.find((x) => x.name === idle.row)!;
      idleShares = { target: idle.targetShare, lab: shareUpTo(l.buckets, idle.upToUs) };
      const m = idle.median;
      const next = Math.max(1, Math.round(m.ns * Math.exp(damping * IDLE_GAIN * (idleShares.lab - idleShares.target))));
      // The two draws' change in mean, which the commit constant gives back.
      const sigma = (profile.idleWakeup.sigma as { value: number }).value;
      delta[idle.commitAt] -= IDLE_WAKEUPS_PER_COMMIT * Math.exp((sigma * sigma) / 2) * (next - m.ns);
      if (!done) m.ns = next;
    }
    if (!done) {
      order.forEach((x, i) => {
        const c = profile.costs[x.param];
        c.ns = Math.max(0, Math.round(c.ns + damping * delta[i]));
      });
    }
    const step: FitStep = {
      iteration: it,
      lab: Object.fromEntries([...rows.map((r) => [r, labMean(r)]), ...(idle ? [[`${idle.row} share <= ${idle.upToUs} us`, idleShares.lab]] : [])]),
      values: Object.fromEntries([...order.map((x) => [x.param, profile.costs[x.param].ns]), ...(idle ? [['idleWakeup.medianNs', idle.median.ns]] : [])]),
    };
    steps.push(step);
    o.onStep?.(step);
    if (done) break;
  }
  // labNs: the last measurement, before the last step (the caller measures every row after).
  return {
    profile,
    ...(idle ? { idleMedian: { row: idle.row, value: idle.median.ns, upToUs: idle.upToUs, targetShare: idleShares.target, labShare: idleShares.lab } } : {}),
    fitted: order.map((x) => ({ ...x, value: profile.costs[x.param].ns, targetNs: target(x.row), labNs: labMean(x.row) })),
    steps,
  };
}

/** What fitting the idle median needs: the commit row, its target's share, and the median's entry in the profile being fitted. */
function idleFit(profile: ProfileJson, order: readonly { param: FitParam; row: string }[], targets: readonly TargetRow[]) {
  const commitAt = order.findIndex((x) => x.param === 'commitNs');
  if (commitAt < 0) throw new RangeError('idleWakeup.medianNs: fitted from the commit row\'s histogram, so a commit row must be fitted too (' + FITTABLE.commitNs.join(', ') + ')');
  const row = order[commitAt].row;
  const median = profile.idleWakeup.medianNs as { ns: number } | undefined;
  if (median === undefined || !(median.ns > 0)) throw new RangeError('idleWakeup.medianNs: the base profile charges no idle wake-ups (median 0); nothing to fit');
  const t = targets.find((x) => x.name === row);
  if (t === undefined || t.buckets.length === 0) throw new RangeError(`${row}: no histogram to fit idleWakeup.medianNs to`);
  const upToUs = fullestLowUs(t.buckets);
  return { row, commitAt, median, upToUs, targetShare: shareUpTo(t.buckets, upToUs) };
}

/** Every cost constant of a profile file, for checks that a fit touched only what it fitted. */
export function costValues(p: ProfileJson): Record<string, number> {
  return Object.fromEntries(COST_NAMES.map((n) => [n, p.costs[n]?.ns ?? NaN]));
}
