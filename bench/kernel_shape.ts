// The shape a real kernel showed (../shared/KERNEL-REF.md: Linux 6.1 ext4 DAX on an emulated
// NVDIMM, the seed's method), checked against the lab: the ratios between configurations,
// not the absolute times (the real runs were emulated, 5-10x slow). Each check is one line,
// PASS or MISS, with the lab's figure and the range the kernel allows.
//
//   node dist/bench/kernel_shape.js [--profile NAME] [--repeats N]    (npm run bench:shape)
//
// Runs two workloads through the CLI, on the virtual clock: the seed's faults (512 write
// faults into a 2 MiB file, every page its own 4 KiB fault as the kernel runs did with
// MADV_NOHUGEPAGE) in seven configurations, and the ordering tax (30 MAP_SYNC or plain
// faults beside a CPU that chmods files it never syncs; src/calibrate/series_workloads.ts
// builds it, as for calibrate's prediction of a probe's tax series) at three fault spacings
// and three dirtying rates. Writes results/kernel-shape/shape.{txt,json}.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writeFileAtomic } from './support.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../src/util/package_root.js';
import { parseResults, type RunResults } from '../src/measure/results.js';
import { MAP_SHARED_FLAGS, MAP_SYNC_FLAGS, taxWorkload } from '../src/calibrate/series_workloads.js';

const ROOT = fileURLToPath(packageRoot());
const CLI = join(ROOT, 'dist/src/cli/main.js');
const OUT = join(ROOT, 'results/kernel-shape');

const SYNC = MAP_SYNC_FLAGS;

/** The seed's faults, in the configurations KERNEL-REF.md measured. */
function seedFaults(profile: string, repeats: number): object {
  const cfg = (name: string, state: string, sync: boolean, more: Record<string, unknown> = {}) => ({
    name,
    set: { 'files[0].state': state, ...(sync ? { 'mappings[0].flags': SYNC } : {}), ...more },
  });
  return {
    name: 'kernel-shape-faults',
    description: "512 write faults into a 2 MiB file, KERNEL-REF.md's configurations",
    device: { size: '256MiB', mode: 'ramdisk' },
    fs: { personality: 'ext4' },
    files: [
      { name: 'data', size: '2MiB', state: 'empty' },
      { name: 'copy', size: '32MiB', state: 'empty' },
    ],
    // KERNEL-REF's program called madvise(MADV_NOHUGEPAGE): every page its own 4 KiB fault.
    mappings: [{ name: 'map', file: 'data', flags: ['MAP_SHARED'], madvise: 'MADV_NOHUGEPAGE' }],
    cpus: [
      { role: 'faulter', mapping: 'map', access: 'write', pages: 512 },
      { role: 'background-copy', file: 'copy', chunk: '64KiB', enabled: false },
    ],
    profile,
    run: { repeats, warmupRepeats: 1, seed: 1 },
    configs: [
      cfg('empty-nosync', 'empty', false),
      cfg('empty-sync', 'empty', true),
      cfg('fallocated-sync', 'fallocated', true),
      cfg('written-nosync', 'written', false),
      cfg('written-sync', 'written', true),
      cfg('empty-bg-sync', 'empty', true, { 'cpus[1].enabled': true }),
      cfg('empty-sync-commit1', 'empty', true, { 'journal.commitIntervalMs': 1000 }),
    ],
  };
}

const SPACINGS_US = [0, 1000, 10000, 100000];
const RATES_HZ = [1, 5000, 50000];

/** The ordering tax: faults beside a metadata dirtier, at each spacing and rate, with and without MAP_SYNC. */
function orderingTax(profile: string, repeats: number): object {
  return {
    ...taxWorkload({
      name: 'kernel-shape-tax',
      description: 'MAP_SYNC and plain faults beside a CPU that dirties unrelated metadata',
      machine: { device: { size: '256MiB', mode: 'ramdisk' }, fs: { personality: 'ext4' } },
      profile,
      repeats,
      faults: 30,
      fileBytes: 4 << 20,
      dirtierFiles: 4096,
      dirtierRateHz: 1,
    }),
    configs: [
      { name: 'sync', set: { 'mappings[0].flags': MAP_SYNC_FLAGS } },
      { name: 'nosync', set: { 'mappings[0].flags': MAP_SHARED_FLAGS } },
    ],
    sweep: { 'cpus[0].intervalUs': SPACINGS_US, 'cpus[1].rateHz': RATES_HZ },
  };
}

function run(work: string, w: object): RunResults {
  const file = join(work, `${(w as { name: string }).name}.json`);
  const out = join(work, `out-${(w as { name: string }).name}`);
  writeFileSync(file, JSON.stringify(w, null, 2));
  const r = spawnSync(process.execPath, [CLI, 'run', file, '--out', out, '--quiet'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`daxlab run ${file} failed (exit ${r.status}): ${r.stderr}`);
  return parseResults(readFileSync(join(out, 'results.json'), 'utf8'), out);
}

/** The plain mean of a configuration's faults, ns. */
function faultMean(r: RunResults, name: string): number {
  const c = r.configs.find((x) => x.name === name);
  if (c === undefined) throw new Error(`${r.workload.name}: no configuration ${name}`);
  const f = c.ops.fault;
  if (f === undefined || f.count === 0) throw new Error(`${r.workload.name}: ${name} has no faults`);
  return f.meanNs;
}

export interface ShapeCheck {
  what: string;
  /** The lab's figure (a ratio). */
  value: number;
  /** What the kernel allows, as text, and whether the figure is inside. */
  allowed: string;
  pass: boolean;
}

const within = (what: string, value: number, lo: number, hi: number): ShapeCheck => ({
  what,
  value,
  allowed: `${lo} to ${hi}`,
  pass: value >= lo && value <= hi,
});

export function shapeChecks(faults: RunResults, tax: RunResults): { checks: ShapeCheck[]; table: string[] } {
  const m = (n: string) => faultMean(faults, n);
  const checks: ShapeCheck[] = [
    within('empty file: MAP_SYNC fault / plain fault (kernel 6.6x)', m('empty-sync') / m('empty-nosync'), 3, 12),
    within('fallocated file MAP_SYNC / empty file MAP_SYNC (kernel 0.67x, 0.72x)', m('fallocated-sync') / m('empty-sync'), 0.5, 1.5),
    within('commit=1 against commit=5: empty-file MAP_SYNC fault (kernel 0.996x)', m('empty-sync-commit1') / m('empty-sync'), 0.85, 1.15),
    within('background copy: empty-file MAP_SYNC fault with / without (kernel 1.01x, 1.10x)', m('empty-bg-sync') / m('empty-sync'), 0.7, 1.3),
  ];
  // The tax: MAP_SYNC faults slower as pause x rate grows; plain faults near their idle figure.
  const t = (kind: 'sync' | 'nosync', us: number, hz: number) => faultMean(tax, `${kind},cpus[0].intervalUs=${us},cpus[1].rateHz=${hz}`);
  const idleSync = t('sync', 0, 1);
  const idlePlain = t('nosync', 0, 1);
  const table = [
    'ordering tax: fault mean (µs), MAP_SYNC / plain, by fault spacing (rows) and dirtying rate (columns)',
    `  ${'spacing'.padEnd(10)}${RATES_HZ.map((hz) => `${hz} Hz`.padStart(22)).join('')}`,
    ...SPACINGS_US.map(
      (us) => `  ${`${us} µs`.padEnd(10)}${RATES_HZ.map((hz) => `${(t('sync', us, hz) / 1e3).toFixed(1)} / ${(t('nosync', us, hz) / 1e3).toFixed(1)}`.padStart(22)).join('')}`,
    ),
  ];
  const most = t('sync', SPACINGS_US.at(-1)!, RATES_HZ.at(-1)!);
  checks.push({ what: 'ordering tax: MAP_SYNC fault at the longest spacing and highest rate / idle (kernel: many times)', value: most / idleSync, allowed: '2 or more', pass: most / idleSync >= 2 });
  // Grows: along each row and column the tax does not fall (5 % slack for the window).
  let falls = 0;
  for (const us of SPACINGS_US) for (let i = 1; i < RATES_HZ.length; i++) if (t('sync', us, RATES_HZ[i]) < 0.95 * t('sync', us, RATES_HZ[i - 1])) falls++;
  for (const hz of RATES_HZ) for (let i = 1; i < SPACINGS_US.length; i++) if (t('sync', SPACINGS_US[i], hz) < 0.95 * t('sync', SPACINGS_US[i - 1], hz)) falls++;
  checks.push({ what: 'ordering tax grows with spacing and with rate: steps where it falls by over 5 %', value: falls, allowed: '0', pass: falls === 0 });
  let worstPlain = 0;
  for (const us of SPACINGS_US) for (const hz of RATES_HZ) worstPlain = Math.max(worstPlain, t('nosync', us, hz) / idlePlain);
  checks.push(within('plain faults under the same load / idle, the worst (kernel: within 1.5x)', worstPlain, 0, 1.5));
  return { checks, table };
}

function main(): void {
  const arg = (flag: string, dflt: string) => {
    const i = process.argv.indexOf(flag);
    return i >= 0 ? process.argv[i + 1] : dflt;
  };
  const profile = arg('--profile', 'kara-2017-ramdisk');
  const repeats = Number(arg('--repeats', '3'));
  const work = mkdtempSync(join(tmpdir(), 'daxlab-shape-'));
  const t0 = Date.now();
  try {
    const faults = run(work, seedFaults(profile, repeats));
    const tax = run(work, orderingTax(profile, repeats));
    const { checks, table } = shapeChecks(faults, tax);
    const pass = checks.filter((c) => c.pass).length;
    const lines = [
      `# the real kernel's shape (KERNEL-REF.md) against the lab: profile ${profile}, virtual clock, ${repeats} repeats, plain means of every fault`,
      `# ${new Date().toISOString()}, ${((Date.now() - t0) / 1000).toFixed(0)} s; command: node dist/bench/kernel_shape.js --profile ${profile} --repeats ${repeats}`,
      '',
      ...checks.map((c) => `${c.pass ? 'PASS' : 'MISS'}  ${c.what}: ${Number.isInteger(c.value) ? c.value : c.value.toFixed(2)} (allowed ${c.allowed})`),
      '',
      `${pass} of ${checks.length} checks pass`,
      '',
      'seed faults: fault mean (µs)',
      ...faults.configs.map((c) => `  ${c.name.padEnd(20)} ${((c.ops.fault?.meanNs ?? 0) / 1e3).toFixed(1)}`),
      '',
      ...table,
      '',
    ];
    process.stdout.write(lines.join('\n'));
    writeFileAtomic(join(OUT, 'shape.txt'), lines.join('\n'));
    const json = { profile, repeats, checks, faults: Object.fromEntries(faults.configs.map((c) => [c.name, c.ops.fault?.meanNs])) };
    writeFileAtomic(join(OUT, 'shape.json'), JSON.stringify(json, null, 2) + '\n');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
