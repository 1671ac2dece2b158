// Per operation kind figures, as results.json holds them (issue 7's `ops.<kind>`).
//
// count, minNs, maxNs and meanNs are exact (the recorders keep the exact count, sum, min
// and max; meanNs is sum / count, unrounded). Percentiles come from the HDR histogram
// (getValueAtPercentile: the highest value equivalent to the percentile's, within 0.1 %)
// and are clamped into [minNs, maxNs], where the true percentile lies, so that
// min <= p50 <= p90 <= p99 <= p99.9 <= max always holds. Buckets are the seed's log2
// microsecond buckets, exact (see buckets.ts), non-empty only, lowest first. A kind with no
// values has count 0, every figure 0 and no buckets.

import { log2UsBuckets, type Log2Bucket } from './buckets.js';
import { OP_KINDS, type MergedOps, type OpHistogram, type OpKind } from './histogram.js';

export interface OpStats {
  count: number;
  minNs: number;
  meanNs: number;
  maxNs: number;
  p50Ns: number;
  p90Ns: number;
  p99Ns: number;
  p999Ns: number;
  buckets: Log2Bucket[];
}

export function emptyOpStats(): OpStats {
  return { count: 0, minNs: 0, meanNs: 0, maxNs: 0, p50Ns: 0, p90Ns: 0, p99Ns: 0, p999Ns: 0, buckets: [] };
}

export function opStats(op: OpHistogram | undefined): OpStats {
  if (op === undefined || op.count === 0) return emptyOpStats();
  const h = op.histogram;
  const pct = (q: number) => Math.min(op.maxNs, Math.max(op.minNs, h.getValueAtPercentile(q)));
  return {
    count: op.count,
    minNs: op.minNs,
    meanNs: op.sumNs / op.count,
    maxNs: op.maxNs,
    p50Ns: pct(50),
    p90Ns: pct(90),
    p99Ns: pct(99),
    p999Ns: pct(99.9),
    buckets: log2UsBuckets(h),
  };
}

/** Stats of every kind with values (`fault` included when any fault was recorded), in OP_KINDS order; with includeEmpty, of every kind. */
export function opStatsByKind(ops: MergedOps, options: { includeEmpty?: boolean } = {}): Partial<Record<OpKind, OpStats>> {
  const out: Partial<Record<OpKind, OpStats>> = {};
  for (const kind of OP_KINDS) {
    const s = opStats(ops.get(kind));
    if (s.count > 0 || options.includeEmpty) out[kind] = s;
  }
  return out;
}
