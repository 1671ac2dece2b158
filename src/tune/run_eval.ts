// The evaluator that runs the lab: a batch of (policy, repeat) runs becomes one run of the
// workload, each request a named configuration that sets the policy and run.seed = seed +
// repeat. The CPU worker threads and machines are kept across batches (TunePool): a batch of
// two runs otherwise paid the threads' start and JIT warm-up (jit_warmup.ts), some 11 s at a
// load of 13 on 2 cores, and a fresh machine (1-2 s), for two runs of about a second.

import { createCpuPool, runWorkload, workersOf, type CpuPool, type RunProgress } from '../lab/run.js';
import { expandWorkload } from '../workload/expand.js';
import { sampleOf, type Sample } from './metrics.js';
import type { Evaluator, RunRequest } from './search.js';
import { situationWorkload, type Situation, type TuneSetup } from './situations.js';

/** The largest seed a workload takes. */
const MAX_SEED = 2 ** 31 - 1;

export function repeatSeed(seed: number, repeat: number): number {
  return (seed + repeat) % MAX_SEED;
}

/** The CPU threads of every batch of a tune, grown when a situation needs more; the tune destroys it at its end. */
export class TunePool {
  private pool: CpuPool | null = null;

  async get(threads: number): Promise<CpuPool> {
    if (this.pool !== null && this.pool.threads >= threads) return this.pool;
    await this.destroy();
    this.pool = createCpuPool(threads);
    return this.pool;
  }

  async destroy(): Promise<void> {
    const p = this.pool;
    this.pool = null;
    await p?.piscina.destroy();
  }
}

export function labEvaluator(
  setup: TuneSetup,
  s: Situation,
  o: { seed: number; version: string; where: string; pool?: TunePool; signal?: AbortSignal; onProgress?: (p: RunProgress) => void },
): Evaluator {
  return async (requests: RunRequest[]): Promise<Sample[]> => {
    const raw = situationWorkload(setup, s, {});
    raw.configs = requests.map((r, i) => ({
      name: `p${i}`,
      set: { ...Object.fromEntries(Object.entries(r.policy).filter(([, v]) => v !== null && v !== undefined)), 'run.seed': repeatSeed(o.seed, r.repeat) },
    }));
    const expanded = expandWorkload(raw, [], o.where);
    // No seed, repeats 1: each configuration runs once on its own run.seed.
    const pool = o.pool === undefined ? undefined : await o.pool.get(Math.max(...expanded.configs.map((c) => workersOf(c.workload))));
    const results = await runWorkload(expanded, { repeats: 1, version: o.version, pool, signal: o.signal, onProgress: o.onProgress });
    if (results.partial) throw new Error(`tune: a run of ${s.name} stopped early${results.failure !== undefined ? `: ${results.failure}` : ''}`);
    const out = new Array<Sample>(requests.length);
    for (const c of results.configs) {
      if (c.violations.length > 0) throw new Error(`tune: ${s.name}: the invariant checker failed a run: ${c.violations[0]}`);
      out[Number(c.name.slice(1))] = sampleOf(c);
    }
    return out;
  };
}
