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
import { fsyncWorkload, probeTaxWorkload, seriesCounts, type MachineParts, type SeriesCounts, type SeriesRunSetup } from './series_workloads.js';

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

/** What the lab runs of a probe's series: its counts, the k's and the (pause, MAP_SYNC) pairs it measured. */
export function seriesPlan(p: Probe): { counts: SeriesCounts; fsyncKs: number[]; taxPairs: { pauseMs: number; mapSync: boolean }[] } {
  const counts = seriesCounts(p);
  const fsyncKs = counts.fsync === null ? [] : p.fsync.filter((f) => f.status === 'measured' && figures(f.fsync) !== null).map((f) => f.dirtyPages);
  const taxPairs = counts.tax === null ? [] : p.orderingTax.filter((t) => t.status === 'measured' && figures(t.fault) !== null).map(({ pauseMs, mapSync }) => ({ pauseMs, mapSync }));
  return { counts, fsyncKs, taxPairs };
}

/** The most runs of the fsync series while its pacing settles, and how close is settled. */
export const FSYNC_PASSES = 8;
export const PERIOD_TOLERANCE = 0.01;

/** The fsync series as the lab runs it, paced: its runs, the period, the passes it took and whether the period settled. */
export interface FsyncSeriesRun {
  results: RunResults[];
  periodNs: number;
  passes: number;
  settled: boolean;
}

/**
 * The fsync series with each k's rounds paced as far apart as one round of every k takes in
 * the lab (its k stores and its fsync, means over the runs), the probe's interleaving in time
 * (series_workloads.ts says why it matters): run back to back first, then again at the period
 * the last run gave until it moves by at most PERIOD_TOLERANCE. The figures are the last run's.
 */
export async function runFsyncSeries(c: NonNullable<SeriesCounts['fsync']>, ks: readonly number[], setup: SeriesRunSetup, runs: number): Promise<FsyncSeriesRun> {
  let periodNs = 0;
  for (let pass = 1; ; pass++) {
    const results = await runSeriesWorkloads([fsyncWorkload(c, setup, ks, periodNs)], runs);
    const next = ks.reduce((sum, k) => {
      const name = fsyncConfigName(k);
      return sum + (labFigures(results, name, 'fsync')?.meanNs ?? 0) + k * (labFigures(results, name, 'store')?.meanNs ?? 0);
    }, 0);
    const settled = periodNs > 0 && Math.abs(next - periodNs) <= PERIOD_TOLERANCE * periodNs;
    if (settled || pass === FSYNC_PASSES || !(next > 0)) return { results, periodNs, passes: pass, settled };
    periodNs = next;
  }
}

/** The series rows with the lab's figures: the probe's measured rows run with `profile` (a profile file's JSON). */
export async function measureSeries(profile: object, p: Probe, o: SeriesRunOptions): Promise<{ counts: SeriesCounts; rows: SeriesRow[]; results: RunResults[]; fsync: FsyncSeriesRun | null }> {
  return withProfileFile(profile, async (file) => {
    const { counts, fsyncKs, taxPairs } = seriesPlan(p);
    const setup = { machine: o.machine ?? calibrationMachine(), profile: file, repeats: o.repeats };
    const fsync = counts.fsync !== null && fsyncKs.length > 0 ? await runFsyncSeries(counts.fsync, fsyncKs, setup, o.runs) : null;
    const tax = counts.tax !== null && taxPairs.length > 0 ? await runSeriesWorkloads([probeTaxWorkload(counts.tax, setup, taxPairs)], o.runs) : [];
    const results = [...(fsync?.results ?? []), ...tax];
    const rows = seriesTargets(p).map((t) => (t.unsupported === undefined ? { ...t, lab: labFigures(results, t.name, TIMED[t.series]) } : t));
    return { counts, rows, results, fsync };
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
