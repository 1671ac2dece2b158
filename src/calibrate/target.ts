// What a calibration aims at: rows of measured faults, each named after the kara-2017
// configuration that runs the same setup, with its mean and the seed's log2 buckets. Two
// sources make them: seed 002's printed table (bench/kara_fidelity.ts) and a probe.json
// (`daxlab calibrate`).

import { bucketHighUs, type Log2Bucket } from '../measure/buckets.js';
import { KARA_2017_ROWS } from '../measure/seed_format.js';
import { labConfigName } from '../probe/lab_names.js';
import type { Probe } from '../probe/schema.js';

export interface TargetRow {
  /** The kara-2017 configuration with the same setup (src/probe/lab_names.ts). */
  name: string;
  /** The row's name where it came from (the probe's; the seed's rows have issue 8's names). */
  sourceName: string;
  meanNs: number;
  /** The average as the source printed it, when it printed one rounded (the seed's whole microseconds). */
  printedAvgUs?: number;
  minNs: number;
  maxNs: number;
  buckets: Log2Bucket[];
  count: number;
  /** A row the source could not measure (a probe's MAP_SYNC rows on a filesystem without DAX), and why. */
  unsupported?: string;
}

/**
 * Seed 002's six rows. Its averages are truncated to whole microseconds (a C program's
 * integer division), so the mean aimed at is the middle of that microsecond.
 */
export function seedTargets(): TargetRow[] {
  return KARA_2017_ROWS.map((r) => ({
    name: r.name,
    sourceName: r.name,
    meanNs: (r.row.avgUs + 0.5) * 1000,
    printedAvgUs: r.row.avgUs,
    minNs: r.row.minUs * 1000,
    maxNs: r.row.maxUs * 1000,
    buckets: r.row.buckets.map((b) => ({ ...b })),
    count: r.row.count,
  }));
}

/** A probe's fault rows, each under its kara-2017 configuration's name. */
export function probeTargets(p: Probe): TargetRow[] {
  return p.rows.map((r) => {
    const base = { name: labConfigName(r), sourceName: r.name };
    if (r.status !== 'measured' || r.fault === undefined || r.fault.count === 0) {
      return { ...base, meanNs: NaN, minNs: NaN, maxNs: NaN, buckets: [], count: 0, unsupported: r.reason ?? (r.status === 'measured' ? 'no faults recorded' : 'unsupported') };
    }
    const f = r.fault;
    return { ...base, meanNs: f.meanNs, minNs: f.minNs, maxNs: f.maxNs, buckets: f.buckets.map((b) => ({ lowUs: b.lowUs, highUs: bucketHighUs(b.lowUs), count: b.count })), count: f.count };
  });
}

/** The bucket with the most faults, as "64 - 127 us"; 'none' when empty. */
export function fullestBucket(buckets: readonly Log2Bucket[]): string {
  const b = buckets.reduce<Log2Bucket | null>((best, x) => (best === null || x.count > best.count ? x : best), null);
  return b === null ? 'none' : `${b.lowUs} - ${b.highUs} us`;
}

/** The share of faults (0-1) in the bucket starting at lowUs. */
export function bucketShare(buckets: readonly Log2Bucket[], lowUs: number): number {
  const total = buckets.reduce((n, b) => n + b.count, 0);
  if (total === 0) return NaN;
  return (buckets.find((b) => b.lowUs === lowUs)?.count ?? 0) / total;
}
