// `daxlab stress`: CPUs share one mapping index and hammer it with the DAX index
// operations; afterwards the index is checked and lock_stat printed. The interim main
// job until workloads arrive (issue 7), and a quick way to see tree_lock contention.

import type { MachineConfig } from '../machine/layout.js';
import { createMachine } from '../machine/machine.js';
import { checkIndex } from '../dax/radix_tree_check.js';
import { readLockStat, type LockStatTable } from '../sync/lockstat.js';
import { readPmemCounters, type PmemCounters } from '../pmem/device.js';
import { runOnCpus } from './cpus.js';
import { STRESS_OPS, type StressOp, type StressResult } from './stress_cpu.js';

export interface StressOptions {
  machine: MachineConfig;
  cpus: number;
  opsPerCpu: number;
  range: number;
  seed: number;
}

export interface StressReport {
  cpus: number;
  opsPerCpu: number;
  elapsedNs: number;
  opsPerSec: number;
  counts: Record<StressOp, number>;
  violations: string[];
  locks: LockStatTable;
  pmem: PmemCounters;
}

export async function runStress(o: StressOptions): Promise<StressReport> {
  const machine = createMachine(o.machine);
  const jobs = Array.from({ length: o.cpus }, (_, cpu) => ({
    cpu,
    moduleUrl: new URL('./stress_cpu.js', import.meta.url).href,
    fn: 'stressCpu',
    args: { ops: o.opsPerCpu, range: o.range, seed: o.seed },
  }));
  const results = await runOnCpus<StressResult>(machine, jobs, { timeoutMs: 600_000 });
  const counts = Object.fromEntries(STRESS_OPS.map((k) => [k, 0])) as Record<StressOp, number>;
  for (const r of results) for (const k of STRESS_OPS) counts[k] += r.counts[k];
  const elapsedNs = Math.max(...results.map((r) => r.elapsedNs));
  return {
    cpus: o.cpus,
    opsPerCpu: o.opsPerCpu,
    elapsedNs,
    opsPerSec: (o.cpus * o.opsPerCpu * 1e9) / elapsedNs,
    counts,
    violations: checkIndex(machine),
    locks: readLockStat(machine),
    pmem: readPmemCounters(machine),
  };
}
