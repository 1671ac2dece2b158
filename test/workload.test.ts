import { describe, expect, it } from 'vitest';
import { expandWorkload, listShippedWorkloads, readWorkload, shardConfigs } from '../src/workload/expand.js';
import { parseAssignment, parsePath, setPath } from '../src/workload/paths.js';
import { WorkloadError } from '../src/workload/errors.js';
import { JournalSchema } from '../src/workload/schema.js';
import { defaultJournalBlocks, journalPolicyOf, machineConfigFor } from '../src/lab/setup.js';
import { ZERO_COSTS } from '../src/cost/costs.js';
import { ZERO_IDLE_WAKEUP } from '../src/cost/idle_wakeup.js';

const base = () => ({
  name: 'w',
  files: [{ name: 'a', size: '2MiB', state: 'empty' }],
  mappings: [{ name: 'm', file: 'a', flags: ['MAP_SHARED'] }],
  cpus: [{ role: 'faulter', mapping: 'm' }],
});

function errorOf(raw: Record<string, unknown>, sets: { path: string; value: unknown }[] = []): string {
  try {
    expandWorkload(raw, sets, 'w.json');
  } catch (e) {
    expect(e).toBeInstanceOf(WorkloadError);
    return (e as Error).message;
  }
  throw new Error('expected a WorkloadError');
}

describe('workload files', () => {
  it('fills defaults and yields one configuration named after the workload', () => {
    const x = expandWorkload(base());
    expect(x.configs.map((c) => c.name)).toEqual(['w']);
    const w = x.configs[0].workload;
    expect(w.files[0].size).toBe(2 * 1024 * 1024);
    expect(w.device).toEqual({ size: 256 * 1024 * 1024, mode: 'adr' });
    expect(w.run.repeats).toBe(1);
    expect(w.profile).toBe('optane-adr');
    expect(w.run.clock).toBe('virtual');
    expect(w.run.windowNs).toBeUndefined();
  });

  it('names the field, what it expected and what it got', () => {
    const raw = base();
    raw.files[0].size = 1000 as unknown as string;
    expect(errorOf(raw)).toBe('w.json: files[0].size: expected a multiple of 4096, got 1000');
    expect(errorOf({ ...base(), extra: 1 })).toMatch(/^w\.json: extra: unknown field/);
    expect(errorOf({ ...base(), cpus: [{ role: 'faulty', mapping: 'm' }] })).toMatch(/cpus\[0\]\.role: expected one of "faulter", "storer", "syncer", "background-copy", "metadata-dirtier", got "faulty"/);
    expect(errorOf({ ...base(), run: { repeats: 'many' } })).toMatch(/run\.repeats: expected number, got string "many"/);
    expect(errorOf({ ...base(), device: { mode: 'nvme' } })).toMatch(/device\.mode: expected one of "adr", "eadr", "ramdisk", got "nvme"/);
    const { files: _f, ...noFiles } = base();
    void _f;
    expect(errorOf(noFiles)).toMatch(/files: required/);
  });

  it('takes the journal knobs users set, under names that say which, and refuses the lab-only ones naming what replaced them', () => {
    const raw = { ...base(), journal: { commitIntervalMs: 1000, minBatchTimeUs: 500, maxBatchTimeUs: 0, fastCommit: true, asyncCommit: true, size: '8MiB' } };
    const w = expandWorkload(raw).configs[0].workload;
    expect(w.journal).toEqual({ commitIntervalMs: 1000, minBatchTimeUs: 500, maxBatchTimeUs: 0, fastCommit: true, asyncCommit: true, size: 8 * 1024 * 1024 });
    const set = expandWorkload(base(), [parseAssignment('journal.size=16MiB'), parseAssignment('journal.maxBatchTimeUs=0')]).configs[0].workload;
    expect([set.journal.size, set.journal.maxBatchTimeUs]).toEqual([16 * 1024 * 1024, 0]);
    expect(errorOf({ ...base(), journal: { batchWindowUs: 1000 } })).toMatch(
      /^w\.json: journal\.batchWindowUs: removed: no kernel waits after an fsync asks for a commit; .*\(journal\.minBatchTimeUs, journal\.maxBatchTimeUs\)$/,
    );
    expect(errorOf(base(), [parseAssignment('journal.maxTransactionBlocks=16')])).toMatch(/journal\.maxTransactionBlocks: removed: .*set the journal size instead \(journal\.size, mkfs\.ext4 -J size=\)$/);
    expect(errorOf({ ...base(), journal: { size: '2MiB' } })).toMatch(/journal\.size: expected at least 4194304 bytes/);
    expect(errorOf({ ...base(), device: { size: '16MiB' }, journal: { size: '12MiB' } })).toMatch(/journal\.size: 12582912 bytes is more than half of device\.size \(16777216 bytes\), which mke2fs refuses/);
    // The descriptions name the mount option or mkfs flag behind each key.
    const shape = JournalSchema.shape;
    expect([shape.commitIntervalMs, shape.minBatchTimeUs, shape.maxBatchTimeUs, shape.fastCommit, shape.asyncCommit, shape.size].map((f) => f.description?.split(':')[0])).toEqual([
      'commit=',
      'min_batch_time=',
      'max_batch_time=',
      'mkfs.ext4 -O fast_commit',
      'journal_async_commit',
      'mkfs.ext4 -J size=',
    ]);
  });

  it('takes the xfs log options logbsize= and logbufs= under xfs only, and refuses jbd2-only knobs there', () => {
    const xfs = { ...base(), fs: { personality: 'xfs' } };
    const w = expandWorkload({ ...xfs, log: { logbsize: '256k', logbufs: 2 } }).configs[0].workload;
    expect(w.log).toEqual({ logbsize: 262144, logbufs: 2 });
    expect(journalPolicyOf(w)).toEqual({ commitIntervalMs: 30_000, logbsize: 262144, logbufs: 2 });
    // Left out, the policy takes XFS's defaults (resolveJournalPolicy: 32k, 8).
    expect(journalPolicyOf(expandWorkload(xfs).configs[0].workload)).toEqual({ commitIntervalMs: 30_000 });
    expect(journalPolicyOf(expandWorkload(base()).configs[0].workload)).toEqual({});
    expect(errorOf({ ...xfs, log: { logbsize: 8192 } })).toBe('w.json: log.logbsize: expected one of 16384, 32768, 65536, 131072, 262144 bytes (16k to 256k, a power of two), got 8192');
    expect(errorOf({ ...xfs, log: { logbsize: '48k' } })).toMatch(/^w\.json: log\.logbsize: expected one of .*got "48k"$/);
    expect(errorOf({ ...xfs, log: { logbufs: 9 } })).toMatch(/^w\.json: log\.logbufs: /);
    expect(errorOf({ ...xfs, log: { logbufs: 1 } })).toMatch(/^w\.json: log\.logbufs: /);
    expect(errorOf({ ...base(), log: { logbufs: 4 } })).toBe(
      'w.json: configuration w: log.logbufs: an xfs mount option; fs.personality "ext4" has no in-core log buffers: remove it, or use fs.personality "xfs"',
    );
    expect(errorOf({ ...xfs, journal: { fastCommit: true } })).toBe(
      'w.json: configuration w: journal.fastCommit: an ext4 (jbd2) option that xfs does not have; remove it, or use fs.personality "ext4" (xfs takes log.logbsize, log.logbufs and journal.size)',
    );
    expect(errorOf(xfs, [parseAssignment('journal.maxBatchTimeUs=0')])).toMatch(/^w\.json: configuration w: journal\.maxBatchTimeUs: an ext4 \(jbd2\) option/);
    // The log's size and the log worker's period stay (crash-mix sets the period under xfs).
    expect(expandWorkload({ ...xfs, journal: { size: '8MiB', commitIntervalMs: 2 } }).configs[0].workload.journal).toEqual({ size: 8 * 1024 * 1024, commitIntervalMs: 2 });
  });

  it('gives a workload the journal mke2fs would make on its device unless journal.size says otherwise', () => {
    const blocks = (w: Record<string, unknown>) => machineConfigFor(expandWorkload(w).configs[0].workload, 4, { costs: ZERO_COSTS, idleWakeup: ZERO_IDLE_WAKEUP }, false).journalBlocks;
    // The journal area holds the journal and, after it, the 1/64 of it mke2fs adds for fast commits.
    expect(defaultJournalBlocks(2048)).toBe(1024); // 8 MiB: 4 MiB
    expect(blocks(base())).toBe(4096 + 64); // 256 MiB: 16 MiB
    expect(blocks({ ...base(), device: { size: '64MiB' } })).toBe(1024 + 16);
    expect(blocks({ ...base(), device: { size: '1GiB' } })).toBe(8192 + 128);
    expect(blocks({ ...base(), journal: { size: '4MiB' } })).toBe(1024 + 16);
    expect(blocks({ ...base(), device: { size: '4MiB' }, files: [{ name: 'a', size: '1MiB', state: 'empty' }] })).toBe(32); // below mke2fs's least: the lab's own
  });

  it('places CPUs on cores as the workload says: the enabled roles in order, the commit thread, then the setup CPU', () => {
    const cores = (w: Record<string, unknown>, cpus: number) => machineConfigFor(expandWorkload(w).configs[0].workload, cpus, { costs: ZERO_COSTS, idleWakeup: ZERO_IDLE_WAKEUP }, false).cpuCores;
    // Nothing placed: every CPU a core of its own.
    expect(cores(base(), 3)).toEqual([]);
    const copy = { role: 'background-copy', file: 'b', core: 0 };
    const files = [...base().files, { name: 'b', size: '2MiB', state: 'empty' }];
    const placed = { ...base(), files, cpus: [{ role: 'faulter', mapping: 'm', core: 0 }, copy], commitThread: { core: 1 } };
    expect(cores(placed, 4)).toEqual([0, 0, 1, -1]);
    // A disabled role takes no slot: the commit thread moves up.
    expect(cores({ ...placed, cpus: [{ role: 'faulter', mapping: 'm', core: 0 }, { ...copy, enabled: false }] }, 3)).toEqual([0, 1, -1]);
    expect(errorOf({ ...base(), cpus: [{ role: 'faulter', mapping: 'm', core: -1 }] })).toMatch(/^w\.json: cpus\[0\]\.core: expected number >= 0, got -1$/);
    expect(errorOf({ ...base(), commitThread: { core: 'first' } })).toMatch(/^w\.json: commitThread\.core: /);
    expect(errorOf({ ...base(), commitThread: { cpu: 1 } })).toMatch(/^w\.json: commitThread\.cpu: unknown field/);
  });

  it('refuses impossible combinations, naming the fields', () => {
    const sync = base();
    sync.files[0] = { ...sync.files[0], dax: false } as (typeof sync.files)[0];
    sync.mappings[0].flags = ['MAP_SHARED_VALIDATE', 'MAP_SYNC'];
    expect(errorOf(sync)).toMatch(/mappings\[0\]\.flags: MAP_SYNC on "a", a file without DAX .*EOPNOTSUPP/);
    const pmd = base();
    (pmd.mappings[0] as Record<string, unknown>).pmd = true;
    expect(errorOf(pmd)).toMatch(/mappings\[0\]\.pmd: no such field any more: .* set "madvise": "MADV_NOHUGEPAGE" for 4 KiB faults only$/);
    const advice = base();
    (advice.mappings[0] as Record<string, unknown>).madvise = 'MADV_RANDOM';
    expect(errorOf(advice)).toMatch(/mappings\[0\]\.madvise: expected one of "MADV_HUGEPAGE", "MADV_NOHUGEPAGE", got "MADV_RANDOM"/);
    const many = base();
    many.cpus = Array.from({ length: 70 }, () => ({ role: 'faulter', mapping: 'm' }));
    expect(errorOf(many)).toMatch(/cpus: 70 CPU roles; the pool allows at most 62/);
    const unknownMap = base();
    unknownMap.cpus[0].mapping = 'nope';
    expect(errorOf(unknownMap)).toMatch(/cpus\[0\]\.mapping: expected one of the mappings "m", got "nope"/);
    expect(errorOf({ ...base(), fs: { personality: 'ext4-nojournal' }, journal: { fastCommit: true } })).toMatch(
      /journal\.fastCommit: fs\.personality "ext4-nojournal" has no journal, so journal options do nothing there/,
    );
    // Paths that would reach the object prototype, and sweeps too large to expand.
    expect(errorOf(base(), [{ path: '__proto__.x', value: 1 }])).toMatch(/"__proto__\.x": "__proto__" is no parameter/);
    expect(errorOf({ ...base(), sweep: { constructor: [1, 2] } })).toMatch(/"constructor" is no parameter/);
    const axes = Object.fromEntries(['journal.commitIntervalMs', 'run.seed', 'run.repeats', 'device.size', 'files[0].size', 'run.warmupOps', 'journal.maxBatchTimeUs', 'run.watchdogMs'].map((p) => [p, Array.from({ length: 10 }, (_, i) => i + 1)]));
    expect(errorOf({ ...base(), sweep: axes })).toMatch(/sweep: 100,000,000 configurations \(1 named x 10 journal\.commitIntervalMs x .*\); at most 10,000: split the sweep/);
    // The clock's rules.
    expect(errorOf({ ...base(), run: { clock: 'wall', windowNs: 500 } })).toMatch(/run\.windowNs: only the virtual clock has a window/);
    expect(errorOf({ ...base(), profile: 'zero' })).toMatch(/profile: the zero profile charges nothing, so on the virtual clock every figure would be 0/);
    expect(errorOf({ ...base(), run: { windowNs: 50 } })).toMatch(/run\.windowNs: expected number >= 100, got 50/);
    expect(errorOf({ ...base(), run: { clock: 'sundial' } })).toMatch(/run\.clock: expected one of "virtual", "wall", got "sundial"/);
    expect(expandWorkload({ ...base(), profile: 'zero', run: { clock: 'wall' } }).base.run.clock).toBe('wall');
    // Nesting that would overflow the stack of whatever walks it, in the file or a --set value.
    const deep = JSON.parse(`{"name":"w","files":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    expect(errorOf(deep)).toMatch(/^w\.json: files(\[0\]){63}: nested more than 64 levels deep/);
    expect(errorOf(base(), [{ path: 'files', value: JSON.parse('['.repeat(70) + ']'.repeat(70)) }])).toMatch(/^--set files: the value is nested more than 64 levels deep/);
    // Limits mmap and ftruncate would hit during setup, after the device was built.
    const huge = base();
    huge.files[0].size = '4GiB';
    expect(errorOf(huge)).toMatch(/mappings\[0\]\.length: 4294967296 bytes is more than the lab maps at once, 4294963200 bytes .*without it the mapping covers "a"/);
    (huge.mappings[0] as Record<string, unknown>).length = '1GiB';
    expect(expandWorkload(huge).configs).toHaveLength(1);
    const past = base();
    past.files[0].size = '9000GiB';
    expect(errorOf(past)).toMatch(/files\[0\]\.size: 9663676416000 bytes is past the largest file the filesystem holds, 8796093022208 bytes/);
    const neverEnds = { ...base(), files: [...base().files, { name: 'c', size: '2MiB', state: 'empty' }], cpus: [{ role: 'background-copy', file: 'c' }] };
    expect(errorOf(neverEnds)).toMatch(/run: nothing ends the run/);
  });

  it('expands named configurations times the sweep, in order, each validated', () => {
    const raw = {
      ...base(),
      configs: [
        { name: 'plain', set: {} },
        { name: 'sync', set: { 'mappings[0].flags': ['MAP_SHARED_VALIDATE', 'MAP_SYNC'] } },
      ],
      sweep: { 'journal.commitIntervalMs': [10, 100], 'files[0].state': ['empty', 'written'] },
    };
    const x = expandWorkload(raw);
    expect(x.configs.map((c) => c.name)).toEqual([
      'plain,journal.commitIntervalMs=10,files[0].state=empty',
      'plain,journal.commitIntervalMs=10,files[0].state=written',
      'plain,journal.commitIntervalMs=100,files[0].state=empty',
      'plain,journal.commitIntervalMs=100,files[0].state=written',
      'sync,journal.commitIntervalMs=10,files[0].state=empty',
      'sync,journal.commitIntervalMs=10,files[0].state=written',
      'sync,journal.commitIntervalMs=100,files[0].state=empty',
      'sync,journal.commitIntervalMs=100,files[0].state=written',
    ]);
    const last = x.configs[7];
    expect(last.workload.journal.commitIntervalMs).toBe(100);
    expect(last.workload.mappings[0].flags).toEqual(['MAP_SHARED_VALIDATE', 'MAP_SYNC']);
    expect(last.params).toEqual({ 'mappings[0].flags': ['MAP_SHARED_VALIDATE', 'MAP_SYNC'], 'journal.commitIntervalMs': 100, 'files[0].state': 'written' });
    // A bad sweep value is reported with the configuration it makes.
    expect(errorOf({ ...base(), sweep: { 'run.repeats': [1, 0] } })).toMatch(/configuration run\.repeats=0: run\.repeats: expected number >= 1, got 0/);
  });

  it('applies --set before anything else, and a --set on a sweep axis pins it', () => {
    const x = expandWorkload({ ...base(), sweep: { 'journal.commitIntervalMs': [10, 100] } }, [parseAssignment('journal.commitIntervalMs=1000'), parseAssignment('run.seed=9')]);
    expect(x.configs).toHaveLength(1);
    expect(x.configs[0].workload.journal.commitIntervalMs).toBe(1000);
    expect(x.configs[0].workload.run.seed).toBe(9);
    expect(x.warnings[0]).toMatch(/pins a sweep axis/);
    expect(() => parseAssignment('novalue')).toThrow(/--set: expected path=value/);
    expect(() => parsePath('files[0]..size')).toThrow(/expected a parameter path/);
    expect(() => setPath(base(), 'files[3].size', 1)).toThrow(/files\[3\]\.size: files has 1 entries, no index 3/);
  });

  it('splits configurations into shards that together are the whole, each once', () => {
    const all = Array.from({ length: 7 }, (_, i) => i);
    const shards = [1, 2, 3].map((i) => shardConfigs(all, i, 3));
    expect(shards.flat().sort()).toEqual(all);
    expect(shards[0]).toEqual([0, 3, 6]);
  });

  it('ships workloads that validate', () => {
    const shipped = listShippedWorkloads();
    expect(shipped.map((w) => w.name)).toEqual(expect.arrayContaining(['kara-2017', 'smoke']));
    for (const s of shipped) {
      const { raw, source } = readWorkload(s.name);
      const x = expandWorkload(raw, [], source);
      expect(x.configs.length).toBeGreaterThan(0);
      expect(s.description.length).toBeGreaterThan(10);
    }
    expect(() => readWorkload('no-such-workload')).toThrow(/no shipped workload of that name \(shipped: .*kara-2017/);
  });
});
