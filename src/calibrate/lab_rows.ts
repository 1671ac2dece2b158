// The lab's side of a calibration: kara-2017's configurations run on the virtual clock with
// a given profile, and each one's faults summed up as a target row is (mean, log2 buckets).
//
// A row's mean is the plain mean of every fault of every repeat of every run: on the virtual
// clock no host stall reaches a figure. Runs differ only in their seed, which moves the idle
// wake-up draws (src/cost/idle_wakeup.ts).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Log2Bucket } from '../measure/buckets.js';
import { MergedOps } from '../measure/histogram.js';
import { opStats } from '../measure/op_stats.js';
import type { RunResults } from '../measure/results.js';
import { trimmedMeanNs } from '../measure/trimmed_mean.js';
import { runWorkload } from '../lab/run.js';
import { expandWorkload, readWorkload, type ExpandedWorkload } from '../workload/expand.js';

/** The workload whose configurations the rows name. */
export const CALIBRATION_WORKLOAD = 'kara-2017';

export interface LabRow {
  name: string;
  meanNs: number;
  /** The mean of the fastest 99 % (beside the plain mean; the wall clock needed it). */
  trimmedNs: number;
  buckets: Log2Bucket[];
  count: number;
  minNs: number;
  maxNs: number;
  /** The median over runs of the journal blocks per commit. */
  blocksPerCommit: number;
  repeatMeansNs: number[];
}

export interface LabRunOptions {
  /** The configurations to run; all of the workload's when null. */
  configs: readonly string[] | null;
  /** Runs, seeds 1..runs. */
  runs: number;
  /** Measured repeats per run (the workload's warm-up repeats come first). */
  repeats: number;
  /** Faults per repeat (cpus[0].pages); the workload's 512 when absent. */
  pages?: number;
  /** Discarded repeats before the measured ones; the workload's when absent. */
  warmupRepeats?: number;
  /**
   * Every CPU on a core of its own, not where kara-2017 places them (the copy on the faulter's
   * SMT sibling, as seed 002's table implies): a probe's machine with a free core gives the
   * copy one, as the scheduler's select_idle_core does.
   */
  ownCores?: boolean;
  /** Called after each run (progress for long fits). */
  onRun?: (done: number, of: number) => void;
}

/** The workload's configuration names, in its order. */
export function calibrationConfigNames(): string[] {
  return expandWorkload(readWorkload(CALIBRATION_WORKLOAD).raw).configs.map((c) => c.name);
}

function expanded(profile: string, o: LabRunOptions): ExpandedWorkload {
  const { raw, source } = readWorkload(CALIBRATION_WORKLOAD);
  const sets = [
    { path: 'profile', value: profile },
    { path: 'run.repeats', value: o.repeats },
    ...(o.pages === undefined ? [] : [{ path: 'cpus[0].pages', value: o.pages }]),
    ...(o.warmupRepeats === undefined ? [] : [{ path: 'run.warmupRepeats', value: o.warmupRepeats }]),
    ...(o.ownCores ? OWN_CORES : []),
  ];
  const x = expandWorkload(raw, sets, source);
  if (o.configs !== null) x.configs = x.configs.filter((c) => o.configs!.includes(c.name));
  return x;
}

/** kara-2017's CPUs (the faulter, the copy and kjournald2) on three cores. */
const OWN_CORES = [
  { path: 'cpus[0].core', value: 0 },
  { path: 'cpus[1].core', value: 1 },
  { path: 'commitThread.core', value: 2 },
];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Runs the configurations with `profile` (a shipped name or a profile file's path) and sums each one up. */
export async function measureLab(profile: string, o: LabRunOptions): Promise<{ rows: LabRow[]; results: RunResults[] }> {
  const results: RunResults[] = [];
  for (let i = 0; i < o.runs; i++) {
    results.push(await runWorkload(expanded(profile, o), { version: 'calibrate', seed: 1 + i }));
    o.onRun?.(i + 1, o.runs);
  }
  return { rows: labRows(results), results };
}

/** measureLab() with a profile not on disk (a candidate of a fit): written to a private temporary file for the run. */
export async function measureLabProfile(profile: object, o: LabRunOptions): Promise<{ rows: LabRow[]; results: RunResults[] }> {
  return withProfileFile(profile, (file) => measureLab(file, o));
}

/** Runs `use` with the profile written to a private temporary file (workloads name profiles by path), removed after. */
export async function withProfileFile<T>(profile: object, use: (file: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'daxlab-calibrate-'));
  try {
    const file = join(dir, 'profile.json');
    writeFileSync(file, `${JSON.stringify(profile, null, 2)}\n`);
    return await use(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The rows of finished runs of the calibration workload (each configuration's faults merged over the runs). */
export function labRows(results: readonly RunResults[]): LabRow[] {
  const names = [...new Set(results.flatMap((r) => r.configs.map((c) => c.name)))];
  const rows: LabRow[] = [];
  for (const name of names) {
    const cs = results.map((r) => r.configs.find((c) => c.name === name)).filter((c) => c !== undefined);
    const fault = MergedOps.merge(cs.map((c) => c.encoded)).get('fault');
    if (fault === undefined || fault.count === 0) continue;
    const s = opStats(fault);
    rows.push({
      name,
      meanNs: fault.sumNs / fault.count,
      trimmedNs: trimmedMeanNs(fault.histogram),
      buckets: s.buckets,
      count: fault.count,
      minNs: s.minNs,
      maxNs: s.maxNs,
      blocksPerCommit: median(cs.map((c) => c.counters.blocksPerCommit ?? 0)),
      repeatMeansNs: cs.flatMap((c) => c.perRepeat.map((p) => p.ops.fault?.meanNs ?? 0)),
    });
  }
  return rows;
}
