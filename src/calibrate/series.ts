// A probe's fsync and ordering-tax series beside the lab's: predictions of the fitted (or
// base) profile, never fitted to. Each probe row pairs with the lab configuration of its
// name (series_workloads.ts builds them from the probe's counts); a row the probe could not
// measure is listed with its reason and not run.

import { MergedOps, type OpKind } from '../measure/histogram.js';
import { opStats } from '../measure/op_stats.js';
import type { RunResults } from '../measure/results.js';
import { runWorkload } from '../lab/run.js';
import { fsyncConfigName, taxConfigName } from '../probe/lab_names.js';
import type { Probe, ProbeStats } from '../probe/schema.js';
import { expandWorkload, readWorkload } from '../workload/expand.js';
import { CALIBRATION_WORKLOAD, withProfileFile } from './lab_rows.js';
import { fsyncWorkload, probeTaxWorkload, seriesCounts, type MachineParts, type SeriesCounts } from './series_workloads.js';

export type SeriesKind = 'fsync' | 'tax';

/** What a series row's lab configuration times: the fsync, or the fault. */
const TIMED: Record<SeriesKind, OpKind> = { fsync: 'fsync', tax: 'fault' };

export interface SeriesFigures {
  count: number;
  meanNs: number;
  p99Ns: number;
}

export interface SeriesRow {
  series: SeriesKind;
  /** The lab configuration's name, as a probe read as a run names the row. */
  name: string;
  probe: SeriesFigures | null;
  /** Why the probe did not measure it (then it is not run). */
  unsupported?: string;
  lab: SeriesFigures | null;
}

function figures(s: ProbeStats | undefined): SeriesFigures | null {
  return s === undefined || s.count === 0 ? null : { count: s.count, meanNs: s.meanNs, p99Ns: s.p99Ns };
}

/** The probe's series rows, in its order, with no lab figures yet. */
export function seriesTargets(p: Probe): SeriesRow[] {
  const row = (series: SeriesKind, name: string, status: string, reason: string | undefined, s: ProbeStats | undefined): SeriesRow => {
    const probe = status === 'measured' ? figures(s) : null;
    return { series, name, probe, lab: null, ...(probe === null ? { unsupported: reason ?? (status === 'measured' ? 'no figures recorded' : 'unsupported') } : {}) };
  };
  return [
    ...p.fsync.map((f) => row('fsync', fsyncConfigName(f.dirtyPages), f.status, f.reason, f.fsync)),
    ...p.orderingTax.map((t) => row('tax', taxConfigName(t), t.status, t.reason, t.fault)),
  ];
}

/** kara-2017's device, filesystem and journal: the series run on the machine the fault rows ran on. */
export function calibrationMachine(): MachineParts {
  const { raw } = readWorkload(CALIBRATION_WORKLOAD);
  return { device: raw.device, fs: raw.fs, ...(raw.journal === undefined ? {} : { journal: raw.journal }) };
}

export interface SeriesRunOptions {
  /** Runs, seeds 1..runs. */
  runs: number;
  /** Measured repeats per run; each repeat does what one of the probe's repeats did. */
  repeats: number;
  machine?: MachineParts;
}

/** The workloads that run the probe's measured series rows (none for a series with no measured row). */
export function seriesWorkloads(p: Probe, profile: string, o: { repeats: number; machine: MachineParts }): { counts: SeriesCounts; workloads: Record<string, unknown>[] } {
  const counts = seriesCounts(p);
  const setup = { machine: o.machine, profile, repeats: o.repeats };
  const workloads: Record<string, unknown>[] = [];
  const fsyncRows = p.fsync.filter((f) => f.status === 'measured' && figures(f.fsync) !== null);
  if (counts.fsync !== null && fsyncRows.length > 0) workloads.push(fsyncWorkload(counts.fsync, setup, fsyncRows.map((f) => f.dirtyPages)));
  const taxRows = p.orderingTax.filter((t) => t.status === 'measured' && figures(t.fault) !== null);
  if (counts.tax !== null && taxRows.length > 0) workloads.push(probeTaxWorkload(counts.tax, setup, taxRows));
  return { counts, workloads };
}

/** The series rows with the lab's figures: the probe's measured rows run with `profile` (a profile file's JSON). */
export async function measureSeries(profile: object, p: Probe, o: SeriesRunOptions): Promise<{ counts: SeriesCounts; rows: SeriesRow[]; results: RunResults[] }> {
  return withProfileFile(profile, async (file) => {
    const { counts, workloads } = seriesWorkloads(p, file, { repeats: o.repeats, machine: o.machine ?? calibrationMachine() });
    const results = await runSeriesWorkloads(workloads, o.runs);
    const rows = seriesTargets(p).map((t) => (t.unsupported === undefined ? { ...t, lab: labFigures(results, t.name, TIMED[t.series]) } : t));
    return { counts, rows, results };
  });
}

/** Runs each workload `runs` times, seeds 1..runs. */
export async function runSeriesWorkloads(workloads: readonly Record<string, unknown>[], runs: number): Promise<RunResults[]> {
  const results: RunResults[] = [];
  for (const w of workloads) {
    const x = expandWorkload(w, [], String(w.name));
    for (let i = 0; i < runs; i++) results.push(await runWorkload(x, { version: 'calibrate', seed: 1 + i }));
  }
  return results;
}

/** A configuration's timed operation merged over every run that has it; null when none timed it. */
export function labFigures(results: readonly RunResults[], name: string, op: OpKind): SeriesFigures | null {
  const cs = results.flatMap((r) => r.configs.filter((c) => c.name === name));
  if (cs.length === 0) return null;
  const merged = MergedOps.merge(cs.map((c) => c.encoded)).get(op);
  if (merged === undefined || merged.count === 0) return null;
  return { count: merged.count, meanNs: merged.sumNs / merged.count, p99Ns: opStats(merged).p99Ns };
}
