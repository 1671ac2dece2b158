// Shared pieces of the bench suites: batched tinybench tasks (one task iteration runs
// `batch` operations, so a 35 ns operation is not drowned by the timer's own cost),
// the row format, and atomic result files.

import { Bench } from 'tinybench';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BenchRow {
  name: string;
  /** Median nanoseconds per operation over the samples. */
  nsPerOp: number;
  /** Mean nanoseconds per operation. */
  nsPerOpMean: number;
  opsPerSec: number;
  /** Relative margin of error of the mean, percent. */
  rmePct: number;
  /** Timed task iterations (each of `batch` operations) the figures come from. */
  samples: number;
  note?: string;
}

export interface BatchedTask {
  name: string;
  batch: number;
  fn: () => void;
  /** Runs before / after every iteration, outside the timing (set up or undo what fn does). */
  beforeEach?: () => void;
  afterEach?: () => void;
  note?: string;
}

export async function runBatched(tasks: BatchedTask[], timeMs = 400): Promise<BenchRow[]> {
  const bench = new Bench({ time: timeMs, warmupTime: 100 });
  for (const t of tasks) bench.add(t.name, t.fn, { beforeEach: t.beforeEach, afterEach: t.afterEach });
  await bench.run();
  return bench.tasks.map((task, i) => {
    const r = task.result;
    if (r.state !== 'completed') throw new Error(`bench ${task.name}: ${r.state}${'error' in r ? `: ${String(r.error)}` : ''}`);
    const b = tasks[i].batch;
    return {
      name: task.name,
      nsPerOp: (r.latency.p50 * 1e6) / b,
      nsPerOpMean: (r.latency.mean * 1e6) / b,
      opsPerSec: (1e9 * b) / (r.latency.mean * 1e6),
      rmePct: r.latency.rme,
      // Counted whether or not tinybench keeps the samples themselves (retainSamples is off).
      samples: r.latency.samplesCount,
      ...(tasks[i].note ? { note: tasks[i].note } : {}),
    };
  });
}

export function formatRows(rows: BenchRow[]): string {
  const head = ['benchmark', 'ns/op p50', 'ns/op mean', 'ops/s', '±%', 'note'];
  const body = rows.map((r) => [
    r.name,
    r.nsPerOp.toFixed(1),
    r.nsPerOpMean.toFixed(1),
    Math.round(r.opsPerSec).toLocaleString('en-US'),
    r.rmePct.toFixed(1),
    r.note ?? '',
  ]);
  const all = [head, ...body];
  const w = head.map((_, c) => Math.max(...all.map((row) => row[c].length)));
  return all.map((row) => row.map((cell, c) => (c === 0 || c === 5 ? cell.padEnd(w[c]) : cell.padStart(w[c]))).join('  ')).join('\n');
}

export function machineInfo() {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    date: new Date().toISOString(),
  };
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Writes `file` atomically (a temporary file beside it, then rename), making its folder if need be. */
export function writeFileAtomic(file: string, text: string): string {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
  return file;
}

/** Writes a file under results/bench/ atomically. */
export function writeResult(name: string, text: string): string {
  return writeFileAtomic(path.join(repoRoot, 'results', 'bench', name), text);
}
