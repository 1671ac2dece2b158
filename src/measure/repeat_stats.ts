// Statistics over a run's repeats, for `daxlab compare`. As in benchstat, the samples are the
// repeats (one figure each), not the operations: thousands of faults of one run are not
// thousands of independent trials of the code, and a test over them calls a 1 % shift between
// two runs of the same code "p = 1e-56". A handful of repeats a side is the usual case, so
// everything here is exact or distribution-free at small n:
//
// - the center of a side is the median of its repeats;
// - its 95 % interval comes from the order statistics (the count of repeats below the true
//   median is Binomial(n, 1/2)), benchstat's method; it exists from 6 repeats on;
// - the test is the Mann-Whitney U test over the repeats, exact (its null distribution counted
//   over every split of the pooled repeats, ties at their midranks) up to EXACT_MAX_N repeats in
//   all, then the normal approximation with tie and continuity corrections. Rank-based, as
//   benchstat's: latencies are skewed and a repeat can hold an outlier, which a t-test would
//   let decide;
// - b/a, a ratio of two medians, has no exact interval: a percentile bootstrap of the repeats
//   gives one, seeded so the same inputs print the same interval.
//
// Hand-written rather than taken from a library: simple-statistics' wilcoxonRankSum returns
// the rank sum alone (no null distribution, no p-value), its permutationTest compares means;
// @stdlib has no two-sample rank test; jstat has none either; mann-whitney-utest is
// asymptotic only, which is wrong at five repeats a side.

import { seededRng } from '../util/rng.js';

/** Confidence of every interval compare prints. */
export const CONFIDENCE = 0.95;
/** Up to this many repeats in all, U's null distribution is counted exactly. */
export const EXACT_MAX_N = 40;
/** Resamples of the bootstrap of b/a. */
export const BOOTSTRAP_RESAMPLES = 2000;

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = Float64Array.from(xs).sort();
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** P(X <= k) for X ~ Binomial(n, 1/2). */
function binomHalfCdf(n: number, k: number): number {
  let term = 2 ** -n; // C(n, 0) / 2^n
  let sum = 0;
  for (let i = 0; i <= k; i++) {
    sum += term;
    term *= (n - i) / (i + 1);
  }
  return sum;
}

export interface Interval {
  low: number;
  high: number;
}

/**
 * The distribution-free interval of the median: [x(k), x(n+1-k)] for the largest k whose
 * coverage 1 - 2 P(Binomial(n, 1/2) <= k - 1) is still at least `confidence`. Null when even
 * [min, max] does not reach it (fewer than 6 repeats at 95 %).
 */
export function medianInterval(xs: readonly number[], confidence = CONFIDENCE): Interval | null {
  const n = xs.length;
  let k = 0;
  while (k + 1 <= n - k && 1 - 2 * binomHalfCdf(n, k) >= confidence) k++;
  if (k === 0) return null;
  const s = Float64Array.from(xs).sort();
  return { low: s[k - 1], high: s[n - k] };
}

/** The smallest two-sided p the U test can give with these many repeats (no ties): 2 / C(nA + nB, nA). */
export function smallestP(nA: number, nB: number): number {
  if (nA === 0 || nB === 0) return 1;
  let c = 1;
  for (let i = 1; i <= Math.min(nA, nB); i++) c = (c * (nA + nB - Math.min(nA, nB) + i)) / i;
  return Math.min(1, 2 / c);
}

export interface RankTest {
  /** Two-sided p-value. */
  p: number;
  /** P(a repeat of b exceeds one of a), ties counted half: above 0.5, b is the slower. */
  probBGreater: number;
  exact: boolean;
}

/** The two-sided Mann-Whitney U test of two sets of repeats. */
export function mannWhitney(a: readonly number[], b: readonly number[]): RankTest {
  const nA = a.length;
  const nB = b.length;
  if (nA === 0 || nB === 0) return { p: 1, probBGreater: 0.5, exact: true };
  let uB = 0; // pairs with b > a, ties half
  for (const x of a) for (const y of b) uB += y > x ? 1 : y === x ? 0.5 : 0;
  const probBGreater = uB / (nA * nB);
  // Doubled midranks are integers: each tie group of sorted positions i..j (1-based) has
  // midrank (i + j) / 2.
  const pooled = [...a.map((v) => ({ v, inA: true })), ...b.map((v) => ({ v, inA: false }))].sort((x, y) => x.v - y.v);
  const rank2 = new Array<number>(pooled.length);
  const ties: number[] = [];
  for (let i = 0; i < pooled.length; ) {
    let j = i;
    while (j + 1 < pooled.length && pooled[j + 1].v === pooled[i].v) j++;
    for (let k = i; k <= j; k++) rank2[k] = i + 1 + (j + 1);
    ties.push(j - i + 1);
    i = j + 1;
  }
  let w2 = 0; // doubled rank sum of a
  pooled.forEach((e, i) => {
    if (e.inA) w2 += rank2[i];
  });
  const n = nA + nB;
  if (n <= EXACT_MAX_N) return { p: exactP(rank2, nA, w2), probBGreater, exact: true };
  const uA = w2 / 2 - (nA * (nA + 1)) / 2;
  const tieTerm = ties.reduce((s, t) => s + t * t * t - t, 0);
  const variance = ((nA * nB) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (variance <= 0) return { p: 1, probBGreater, exact: false };
  const z = Math.max(0, Math.abs(uA - (nA * nB) / 2) - 0.5) / Math.sqrt(variance);
  return { p: Math.min(1, erfc(z / Math.SQRT2)), probBGreater, exact: false };
}

/**
 * Exact two-sided p of a's doubled rank sum w2: every choice of nA of the pooled repeats is
 * equally likely under the null, and ways[j][s] counts the choices of j of the repeats seen so
 * far whose doubled ranks sum to s (counts as doubles: C(40, 20) is far below 2^53).
 */
function exactP(rank2: readonly number[], nA: number, w2: number): number {
  const maxSum = rank2.reduce((s, r) => s + r, 0);
  const ways = Array.from({ length: nA + 1 }, () => new Float64Array(maxSum + 1));
  ways[0][0] = 1;
  let seenSum = 0;
  rank2.forEach((r, k) => {
    seenSum += r;
    for (let j = Math.min(k + 1, nA); j >= 1; j--) {
      const from = ways[j - 1];
      const to = ways[j];
      for (let s = seenSum - r; s >= 0; s--) if (from[s] !== 0) to[s + r] += from[s];
    }
  });
  let total = 0;
  let atMost = 0;
  let atLeast = 0;
  ways[nA].forEach((c, s) => {
    total += c;
    if (s <= w2) atMost += c;
    if (s >= w2) atLeast += c;
  });
  return Math.min(1, (2 * Math.min(atMost, atLeast)) / total);
}

/**
 * A percentile bootstrap interval of median(b) / median(a): each resample draws each side's
 * repeats with replacement. Seeded (`seed`), so the same inputs give the same interval. Null
 * when a side has fewer repeats than a median interval needs (a bootstrap of fewer is narrower
 * than the truth), or a resampled median of a is 0.
 */
export function bootstrapRatioInterval(
  a: readonly number[],
  b: readonly number[],
  seed: number,
  resamples = BOOTSTRAP_RESAMPLES,
  confidence = CONFIDENCE,
): Interval | null {
  if (medianInterval(a, confidence) === null || medianInterval(b, confidence) === null) return null;
  const rng = seededRng(seed);
  const ra = new Float64Array(a.length);
  const rb = new Float64Array(b.length);
  const resampledMedian = (from: readonly number[], into: Float64Array) => {
    for (let i = 0; i < into.length; i++) into[i] = from[Math.floor(rng() * from.length)];
    into.sort();
    const m = into.length >> 1;
    return into.length % 2 === 1 ? into[m] : (into[m - 1] + into[m]) / 2;
  };
  const ratios = new Float64Array(resamples);
  for (let i = 0; i < resamples; i++) {
    const ma = resampledMedian(a, ra);
    if (ma === 0) return null;
    ratios[i] = resampledMedian(b, rb) / ma;
  }
  ratios.sort();
  const at = (q: number) => ratios[Math.min(resamples - 1, Math.max(0, Math.round(q * (resamples - 1))))];
  return { low: at((1 - confidence) / 2), high: at(1 - (1 - confidence) / 2) };
}

/** exp(mean(log x)) of the finite, positive values; NaN when there are none. */
export function geomean(xs: readonly number[]): number {
  const ok = xs.filter((x) => Number.isFinite(x) && x > 0);
  return ok.length === 0 ? NaN : Math.exp(ok.reduce((s, x) => s + Math.log(x), 0) / ok.length);
}

/** A 31-bit seed from a text (FNV-1a): a figure's bootstrap depends on its name, not on the rows before it. */
export function seedOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 1;
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
