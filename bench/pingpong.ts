import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

const worker = fileURLToPath(new URL('./workers/pingpong.js', import.meta.url));

/** Median-free figure: total time of `rounds` round trips over rounds, in ns. */
export async function measurePingPong(rounds: number): Promise<number> {
  const shared = new SharedArrayBuffer(4);
  const run = (me: number) =>
    new Promise<number>((resolve, reject) => {
      const w = new Worker(worker, { workerData: { shared, me, rounds } });
      w.once('message', (ns: number) => {
        resolve(ns);
        void w.terminate();
      });
      w.once('error', reject);
    });
  const [a, b] = await Promise.all([run(0), run(1)]);
  return Math.max(a, b) / rounds;
}
