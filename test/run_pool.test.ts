// A configuration's figures are a function of its own workload and seed: the same alone, after
// another configuration on the same (reused, wiped) machine, and on CPU threads and a machine
// kept across runs (RunOptions.pool, as tune keeps them across its batches). One CPU and no journal, so
// no two CPUs race within the virtual clock's window and the figures are exact.
import { describe, expect, it } from 'vitest';
import type { RunResults } from '../src/measure/results.js';

type RunModule = typeof import('../src/lab/run.js');
type ExpandModule = typeof import('../src/workload/expand.js');
// Workers load compiled JS: the run module must be dist's, whose pool_worker.js exists.
const run = (await import(new URL('../dist/src/lab/run.js', import.meta.url).href)) as RunModule;
const { expandWorkload } = (await import(new URL('../dist/src/workload/expand.js', import.meta.url).href)) as ExpandModule;

const A = { name: 'A', set: {} };
// Another shape of work on the same machine: more blocks allocated, other seeds drawn.
const B = { name: 'B', set: { 'cpus[0].pages': 48, 'cpus[0].access': 'read', 'run.seed': 9 } };

function workload(configs: { name: string; set: Record<string, unknown> }[]) {
  return expandWorkload(
    {
      name: 'pool',
      device: { size: '16MiB', mode: 'adr' },
      fs: { personality: 'ext4-nojournal' },
      files: [{ name: 'data', size: '256KiB', state: 'empty' }],
      mappings: [{ name: 'map', file: 'data', madvise: 'MADV_NOHUGEPAGE', flags: ['MAP_SHARED'] }],
      cpus: [{ role: 'faulter', mapping: 'map', access: 'write', pages: 24 }],
      profile: 'kara-2017-ramdisk',
      run: { repeats: 2, warmupRepeats: 0, seed: 3 },
      configs,
    },
    [],
    'pool.json',
  );
}

/** A configuration's figures (on the virtual clock, none of them host time). */
function figures(r: RunResults, name: string): unknown {
  return r.configs.find((x) => x.name === name)!;
}

describe('a configuration run alone, after another, and on kept threads', () => {
  it('gives the same figures, exactly', async () => {
    const alone = await run.runWorkload(workload([A]), { version: 't' });
    const after = await run.runWorkload(workload([B, A]), { version: 't' });
    expect(figures(after, 'A')).toEqual(figures(alone, 'A'));
    const pool = run.createCpuPool(1);
    try {
      const kept1 = await run.runWorkload(workload([B]), { version: 't', pool });
      // B's machine is kept for A (one shape of machine).
      expect(pool.machines.size).toBe(1);
      const kept2 = await run.runWorkload(workload([A]), { version: 't', pool });
      // The kept threads ran both (two repeats each), and were not destroyed in between.
      expect(pool.piscina.completed).toBe(4);
      expect(figures(kept1, 'B')).toEqual(figures(after, 'B'));
      expect(figures(kept2, 'A')).toEqual(figures(alone, 'A'));
    } finally {
      await pool.piscina.destroy();
    }
  }, 120_000);
});
