// Attribution bars: for each operation kind a run attributed (--attribute), a stacked bar per
// configuration of each kernel step's share of the mean latency and of the p99 tail.

import { OP_KINDS } from '../measure/histogram.js';
import { reportedKinds } from '../measure/reported_kinds.js';
import { STEP_NAMES } from '../measure/steps.js';
import type { LabelledRun } from './latency.js';
import type { AttributionChart } from './model.js';

export function attributionCharts(runs: readonly LabelledRun[]): AttributionChart[] {
  const charts: AttributionChart[] = [];
  for (const kind of OP_KINDS) {
    const bars: AttributionChart['bars'] = [];
    for (const { prefix, results } of runs) {
      for (const c of results.configs) {
        const a = c.attribution?.[kind];
        const stats = c.ops[kind];
        // `fault` repeats the one fault kind where it holds them all, as in the tables.
        if (a === undefined || a.count === 0 || stats === undefined || !reportedKinds(c.ops).includes(kind)) continue;
        const config = prefix + c.name;
        bars.push({ config, figure: 'mean', shares: STEP_NAMES.map((s) => a.meanShare[s] ?? 0), latencyNs: stats.meanNs });
        bars.push({ config, figure: 'p99', shares: STEP_NAMES.map((s) => a.p99Share[s] ?? 0), latencyNs: stats.p99Ns });
      }
    }
    if (bars.length > 0) charts.push({ id: `attr-${kind.replace(/[^a-z0-9]/g, '-')}`, title: `${kind}: where the time went`, steps: [...STEP_NAMES], bars });
  }
  return charts;
}
