// Suite `crashtest`: crash points per minute on crash-mix (issue 16's target: at least
// 1,000 a minute on this machine): the default crashtest, every configuration, the whole run timed (setup,
// the run's CPUs, every stop, image and check). With --table, also the README's table: for
// each variant, the violations by kind and the crash points until the first violation,
// median over seeds, written to results/crashtest/table.json and .md.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expandWorkload, readWorkload } from '../src/workload/expand.js';
import { DEFAULT_POINTS, crashtest, type ConfigCrashResult } from '../src/crash/crashtest.js';
import { VIOLATION_KINDS } from '../src/crash/checks.js';
import { DAX_VARIANTS } from '../src/dax/variant.js';
import { writeFileAtomic, writeResult } from './support.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface CrashSpeed {
  workload: string;
  config: string;
  points: number;
  seconds: number;
  pointsPerMinute: number;
  violations: number;
}

/** Crash points per minute of crash-mix's default crashtest (every configuration, the default budget each). */
export async function runCrashSuite(log: (s: string) => void, points = DEFAULT_POINTS, seed = 1): Promise<CrashSpeed> {
  const { raw, source } = readWorkload('crash-mix');
  const expanded = expandWorkload(raw, [], source);
  const t0 = performance.now();
  const r = await crashtest(expanded, { points, seed, version: 'bench' });
  const seconds = (performance.now() - t0) / 1000;
  const out = { workload: 'crash-mix', config: expanded.configs.map((c) => c.name).join(', '), points: r.points, seconds, pointsPerMinute: (r.points / seconds) * 60, violations: r.totalViolations };
  log(`crashtest crash-mix (${out.config}): ${r.points} crash points, ${r.images} images in ${seconds.toFixed(1)} s: ${out.pointsPerMinute.toFixed(0)} points/minute (target >= 1000), ${r.totalViolations} violations`);
  return out;
}

interface TableRow {
  variant: string;
  config: string;
  seeds: number[];
  violations: Record<string, number>;
  firstViolation: (number | null)[];
  medianPointsToFirst: number | null;
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function table(seeds: number[], points: number, log: (s: string) => void): Promise<TableRow[]> {
  const rows: TableRow[] = [];
  const variants: { name: string; sets: { path: string; value: unknown }[] }[] = [
    ...DAX_VARIANTS.map((v) => ({ name: v, sets: [{ path: 'variant', value: v }] })),
    // As `daxlab crashtest crash-mix --set fs.personality=ext4-nojournal` runs it.
    { name: 'ext4-nojournal', sets: [{ path: 'fs.personality', value: 'ext4-nojournal' }] },
  ];
  const { raw, source } = readWorkload('crash-mix');
  for (const v of variants) {
    const expanded = expandWorkload(raw, v.sets, source);
    const per = new Map<string, ConfigCrashResult[]>();
    for (const seed of seeds) {
      const r = await crashtest(expanded, { points, seed, version: 'bench' });
      for (const c of r.configs) per.set(c.config, [...(per.get(c.config) ?? []), c]);
      log(`  ${v.name} seed ${seed}: ${r.configs.map((c) => `${c.config} ${c.totalViolations} violations, first at point ${c.firstViolationPoint ?? '-'}`).join('; ')}`);
    }
    for (const [config, cs] of per) {
      const violations = Object.fromEntries(VIOLATION_KINDS.map((k) => [k, cs.reduce((n, c) => n + c.violations[k], 0)]));
      const first = cs.map((c) => c.firstViolationPoint);
      const found = first.filter((x): x is number => x !== null);
      rows.push({ variant: v.name, config, seeds, violations, firstViolation: first, medianPointsToFirst: found.length === cs.length ? median(found) : null });
    }
  }
  return rows;
}

function tableMarkdown(rows: TableRow[], points: number): string {
  const head = `| variant | configuration | ${VIOLATION_KINDS.join(' | ')} | points until the first violation (median) |`;
  const sep = `|${'---|'.repeat(VIOLATION_KINDS.length + 3)}`;
  const body = rows.map((r) => `| ${r.variant} | ${r.config} | ${VIOLATION_KINDS.map((k) => r.violations[k]).join(' | ')} | ${r.medianPointsToFirst ?? (r.firstViolation.every((x) => x === null) ? `none in ${points}` : `not every seed: ${r.firstViolation.map((x) => x ?? '-').join(', ')}`)} |`);
  return [head, sep, ...body].join('\n') + '\n';
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1]);
if (isMain) {
  const log = (s: string) => console.log(s);
  const speed = await runCrashSuite(log);
  writeResult('crashtest.json', JSON.stringify(speed, null, 2) + '\n');
  if (process.argv.includes('--table')) {
    const seeds = [1, 2, 3, 4, 5];
    const points = DEFAULT_POINTS;
    const rows = await table(seeds, points, log);
    writeFileAtomic(path.join(repoRoot, 'results', 'crashtest', 'table.json'), JSON.stringify({ seeds, points, rows }, null, 2) + '\n');
    const md = tableMarkdown(rows, points);
    writeFileAtomic(path.join(repoRoot, 'results', 'crashtest', 'table.md'), md);
    log(md);
  }
}
