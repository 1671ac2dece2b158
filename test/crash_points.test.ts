import { describe, expect, it } from 'vitest';
import type * as Crashtest from '../src/crash/crashtest.js';
import type * as Watchdog from '../src/lab/watchdog.js';
import type * as Expand from '../src/workload/expand.js';
import { CACHELINE, PAGE_SIZE } from '../src/machine/layout.js';

// Runs go through the compiled modules: the CPU workers load dist's.
const { crashtest } = (await import('../dist/src/crash/crashtest.js' as string)) as typeof Crashtest;
const { describeStuck } = (await import('../dist/src/lab/watchdog.js' as string)) as typeof Watchdog;
const { expandWorkload, readWorkload } = (await import('../dist/src/workload/expand.js' as string)) as typeof Expand;

/** One storer on a MAP_SYNC mapping of an empty file: every store is to a new page, so every store takes a synchronous fault. */
function syncFaults(variant: string) {
  return expandWorkload({
    name: 'sync-faults',
    device: { size: '16MiB' },
    journal: { commitIntervalMs: 1 },
    files: [{ name: 'f', size: '2MiB', state: 'empty' }],
    mappings: [{ name: 'm', file: 'f', flags: ['MAP_SHARED_VALIDATE', 'MAP_SYNC'] }],
    cpus: [{ role: 'storer', mapping: 'm', bytes: 4096, flushUser: true }],
    variant,
    run: { durationMs: 1, seed: 3 },
  });
}

/** crash-mix's PMD storer and its syncer alone (the other CPUs off), on ext4, for 5 ms. */
function crashMixPmd(variant: string) {
  const { raw, source } = readWorkload('crash-mix');
  const off = [0, 1, 4, 5].map((i) => ({ path: `cpus[${i}].enabled`, value: false }));
  return expandWorkload(raw, [{ path: 'fs.personality', value: 'ext4' }, { path: 'variant', value: variant }, { path: 'run.durationMs', value: 5 }, ...off], source);
}

describe('crash points in virtual time', () => {
  it("catches punch-drops-dirty-pmd on crash-mix's PMD storer (its punches fall inside dirty PMD entries again and again), and the sound model keeps every msync promise", async () => {
    const bad = await crashtest(crashMixPmd('punch-drops-dirty-pmd'), { points: 60, version: 'test' });
    expect(bad.violations['sync-lost']).toBeGreaterThan(0);
    const sound = await crashtest(crashMixPmd('none'), { points: 60, version: 'test' });
    expect(sound.points).toBe(60);
    expect(sound.totalViolations).toBe(0);
  }, 240_000);

  it('stops a MAP_SYNC fault between its NEEDDSYNC return and dax_finish_sync_fault with the page not yet writable, and the image keeps every promise', async () => {
    let inWindow = 0;
    const r = await crashtest(syncFaults('none'), {
      points: 150,
      version: 'test',
      onStop: ({ machine, ledger, syncPages, violations }) => {
        // The storer waits for a journal commit only inside dax_finish_sync_fault's vfs_fsync_range.
        if (!describeStuck(machine).some((l) => l.startsWith('cpu 0 waits for a journal commit'))) return;
        const f = ledger.files[0];
        let line = -1;
        for (let i = 0; i < f.lines; i++) if (ledger.issued[f.base + i] > ledger.written[f.base + i]) line = i;
        expect(line).toBeGreaterThanOrEqual(0); // its store is in flight
        const page = Math.floor((line * CACHELINE) / PAGE_SIZE);
        expect(syncPages.some((p) => p.ino === f.ino && p.page === page)).toBe(false);
        expect(violations).toEqual([]);
        inWindow++;
      },
    });
    expect(r.points).toBeGreaterThan(100);
    expect(inWindow).toBeGreaterThan(0);
    expect(r.totalViolations).toBe(0);
  }, 120_000);

  it('catches mapsync-no-sync: pages writable before their block map is durable', async () => {
    const r = await crashtest(syncFaults('mapsync-no-sync'), { points: 40, version: 'test' });
    expect(r.violations['mapsync-unreachable']).toBeGreaterThan(0);
    expect(r.reproducers.length).toBeGreaterThan(0);
  }, 120_000);
});
