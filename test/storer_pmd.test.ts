import { describe, expect, it } from 'vitest';
import type * as Run from '../src/lab/run.js';
import type * as Expand from '../src/workload/expand.js';

// Runs go through the compiled modules: the CPU workers load dist's.
const { runWorkload } = (await import('../dist/src/lab/run.js' as string)) as typeof Run;
const { expandWorkload } = (await import('../dist/src/workload/expand.js' as string)) as typeof Expand;

/** A storer flat out on a 2 MiB PMD mapping of an empty file, with a syncer msyncing it every 50 stores. */
function pmdStorer(storer: Record<string, unknown>) {
  return expandWorkload({
    name: 'pmd-storer',
    device: { size: '16MiB' },
    journal: { commitIntervalMs: 1 },
    files: [{ name: 'huge', size: '2MiB', state: 'empty' }],
    mappings: [{ name: 'huge', file: 'huge', flags: ['MAP_SHARED'], madvise: 'MADV_HUGEPAGE' }],
    cpus: [
      { role: 'storer', mapping: 'huge', bytes: 64, order: 'random', ...storer },
      { role: 'syncer', mapping: 'huge', call: 'msync', everyStores: 50 },
    ],
    profile: 'optane-adr',
    // A stalled run fails within seconds rather than at the test's timeout.
    run: { durationMs: 5, seed: 1, watchdogMs: 3000 },
  });
}

describe('a storer on a PMD mapping', () => {
  it('moves its virtual clock while every page it stores to is writable, so a run of it ends', async () => {
    // One PMD fault maps all 2 MiB writable. Stores that cost nothing left the storer's clock
    // where it was, and the syncer, a window ahead in its msync, waited for it forever.
    const r = await runWorkload(pmdStorer({}), { repeats: 1, version: 'test', jitWarmup: false });
    const c = r.configs[0];
    expect(c.partial).toBe(false);
    expect(c.counters.pmdFaults).toBeGreaterThan(0);
    expect(c.counters.pmdFallbacks).toBe(0);
    expect(c.ops.store!.count).toBeGreaterThan(1000);
    expect(c.ops.msync!.count).toBeGreaterThan(0);
  }, 60_000);

  it('with punchPmdEvery, punches the whole 2 MiB again, so that PMD faults come back after the punches split the extent', async () => {
    const r = await runWorkload(pmdStorer({ punchEvery: 50, punchPmdEvery: 2 }), { repeats: 1, version: 'test', jitWarmup: false });
    const c = r.configs[0];
    expect(c.counters.punches).toBeGreaterThan(4);
    expect(c.counters.pmdPunches).toBe(Math.floor(c.counters.punches / 2));
    // A PMD fault after a one-page punch falls back (the 2 MiB are no longer one extent); the
    // first fault maps a PMD, and so does the first after each whole punch.
    expect(c.counters.pmdFaults - c.counters.pmdFallbacks).toBeGreaterThan(c.counters.pmdPunches);
  }, 60_000);
});
