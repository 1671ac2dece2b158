// The Pareto front over the metrics a user trades (all minimised), in two steps:
// - by medians: a point is on the front when no other is at least as good on every metric
//   and better on one (nonDominated; a property test checks it never drops such a point);
// - by statistics: a point dominated by medians is dropped only when a dominating point is
//   also clearly better on some metric: the exact Mann-Whitney U test over the repeats
//   (repeat_stats.ts, as `daxlab compare` uses it) rejects equality at ALPHA. Until the
//   repeats say so, the point stays, marked "unclear", and the search may give it repeats.

import { mannWhitney, median, medianInterval, CONFIDENCE } from '../measure/repeat_stats.js';

export const ALPHA = 1 - CONFIDENCE;

/** For each point (a vector of minimised values), whether no other point dominates it. */
export function nonDominated(points: readonly (readonly number[])[]): boolean[] {
  return points.map((p, i) => !points.some((q, j) => j !== i && dominates(q, p)));
}

/** q dominates p: no worse on every coordinate, better on one. */
export function dominates(q: readonly number[], p: readonly number[]): boolean {
  let better = false;
  for (let k = 0; k < p.length; k++) {
    if (q[k] > p[k]) return false;
    if (q[k] < p[k]) better = true;
  }
  return better;
}

/** a's repeats are clearly lower than b's: the U test rejects equality and a's median is the lower. */
export function clearlyLower(a: readonly number[], b: readonly number[], alpha = ALPHA): boolean {
  return median(a) < median(b) && mannWhitney(a, b).p < alpha;
}

export type FrontStatus = 'front' | 'unclear' | 'dominated';

/**
 * Each point's status, from its repeats of each metric (samples[i][m] = repeats of metric m).
 * front: not dominated by medians; unclear: dominated by medians, never clearly; dominated:
 * some point dominates it by medians and is clearly lower on a metric. `by` names the index of
 * the point that (clearly, or by medians) dominates it.
 */
export function frontStatus(samples: readonly (readonly (readonly number[])[])[], alpha = ALPHA): { status: FrontStatus; by: number | null }[] {
  const medians = samples.map((s) => s.map((xs) => median(xs)));
  const nd = nonDominated(medians);
  return samples.map((s, i) => {
    if (nd[i]) return { status: 'front', by: null };
    let by: number | null = null;
    for (let j = 0; j < samples.length; j++) {
      if (j === i || !dominates(medians[j], medians[i])) continue;
      if (samples[j].some((xs, m) => clearlyLower(xs, s[m], alpha))) return { status: 'dominated', by: j };
      by ??= j;
    }
    return { status: 'unclear', by };
  });
}

export interface Estimate {
  median: number;
  low: number;
  high: number;
  /** The interval's coverage of the true median: 95 % from 6 repeats on; [min, max] below, whose coverage is 1 - 2^(1-n). */
  confidence: number;
  n: number;
}

/** The median of a point's repeats and its distribution-free interval. */
export function estimate(xs: readonly number[]): Estimate {
  const n = xs.length;
  const iv = medianInterval(xs);
  if (iv !== null) return { median: median(xs), low: iv.low, high: iv.high, confidence: CONFIDENCE, n };
  return { median: median(xs), low: Math.min(...xs), high: Math.max(...xs), confidence: n === 0 ? 0 : 1 - 2 ** (1 - n), n };
}
