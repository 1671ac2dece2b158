// Host independence of the virtual clock (issue 13), measured, not asserted: the same
// workloads run idle, beside a busy-loop process, and pinned to one core, and the figures
// are compared; then with another seed; then the window's effect; then the speed against
// the wall clock. Each run goes through the CLI (`daxlab run`), as a user's would.
//
//   node dist/bench/vclock_host.js            everything below; about 10 minutes on 2 cores
//   node dist/bench/vclock_host.js --quick    one condition and one window (a smoke test)
//
// Writes results/vclock/host.{json,txt}.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writeFileAtomic } from './support.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../src/util/package_root.js';

const ROOT = fileURLToPath(packageRoot());
const CLI = join(ROOT, 'dist/src/cli/main.js');
const OUT = join(ROOT, 'results/vclock');
const WORK = mkdtempSync(join(tmpdir(), 'daxlab-vclock-'));

type Condition = 'idle' | 'busy' | 'pinned';

interface Figures {
  meanNs: number;
  p50Ns: number;
  p99Ns: number;
}

interface RunOutcome {
  /** Per configuration, the `fault` figures. */
  faults: Record<string, Figures>;
  wallSeconds: number;
}

/** A workload: kara-2017 as shipped, or contention with `n` faulting CPUs. */
function contentionWith(n: number): string {
  const w = JSON.parse(readFileSync(join(ROOT, 'workloads/contention.json'), 'utf8'));
  const faulter = w.cpus.find((r: { role: string }) => r.role === 'faulter');
  const syncer = w.cpus.find((r: { role: string }) => r.role === 'syncer');
  w.name = `contention-${n}`;
  w.description = `${n} CPUs write-faulting one file, a syncer msyncing it every millisecond`;
  w.cpus = [...Array.from({ length: n }, () => ({ ...faulter, pages: 1024 })), syncer];
  w.run = { ...w.run, repeats: 1, warmupRepeats: 1 };
  delete w.configs;
  const file = join(WORK, `contention-${n}.json`);
  writeFileSync(file, JSON.stringify(w, null, 2));
  return file;
}

function run(workload: string, args: string[], condition: Condition): RunOutcome {
  const out = join(WORK, `run-${Math.random().toString(36).slice(2)}`);
  let busy: ChildProcess | null = null;
  if (condition === 'busy') busy = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  const cmd = condition === 'pinned' ? 'taskset' : process.execPath;
  const argv = [...(condition === 'pinned' ? ['-c', '0', process.execPath] : []), CLI, 'run', workload, '--out', out, '--quiet', ...args];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  busy?.kill('SIGKILL');
  if (r.status !== 0) throw new Error(`daxlab run ${workload} ${args.join(' ')} (${condition}) failed: ${r.stderr.trim()}`);
  const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  rmSync(out, { recursive: true, force: true });
  const faults: Record<string, Figures> = {};
  for (const c of res.configs) {
    const f = c.ops.fault;
    if (f) faults[c.name] = { meanNs: f.meanNs, p50Ns: f.p50Ns, p99Ns: f.p99Ns };
  }
  return { faults, wallSeconds };
}

const pct = (a: number, b: number) => (100 * (a - b)) / b;
const fmt = (x: number) => (x >= 0 ? '+' : '') + x.toFixed(2) + ' %';
const us = (ns: number) => (ns / 1e3).toFixed(2);

function compareTable(title: string, base: RunOutcome, others: [string, RunOutcome][]): { text: string; worst: { mean: number; p50: number; p99: number } } {
  const worst = { mean: 0, p50: 0, p99: 0 };
  const lines = [title, `  ${'configuration'.padEnd(26)} ${'idle mean / p50 / p99 µs'.padEnd(28)} ${others.map(([n]) => `${n}: mean, p50, p99`.padEnd(36)).join(' ')}`];
  for (const [name, b] of Object.entries(base.faults)) {
    const cells = others.map(([, o]) => {
      const f = o.faults[name];
      const d = [pct(f.meanNs, b.meanNs), pct(f.p50Ns, b.p50Ns), pct(f.p99Ns, b.p99Ns)];
      worst.mean = Math.max(worst.mean, Math.abs(d[0]));
      worst.p50 = Math.max(worst.p50, Math.abs(d[1]));
      worst.p99 = Math.max(worst.p99, Math.abs(d[2]));
      return d.map(fmt).join(', ').padEnd(36);
    });
    lines.push(`  ${name.padEnd(26)} ${`${us(b.meanNs)} / ${us(b.p50Ns)} / ${us(b.p99Ns)}`.padEnd(28)} ${cells.join(' ')}`);
  }
  lines.push(`  largest difference: mean ${worst.mean.toFixed(2)} %, p50 ${worst.p50.toFixed(2)} %, p99 ${worst.p99.toFixed(2)} %`);
  return { text: lines.join('\n'), worst };
}

function main(): void {
  const quick = process.argv.includes('--quick');
  const conditions: Condition[] = quick ? ['idle'] : ['idle', 'busy', 'pinned'];
  const windows = quick ? [250] : [50_000, 5000, 2000, 500, 250, 100];
  const c16 = contentionWith(16);
  const report: string[] = [`Virtual clock, host independence (${new Date().toISOString().slice(0, 10)}; node ${process.version}, ${spawnSync('nproc').stdout?.toString().trim()} cores)`, ''];
  const json: Record<string, unknown> = {};

  // 1 and 3: the same figures idle, beside a busy loop, pinned to one core.
  for (const [label, workload] of [['kara-2017', 'kara-2017'], ['contention, 16 faulting CPUs', c16]] as const) {
    const outcomes = conditions.map((c) => [c, run(workload, ['--clock', 'virtual'], c)] as [Condition, RunOutcome]);
    const t = compareTable(`${label}: fault figures, each condition against idle`, outcomes[0][1], outcomes.slice(1));
    report.push(t.text, `  host seconds: ${outcomes.map(([c, o]) => `${c} ${o.wallSeconds.toFixed(1)}`).join(', ')}`, '');
    json[label] = { conditions: Object.fromEntries(outcomes), worst: t.worst };
  }

  // 2: another seed (kara-2017 faults in order; contention's order is the seed's).
  const seeds: Record<string, unknown> = {};
  for (const workload of ['kara-2017', 'contention']) {
    const seed1 = run(workload, ['--clock', 'virtual', '--seed', '1'], 'idle');
    const seed2 = run(workload, ['--clock', 'virtual', '--seed', '2'], 'idle');
    const s = compareTable(`${workload}: seed 2 against seed 1`, seed1, [['seed 2', seed2]]);
    report.push(s.text, '');
    seeds[workload] = { seed1, seed2, worst: s.worst };
  }
  json.seeds = seeds;

  // The window: figures against the smallest window, and what each costs in host time. The
  // default (machine/layout.ts DEFAULT_CONFIG.windowNs) is among them.
  for (const [label, workload] of [['kara-2017', 'kara-2017'], ['contention (shipped)', 'contention']] as const) {
    const byWindow = windows.map((w) => [w, run(workload, ['--clock', 'virtual', '--set', `run.windowNs=${w}`], 'idle')] as [number, RunOutcome]);
    const finest = byWindow[byWindow.length - 1][1];
    const t = compareTable(
      `${label}: by window, against the ${windows[windows.length - 1]} ns window`,
      finest,
      byWindow.slice(0, -1).map(([w, o]) => [`${w} ns`, o]),
    );
    report.push(t.text, `  host seconds: ${byWindow.map(([w, o]) => `${w} ns ${o.wallSeconds.toFixed(1)}`).join(', ')}`, '');
    json[`window ${label}`] = Object.fromEntries(byWindow);
  }

  // 4: speed against the wall clock.
  if (!quick) {
    const wall = run('kara-2017', ['--clock', 'wall'], 'idle');
    const virt = run('kara-2017', ['--clock', 'virtual'], 'idle');
    const tax = run('ordering-tax', ['--clock', 'virtual'], 'idle');
    report.push(
      'Speed (host seconds for the whole run):',
      `  kara-2017: wall clock ${wall.wallSeconds.toFixed(1)} s, virtual clock ${virt.wallSeconds.toFixed(1)} s (${(virt.wallSeconds / wall.wallSeconds).toFixed(2)} of wall)`,
      `  ordering-tax, virtual clock: ${tax.wallSeconds.toFixed(1)} s (${(141 / tax.wallSeconds).toFixed(1)}x faster than the 141 s it took on the wall clock)`,
      '',
    );
    json.speed = { karaWallSeconds: wall.wallSeconds, karaVirtualSeconds: virt.wallSeconds, orderingTaxVirtualSeconds: tax.wallSeconds };
  }

  const name = quick ? 'host-quick' : 'host';
  writeFileAtomic(join(OUT, `${name}.json`), JSON.stringify(json, null, 2) + '\n');
  writeFileAtomic(join(OUT, `${name}.txt`), report.join('\n') + '\n');
  console.log(report.join('\n'));
  rmSync(WORK, { recursive: true, force: true });
}

main();
