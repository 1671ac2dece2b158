// ops.csv and locks.csv: one header line, then one row per configuration and operation kind
// (or lock class), for spreadsheets, pandas and R; `fault` only where faults were of more than
// one kind (reported_kinds.ts). Times are nanoseconds. Fields are quoted
// as RFC 4180 says (only when they hold a comma, a quote or a line break; quotes doubled);
// lines end in LF, which RFC 4180 readers accept and Unix tools expect.

import { lockAverages } from './lock_figures.js';
import { reportedKinds } from './reported_kinds.js';
import type { RunResults } from './results.js';

export const OPS_CSV_HEADER = ['config', 'kind', 'count', 'min_ns', 'mean_ns', 'max_ns', 'p50_ns', 'p90_ns', 'p99_ns', 'p999_ns'] as const;

export const LOCKS_CSV_HEADER = [
  'config',
  'class',
  'acquisitions',
  'contentions',
  'con_bounces',
  'acq_bounces',
  'wait_ns_total',
  'wait_ns_min',
  'wait_ns_max',
  'wait_ns_avg',
  'hold_ns_total',
  'hold_ns_min',
  'hold_ns_max',
  'hold_ns_avg',
] as const;

/** One field, quoted only when RFC 4180 requires it. */
export function csvField(x: string | number): string {
  const s = typeof x === 'number' ? csvNumber(x) : x;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Means and averages to a thousandth of a nanosecond: finer digits are float noise, not measurement. */
function csvNumber(x: number): string {
  return Number.isInteger(x) ? String(x) : String(Number(x.toFixed(3)));
}

function csv(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  return [header, ...rows].map((r) => r.map(csvField).join(',') + '\n').join('');
}

export function formatOpsCsv(results: RunResults): string {
  const rows: (string | number)[][] = [];
  for (const c of results.configs) {
    for (const kind of reportedKinds(c.ops)) {
      const s = c.ops[kind]!;
      rows.push([c.name, kind, s.count, s.minNs, s.meanNs, s.maxNs, s.p50Ns, s.p90Ns, s.p99Ns, s.p999Ns]);
    }
  }
  return csv(OPS_CSV_HEADER, rows);
}

export function formatLocksCsv(results: RunResults): string {
  const rows: (string | number)[][] = [];
  for (const c of results.configs) {
    for (const [cls, f] of Object.entries(c.locks)) {
      const avg = lockAverages(f);
      rows.push([
        c.name,
        cls,
        f.acquisitions,
        f.contentions,
        f.conBounces,
        f.acqBounces,
        f.waitNsTotal,
        f.waitNsMin,
        f.waitNsMax,
        avg.waitNsAvg,
        f.holdNsTotal,
        f.holdNsMin,
        f.holdNsMax,
        avg.holdNsAvg,
      ]);
    }
  }
  return csv(LOCKS_CSV_HEADER, rows);
}
