// Statistics on HDR histograms, for `daxlab compare`: confidence intervals of percentiles and
// the Mann-Whitney U test, both computed from the bins rather than from raw samples (a run
// keeps millions of latencies only as histograms).
//
// Written here because no maintained npm statistics library takes pre-binned, weighted data:
// the ones with a rank-sum test (simple-statistics' wilcoxonRankSum, mann-whitney-utest)
// take one array entry per observation, which would mean expanding millions of counts back
// into samples.
//
// Ties: values the histogram counts as equivalent (one bin, within 0.1 %) are tied. The test
// is exact for the binned data; against raw samples it differs only by pairs closer than the
// histogram resolution, which it calls ties.

import type { JsHistogram } from 'hdr-histogram-js';
import type { OpHistogram } from './histogram.js';

/** z of a two-sided 95 % interval. */
export const Z95 = 1.959963984540054;

/** Bins of a histogram with counts, lowest first: the shape every walk here takes. */
function* bins(h: JsHistogram): Generator<{ index: number; count: number }> {
  if (h.totalCount === 0) return;
  const last = Math.min(h.countsArrayLength - 1, h.countsArrayIndex(h.maxValue));
  for (let i = 0; i <= last; i++) {
    const count = h.getCountAtIndex(i);
    if (count > 0) yield { index: i, count };
  }
}

/** The bin holding the rank-th smallest value (1-based) as its value range [low, high]. */
export function valueRangeAtRank(h: JsHistogram, rank: number): { lowNs: number; highNs: number } {
  const r = Math.min(Math.max(1, rank), h.totalCount);
  let seen = 0;
  for (const b of bins(h)) {
    seen += b.count;
    if (seen >= r) {
      const v = h.valueFromIndex(b.index);
      return { lowNs: h.lowestEquivalentValue(v), highNs: h.highestEquivalentValue(v) };
    }
  }
  throw new RangeError(`rank ${rank} beyond the histogram's ${h.totalCount} values`);
}

export interface PercentileInterval {
  lowNs: number;
  highNs: number;
  /** The interval reaches past the largest value: too few values to bound this percentile from above. */
  openHigh: boolean;
}

/**
 * A distribution-free confidence interval of the q-quantile (0 < q < 1): the count of values
 * below the true quantile is Binomial(n, q), so the order statistics at ranks
 * n q -/+ z sqrt(n q (1 - q)) (normal approximation, rounded outwards) bracket it with the
 * stated confidence. Each end is read from the histogram conservatively (the low end's bin
 * at its lowest value, the high end's at its highest) and kept within the exact min and max.
 * Far in the tail with few values (n q (1 - q) below about 5) the approximation is rough;
 * openHigh then usually says so.
 */
export function percentileInterval(op: OpHistogram, q: number, z = Z95): PercentileInterval {
  const n = op.count;
  if (n === 0) return { lowNs: 0, highNs: 0, openHigh: true };
  const half = z * Math.sqrt(n * q * (1 - q));
  const lowRank = Math.floor(n * q - half);
  const highRank = Math.ceil(n * q + half);
  const low = valueRangeAtRank(op.histogram, lowRank).lowNs;
  const high = valueRangeAtRank(op.histogram, highRank).highNs;
  return { lowNs: Math.max(op.minNs, low), highNs: Math.min(op.maxNs, high), openHigh: highRank > n };
}

export interface MannWhitney {
  nA: number;
  nB: number;
  /** U of the first sample: pairs (a, b) with a > b, plus half the tied pairs. */
  uA: number;
  /** nA nB - uA. */
  uB: number;
  /** uB / (nA nB): the probability that a value of b exceeds one of a, ties counted half (0.5: no shift). */
  probBGreater: number;
  z: number;
  /** Two-sided p-value. */
  p: number;
}

/**
 * The Mann-Whitney U test of two histograms of the same shape, by a merge walk over their
 * bins: U is counted directly (each a-value beats the b-values in lower bins and ties half
 * of its own bin's), which stays exact where rank sums of millions of values would not.
 * Normal approximation with the tie correction and a continuity correction of 1/2, as
 * scipy.stats.mannwhitneyu(method='asymptotic') computes it; with thousands of values per
 * side, as runs have, the approximation is close.
 */
export function mannWhitneyU(a: JsHistogram, b: JsHistogram): MannWhitney {
  if (a.countsArrayLength !== b.countsArrayLength || a.unitMagnitude !== b.unitMagnitude || a.subBucketCount !== b.subBucketCount) {
    throw new RangeError('Mann-Whitney U: histograms of different shapes cannot be compared bin by bin');
  }
  const nA = a.totalCount;
  const nB = b.totalCount;
  const n = nA + nB;
  let uA = 0;
  let bBelow = 0;
  let tieTerm = 0; // sum of t^3 - t over tie groups
  const last = Math.max(a.countsArrayIndex(a.maxValue), b.countsArrayIndex(b.maxValue));
  for (let i = 0; i <= Math.min(last, a.countsArrayLength - 1); i++) {
    const ca = a.getCountAtIndex(i);
    const cb = b.getCountAtIndex(i);
    if (ca === 0 && cb === 0) continue;
    uA += ca * (bBelow + cb / 2);
    bBelow += cb;
    const t = ca + cb;
    tieTerm += t * t * t - t;
  }
  const uB = nA * nB - uA;
  const mean = (nA * nB) / 2;
  const variance = n > 1 ? ((nA * nB) / 12) * (n + 1 - tieTerm / (n * (n - 1))) : 0;
  let zStat = 0;
  let p = 1;
  if (variance > 0) {
    zStat = Math.max(0, Math.abs(uA - mean) - 0.5) / Math.sqrt(variance);
    p = Math.min(1, erfc(zStat / Math.SQRT2));
    if (uA < mean) zStat = -zStat;
  }
  return { nA, nB, uA, uB, probBGreater: nA * nB > 0 ? uB / (nA * nB) : 0.5, z: zStat, p };
}

/**
 * The complementary error function (Numerical Recipes' erfcc, Chebyshev fit): relative
 * error below 1.2e-7 everywhere, so even p-values of 1e-30 keep their leading digits.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly =
    -1.26551223 +
    t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const r = t * Math.exp(-z * z + poly);
  return x >= 0 ? r : 2 - r;
}
