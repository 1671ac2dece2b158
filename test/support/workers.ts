// Runs test CPUs: scenario modules in test/workers/ (compiled to dist/test/workers/),
// named without their extension, through the lab's own CPU runner.

import type { Machine } from '../../src/machine/machine.js';
import { runOnCpus } from '../../src/lab/cpus.js';

const compiled = new URL('../../dist/test/workers/', import.meta.url);
const workerUrl = new URL('../../dist/src/lab/cpu_worker.js', import.meta.url);

export interface ScenarioJob {
  cpu: number;
  module: string;
  fn: string;
  args?: unknown;
}

export function runCpus<T = unknown>(machine: Machine, jobs: ScenarioJob[], timeoutMs = 60_000): Promise<T[]> {
  return runOnCpus<T>(
    machine,
    jobs.map((j) => ({ cpu: j.cpu, moduleUrl: new URL(`${j.module}.js`, compiled).href, fn: j.fn, args: j.args })),
    { timeoutMs, workerUrl },
  );
}
