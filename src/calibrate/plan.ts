// Which of a probe's rows a calibration fits, checked before anything runs: rows the user
// names with --fit (the probe's names), or by default one row per constant of DEFAULT_FIT
// that the probe measured. At most a third of the probe's measured rows may be fitted, so
// that at least twice as many rows are predictions as were fitted.

import type { Probe } from '../probe/schema.js';
import { labConfigName } from '../probe/lab_names.js';
import { DEFAULT_FIT, FITTABLE, FIT_PARAMS, orderFitRows, paramOf, type FitParam } from './fit.js';

export interface FitPlan {
  /** The probe rows fitted, by the probe's names, and the lab configurations they map to. */
  fit: { probeRow: string; labRow: string; param: FitParam }[];
  /** The most rows that may be fitted: a third of the measured rows. */
  limit: number;
  measured: number;
  /** Constants left at the base profile's value, and why (said in the output). */
  notFitted: { param: FitParam; why: string }[];
}

/** The fit limit of a probe with `measured` measured rows. */
export function fitLimit(measured: number): number {
  return Math.floor(measured / 3);
}

export function planFit(p: Probe, fit: readonly string[] | undefined, labConfigs: readonly string[]): FitPlan {
  const measured = p.rows.filter((r) => r.status === 'measured').length;
  const limit = fitLimit(measured);
  const byName = new Map(p.rows.map((r) => [r.name, r]));
  const plan: FitPlan = { fit: [], limit, measured, notFitted: [] };
  if (fit !== undefined) {
    if (fit.length > limit) {
      throw new RangeError(`--fit: at most ${limit} rows (a third of the probe's ${measured} measured rows), got ${fit.length} (${fit.join(', ')})`);
    }
    for (const name of fit) {
      const r = byName.get(name);
      if (r === undefined) throw new RangeError(`--fit: unknown row ${JSON.stringify(name)} (the probe's rows: ${p.rows.map((x) => x.name).join(', ')})`);
      if (r.status !== 'measured') throw new RangeError(`--fit: row ${name} was not measured by the probe (${r.reason ?? 'unsupported'})`);
      const labRow = labConfigName(r);
      if (!labConfigs.includes(labRow)) throw new RangeError(`--fit: row ${name} has no kara-2017 configuration to fit it with (the lab runs ${labConfigs.join(', ')})`);
      const param = paramOf(labRow);
      if (param === undefined) {
        throw new RangeError(`--fit: row ${name} fits no constant (fittable: ${FIT_PARAMS.map((q) => `${q} from ${FITTABLE[q].map((x) => probeNameOf(p, x) ?? x).join(' or ')}`).join('; ')})`);
      }
      plan.fit.push({ probeRow: name, labRow, param });
    }
    try {
      orderFitRows(plan.fit.map((x) => x.labRow));
    } catch (e) {
      throw new RangeError(`--fit: ${(e as Error).message}`);
    }
  } else {
    for (const labRow of DEFAULT_FIT) {
      const param = paramOf(labRow)!;
      const r = p.rows.find((x) => labConfigName(x) === labRow);
      if (r === undefined || r.status !== 'measured') {
        plan.notFitted.push({ param, why: `the probe did not measure ${r?.name ?? labRow}${r?.reason ? ` (${r.reason})` : ''}` });
      } else if (plan.fit.length >= limit) {
        plan.notFitted.push({ param, why: `the probe measured ${measured} rows, so at most ${limit} may be fitted` });
      } else plan.fit.push({ probeRow: r.name, labRow, param });
    }
  }
  for (const param of FIT_PARAMS) {
    if (!plan.fit.some((x) => x.param === param) && !plan.notFitted.some((x) => x.param === param)) plan.notFitted.push({ param, why: 'not asked for (--fit)' });
  }
  return plan;
}

/** The probe's name for a lab configuration, when the probe has that row. */
function probeNameOf(p: Probe, labRow: string): string | undefined {
  return p.rows.find((r) => labConfigName(r) === labRow)?.name;
}
