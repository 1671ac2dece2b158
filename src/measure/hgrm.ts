// .hgrm percentile distribution files, as HdrHistogram writes them
// (outputPercentileDistribution: the "Value Percentile TotalCount 1/(1-Percentile)" table
// with percentile ticks halving the remaining distance, then the #[Mean], #[Max] and
// #[Buckets] footer), values scaled from the recorded nanoseconds to microseconds. The
// HdrHistogram plotter (hdrhistogram.github.io/HdrHistogram/plotFiles.html) reads them.
//
// The footer's Mean and Max are the histogram's own (to its resolution), as in any .hgrm
// file; the exact figures are in results.json.

import type { JsHistogram } from 'hdr-histogram-js';
import { OpHistogram } from './histogram.js';

export interface HgrmOptions {
  /** Reporting points per halving of the remaining distance to 100 % (HdrHistogram's default, 5). */
  ticksPerHalfDistance?: number;
  /** Recorded units (ns) per printed unit: 1000 prints microseconds (the default). */
  outputValueUnitScalingRatio?: number;
}

export function formatHgrm(h: OpHistogram | JsHistogram, options: HgrmOptions = {}): string {
  const histogram = h instanceof OpHistogram ? h.histogram : h;
  return histogram.outputPercentileDistribution(options.ticksPerHalfDistance ?? 5, options.outputValueUnitScalingRatio ?? 1000);
}
