// The lab's workloads for a probe's two other series (native/daxprobe.c), built from the
// probe's own counts, so that `daxlab calibrate` predicts them with the fitted profile:
//   fsync-<k>-pages          fsync after k dirty pages of a written, mapped file
//   tax-<pause>ms-<sync|nosync>  write faults on an empty file, paced pause ms apart, beside
//                            a CPU chmod-ing files flat out without syncing
// (the names src/probe/to_results.ts gives the series when a probe is read as a run). The
// ordering tax's setup is shared with bench/kernel_shape.ts (taxWorkload).
//
// Where the lab's roles cannot do what the probe did, the lab's way is said here and in
// seriesDifference (calibrate prints it):
//   fsync  The probe dirties the first k pages of one file of max-k pages with a one-byte
//          store each, for every k in turn, round after round, after one untimed fsync of
//          the whole file. The lab runs each k as its own configuration: a storer of whole
//          pages (a sequential storer moves on by its store's size, so one store a page is a
//          4 KiB one) through a mapping of the file's first k pages, fsyncing after every k
//          stores; its first k stores and their fsync are the warm-up (run.warmupOps), as
//          the probe's untimed first pass. The stores are not timed, on either side. The
//          probe's fsyncs of one k had the other k's between them, which matters: a store
//          moves mtime only when the 4 ms jiffy has ticked since the last (file_update_time),
//          and only then does the fsync commit the journal. So the lab paces each k's rounds
//          (the storer's rateHz) as far apart as one round of all k's takes in the lab: its
//          stores and fsyncs of every k, found by running them again at the period the last
//          run gave until it settles (series.ts, runFsyncSeries). A paced storer spreads its k
//          stores over the period where the probe's came together before the fsync; either
//          way the jiffy ticks, or not, somewhere between two fsyncs.
//   tax    The probe's dirtier is one process running through all the tax runs; the lab's
//          starts with each configuration and repeat, its files created and committed first.
//          The probe sleeps pause ms between one fault's end and the next one's start
//          (nanosleep, which overshoots by the timer slack); the lab's faulter starts a fault
//          every pause ms. Coordinated-omission correction is off: the probe times each fault
//          once, as it came.
// Both: every CPU on a core of its own (the probe's placement was the scheduler's, and it
// records none for these series), on kara-2017's machine (device, filesystem, journal), so
// that the series run where the fitted rows ran.

import { PAGE_SIZE } from '../machine/layout.js';
import { taxConfigName } from '../probe/lab_names.js';
import { PROBE_PAUSES_MS, type Probe } from '../probe/schema.js';

export const MAP_SYNC_FLAGS = ['MAP_SHARED_VALIDATE', 'MAP_SYNC'];
export const MAP_SHARED_FLAGS = ['MAP_SHARED'];

/** What calibrate prints of how the lab's runs differ from the probe's (the header says more), a few lines; periodNs, fsync's pacing. */
export function seriesDifference(kind: 'fsync' | 'tax', periodNs = NaN): string[] {
  if (kind === 'tax') {
    return ["the lab's dirtier starts with each configuration (the probe's ran through all of them), and its", 'faults start pause ms apart (the probe sleeps pause ms after each)'];
  }
  const period = Number.isFinite(periodNs) ? ` (${(periodNs / 1e6).toFixed(2)} ms)` : '';
  return [
    "each k on its own, its rounds as far apart as a round of every k's stores and fsyncs takes in the",
    `lab${period}: the probe's interleaving in time, not in one file; 4 KiB stores (the probe's: a byte`,
    'a page), untimed on both sides',
  ];
}

/** A workload's machine: the device, filesystem and journal the series run on (kara-2017's). */
export interface MachineParts {
  device: unknown;
  fs: unknown;
  journal?: unknown;
  commitThread?: unknown;
}

export interface TaxSetup {
  name: string;
  description: string;
  machine: MachineParts;
  profile: string;
  repeats: number;
  /** Faults per repeat (the faulter's pages). */
  faults: number;
  /** The empty file's size; its pages by default. */
  fileBytes?: number;
  dirtierFiles: number;
  /** chmods per second; 0: flat out. */
  dirtierRateHz: number;
  coordinatedOmission?: boolean;
}

/** Write faults into an empty file beside a metadata dirtier; MAP_SYNC until a configuration says otherwise. */
export function taxWorkload(s: TaxSetup): Record<string, unknown> {
  return {
    name: s.name,
    description: s.description,
    ...machineOf(s.machine),
    files: [{ name: 'data', size: s.fileBytes ?? s.faults * PAGE_SIZE, state: 'empty' }],
    // MADV_NOHUGEPAGE: every page its own 4 KiB fault, as the probe's and KERNEL-REF's programs asked.
    mappings: [{ name: 'map', file: 'data', flags: MAP_SYNC_FLAGS, madvise: 'MADV_NOHUGEPAGE' }],
    cpus: [
      { role: 'faulter', mapping: 'map', access: 'write', pages: s.faults, intervalUs: 0 },
      { role: 'metadata-dirtier', files: s.dirtierFiles, rateHz: s.dirtierRateHz },
    ],
    profile: s.profile,
    run: { repeats: s.repeats, warmupRepeats: 0, seed: 1, ...(s.coordinatedOmission === false ? { coordinatedOmission: false } : {}) },
  };
}

function machineOf(m: MachineParts): Record<string, unknown> {
  return {
    device: m.device,
    fs: m.fs,
    ...(m.journal === undefined ? {} : { journal: m.journal }),
    ...(m.commitThread === undefined ? {} : { commitThread: m.commitThread }),
  };
}

/** The probe's counts the lab mirrors, and where each came from (said in calibrate's output). */
export interface SeriesCounts {
  fsync: { dirtyPages: number[]; rounds: number; filePages: number } | null;
  tax: { pausesMs: number[]; faults: number; dirtierFiles: number } | null;
  /** One line per count that the probe did not record and was worked out. */
  notes: string[];
}

/** daxprobe.c's dirtier files, full and --quick (FULL and QUICK there): for probes that did not record theirs. */
const DAXPROBE_DIRTIER_FILES = { full: 512, quick: 64 } as const;

/** Operations per repeat of a series' stats: its count over its repeats. */
function perRepeat(s: { count: number; repeatMeansNs: number[] }): number {
  return Math.max(1, Math.round(s.count / Math.max(1, s.repeatMeansNs.length)));
}

/** The counts of the probe's fsync and tax series; a series with no row at all is null. */
export function seriesCounts(p: Probe): SeriesCounts {
  const notes: string[] = [];
  let fsync: SeriesCounts['fsync'] = null;
  if (p.fsync.length > 0) {
    const dirtyPages = p.fsync.map((f) => f.dirtyPages);
    const measured = p.fsync.find((f) => f.fsync !== undefined);
    // The probe's file holds the largest k's pages; its rounds per repeat are each k's fsyncs per repeat.
    fsync = { dirtyPages, rounds: measured?.fsync === undefined ? 1 : perRepeat(measured.fsync), filePages: Math.max(1, ...dirtyPages) };
  }
  let tax: SeriesCounts['tax'] = null;
  if (p.orderingTax.length > 0) {
    const pausesMs = PROBE_PAUSES_MS.filter((ms) => p.orderingTax.some((t) => t.pauseMs === ms));
    const measured = p.orderingTax.find((t) => t.fault !== undefined);
    let faults = p.setup.taxFaults;
    if (faults === undefined) {
      faults = measured?.fault === undefined ? 1 : perRepeat(measured.fault);
      notes.push(`tax faults per repeat: ${faults}, from the rows' counts (the probe did not record setup.taxFaults)`);
    }
    let dirtierFiles = p.setup.dirtierFiles;
    if (dirtierFiles === undefined) {
      dirtierFiles = DAXPROBE_DIRTIER_FILES[p.quick ? 'quick' : 'full'];
      notes.push(`dirtier files: ${dirtierFiles}, daxprobe's default${p.quick ? ' with --quick' : ''} (the probe did not record setup.dirtierFiles)`);
    }
    tax = { pausesMs, faults, dirtierFiles };
  }
  return { fsync, tax, notes };
}

export interface SeriesRunSetup {
  machine: MachineParts;
  /** A profile name or a profile file's path. */
  profile: string;
  repeats: number;
}

/**
 * The lab's fsync-<k>-pages configurations: one per k of the probe's. periodNs > 0 paces each
 * k's rounds that far apart (its k stores spread over the period, the fsync after the last),
 * as the probe's were by the other k's between them; 0: back to back.
 */
export function fsyncWorkload(c: NonNullable<SeriesCounts['fsync']>, s: SeriesRunSetup, only: readonly number[] = c.dirtyPages, periodNs = 0): Record<string, unknown> {
  return {
    name: 'calibrate-fsync',
    description: "fsync after k dirty pages of a written, mapped file: the probe's fsync series",
    ...machineOf(s.machine),
    files: [{ name: 'data', size: c.filePages * PAGE_SIZE, state: 'written' }],
    mappings: [{ name: 'map', file: 'data', flags: MAP_SHARED_FLAGS, madvise: 'MADV_NOHUGEPAGE', offset: 0, length: PAGE_SIZE }],
    cpus: [{ role: 'storer', mapping: 'map', bytes: PAGE_SIZE, order: 'sequential', ops: c.rounds, fsyncEvery: 1 }],
    profile: s.profile,
    // Uncorrected store times: the pacing's period is made of them (series.ts), and the probe corrects nothing.
    run: { repeats: s.repeats, warmupRepeats: 0, warmupOps: 1, seed: 1, coordinatedOmission: false },
    configs: only.map((k) => ({
      name: `fsync-${k}-pages`,
      set: {
        'mappings[0].length': k * PAGE_SIZE,
        'cpus[0].fsyncEvery': k,
        'cpus[0].ops': k * c.rounds,
        'run.warmupOps': k,
        ...(periodNs > 0 ? { 'cpus[0].rateHz': (k * 1e9) / periodNs } : {}),
      },
    })),
  };
}

/** The lab's tax-<pause>ms-<sync|nosync> configurations, for the (pause, MAP_SYNC) pairs asked. */
export function probeTaxWorkload(c: NonNullable<SeriesCounts['tax']>, s: SeriesRunSetup, only: readonly { pauseMs: number; mapSync: boolean }[]): Record<string, unknown> {
  return {
    ...taxWorkload({
      name: 'calibrate-tax',
      description: "write faults on an empty file, paced, beside a CPU chmod-ing files flat out: the probe's ordering tax",
      machine: s.machine,
      profile: s.profile,
      repeats: s.repeats,
      faults: c.faults,
      dirtierFiles: c.dirtierFiles,
      dirtierRateHz: 0,
      coordinatedOmission: false,
    }),
    configs: only.map((t) => ({
      name: taxConfigName(t),
      set: { 'cpus[0].intervalUs': t.pauseMs * 1000, 'mappings[0].flags': t.mapSync ? MAP_SYNC_FLAGS : MAP_SHARED_FLAGS },
    })),
  };
}
