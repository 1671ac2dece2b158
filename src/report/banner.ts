// The metadata banner of each run: what was run, on what, and whether it is whole.

import type { RunResults } from '../measure/results.js';
import type { RunBanner } from './model.js';

export function runBanner(label: string, r: RunResults): RunBanner {
  const m = r.machine;
  return {
    label,
    workload: r.workload.name,
    description: r.workload.description,
    profile: r.profile.name,
    clock: r.clock.kind === 'virtual' ? `virtual (window ${r.clock.windowNs} ns)` : 'wall (this host)',
    variant: r.variant,
    seed: r.seed,
    machine: `${m.cpuModel}, ${m.cores} cores, ${m.platform}/${m.arch}, node ${m.node}${m.oversubscribed ? ', oversubscribed' : ''}`,
    created: r.createdAt,
    version: r.daxlabVersion,
    configs: r.configs.length,
    partial: r.partial || r.configs.some((c) => c.partial),
    ...(r.failure !== undefined ? { failure: r.failure } : {}),
    ...(r.shard !== undefined ? { shard: `${r.shard.index}/${r.shard.count}` } : {}),
    warnings: r.warnings,
  };
}
