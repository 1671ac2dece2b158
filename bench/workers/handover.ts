// Two CPUs pass one spinlock back and forth. Each holds it for `holdNs` while the other
// is already trying to take it, so every acquisition is contended; the time from one
// CPU's unlock to the other's acquisition is the handover latency. A turn word keeps the
// two strictly alternating (otherwise the releasing CPU could simply take it back).

import { parentPort, workerData } from 'node:worker_threads';
import { attachMachine, type MachineDescriptor } from '../../src/machine/machine.js';
import { LOCK_CLASS } from '../../src/machine/layout.js';
import { attachCpu } from '../../src/sync/cpu.js';
import { spin_lock, spin_unlock } from '../../src/sync/spinlock.js';
import { monoNs, nowNs } from '../../src/util/clock.js';

interface Data {
  descriptor: MachineDescriptor;
  cpu: number;
  other: number;
  rounds: number;
  holdNs: number;
  /** Int32 [turn], Float64 [releasedAtNs] in one buffer. */
  shared: SharedArrayBuffer;
}

const d = workerData as Data;
const machine = attachMachine(d.descriptor);
const cpu = attachCpu(machine, d.cpu);
const turn = new Int32Array(d.shared, 0, 2);
const releasedAt = new Float64Array(d.shared, 8, 1);
const lockWords = machine.views.indexRoots; // mapping 0's tree_lock
const handovers = new Float64Array(d.rounds);
let n = 0;

for (let r = 0; r < d.rounds; r++) {
  while (Atomics.load(turn, 0) !== d.cpu) {
    /* the other CPU has not taken the lock yet */
  }
  spin_lock(cpu, lockWords, 0, LOCK_CLASS.tree_lock);
  const acquired = monoNs();
  if (r > 0 || d.cpu !== 1) handovers[n++] = acquired - releasedAt[0];
  Atomics.store(turn, 0, d.other); // the other CPU may start contending now
  const until = nowNs() + d.holdNs;
  while (nowNs() < until) {
    /* hold */
  }
  releasedAt[0] = monoNs();
  spin_unlock(cpu, lockWords, 0, LOCK_CLASS.tree_lock);
}
parentPort!.postMessage(handovers.slice(0, n));
