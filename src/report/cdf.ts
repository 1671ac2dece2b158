// A latency distribution's CDF as points for a plot, from the merged HDR histogram: one point
// per recorded value (its highest equivalent value, so every operation counted at or below it
// is), thinned so that a run of a million distinct values still draws a few hundred points.
// Thinning keeps the tail: a point is kept when the fraction rose by a step of the body or
// the part above it shrank by a factor, so p99.9 and beyond stay as sharp as the body.

import type { JsHistogram } from 'hdr-histogram-js';

export interface CdfPoint {
  /** Latency, ns. */
  ns: number;
  /** Fraction of the operations at or below ns, 0 to 1. */
  fraction: number;
}

/** Smallest rise of the fraction that earns a point in the body (0.5 %): at most 200 there. */
const BODY_STEP = 0.005;
/** Shrink of the part above that earns a point in the tail: about 10 points per factor of 10. */
const TAIL_FACTOR = 1.25;

/** The CDF of h; maxNs (the exact maximum) caps the last point, which the histogram rounds up. */
export function cdfPoints(h: JsHistogram, maxNs: number): CdfPoint[] {
  const total = h.totalCount;
  if (total === 0) return [];
  const all: CdfPoint[] = [];
  const last = Math.min(h.countsArrayLength - 1, h.countsArrayIndex(h.maxValue));
  let seen = 0;
  for (let i = 0; i <= last; i++) {
    const n = h.getCountAtIndex(i);
    if (n === 0) continue;
    seen += n;
    all.push({ ns: Math.min(h.highestEquivalentValue(h.valueFromIndex(i)), maxNs), fraction: seen / total });
  }
  return thin(all);
}

/** Keeps the first and last point and those that move the body or the tail enough (see above). */
export function thin(points: readonly CdfPoint[]): CdfPoint[] {
  if (points.length <= 2) return [...points];
  const kept: CdfPoint[] = [points[0]];
  for (let i = 1; i < points.length - 1; i++) {
    const prev = kept[kept.length - 1];
    const p = points[i];
    const rose = p.fraction - prev.fraction >= BODY_STEP;
    const tailShrank = (1 - prev.fraction) / (1 - p.fraction) >= TAIL_FACTOR;
    if (rose || tailShrank) kept.push(p);
  }
  kept.push(points[points.length - 1]);
  return kept;
}

/** Points per factor of 10 on a snapped latency axis: steps of 2.3 %. */
const PER_DECADE = 100;

/**
 * Snaps the latencies to a log grid, keeping the highest fraction at each: overlaid series
 * then share their x values, so 144 configurations align on a thousand x values at most,
 * not on every distinct value of each (which the plot would join into millions of cells).
 */
export function snapToLogGrid(points: readonly CdfPoint[]): CdfPoint[] {
  const out: CdfPoint[] = [];
  for (const p of points) {
    const ns = p.ns <= 0 ? p.ns : Number((10 ** (Math.round(Math.log10(p.ns) * PER_DECADE) / PER_DECADE)).toPrecision(6));
    const last = out[out.length - 1];
    if (last !== undefined && last.ns === ns) last.fraction = Math.max(last.fraction, p.fraction);
    else out.push({ ns, fraction: p.fraction });
  }
  return out;
}
