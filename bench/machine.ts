// Suite `machine` (issue 4): the primitives every simulated fault stands on.
//   - an uncontended tree_lock pair against the bare Atomics pair it is built from
//   - index insert and lookup in a 1M-entry tree, a tagged walk for 1 dirty entry in it
//   - a store plus flush of a 4 KiB page
//   - lock handover between two CPUs, and the Atomics.wait/notify round trip it avoids

import { createMachine } from '../src/machine/machine.js';
import { LOCK_CLASS, MiB, PAGE_SIZE } from '../src/machine/layout.js';
import { attachCpu } from '../src/sync/cpu.js';
import { spin_lock, spin_unlock } from '../src/sync/spinlock.js';
import { PmemDevice } from '../src/pmem/device.js';
import { formatRows, runBatched, type BenchRow } from './support.js';
import { measureHandover, type HandoverRow } from './handover.js';
import { measurePingPong } from './pingpong.js';
import { indexTasks } from './index_tasks.js';

export interface MachineSuite {
  rows: BenchRow[];
  handover: HandoverRow[];
  waitNotifyRoundTripNs: number;
}

export async function runMachineSuite(log: (s: string) => void): Promise<MachineSuite> {
  const machine = createMachine({ cpus: 2, pmemBytes: 64 * MiB, mappings: 2, indexNodes: 20_000 });
  const cpu = attachCpu(machine, 0);
  const words = machine.views.indexRoots;
  const bare = new Int32Array(new SharedArrayBuffer(8));
  const dev = new PmemDevice(cpu);
  const page = new Uint8Array(PAGE_SIZE).fill(0xa5);
  const B = 1000;
  let off = 0;

  const rows = await runBatched([
    {
      name: 'bare Atomics.compareExchange + Atomics.store pair',
      batch: B,
      fn: () => {
        for (let i = 0; i < B; i++) {
          Atomics.compareExchange(bare, 0, 0, 1);
          Atomics.store(bare, 0, 0);
        }
      },
    },
    {
      name: 'tree_lock spin_lock + spin_unlock, uncontended',
      batch: B,
      fn: () => {
        for (let i = 0; i < B; i++) {
          spin_lock(cpu, words, 0, LOCK_CLASS.tree_lock);
          spin_unlock(cpu, words, 0, LOCK_CLASS.tree_lock);
        }
      },
    },
    {
      name: 'pmem store 4 KiB + flush 4 KiB (ADR)',
      batch: 100,
      fn: () => {
        for (let i = 0; i < 100; i++) {
          dev.store(off, page);
          dev.flush(off, PAGE_SIZE);
          off = (off + PAGE_SIZE) % (64 * MiB);
        }
      },
    },
    ...indexTasks(),
  ]);
  log(formatRows(rows));

  const pp = await measurePingPong(20_000);
  log(`\nAtomics.wait/notify round trip between two workers: ${(pp / 1000).toFixed(1)} µs`);

  const handover: HandoverRow[] = [];
  for (const [holdUs, spinNs] of [
    [1, machine.config.lockSpinNs],
    [5, machine.config.lockSpinNs],
    [20, machine.config.lockSpinNs],
    [5, 0],
  ] as const) {
    handover.push(await measureHandover(holdUs, spinNs, 4000));
  }
  log('\ntree_lock handover between two CPUs (every acquisition contended):');
  log('hold µs  spin µs  handover p50 ns  handover p99 ns  slept %');
  for (const h of handover) {
    log(
      `${String(h.holdUs).padStart(7)}  ${String(h.spinUs).padStart(7)}  ${h.p50Ns.toFixed(0).padStart(15)}  ${h.p99Ns
        .toFixed(0)
        .padStart(15)}  ${h.sleptPct.toFixed(1).padStart(7)}`,
    );
  }
  return { rows, handover, waitNotifyRoundTripNs: pp };
}
