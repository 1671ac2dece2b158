// Two threads bounce a word through Atomics.wait / Atomics.notify: each round trip is two
// sleeps and two wakes, the price a lock pays when it sleeps instead of spinning.

import { parentPort, workerData } from 'node:worker_threads';

const { shared, me, rounds } = workerData as { shared: SharedArrayBuffer; me: number; rounds: number };
const w = new Int32Array(shared);
const t0 = performance.now();
for (let i = 0; i < rounds; i++) {
  while (Atomics.load(w, 0) !== me) Atomics.wait(w, 0, 1 - me);
  Atomics.store(w, 0, 1 - me);
  Atomics.notify(w, 0);
}
parentPort!.postMessage((performance.now() - t0) * 1e6);
