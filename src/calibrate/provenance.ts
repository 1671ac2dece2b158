// A fit's result written into its profile: each fitted value keeps kind "fitted", names the
// rows it was fitted to, and says in its source where the rows came from (seed 002's table,
// or a probe: its file, createdAt and kernel), what the lab gave at the last iteration, and
// which kernel step the value is the cost of.

import { COST_MEANINGS, type CostName } from '../cost/costs.js';
import type { FitResult, ProfileJson } from './fit.js';

/** Where the target rows came from, as a source names it: `seed 002's table` or `probe my.json (createdAt ..., kernel ...)`. */
export type Origin = string;

const us = (ns: number) => `${(ns / 1000).toFixed(1)} us`;

/** The profile of a fit with every fitted value's kind, rows and source set; `rowName` maps a lab row to the origin's name for it. */
export function markFitted(r: FitResult, origin: Origin, tool: string, when: string, rowName: (row: string) => string = (x) => x): ProfileJson {
  const p = structuredClone(r.profile);
  for (const f of r.fitted) {
    const c = p.costs[f.param];
    c.kind = 'fitted';
    c.rows = [rowName(f.row)];
    c.source =
      `fitted to row ${rowName(f.row)} of ${origin} (target mean ${us(f.targetNs)}, lab ${us(f.labNs)} at the last iteration) by ${tool} on ${when}: ` +
      COST_MEANINGS[f.param as CostName];
  }
  if (r.idleMedian !== undefined) {
    const m = r.idleMedian;
    const median = p.idleWakeup.medianNs as { ns: number; kind: string; source: string; rows?: string[] };
    median.kind = 'fitted';
    median.rows = [rowName(m.row)];
    median.source =
      `fitted to row ${rowName(m.row)} of ${origin}, its share of faults up to ${m.upToUs}-${2 * m.upToUs - 1} us ` +
      `(target ${(100 * m.targetShare).toFixed(1)} %, lab ${(100 * m.labShare).toFixed(1)} % at the last iteration), with commitNs on its mean and sigma as the profile gives it, by ${tool} on ${when}: ` +
      "a MAP_SYNC fault that waits for a commit pays two idle wake-ups (kjournald2's and its own), so that row's spread is theirs";
  }
  return p;
}
