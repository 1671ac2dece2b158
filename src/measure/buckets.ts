// The seed's log2 microsecond buckets ("8 - 15 us: 508").
//
// A latency counts as whole microseconds, truncated (floor(ns / 1000)): the seed prints
// integer microseconds and buckets them so. Bucket k >= 0 holds [2^k, 2^(k+1) - 1] µs, so
// "1 - 1", "2 - 3", "4 - 7", "8 - 15", ...; latencies under 1 µs (0 whole µs) go to a bucket of
// their own printed "0 - 0 us" (lowUs = highUs = 0), the seed's rule carried down to zero
// (its table has no sub-microsecond faults, so it never shows one).
//
// Exact from an HDR histogram: the bucket edges 1000 * 2^k ns are multiples of the
// histogram's value unit at their magnitude (at 3 significant digits the unit is 2^(k-1) ns
// there, at 2 digits 2^(k+2); 1000 * 2^k = 125 * 2^(k+3)), so every range of values the
// histogram counts as equivalent lies inside one bucket, and summing the counts of the
// recorded values gives each bucket's count with no estimate.

import type { JsHistogram } from 'hdr-histogram-js';

export interface Log2Bucket {
  /** Lowest whole microsecond of the bucket (0, 1, 2, 4, 8, ...). */
  lowUs: number;
  /** Highest whole microsecond of the bucket (0, 1, 3, 7, 15, ...). */
  highUs: number;
  count: number;
}

/** Whole microseconds of a latency, as the seed prints them. */
export function wholeUs(ns: number): number {
  return Math.floor(ns / 1000);
}

/** The low edge (µs) of the bucket holding a latency: 0 under 1 µs, else the largest power of two <= floor(ns / 1000). */
export function bucketLowUs(ns: number): number {
  const us = wholeUs(ns);
  if (us < 1) return 0;
  if (us < 4294967296) return 2 ** (31 - Math.clz32(us));
  return 2 ** Math.floor(Math.log2(us));
}

/** The high edge (µs) of the bucket whose low edge is lowUs. */
export function bucketHighUs(lowUs: number): number {
  return lowUs === 0 ? 0 : 2 * lowUs - 1;
}

/**
 * Non-empty buckets of an HDR histogram of nanoseconds, lowest first, counted exactly from
 * its recorded values. Walks the counts array by index (getCountAtIndex, valueFromIndex)
 * rather than with the library's RecordedValuesIterator, which computes a value for every
 * index, recorded or not: ten times slower on a histogram reaching an hour.
 */
export function log2UsBuckets(h: JsHistogram): Log2Bucket[] {
  const out: Log2Bucket[] = [];
  if (h.totalCount === 0) return out;
  const last = Math.min(h.countsArrayLength - 1, h.countsArrayIndex(h.maxValue));
  let cur: Log2Bucket | undefined;
  for (let i = 0; i <= last; i++) {
    const n = h.getCountAtIndex(i);
    if (n === 0) continue;
    const low = bucketLowUs(h.valueFromIndex(i)); // the lowest value the index counts
    if (cur === undefined || cur.lowUs !== low) {
      cur = { lowUs: low, highUs: bucketHighUs(low), count: 0 };
      out.push(cur);
    }
    cur.count += n;
  }
  return out;
}

/** The buckets of plain samples (ns): the reference the histogram path must equal. */
export function log2UsBucketsOfSamples(samplesNs: Iterable<number>): Log2Bucket[] {
  const counts = new Map<number, number>();
  for (const ns of samplesNs) {
    const low = bucketLowUs(Math.max(0, Math.floor(ns)));
    counts.set(low, (counts.get(low) ?? 0) + 1);
  }
  return [...counts]
    .sort((a, b) => a[0] - b[0])
    .map(([lowUs, count]) => ({ lowUs, highUs: bucketHighUs(lowUs), count }));
}
