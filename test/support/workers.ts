// Starts test CPUs (compiled test/workers/harness.js) on one machine, releases them
// together, and collects what each returns. Workers run the compiled JavaScript in dist/.

import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { Machine } from '../../src/machine/machine.js';

const harness = fileURLToPath(new URL('../../dist/test/workers/harness.js', import.meta.url));

export interface CpuJob {
  cpu: number;
  module: string;
  fn: string;
  args?: unknown;
}

/** Runs every job on its own worker thread; rejects if any worker throws or exits early. */
export async function runCpus<T = unknown>(machine: Machine, jobs: CpuJob[], timeoutMs = 60_000): Promise<T[]> {
  const gate = new SharedArrayBuffer(8);
  const g = new Int32Array(gate);
  const workers = jobs.map(
    (job) =>
      new Worker(harness, {
        workerData: { descriptor: machine.descriptor, cpu: job.cpu, module: job.module, fn: job.fn, args: job.args, gate },
      }),
  );
  const results = workers.map(
    (w, i) =>
      new Promise<T>((resolve, reject) => {
        w.once('message', (m) => resolve(m as T));
        w.once('error', reject);
        w.once('exit', (code) => reject(new Error(`cpu ${jobs[i].cpu} exited with ${code} before answering`)));
      }),
  );
  // Release the gate once every worker has arrived, so they start together.
  const arrived = (async () => {
    while (Atomics.load(g, 0) < jobs.length) {
      const r = Atomics.waitAsync(g, 0, Atomics.load(g, 0), 1000);
      if (r.async) await r.value;
    }
    Atomics.store(g, 1, 1);
    Atomics.notify(g, 1);
  })();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`test CPUs did not finish in ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([Promise.all([arrived, ...results]), timeout]);
    return await Promise.all(results);
  } finally {
    clearTimeout(timer);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

export const workersDir = path.dirname(harness);
