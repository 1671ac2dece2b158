// What one simulated CPU costs in memory: the same run of n storers for a few values of n,
// each in a process of its own, and the growth of the peak resident set per added worker.
// The machine is shared (one SharedArrayBuffer set), so what grows with n is each worker
// thread's own: its V8 isolate, its compiled code, its JIT warm-up, its recorders.
//
//   node dist/bench/worker_memory.js          n = 2, 12, 22; writes results/bench/worker_memory.{txt,json}
//   node dist/bench/worker_memory.js --child N   one run of N storers; prints its peak RSS in KiB
//
// Issue 15 found 215 MB a worker (62 roles took 13.8 GB); the target is under 50 MB.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../src/util/package_root.js';
import { expandWorkload } from '../src/workload/expand.js';
import { runWorkload } from '../src/lab/run.js';
import { machineInfo, writeResult } from './support.js';

const SELF = fileURLToPath(import.meta.url);
/** The compiled script, which the child runs (a test imports this file from source). */
const CHILD = join(fileURLToPath(packageRoot()), 'dist/bench/worker_memory.js');

/** n storers on one written file, a few thousand stores each. */
function storers(n: number): Record<string, unknown> {
  return {
    name: `memory-${n}`,
    description: `${n} storers, for the memory each CPU worker costs`,
    device: { size: '64MiB' },
    files: [{ name: 'w', size: '1MiB', state: 'written' }],
    mappings: [{ name: 'wm', file: 'w' }],
    cpus: Array.from({ length: n }, () => ({ role: 'storer', mapping: 'wm', ops: 2000 })),
    run: { repeats: 1 },
  };
}

async function child(n: number): Promise<void> {
  await runWorkload(expandWorkload(storers(n)), { version: 'bench' });
  process.stdout.write(`${process.resourceUsage().maxRSS}\n`);
}

/** Peak resident set (KiB) of a process that runs n storers. */
export function peakRssKiB(n: number): number {
  const r = spawnSync(process.execPath, [CHILD, '--child', String(n)], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`worker_memory --child ${n} failed (exit ${r.status}): ${r.stderr}`);
  return Number(r.stdout.trim());
}

export interface WorkerMemory {
  /** Peak RSS in MB per number of role CPUs. */
  peakMB: Record<number, number>;
  /** Growth of the peak per added worker thread, MB (least squares over the points). */
  perWorkerMB: number;
}

export function measureWorkerMemory(counts: readonly number[]): WorkerMemory {
  const peakMB: Record<number, number> = {};
  for (const n of counts) peakMB[n] = peakRssKiB(n) / 1024;
  const xs = counts.map(Number);
  const ys = counts.map((n) => peakMB[n]);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  const slope = xs.reduce((s, x, i) => s + (x - mx) * (ys[i] - my), 0) / xs.reduce((s, x) => s + (x - mx) ** 2, 0);
  return { peakMB, perWorkerMB: slope };
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--child');
  if (i >= 0) return child(Number(process.argv[i + 1]));
  const counts = [2, 12, 22];
  const m = measureWorkerMemory(counts);
  const lines = [
    `worker memory: peak RSS of one run of n storers (one process each), ${new Date().toISOString()}`,
    `machine: ${JSON.stringify(machineInfo())}`,
    ...counts.map((n) => `  n = ${String(n).padStart(2)}: peak ${m.peakMB[n].toFixed(0)} MB`),
    `per worker thread: ${m.perWorkerMB.toFixed(1)} MB (target: under 50 MB; issue 15 found 215 MB)`,
    '',
  ];
  process.stdout.write(lines.join('\n'));
  writeResult('worker_memory.txt', lines.join('\n'));
  writeResult('worker_memory.json', JSON.stringify({ counts, ...m, machine: machineInfo() }, null, 2) + '\n');
}

if (process.argv[1] === SELF) await main();
