// The shipped experiments' reference results, summed up: reads results/<experiment>/reference
// (written by `daxlab run <experiment> --out results/<experiment>/reference`) and writes
// results/<experiment>/summary.txt with the figures the README quotes.
//
//   node dist/bench/experiments.js            summarize the reference runs present
//   node dist/bench/experiments.js --run      run every experiment first (several minutes)

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from './support.js';
import { fileURLToPath } from 'node:url';
import { parseResults, type ConfigResult, type RunResults } from '../src/measure/results.js';
import { KARA_2017_ROWS } from '../src/measure/seed_format.js';
import { packageRoot } from '../src/util/package_root.js';

const EXPERIMENTS = ['ordering-tax', 'fsync-crossover', 'contention', 'optane'] as const;
type Experiment = (typeof EXPERIMENTS)[number];

const us = (ns: number | undefined) => (ns === undefined ? '-' : (ns / 1000).toFixed(ns < 10_000 ? 1 : 0));
const dir = (e: Experiment) => new URL(`results/${e}/`, packageRoot());

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

/** The configuration's named part (before the first ",") and its sweep values. */
function parts(c: ConfigResult): { named: string; axes: Record<string, unknown> } {
  const named = c.name.split(',')[0];
  const axes: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c.params)) axes[k] = v;
  return { named, axes };
}

function orderingTax(r: RunResults): string {
  const rows: string[][] = [];
  for (const c of r.configs) {
    const { named, axes } = parts(c);
    const f = c.ops.fault;
    rows.push([
      named,
      String(axes['cpus[0].intervalUs']),
      String(axes['cpus[1].rateHz']),
      us(f?.p50Ns),
      us(f?.p99Ns),
      us(f?.maxNs),
      (c.counters.blocksPerCommit ?? 0).toFixed(1),
      us(c.ops.commit?.meanNs),
      String(c.counters.commits ?? 0),
    ]);
  }
  return (
    'MAP_SYNC (.sync) and plain (.nosync) write faults on an empty file; another CPU chmods\n' +
    '4096 files at the rate shown (1/s: idle), never syncing them. Latencies in µs.\n\n' +
    table(['policy', 'fault every µs', 'chmod/s', 'p50', 'p99', 'max', 'blocks/commit', 'commit µs', 'commits'], rows)
  );
}

function fsyncCrossover(r: RunResults): string {
  // mean fsync latency by (device, file, mode) and k
  const cell = new Map<string, Map<number, number>>();
  for (const c of r.configs) {
    const { named, axes } = parts(c);
    const k = Number(named.slice(1));
    const key = `${axes['device.size']} device, ${axes['files[0].size']} file`;
    const mode = String(axes['fs.writeback']);
    const m = cell.get(`${key}|${mode}`) ?? new Map<number, number>();
    m.set(k, c.ops.fsync?.meanNs ?? NaN);
    cell.set(`${key}|${mode}`, m);
  }
  const keys = [...new Set([...cell.keys()].map((k) => k.split('|')[0]))];
  let out = 'Mean fsync latency (µs) after k stores to k distinct pages; optane-adr costs.\n\n';
  const rows: string[][] = [];
  for (const key of keys) {
    const tracked = cell.get(`${key}|tracked`) ?? new Map();
    const hammer = cell.get(`${key}|big-hammer`) ?? new Map();
    const ks = [...tracked.keys()].sort((a, b) => a - b);
    const bh = [...hammer.values()].reduce((a, b) => a + b, 0) / Math.max(1, hammer.size);
    rows.push([key, ...ks.map((k) => `${us(tracked.get(k))} / ${us(hammer.get(k))}`), crossover(ks, tracked, bh)]);
  }
  const ks = [...(cell.values().next().value ?? new Map()).keys()].sort((a, b) => a - b);
  out += table(['configuration (tracked / big hammer)', ...ks.map((k) => `k=${k}`), 'crossover k'], rows);
  out +=
    '\nThe crossover is the number of dirty pages at which tracked writeback costs as much as\n' +
    "flushing the whole namespace: where the measured curves cross, or a straight line through\n" +
    "the tracked points extended to the big hammer's mean when they do not cross in range.\n";
  return out;
}

/** k where tracked writeback reaches the big hammer's cost (least squares line through the tracked points). */
function crossover(ks: number[], tracked: Map<number, number>, bh: number): string {
  for (let i = 1; i < ks.length; i++) {
    const a = tracked.get(ks[i - 1])!;
    const b = tracked.get(ks[i])!;
    if (a < bh && b >= bh) return String(Math.round(ks[i - 1] + ((bh - a) * (ks[i] - ks[i - 1])) / (b - a)));
  }
  if (ks.length > 0 && tracked.get(ks[0])! >= bh) return `< ${ks[0]}`;
  const n = ks.length;
  const mx = ks.reduce((s, k) => s + k, 0) / n;
  const my = ks.reduce((s, k) => s + tracked.get(k)!, 0) / n;
  const slope = ks.reduce((s, k) => s + (k - mx) * (tracked.get(k)! - my), 0) / ks.reduce((s, k) => s + (k - mx) ** 2, 0);
  const k = mx + (bh - my) / slope;
  return slope > 0 ? `~${Math.round(k)} (extrapolated)` : 'none';
}

function contention(r: RunResults): string {
  const rows = r.configs.map((c) => {
    const t = c.locks.tree_lock;
    const e = c.locks.dax_entry_lock;
    const f = c.ops.fault;
    return [
      c.name,
      us(f?.p50Ns),
      us(f?.p99Ns),
      us(f?.meanNs),
      `${t?.contentions ?? 0} / ${t?.acquisitions ?? 0}`,
      us(t && t.contentions > 0 ? t.waitNsTotal / t.contentions : 0),
      `${e?.contentions ?? 0} / ${e?.acquisitions ?? 0}`,
      us(e && e.contentions > 0 ? e.waitNsTotal / e.contentions : 0),
    ];
  });
  return (
    'Write faults in random order on one preallocated 64 MiB file; a fifth CPU msyncs it every ms.\n\n' +
    table(['CPUs', 'fault p50 µs', 'p99', 'mean', 'tree_lock con/acq', 'wait avg µs', 'entry lock con/acq', 'wait avg µs'], rows)
  );
}

function optane(r: RunResults): string {
  const rows: string[][] = [];
  for (const seed of KARA_2017_ROWS) {
    const by = (p: string) => r.configs.find((c) => c.name === `${seed.name},profile=${p}`);
    const adr = by('optane-adr');
    const eadr = by('optane-eadr');
    rows.push([seed.name, String(seed.row.avgUs), us(adr?.ops.fault?.meanNs), us(adr?.ops.fault?.p99Ns), us(eadr?.ops.fault?.meanNs), us(eadr?.ops.fault?.p99Ns)]);
  }
  return "Seed 002's six configurations on Optane DC costs; fault latency in µs.\n\n" + table(['row', 'seed avg (ramdisk)', 'ADR mean', 'ADR p99', 'eADR mean', 'eADR p99'], rows);
}

const SUMMARIES: Record<Experiment, (r: RunResults) => string> = {
  'ordering-tax': orderingTax,
  'fsync-crossover': fsyncCrossover,
  contention,
  optane,
};

function main(): void {
  const run = process.argv.includes('--run');
  const cli = fileURLToPath(new URL('dist/src/cli/main.js', packageRoot()));
  for (const e of EXPERIMENTS) {
    const ref = new URL('reference/', dir(e));
    if (run) execFileSync(process.execPath, [cli, 'run', e, '--out', fileURLToPath(ref), '--force', '--quiet'], { stdio: 'inherit' });
    const file = new URL('results.json', ref);
    if (!existsSync(file)) {
      console.log(`${e}: no reference run (node dist/bench/experiments.js --run)`);
      continue;
    }
    const r = parseResults(readFileSync(file, 'utf8'), fileURLToPath(file));
    const text = `# ${e}: ${r.workload.description}\n# reference run ${r.createdAt}, profile ${r.profile.name}, ${r.machine.cores} cores, node ${r.machine.node}\n\n${SUMMARIES[e](r)}`;
    writeFileAtomic(fileURLToPath(new URL('summary.txt', dir(e))), text);
    process.stdout.write(`${text}\n`);
  }
}

main();
