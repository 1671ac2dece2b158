// A probe series' figures from its timed values, one array per repeat, in the lab's own
// shape: the same HDR histogram (1 ns .. 1 h, 3 digits), the same exact count, mean, min and
// max beside it, the same clamped percentiles and log2 buckets (op_stats.ts), so a probe's
// figures and a run's are computed alike and merge and compare alike.

import { HIGHEST_NS, OpHistogram } from '../measure/histogram.js';
import { opStats, type OpStats } from '../measure/op_stats.js';
import type { ProbeStats } from './schema.js';

function histogramOf(values: Iterable<number>): OpHistogram {
  const op = new OpHistogram();
  for (const raw of values) {
    const v = Math.min(HIGHEST_NS, Math.max(0, Math.floor(raw)));
    if (v !== raw) op.outOfRange++;
    op.histogram.recordValue(v);
    op.count++;
    op.sumNs += v;
    if (v < op.minNs) op.minNs = v;
    if (v > op.maxNs) op.maxNs = v;
  }
  return op;
}

/** The figures of a series from its repeats' values (ns); repeats without values are left out of repeatMeansNs. */
export function statsOf(repeats: readonly (readonly number[])[]): ProbeStats {
  const kept = repeats.filter((r) => r.length > 0);
  if (kept.length === 0) throw new RangeError('a measured series has no values');
  return seriesStats(histogramOf(kept.flat()), kept.map((r) => opStats(histogramOf(r))));
}

/** What a series keeps of each repeat. */
export type RepeatFigures = Pick<OpStats, 'count' | 'meanNs' | 'p50Ns' | 'p99Ns' | 'p999Ns' | 'maxNs'>;

/**
 * A series' figures from the histogram of all its values and each repeat's figures: shared by
 * the probe (from a kernel's timed values) and synth_probe (from a lab run's histograms).
 */
export function seriesStats(all: OpHistogram, repeats: readonly RepeatFigures[]): ProbeStats {
  const s = opStats(all);
  const perRepeat = repeats.map((x) => ({ count: x.count, meanNs: x.meanNs, p50Ns: x.p50Ns, p99Ns: x.p99Ns, p999Ns: x.p999Ns, maxNs: x.maxNs }));
  return {
    count: s.count,
    meanNs: s.meanNs,
    p50Ns: s.p50Ns,
    p99Ns: s.p99Ns,
    minNs: s.minNs,
    maxNs: s.maxNs,
    repeatMeansNs: perRepeat.map((r) => r.meanNs),
    buckets: s.buckets.map((b) => ({ lowUs: b.lowUs, highUs: b.highUs, count: b.count })),
    hdr: all.encode().histogram,
    perRepeat,
  };
}
