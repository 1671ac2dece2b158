// Starts CPU threads on one machine, releases them together from a start gate, and
// collects what each returns. (The lab's run pool comes with piscina in issue 7; this is
// the plain worker_threads form that tests and short jobs use.)

import { Worker } from 'node:worker_threads';
import type { Machine } from '../machine/machine.js';
import { GATE, createStartGate } from '../machine/run_block.js';
import { vclockPark } from '../sync/vclock.js';

/** The compiled CPU thread beside this module (tests, which load this file from source, pass dist's). */
export const CPU_WORKER_URL = new URL('./cpu_worker.js', import.meta.url);

export interface CpuJob {
  cpu: number;
  /** file: URL of a compiled module exporting fn(cpu, args). */
  moduleUrl: string;
  fn: string;
  args?: unknown;
}

/** Runs every job on its own worker thread; rejects if any worker throws, exits early, or overruns timeoutMs. */
export async function runOnCpus<T = unknown>(
  machine: Machine,
  jobs: CpuJob[],
  { timeoutMs = 60_000, workerUrl = CPU_WORKER_URL }: { timeoutMs?: number; workerUrl?: URL } = {},
): Promise<T[]> {
  const gate = createStartGate();
  const g = new Int32Array(gate);
  // On the virtual clock every job's CPU holds time back from the start, so none runs ahead of one not yet started.
  vclockPark(machine, jobs.map((j) => j.cpu));
  const workers = jobs.map(
    (job) =>
      new Worker(workerUrl, {
        workerData: { descriptor: machine.descriptor, cpu: job.cpu, moduleUrl: job.moduleUrl, fn: job.fn, args: job.args, gate },
      }),
  );
  const results = workers.map(
    (w, i) =>
      new Promise<T>((resolve, reject) => {
        w.once('message', (m) => resolve(m as T));
        w.once('error', reject);
        w.once('exit', (code) => reject(new Error(`cpu ${jobs[i].cpu} exited with code ${code} before answering`)));
      }),
  );
  const released = (async () => {
    while (Atomics.load(g, GATE.arrived) < jobs.length) {
      const r = Atomics.waitAsync(g, GATE.arrived, Atomics.load(g, GATE.arrived), 1000);
      if (r.async) await r.value;
    }
    Atomics.store(g, GATE.open, 1);
    Atomics.notify(g, GATE.open);
  })();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`CPUs did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([Promise.all([released, ...results]), timeout]);
    return await Promise.all(results);
  } finally {
    clearTimeout(timer);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
