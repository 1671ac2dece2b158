// Lock handover between two CPUs: does a lock held for a few microseconds pass to a
// waiting CPU without a sleep? Also the sleep-and-wake path alone (lockSpinNs 0), which is
// what every handover would cost without the spin phase.

import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { createMachine } from '../src/machine/machine.js';
import { MiB } from '../src/machine/layout.js';
import { readLockStat } from '../src/sync/lockstat.js';

const worker = fileURLToPath(new URL('./workers/handover.js', import.meta.url));

export interface HandoverRow {
  holdUs: number;
  spinUs: number;
  p50Ns: number;
  p99Ns: number;
  sleptPct: number;
  rounds: number;
}

function pct(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export async function measureHandover(holdUs: number, spinNs: number, rounds: number): Promise<HandoverRow> {
  const machine = createMachine({ cpus: 3, pmemBytes: 2 * MiB, indexNodes: 2, mappings: 1, lockSpinNs: spinNs });
  const shared = new SharedArrayBuffer(16);
  new Int32Array(shared, 0, 1)[0] = 1;
  const run = (id: number, other: number) =>
    new Promise<Float64Array>((resolve, reject) => {
      const w = new Worker(worker, {
        workerData: { descriptor: machine.descriptor, cpu: id, other, rounds, holdNs: holdUs * 1000, shared },
      });
      w.once('message', (m: Float64Array) => {
        resolve(m);
        void w.terminate();
      });
      w.once('error', reject);
    });
  const [a, b] = await Promise.all([run(1, 2), run(2, 1)]);
  const all = new Float64Array(a.length + b.length);
  all.set(a);
  all.set(b, a.length);
  // Drop the first rounds: thread start-up and JIT warm-up.
  const steady = all.slice(Math.min(200, all.length >> 2)).sort();
  const stat = readLockStat(machine).tree_lock;
  return {
    holdUs,
    spinUs: spinNs / 1000,
    p50Ns: pct(steady, 0.5),
    p99Ns: pct(steady, 0.99),
    sleptPct: stat.contentions ? (100 * stat.sleeps) / stat.contentions : 0,
    rounds: all.length,
  };
}
