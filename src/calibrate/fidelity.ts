// How close the lab's rows come to target rows: the figures the README gives for seed 002's
// table (issue 14), for any target (the seed's table, or a probe of the user's kernel).
//   - every row's average within 25 % of the target's;
//   - the target's fullest bucket is the lab's in all but at most one row (5 of 6 for the seed);
//   - the MAP_SYNC empty-file rows' split between their two fullest buckets within 15 points.

import { formatSideBySide, type SeedRow } from '../measure/seed_format.js';
import { wholeUs } from '../measure/buckets.js';
import type { LabRow } from './lab_rows.js';
import { bucketShare, fullestBucket, type TargetRow } from './target.js';

export const AVG_TOLERANCE = 0.25;
export const SPLIT_TOLERANCE_POINTS = 15;
/** The MAP_SYNC empty-file rows whose split the checks compare. */
export const SPLIT_ROWS = ['empty-nobg-sync', 'empty-bg-sync'] as const;

export interface FidelityRow {
  name: string;
  /** fitted, predicted, or not measured on the target's side (unsupported). */
  role: 'fitted' | 'predicted' | 'unsupported';
  target: TargetRow;
  lab?: LabRow;
  ratio: number;
  targetFullest: string;
  labFullest: string;
}

export interface Check {
  check: string;
  pass: boolean;
  figure: string;
}

export function fidelityRows(targets: readonly TargetRow[], lab: readonly LabRow[], fitted: readonly string[]): FidelityRow[] {
  return targets
    .filter((t) => t.unsupported !== undefined || lab.some((l) => l.name === t.name))
    .map((t) => {
      const l = lab.find((x) => x.name === t.name);
      if (t.unsupported !== undefined || l === undefined) {
        return { name: t.name, role: 'unsupported', target: t, ratio: NaN, targetFullest: 'none', labFullest: l ? fullestBucket(l.buckets) : 'none', ...(l ? { lab: l } : {}) };
      }
      return {
        name: t.name,
        role: fitted.includes(t.name) ? 'fitted' : 'predicted',
        target: t,
        lab: l,
        ratio: l.meanNs / t.meanNs,
        targetFullest: fullestBucket(t.buckets),
        labFullest: fullestBucket(l.buckets),
      };
    });
}

/** The split of a row between the target's two fullest buckets: [share of the lower, of the higher], in points. */
function split(t: TargetRow, buckets: TargetRow['buckets']): { lows: [number, number]; shares: [number, number] } | undefined {
  const top = [...t.buckets].sort((a, b) => b.count - a.count).slice(0, 2);
  if (top.length < 2) return undefined;
  const lows = [top[0].lowUs, top[1].lowUs].sort((a, b) => a - b) as [number, number];
  return { lows, shares: [100 * bucketShare(buckets, lows[0]), 100 * bucketShare(buckets, lows[1])] };
}

export function fidelityChecks(rows: readonly FidelityRow[]): Check[] {
  const measured = rows.filter((r) => r.role !== 'unsupported');
  const within = measured.filter((r) => Math.abs(r.ratio - 1) <= AVG_TOLERANCE);
  const buckets = measured.filter((r) => r.labFullest === r.targetFullest);
  const checks: Check[] = [
    { check: `every row's average within ${AVG_TOLERANCE * 100}% of the target's`, pass: within.length === measured.length, figure: `${within.length} of ${measured.length} rows` },
    {
      check: "the target's fullest bucket is the lab's in all rows but one",
      pass: buckets.length >= measured.length - 1,
      figure: `${buckets.length} of ${measured.length} rows`,
    },
  ];
  for (const name of SPLIT_ROWS) {
    const r = measured.find((x) => x.name === name);
    if (r === undefined || r.lab === undefined) continue;
    const t = split(r.target, r.target.buckets);
    if (t === undefined) continue;
    const l = split(r.target, r.lab.buckets)!;
    const off = Math.max(Math.abs(t.shares[0] - l.shares[0]), Math.abs(t.shares[1] - l.shares[1]));
    const b = (lo: number) => `${lo}-${2 * lo - 1}`;
    checks.push({
      check: `${name}: split between ${b(t.lows[0])} and ${b(t.lows[1])} us within ${SPLIT_TOLERANCE_POINTS} points of the target's`,
      pass: off <= SPLIT_TOLERANCE_POINTS,
      figure: `lab ${l.shares.map((x) => x.toFixed(0)).join('/')} %, target ${t.shares.map((x) => x.toFixed(0)).join('/')} % (${off.toFixed(1)} points)`,
    });
  }
  return checks;
}

/** A lab row as a seed block (whole µs; the mean truncated as the seed's C program printed it). */
function asSeedRow(l: { meanNs: number; minNs: number; maxNs: number; count: number; buckets: TargetRow['buckets'] }): SeedRow {
  return { count: l.count, minUs: wholeUs(l.minNs), avgUs: wholeUs(l.meanNs), maxUs: wholeUs(l.maxNs), buckets: l.buckets };
}

/** The table of averages with each row's role, then the checks. */
export function formatFidelity(rows: readonly FidelityRow[], targetLabel: string): string {
  const w = Math.max(24, ...rows.map((r) => r.name.length + 2));
  const head = `${'row'.padEnd(w)} ${`${targetLabel} avg`.padStart(12)} ${'lab avg'.padStart(9)} ${'lab/tgt'.padStart(8)}  ${`${targetLabel} fullest`.padEnd(16)} ${'lab fullest'.padEnd(14)} role`;
  const lines = [head];
  for (const r of rows) {
    const t = r.role === 'unsupported' ? '-' : r.target.printedAvgUs !== undefined ? String(r.target.printedAvgUs) : (r.target.meanNs / 1000).toFixed(1);
    const l = r.lab === undefined ? '-' : (r.lab.meanNs / 1000).toFixed(1);
    const ratio = Number.isFinite(r.ratio) ? r.ratio.toFixed(2) : '-';
    const role = r.role === 'unsupported' ? `not measured: ${r.target.unsupported}` : r.role;
    lines.push(`${r.name.padEnd(w)} ${t.padStart(12)} ${l.padStart(9)} ${ratio.padStart(8)}  ${r.targetFullest.padEnd(16)} ${r.labFullest.padEnd(14)} ${role}`);
  }
  lines.push('', ...fidelityChecks(rows).map((c) => `${c.pass ? 'PASS ' : 'SHORT'} ${c.check}: ${c.figure}`));
  return `${lines.join('\n')}\n`;
}

/** Each measured row in the seed's format, lab beside the target, marked fitted or predicted. */
export function formatSideBySideRows(rows: readonly FidelityRow[], targetLabel: string): string {
  const blocks = rows
    .filter((r) => r.role !== 'unsupported' && r.lab !== undefined)
    .map((r) => ({
      name: r.name,
      title: `${r.role}${r.target.sourceName === r.name ? '' : `; ${targetLabel}'s ${r.target.sourceName}`}`,
      lab: asSeedRow(r.lab!),
      seed: { ...asSeedRow(r.target), ...(r.target.printedAvgUs === undefined ? {} : { avgUs: r.target.printedAvgUs }) },
    }));
  // formatSideBySide names the right-hand side "seed": here it is whatever the target is.
  return formatSideBySide(blocks)
    .replaceAll(/^ {2}lab( +)seed$/gm, (_m, sp: string) => `  lab${sp}${targetLabel}`)
    .replaceAll(/^( {2}avg lab\/)seed(.*)\(seed\)$/gm, (_m, a: string, b: string) => `${a}${targetLabel}${b}(${targetLabel})`);
}
