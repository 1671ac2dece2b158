// The mean of the fastest `keep` fraction of a histogram's values: the average a host stall
// cannot move. On the 2-core development VM roughly one fault in a few hundred is stretched
// by milliseconds that the host, not the model, spends (the same faults take 2-4 µs in the
// next repeat); one such stall moves a 512-fault mean by 8 µs. Dropping the slowest 1 % of
// the seed's own 512 faults would move its averages by under 0.3 µs.

import type { JsHistogram } from 'hdr-histogram-js';

export function trimmedMeanNs(h: JsHistogram, keep = 0.99): number {
  const total = h.totalCount;
  if (total === 0) return 0;
  let left = Math.max(1, Math.floor(total * keep));
  let sum = 0;
  const n = left;
  const last = Math.min(h.countsArrayLength - 1, h.countsArrayIndex(h.maxValue));
  for (let i = 0; i <= last && left > 0; i++) {
    const c = h.getCountAtIndex(i);
    if (c === 0) continue;
    const take = Math.min(c, left);
    sum += take * h.medianEquivalentValue(h.valueFromIndex(i));
    left -= take;
  }
  return sum / n;
}
