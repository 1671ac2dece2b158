// What a run would make, without running it: the configurations of the expanded workload,
// the worker threads and repeats of each, and which shard of a split runs which.

import type { ExpandedWorkload } from '../workload/expand.js';
import { workersOf } from './run.js';

export interface PlannedConfig {
  /** Its place in the whole run's order, from 1 (merge restores this order). */
  index: number;
  name: string;
  /** The overrides that make it: named configuration's set, then axis values. */
  params: Record<string, unknown>;
  /** Worker threads: its enabled roles and the commit thread. */
  workers: number;
  repeats: number;
  warmupRepeats: number;
  seed: number;
  /** The shard that runs it, when the plan is for a split. */
  shard?: number;
}

export interface RunPlan {
  workload: string;
  source: string;
  /** Configurations in the whole run, every shard's. */
  total: number;
  seed: number;
  /** The split (N of I/N), or null for an unsharded run. */
  shardCount: number | null;
  /** The one shard listed (I of I/N), or null when every shard's configurations are. */
  shard: number | null;
  /** Configurations per shard of the split, empty ones included. */
  shards: { index: number; configurations: number }[];
  /** The configurations listed, in the order they run. */
  configurations: PlannedConfig[];
  /** The cores the workload places CPUs on (cpus[i].core, commitThread.core), each with its CPUs; empty: every CPU a core of its own. */
  cores: { core: number; cpus: string[] }[];
}

/** The workload's shared cores: which roles (cpus[i] and their role) and kernel thread sit on each core number given. */
export function placedCores(w: ExpandedWorkload['base']): { core: number; cpus: string[] }[] {
  const byCore = new Map<number, string[]>();
  const put = (core: number | undefined, what: string) => {
    if (core === undefined) return;
    byCore.set(core, [...(byCore.get(core) ?? []), what]);
  };
  w.cpus.forEach((r, i) => put(r.core, `cpus[${i}] ${r.role}`));
  put(w.commitThread.core, 'the commit thread');
  return [...byCore].sort((a, b) => a[0] - b[0]).map(([core, cpus]) => ({ core, cpus }));
}

export interface PlanOptions {
  /** Only this shard's configurations. */
  shard?: { index: number; count: number };
  /** Every configuration, each marked with the shard of this split that runs it. */
  shards?: number;
  repeats?: number;
  seed?: number;
}

export function planRun(expanded: ExpandedWorkload, source: string, opts: PlanOptions = {}): RunPlan {
  const { base } = expanded;
  const all: PlannedConfig[] = expanded.configs.map((c, i) => ({
    index: i + 1,
    name: c.name,
    params: c.params,
    workers: workersOf(c.workload),
    repeats: opts.repeats ?? c.workload.run.repeats,
    warmupRepeats: c.workload.run.warmupRepeats,
    seed: opts.seed ?? c.workload.run.seed,
  }));
  const count = opts.shard?.count ?? opts.shards ?? null;
  // Shard I of N runs every N-th configuration from the I-th (shardConfigs); the shards'
  // sizes follow from that without dealing out up to MAX_SHARDS mostly empty shards.
  if (count !== null) all.forEach((c, i) => (c.shard = (i % count) + 1));
  const shards =
    count === null ? [] : Array.from({ length: count }, (_, k) => ({ index: k + 1, configurations: Math.max(0, Math.ceil((all.length - k) / count)) }));
  const listed = opts.shard ? all.filter((c) => c.shard === opts.shard!.index) : all;
  return {
    workload: base.name,
    source,
    total: all.length,
    seed: opts.seed ?? base.run.seed,
    shardCount: count,
    shard: opts.shard?.index ?? null,
    shards,
    configurations: listed,
    cores: placedCores(base),
  };
}
