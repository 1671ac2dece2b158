// Where a workload places its CPUs (cpus[i].core, commitThread.core) moves what a MAP_SYNC
// fault pays for idle wake-ups, as on SMT hardware, and nothing else: kara-2017's copy on the
// faulter's sibling takes the faulter's own idle-state exit out of every commit wait.
import { describe, expect, it } from 'vitest';
import type { RunResults } from '../src/measure/results.js';

type RunModule = typeof import('../src/lab/run.js');
type ExpandModule = typeof import('../src/workload/expand.js');
// Workers load compiled JS: the run module must be dist's, whose pool_worker.js exists.
const run = (await import(new URL('../dist/src/lab/run.js', import.meta.url).href)) as RunModule;
const { expandWorkload, readWorkload } = (await import(new URL('../dist/src/workload/expand.js', import.meta.url).href)) as ExpandModule;

/** kara-2017's two MAP_SYNC empty-file rows at 64 pages, one repeat, with the copy on `copyCore`. */
async function karaSync(copyCore: number): Promise<RunResults> {
  const { raw, source } = readWorkload('kara-2017');
  const sets = [
    { path: 'cpus[0].pages', value: 64 },
    { path: 'cpus[1].core', value: copyCore },
    { path: 'run.repeats', value: 1 },
    { path: 'run.warmupRepeats', value: 0 },
  ];
  const x = expandWorkload(raw, sets, source);
  x.configs = x.configs.filter((c) => c.name === 'empty-nobg-sync' || c.name === 'empty-bg-sync');
  return run.runWorkload(x, { version: 't', seed: 1 });
}

const meanUs = (r: RunResults, config: string) => r.configs.find((c) => c.name === config)!.ops['sync-fault']!.meanNs / 1000;

describe('CPU placement on cores', () => {
  it("the copy on the faulter's SMT sibling makes its MAP_SYNC faults cheaper than the copy on a core of its own; without the copy the placement changes nothing", async () => {
    // kara-2017: faulter core 0, kjournald2 core 1; the copy beside the faulter, or on core 2.
    const [sibling, own] = [await karaSync(0), await karaSync(2)];
    // No copy: the faulter and kjournald2 on cores of their own either way, the same figures exactly.
    expect(meanUs(sibling, 'empty-nobg-sync')).toBe(meanUs(own, 'empty-nobg-sync'));
    // With the copy on its own core a fault pays two idle wake-ups (kjournald2's and its own),
    // beside it one: the draws are about 25 µs each on kara-2017-ramdisk (median 22.6 µs, sigma 0.5).
    const saved = meanUs(own, 'empty-bg-sync') - meanUs(sibling, 'empty-bg-sync');
    expect(saved).toBeGreaterThan(15);
    expect(saved).toBeLessThan(40);
    // And the seed's order: with the copy beside the faulter, faster than without the copy.
    expect(meanUs(sibling, 'empty-bg-sync')).toBeLessThan(meanUs(sibling, 'empty-nobg-sync'));
    expect(meanUs(own, 'empty-bg-sync')).toBeGreaterThan(meanUs(own, 'empty-nobg-sync'));
  }, 120_000);
});
