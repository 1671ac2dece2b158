import { afterEach, describe, expect, it } from 'vitest';
import { attachMachine, createMachine, type Machine } from '../src/machine/machine.js';
import { BLOCK_SIZE, COMMIT_RECORD, JOURNAL, JOURNAL_TIMES, LOG_TX, MiB, fsGeometry, type MachineConfigInput } from '../src/machine/layout.js';
import { attachCpu } from '../src/sync/cpu.js';
import { PmemDevice } from '../src/pmem/device.js';
import {
  Journal,
  ext4_fc_inode_clean,
  ext4_fc_mark_ineligible,
  jbd2_complete_transaction,
  jbd2_journal_add_inode,
  jbd2_journal_dirty_metadata,
  jbd2_journal_get_write_access,
  jbd2_journal_start,
  jbd2_journal_stop,
  jbd2_transaction_committed,
  T_RUNNING,
} from '../src/journal/journal.js';
import { isFsError } from '../src/fs/errno.js';
import {
  COMMIT_FULL,
  jbd2_journal_commit_transaction,
  jbd2_journal_create,
  type CommitStep,
} from '../src/journal/commit.js';
import { jbd2_journal_recover } from '../src/journal/recovery.js';
import { ext4_fc_commit } from '../src/journal/fast_commit.js';
import { FcWriter, readFastCommits } from '../src/journal/fc_records.js';
import { FC_TAG, JSB, fullCommitBlocks, journalAreas } from '../src/journal/ondisk.js';
import { readCommitRecords } from '../src/journal/stats.js';
import { change, mapExtent } from './workers/journal_scenarios.js';
import type { KjournaldSummary } from '../src/journal/kjournald.js';
import { resolveJournalPolicy, type JournalPolicy } from '../src/journal/policy.js';
import { runCpus } from './support/workers.js';
import { bindThreadCpu, charge, unbindThreadCpu } from '../src/sync/vclock.js';
import { nowNs } from '../src/util/clock.js';
import { startCommitThread as startThread } from './support/commit_thread.js';

const never = () => 0.99; // a crash that evicts no dirty line
const always = () => 0; // a crash that evicts every dirty line

function setup(policy: Partial<JournalPolicy> = {}, cpus = 6, config: MachineConfigInput = {}) {
  const machine = createMachine({ cpus, pmemBytes: 8 * MiB, indexNodes: 2, mappings: 1, fsInodes: 16, ...config });
  const cpu = attachCpu(machine, 0);
  const dev = new PmemDevice(cpu);
  const j = new Journal(cpu, dev, policy);
  jbd2_journal_create(j);
  return { machine, cpu, dev, j, g: fsGeometry(machine.config) };
}

const homeByte = (image: Uint8Array, block: number) => image[block * BLOCK_SIZE + 17];

/** Blocks the journal may use as metadata in these tests: the extent blocks (16 inodes x 4). */
const extentBlocks = (g: ReturnType<typeof fsGeometry>, from: number, n: number) => Array.from({ length: n }, (_, i) => g.extentStart + from + i);

let stopping: (() => Promise<KjournaldSummary>) | undefined;
afterEach(async () => {
  await stopping?.();
  stopping = undefined;
});

async function startCommitThread(machine: Machine, cpu: number, policy: Partial<JournalPolicy>) {
  stopping = await startThread(machine, cpu, policy);
  return stopping;
}

/** Injected costs of the virtual-clock tests: every figure below is a sum of these. */
const W = 3000; // wakeupNs: a CPU woken by an event
const C = 10_000; // commitNs: a full commit's own work
const B = 2000; // journalBlockWriteNs
const F = 1000; // journalFlushNs
const costs = { wakeupNs: W, commitNs: C, journalBlockWriteNs: B, journalFlushNs: F };
/** A full commit of n blocks: its own work, descriptor, copies, commit block, two flushes. */
const fullCommitNs = (n: number) => C + fullCommitBlocks(n) * B + 2 * F;

/**
 * Runs timed scenarios (journal_scenarios.ts) on CPUs 1.. with kjournald2 on CPU 5; the last
 * scenario to finish stops kjournald2. Returns the scenarios' results, in order.
 */
async function timed<T = unknown>(machine: Machine, policy: Partial<JournalPolicy>, jobs: { cpu: number; fn: string; args: unknown }[]): Promise<T[]> {
  const done = new SharedArrayBuffer(8);
  const out = await runCpus<unknown>(machine, [
    { cpu: 5, module: 'kjournald_cpu', fn: 'commitThread', args: { policy } },
    ...jobs.map((x) => ({ cpu: x.cpu, module: 'journal_scenarios', fn: 'thenStopJournal', args: { fn: x.fn, args: x.args, done, n: jobs.length, kjournaldCpu: 5 } })),
  ]);
  return out.slice(1) as T[];
}

/** A journal on the virtual clock, its CPU bound to this thread (no commit thread: commits are inline). */
function virtualSetup(policy: Partial<JournalPolicy> = {}, config: MachineConfigInput = {}) {
  const s = setup(policy, 6, { clock: 'virtual', costs, ...config });
  bindThreadCpu(s.j.cpu);
  return s;
}

describe('jbd2 journal', () => {
  afterEach(() => unbindThreadCpu());

  it('rejects a bad policy naming the knob, and the lab-only knobs naming what replaced them', () => {
    expect(() => resolveJournalPolicy({ commitIntervalMs: 0 })).toThrow(/journal\.commitIntervalMs: expected an integer from 1/);
    expect(() => resolveJournalPolicy({ fastCommit: 'yes' as unknown as boolean })).toThrow(/journal\.fastCommit/);
    expect(() => resolveJournalPolicy({ maxBatchTimeUs: -1 })).toThrow(/journal\.maxBatchTimeUs: expected an integer from 0/);
    expect(() => resolveJournalPolicy({ batchWindowUs: 1000 } as Partial<JournalPolicy>)).toThrow(
      /^journal\.batchWindowUs: removed: .*jbd2_journal_stop\(\), tuned by min_batch_time= and max_batch_time= \(journal\.minBatchTimeUs, journal\.maxBatchTimeUs\)$/,
    );
    expect(() => resolveJournalPolicy({ maxTransactionBlocks: 16 } as Partial<JournalPolicy>)).toThrow(/^journal\.maxTransactionBlocks: removed: .*\(journal\.size, mkfs\.ext4 -J size=\)$/);
    expect(resolveJournalPolicy()).toMatchObject({ commitIntervalMs: 5000, minBatchTimeUs: 0, maxBatchTimeUs: 15_000, fastCommit: false, asyncCommit: false });
  });

  it('commits a transaction into the log: its home block is written only later, and replay restores it', () => {
    const { j, dev, g } = setup();
    const block = g.inodeTableStart;
    const tid = change(j, block, 0x5a);
    expect(jbd2_transaction_committed(j, tid)).toBe(false);
    const r = jbd2_journal_commit_transaction(j)!;
    expect(r).toMatchObject({ tid, kind: COMMIT_FULL, metadataBlocks: 1, blocks: 3, handles: 1, inodes: 1 });
    expect(jbd2_transaction_committed(j, tid)).toBe(true);
    // No checkpoint after the commit: the home block still holds what mkfs wrote...
    const image = dev.crashImage(never);
    expect(homeByte(image, block)).toBe(0);
    // ...and the log holds the transaction, which replay puts home.
    expect(jbd2_journal_recover(image, g)).toMatchObject({ replayed: [1], nextTid: 2 });
    expect(homeByte(image, block)).toBe(0x5a);
    expect(j.js[JOURNAL.free]).toBe(journalAreas(g).fullBlocks - 3);
    expect(jbd2_journal_commit_transaction(j)).toBeNull(); // nothing running
  });

  it('replays a transaction whose commit block is durable and ignores one whose is not', () => {
    const { j, dev, g } = setup();
    const block = g.inodeTableStart + 1;
    change(j, block, 0x11);
    const images = new Map<CommitStep, Uint8Array>();
    jbd2_journal_commit_transaction(j, { onStep: (step) => images.set(step, dev.crashImage(always)) });
    // Between the descriptor and the commit block: even with every dirty line evicted, no replay.
    const early = images.get('metadata')!;
    const r1 = jbd2_journal_recover(early, g);
    expect(r1.replayed).toEqual([]);
    expect(r1.discarded).toBe(1);
    expect(homeByte(early, block)).toBe(0);
    // Once the commit is durable, replay restores it.
    const late = images.get('durable')!;
    expect(homeByte(late, block)).toBe(0);
    const r2 = jbd2_journal_recover(late, g);
    expect(r2.replayed).toEqual([1]);
    expect(homeByte(late, block)).toBe(0x11);
  });

  it('with async_commit, a commit block that outran its copies is caught by the checksum', () => {
    const { j, dev, g } = setup({ asyncCommit: true });
    const block = g.inodeTableStart + 2;
    for (let b = 0; b < 8; b++) change(j, block + b, 0x20 + b);
    let lucky: Uint8Array | undefined;
    jbd2_journal_commit_transaction(j, {
      onStep: (step) => {
        // The commit block is stored but nothing is flushed yet: everything is still in the caches.
        if (step === 'commit-block') lucky = dev.crashImage(always);
      },
    });
    // Had the caches written back every line, the transaction would be complete.
    expect(jbd2_journal_recover(lucky!.slice(), g).replayed).toEqual([1]);
    // A crash that kept the commit block's line but not one line of the third copy: torn.
    const torn = lucky!.slice();
    const copy = journalAreas(g).first + 3;
    torn.fill(0, copy * BLOCK_SIZE + 128, copy * BLOCK_SIZE + 192);
    const r = jbd2_journal_recover(torn, g);
    expect(r.replayed).toEqual([]);
    expect(r.discarded).toBe(1);
  });

  it('lets handles of several CPUs join one transaction; each fsync returns only after its commit is durable', async () => {
    const { machine, j } = setup({ commitIntervalMs: 60_000 });
    const stop = await startCommitThread(machine, 5, { commitIntervalMs: 60_000 });
    const barrier = new SharedArrayBuffer(4);
    const g = fsGeometry(machine.config);
    const out = await runCpus<{ tid: number; returnedNs: number }>(
      machine,
      [1, 2, 3].map((cpu) => ({
        cpu,
        module: 'journal_scenarios',
        fn: 'joinAndSync',
        args: { policy: { commitIntervalMs: 60_000 }, block: g.inodeTableStart + cpu, value: cpu, n: 3, barrier },
      })),
    );
    expect(new Set(out.map((o) => o.tid)).size).toBe(1);
    const summary = await stop();
    expect(summary.commits).toBe(1);
    expect(summary.triggers.request).toBe(1);
    const st = machine.views.journalStats;
    const [rec] = readCommitRecords(machine);
    expect(rec).toMatchObject({ tid: out[0].tid, kind: 'full', handles: 3, inodes: 3, blocks: 5 }); // descriptor, 3 copies, commit block
    expect(rec.requestToDurableNs).toBeGreaterThan(0);
    for (const o of out) expect(o.returnedNs).toBeGreaterThanOrEqual(st[COMMIT_RECORD.durableNs]);
    expect(jbd2_transaction_committed(j, out[0].tid)).toBe(true);
  });

  it('commits on its interval when nobody asks', async () => {
    const { machine, j, dev, g } = setup({ commitIntervalMs: 30 });
    const stop = await startCommitThread(machine, 5, { commitIntervalMs: 30 });
    const tid = change(j, g.inodeTableStart, 0x77);
    const t0 = Date.now();
    while (!jbd2_transaction_committed(j, tid) && Date.now() - t0 < 5000) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    expect(jbd2_transaction_committed(j, tid)).toBe(true);
    // Durable means a crash now recovers it (through the log: nothing checkpointed it).
    const image = dev.crashImage(never);
    jbd2_journal_recover(image, g);
    expect(homeByte(image, g.inodeTableStart)).toBe(0x77);
    expect((await stop()).triggers.interval).toBe(1);
  });

  it('holds a handle back when the transaction has no room for its credits; kjournald2 commits it on the size limit, tasks checkpoint, and no CPU hangs', async () => {
    // A 36-block journal: 4 fast-commit blocks, a 31-block log, transactions of at most 8 blocks.
    const config = { journalBlocks: 36 };
    const policy = { commitIntervalMs: 60_000 };
    const { machine, g, j } = setup(policy, 6, config);
    const limit = j.maxTransactionBlocks;
    expect(limit).toBe(8);
    const stop = await startCommitThread(machine, 5, policy);
    const out = await runCpus<{ tids: number[]; maxSeen: number }>(
      machine,
      [1, 2, 3].map((cpu) => ({
        cpu,
        module: 'journal_scenarios',
        fn: 'fillHandles',
        args: { policy, first: g.extentStart + 16 * (cpu - 1), span: 16, perHandle: 2, rounds: 40 },
      })),
    );
    const summary = await stop();
    expect(summary.triggers.size).toBeGreaterThan(0);
    // 240 blocks dirtied in transactions of at most 8: many commits, every one within the limit.
    const recs = readCommitRecords(machine);
    expect(recs.length).toBeGreaterThanOrEqual(240 / limit);
    for (const r of recs) expect(r.blocks).toBeLessThanOrEqual(fullCommitBlocks(limit));
    for (const o of out) expect(o.maxSeen).toBeLessThanOrEqual(limit);
    const js = machine.views.journalState;
    expect(js[JOURNAL.runningTid]).toBe(0); // shutdown committed the rest
    expect(js[JOURNAL.commitSequence]).toBe(Math.max(...out.flatMap((o) => o.tids)));
    // Three transactions fill this log: the handles had to checkpoint, again and again.
    expect(js[JOURNAL.checkpoints]).toBeGreaterThan(0);
    expect([js[JOURNAL.checkpointMutex], js[JOURNAL.committer]]).toEqual([0, 0]);
    // A crash now recovers every CPU's last value of each of its blocks.
    const image = j.dev.crashImage(never);
    jbd2_journal_recover(image, g);
    for (let k = 0; k < 48; k++) expect(homeByte(image, g.extentStart + k)).toBe(machine.views.fsMeta[(g.extentStart + k) * BLOCK_SIZE + 17]);
  });

  it('rejects a handle that asks for more credits than a transaction may hold, a change without write access, and one past its credits', () => {
    const { j, g } = setup();
    const room = j.maxTransactionBlocks;
    expect(room).toBe(Math.floor((journalAreas(g).fullBlocks + 1) / 4)); // a quarter of the journal, less its fast-commit area
    expect(() => jbd2_journal_start(j, room + 1)).toThrow(new RegExp(`^credits: expected an integer from 1 to ${room}`));
    expect(j.handle.open).toBe(false);
    const h = jbd2_journal_start(j, 1);
    expect(() => jbd2_journal_dirty_metadata(h, 3)).toThrow(/^jbd2_journal_dirty_metadata: block 3 was changed without write access in tid 1/);
    jbd2_journal_get_write_access(h, 3);
    jbd2_journal_dirty_metadata(h, 3);
    jbd2_journal_dirty_metadata(h, 3); // already dirtied: no credit spent
    jbd2_journal_get_write_access(h, 4);
    expect(() => jbd2_journal_dirty_metadata(h, 4)).toThrow(/credits: cpu 0's handle has dirtied as many new blocks as it reserved/);
    jbd2_journal_stop(h);
    expect(j.js[JOURNAL.outstandingCredits]).toBe(1); // the one block dirtied; nothing reserved
    // Block 4 had write access and no change: the commit drops it rather than log it.
    expect(jbd2_journal_commit_transaction(j)).toMatchObject({ metadataBlocks: 1, blocks: 3 });
  });

  it('puts the transaction back when a commit fails before the switch, and aborts the journal when one fails after it', () => {
    const { j, g } = setup();
    const js = j.js;
    const tid = change(j, g.inodeTableStart, 0x21);
    // A transaction listing more blocks than a transaction may hold (a broken reservation) is refused...
    const real = js[JOURNAL.nrBuffers];
    js[JOURNAL.nrBuffers] = journalAreas(g).fullBlocks;
    expect(() => jbd2_journal_commit_transaction(j)).toThrow(/^journal: nrBuffers: transaction 1 holds \d+ metadata blocks/);
    // ...and left as it was: running, unlocked, nobody committing.
    expect([js[JOURNAL.runningTid], js[JOURNAL.runningState], js[JOURNAL.committer], js[JOURNAL.aborted]]).toEqual([tid, T_RUNNING, 0, 0]);
    js[JOURNAL.nrBuffers] = real;
    expect(change(j, g.inodeTableStart + 1, 0x22)).toBe(tid);

    // A failure once the transaction is switched out, before it is durable: the journal stops.
    const boom = new Error('device gone');
    expect(() => jbd2_journal_commit_transaction(j, { onStep: (step) => { if (step === 'descriptor') throw boom; } })).toThrow(boom);
    expect([js[JOURNAL.aborted], js[JOURNAL.runningState], js[JOURNAL.committer], js[JOURNAL.committingTid]]).toEqual([1, T_RUNNING, 0, 0]);
    expect(jbd2_transaction_committed(j, tid)).toBe(false);
    const code = (f: () => void) => {
      try {
        f();
      } catch (e) {
        return isFsError(e) ? e.code : String(e);
      }
      return 'no error';
    };
    expect(code(() => jbd2_journal_start(j, 1))).toBe('EROFS');
    expect(code(() => jbd2_complete_transaction(j, tid))).toBe('EIO');
    expect(j.handle.open).toBe(false);
  });

  it('with no commit thread, CPUs that fsync at once take turns committing: one commit per tid, none empty', async () => {
    const { machine, g } = setup({}, 4);
    const n = 150;
    const out = await runCpus<{ tids: number[]; errors: string[] }>(
      machine,
      [1, 2, 3].map((cpu) => ({ cpu, module: 'journal_scenarios', fn: 'syncInline', args: { block: g.inodeTableStart + cpu, n } })),
    );
    for (const o of out) expect(o.errors).toEqual([]);
    const recs = readCommitRecords(machine);
    const tids = recs.map((r) => r.tid);
    // Strictly increasing: no tid committed twice, none out of order.
    for (let i = 1; i < tids.length; i++) expect(tids[i]).toBeGreaterThan(tids[i - 1]);
    for (const r of recs) expect(r).toMatchObject({ kind: 'full' });
    for (const r of recs) expect(r.blocks).toBeGreaterThanOrEqual(3); // descriptor, a copy, commit block
    const committed = new Set(tids);
    for (const o of out) for (const t of o.tids) expect(committed.has(t)).toBe(true);
    const js = machine.views.journalState;
    expect([js[JOURNAL.committer], js[JOURNAL.commitSequence]]).toEqual([0, tids[tids.length - 1]]);
  });

  it('publishes the committing transaction\'s blocks in shared memory while it commits', async () => {
    // Two flushes of 150 ms each keep the commit in flight long enough for another CPU to look.
    const policy = { commitIntervalMs: 60_000, journalFlushNs: 150e6 };
    const { machine, g } = setup(policy);
    const stop = await startCommitThread(machine, 5, policy);
    const barrier = new SharedArrayBuffer(4);
    const blocks = [g.inodeTableStart + 1, g.extentStart + 7];
    const [watch, ...syncs] = await runCpus<{ tid: number; count: number; blocks: number[] } | null>(machine, [
      { cpu: 3, module: 'journal_scenarios', fn: 'watchCommitting', args: { lastTid: 1, barrier } },
      ...blocks.map((block, i) => ({
        cpu: i + 1,
        module: 'journal_scenarios',
        fn: 'joinAndSync',
        args: { policy, block, value: 9, n: blocks.length + 1, barrier },
      })),
    ]);
    expect(syncs.map((o) => o!.tid)).toEqual([1, 1]);
    expect(watch).not.toBeNull();
    expect({ ...watch!, blocks: [...watch!.blocks].sort((a, b) => a - b) }).toEqual({ tid: 1, count: 2, blocks });
    await stop();
    const js = machine.views.journalState;
    expect([js[JOURNAL.committingTid], js[JOURNAL.committingBuffers]]).toEqual([0, 0]);
  });

  it('shows the committing list through any attachment of the machine, at every step until durable', () => {
    const { machine, j, g } = setup();
    const other = attachMachine(machine.descriptor).views;
    const blocks = extentBlocks(g, 10, 5);
    for (const b of blocks) change(j, b, 0x33);
    const seen: string[] = [];
    jbd2_journal_commit_transaction(j, {
      onStep: (step) => {
        const count = other.journalState[JOURNAL.committingBuffers];
        const list = Array.from(other.journalCommitBuffers.subarray(0, count));
        seen.push(`${step}: tid ${other.journalState[JOURNAL.committingTid]} [${list.join(',')}]`);
      },
    });
    const all = `[${blocks.join(',')}]`;
    expect(seen).toEqual([`descriptor: tid 1 ${all}`, `metadata: tid 1 ${all}`, `commit-block: tid 1 ${all}`, 'durable: tid 0 []']);
  });

  it('refuses to wait for a transaction while holding a handle in it (that would deadlock)', () => {
    const { j, g } = setup();
    const h = jbd2_journal_start(j, 1);
    jbd2_journal_get_write_access(h, g.inodeTableStart);
    jbd2_journal_dirty_metadata(h, g.inodeTableStart);
    expect(() => jbd2_complete_transaction(j, h.tid)).toThrow(/deadlock/);
    expect(() => jbd2_journal_start(j, 1)).toThrow(/already has an open handle/);
    expect(() => jbd2_journal_dirty_metadata(h, g.metaBlocks)).toThrow(/block: expected an integer from 0 to/);
    jbd2_journal_stop(h);
    expect(() => jbd2_journal_stop(h)).toThrow(/not open/);
  });
});

describe('the log and its checkpoint', () => {
  afterEach(() => unbindThreadCpu());

  // The 8 MiB test device's 64-block journal: a 59-block log (and 4 fast-commit blocks),
  // transactions of at most 15 blocks, so a handle needs 17 free log blocks (and one spare)
  // to join.
  const fsync = (j: Journal, block: number, value: number) => jbd2_complete_transaction(j, change(j, block, value));

  it('keeps committed transactions in the log until a handle finds it short of space, and that handle writes the oldest home', () => {
    const { j, dev, g } = virtualSetup();
    const a = journalAreas(g);
    const blocks = extentBlocks(g, 0, 15);
    // Fourteen transactions of one block each, three log blocks apiece: 42 of 59 in use.
    for (let i = 0; i < 14; i++) fsync(j, blocks[i], i + 1);
    expect([j.js[JOURNAL.free], j.js[JOURNAL.checkpoints], j.js[JOURNAL.tailTid]]).toEqual([a.fullBlocks - 42, 0, 1]);
    expect(blocks.slice(0, 14).map((b) => homeByte(dev.crashImage(never), b))).toEqual(new Array(14).fill(0));
    // The fifteenth handle finds 17 free blocks, one short: it checkpoints transaction 1 (its
    // block home), flushes the device and moves the tail in the superblock (a FUA write).
    const t0 = nowNs();
    const h = jbd2_journal_start(j, 1);
    expect(nowNs() - t0).toBe(B + F + (B + F));
    jbd2_journal_stop(h);
    expect([j.js[JOURNAL.checkpoints], j.js[JOURNAL.checkpointBlocks], j.js[JOURNAL.tailUpdates], j.js[JOURNAL.tailTid], j.js[JOURNAL.free]]).toEqual([1, 1, 1, 2, a.fullBlocks - 39]);
    const image = dev.crashImage(never);
    expect([homeByte(image, blocks[0]), homeByte(image, blocks[1])]).toEqual([1, 0]);
    const sb = new Int32Array(image.buffer, a.sb * BLOCK_SIZE, 8);
    expect([sb[JSB.s_start], sb[JSB.s_sequence]]).toEqual([a.first + 3, 2]);
    // Replay starts at the new tail and brings the rest home.
    expect(jbd2_journal_recover(image, g).replayed).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    expect(blocks.slice(0, 14).map((b) => homeByte(image, b))).toEqual(Array.from({ length: 14 }, (_, i) => i + 1));
  });

  it('needs no checkpoint while commits log the same block again: the tail moves past the emptied transactions', () => {
    const { j, dev, g } = virtualSetup();
    const block = g.extentStart + 5;
    const times: number[] = [];
    for (let i = 1; i <= 30; i++) {
      const t0 = nowNs();
      fsync(j, block, i);
      times.push(nowNs() - t0);
    }
    // Each commit takes the block off the previous transaction's checkpoint list; once the
    // transactions so emptied hold 15 log blocks or more (five of them), a commit moves the
    // tail past them, rewriting the superblock before it wakes its waiter.
    expect([j.js[JOURNAL.checkpoints], j.js[JOURNAL.checkpointBlocks], j.js[JOURNAL.tailUpdates]]).toEqual([0, 0, 5]);
    const moved = [7, 12, 17, 22, 27];
    expect(times).toEqual(times.map((_, i) => fullCommitNs(1) + (moved.includes(i + 1) ? B + F : 0)));
    expect(j.js[JOURNAL.tailTid]).toBe(26);
    const image = dev.crashImage(never);
    expect(homeByte(image, block)).toBe(0); // never written home: the log has it
    expect(jbd2_journal_recover(image, g).replayed).toEqual([26, 27, 28, 29, 30]);
    expect(homeByte(image, block)).toBe(30);
  });

  it('wraps around the log: a transaction may straddle its end, and replay follows it', () => {
    const { j, dev, g } = virtualSetup();
    const a = journalAreas(g);
    const blocks = extentBlocks(g, 0, 40);
    let wrapped: Uint8Array | undefined;
    for (let i = 0; i < 40; i++) {
      fsync(j, blocks[i], i + 1);
      // 59 = 19 x 3 + 2: transaction 20 starts in the log's last block but one and ends in its first.
      if (i + 1 === 20) wrapped = dev.crashImage(never);
    }
    const rec = (tid: number) => j.log.subarray((tid % g.journalBlocks) * LOG_TX.stride, (tid % g.journalBlocks + 1) * LOG_TX.stride);
    expect(rec(20)[LOG_TX.logStart]).toBe(57);
    expect(jbd2_journal_recover(wrapped!, g).replayed).toContain(20);
    expect(blocks.slice(0, 20).map((b) => homeByte(wrapped!, b))).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(j.js[JOURNAL.head]).toBe((40 * 3) % a.fullBlocks);
    expect(j.js[JOURNAL.checkpoints]).toBeGreaterThan(0);
    expect(rec(40)[LOG_TX.tid]).toBe(40);
    const image = dev.crashImage(always);
    jbd2_journal_recover(image, g);
    expect(blocks.map((b) => homeByte(image, b))).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });

  it('a bigger journal checkpoints less often: its size is a knob', () => {
    const run = (journalBlocks: number) => {
      const { j, g } = virtualSetup({}, { journalBlocks });
      for (let i = 0; i < 40; i++) fsync(j, g.extentStart + i, i + 1);
      const n = j.js[JOURNAL.checkpoints];
      unbindThreadCpu();
      return n;
    };
    expect(run(64)).toBeGreaterThan(5);
    // 40 transactions of 3 blocks leave a 251-block log room for one of 63 blocks (65 with its descriptor and commit block).
    expect(run(256)).toBe(0);
  });

  it('waits for the commit of a buffer the checkpoint must write that a committing transaction holds', async () => {
    const policy = { commitIntervalMs: 60_000 };
    const { machine, j, g } = virtualSetup(policy);
    const blocks = extentBlocks(g, 0, 15);
    // Thirteen transactions (39 of 59 log blocks); the fourteenth logs transaction 1's block again.
    for (let i = 0; i < 13; i++) fsync(j, blocks[i], i + 1);
    const base = nowNs();
    unbindThreadCpu();
    const [, late] = await timed<{ tid: number; askedNs: number; joinedNs: number }>(machine, policy, [
      { cpu: 1, fn: 'fsyncAt', args: { policy, block: blocks[0], value: 0x99, ino: 1, atNs: base } },
      // While it commits (W to W + fullCommitNs(1)), a handle finds the log one block short
      // and checkpoints transaction 1, whose block the committing transaction holds: it waits
      // for that commit (which takes the block onto its own list), then only moves the tail.
      { cpu: 2, fn: 'handleAt', args: { policy, block: blocks[14], value: 15, atNs: base + 5000 } },
    ]);
    expect(late.tid).toBe(15);
    expect(late.joinedNs - base).toBe(W + fullCommitNs(1) + W + F + (B + F));
    expect([j.js[JOURNAL.checkpointBlocks], j.js[JOURNAL.tailTid] >= 2]).toEqual([0, true]);
    const image = j.dev.crashImage(never);
    jbd2_journal_recover(image, g);
    expect([homeByte(image, blocks[0]), homeByte(image, blocks[14])]).toEqual([0x99, 15]);
  });
});

describe('synchronous handles batch in jbd2_journal_stop (min_batch_time, max_batch_time)', () => {
  const policy = { commitIntervalMs: 60_000, minBatchTimeUs: 1000 };
  const run = async (p: Partial<JournalPolicy>) => {
    const { machine, g } = setup(p, 6, { clock: 'virtual', costs });
    const [a, b] = await timed<{ tid: number; returnedNs: number }>(machine, p, [
      { cpu: 1, fn: 'syncHandleAt', args: { policy: p, block: g.inodeTableStart, value: 1, atNs: 0 } },
      { cpu: 2, fn: 'syncHandleAt', args: { policy: p, block: g.inodeTableStart + 1, value: 2, atNs: 500_000 } },
    ]);
    return { machine, a, b };
  };

  it('a second sync writer joins the first one\'s transaction while both sleep their batching time, and one commit serves both', async () => {
    const { machine, a, b } = await run(policy);
    // A stops at 0 and sleeps min_batch_time (1 ms: no commit has been timed yet), its handle
    // open; B joins at 0.5 ms and sleeps 1 ms too. Only when B's handle is gone (1.5 ms) can
    // kjournald2, asked at 1 ms, switch the transaction: one wake-up later.
    expect([a.tid, b.tid]).toEqual([1, 1]);
    const durable = 1_500_000 + W + fullCommitNs(2);
    expect([a.returnedNs, b.returnedNs]).toEqual([durable + W, durable + W]);
    const [rec] = readCommitRecords(machine);
    expect(rec).toMatchObject({ tid: 1, handles: 2, inodes: 2, requestToDurableNs: durable - 1_000_000 });
  });

  it('with max_batch_time=0 nothing waits: each sync writer gets a commit of its own', async () => {
    const { machine, a, b } = await run({ ...policy, maxBatchTimeUs: 0 });
    expect([a.tid, b.tid]).toEqual([1, 2]);
    expect(a.returnedNs).toBe(W + fullCommitNs(1) + W);
    expect(b.returnedNs).toBe(500_000 + W + fullCommitNs(1) + W);
    expect(readCommitRecords(machine).map((r) => r.handles)).toEqual([1, 1]);
  });

  it('an fsync never batches: its commit starts one wake-up after its request, whatever the batch times', async () => {
    const p = { ...policy, maxBatchTimeUs: 15_000 };
    const { machine, g } = setup(p, 6, { clock: 'virtual', costs });
    const [f] = await timed<{ returnedNs: number }>(machine, p, [{ cpu: 1, fn: 'fsyncAt', args: { policy: p, block: g.inodeTableStart, value: 1, ino: 1, atNs: 1000 } }]);
    expect(f.returnedNs).toBe(1000 + W + fullCommitNs(1) + W);
    expect(readCommitRecords(machine)[0].requestToDurableNs).toBe(W + fullCommitNs(1));
  });

  it('starting a transaction arms the commit timer and leaves kjournald2 idle: only the commit request wakes it, paying its idle exit then', async () => {
    // Every idle wake-up costs exactly D (sigma 0), however short the idle period.
    const D = 20_000;
    const idleWakeup = { medianNs: D, sigma: 0, minIdleNs: 0 };
    const p = { commitIntervalMs: 60_000 };
    const { machine, g } = setup(p, 6, { clock: 'virtual', costs, idleWakeup });
    // A handle starts transaction 1 at 0; an fsync joins it at 1 µs and asks for its commit.
    // Woken at the transaction's start (the old lab), kjournald2 was still leaving its idle
    // state (W + D) when the request came, and committed from W + D.
    const [, f] = await timed<{ returnedNs: number }>(machine, p, [
      { cpu: 1, fn: 'handleAt', args: { policy: p, block: g.inodeTableStart, value: 1, atNs: 0 } },
      { cpu: 2, fn: 'fsyncAt', args: { policy: p, block: g.inodeTableStart + 1, value: 2, ino: 2, atNs: 1000 } },
    ]);
    const [rec] = readCommitRecords(machine);
    expect(rec.requestToDurableNs).toBe(W + D + fullCommitNs(2));
    expect(f.returnedNs).toBe(1000 + W + D + fullCommitNs(2) + W + D);
  });

  it('a transaction nobody commits is committed when its timer expires, at t_start + commit=', async () => {
    const p = { commitIntervalMs: 3 };
    const { machine, g } = setup(p, 6, { clock: 'virtual', costs });
    // The second handle, well after the interval, keeps the run (and kjournald2) going past it.
    await timed(machine, p, [
      { cpu: 1, fn: 'handleAt', args: { policy: p, block: g.inodeTableStart, value: 1, atNs: 500_000 } },
      { cpu: 2, fn: 'handleAt', args: { policy: p, block: g.inodeTableStart + 1, value: 2, atNs: 5_000_000 } },
    ]);
    const [rec] = readCommitRecords(machine);
    // The timer's expiry wakes kjournald2 at its own instant: no wake-up cost before the commit.
    expect(rec).toMatchObject({ tid: 1, commitNs: fullCommitNs(1) });
    expect(machine.views.journalStats[COMMIT_RECORD.startNs]).toBe(500_000 + 3_000_000);
  });

  it('a lone task syncing again does not wait for joiners (j_last_sync_writer), and the average commit time sets the wait', () => {
    const { j, g } = virtualSetup({ maxBatchTimeUs: 15_000 });
    const sync = (block: number) => {
      const h = jbd2_journal_start(j, 1);
      jbd2_journal_get_write_access(h, block);
      jbd2_journal_dirty_metadata(h, block);
      h.sync = true;
      const t0 = nowNs();
      jbd2_journal_stop(h);
      return nowNs() - t0;
    };
    // No commit timed yet and min_batch_time 0: no wait, just the commit.
    expect(sync(g.inodeTableStart)).toBe(fullCommitNs(1));
    expect(j.times[JOURNAL_TIMES.averageCommitNs]).toBe(fullCommitNs(1)); // j_average_commit_time: the first commit's own time
    // The same task again: it was the last sync writer, so no wait.
    expect(sync(g.inodeTableStart + 1)).toBe(fullCommitNs(1));
    // Another task's sync handle waits the average commit time (under max_batch_time) first.
    const other = new Journal(attachCpu(j.cpu.machine, 1), j.dev, { maxBatchTimeUs: 15_000 });
    const h = jbd2_journal_start(other, 1);
    jbd2_journal_get_write_access(h, g.inodeTableStart + 2);
    jbd2_journal_dirty_metadata(h, g.inodeTableStart + 2);
    h.sync = true;
    const t0 = nowNs();
    jbd2_journal_stop(h);
    expect(nowNs() - t0).toBe(fullCommitNs(1) + fullCommitNs(1));
  });
});

describe('commits switch briefly and freeze buffers lazily (do_get_write_access)', () => {
  // Blocks cost 100 µs each so that write access lands inside one block's write.
  const slow = { ...costs, journalBlockWriteNs: 100_000 };
  const SB = slow.journalBlockWriteNs;
  const run = async (atNs: number) => {
    const policy = { commitIntervalMs: 60_000 };
    const { machine, g, j } = setup(policy, 6, { clock: 'virtual', costs: slow });
    const block = g.inodeTableStart + 1;
    const [, access] = await timed<unknown>(machine, policy, [
      { cpu: 1, fn: 'fsyncAt', args: { policy, block, value: 1, ino: 1, atNs: 0 } },
      { cpu: 2, fn: 'writeAccessAt', args: { policy, block, value: 2, atNs } },
    ]);
    return { j, g, block, access: access as { tid: number; askedNs: number; grantedNs: number; frozen: boolean } };
  };
  // kjournald2 is woken at W and switches there; its own work takes C, the descriptor one
  // block: the buffer's own write (BH_Shadow) runs from W + C + SB to W + C + 2 SB.
  const shadowFrom = W + C + SB;
  const shadowTo = W + C + 2 * SB;

  it('a handle of the next transaction that wants a buffer not yet logged gets a frozen copy at once; the commit logs the copy', async () => {
    const { j, g, block, access } = await run(50_000);
    expect(access).toMatchObject({ tid: 2, askedNs: 50_000, grantedNs: 50_000, frozen: true });
    // The log's copy of transaction 1 is the version it committed, though the buffer changed before it was written.
    const logged = journalAreas(g).first + 1;
    expect(j.dev.load(logged * BLOCK_SIZE + 17, 1)[0]).toBe(1);
    expect(j.dev.load(block * BLOCK_SIZE + 17, 1)[0]).toBe(0); // not home yet
  });

  it('a handle that wants the buffer while the commit writes it waits for that one block write only', async () => {
    const { access } = await run(150_000);
    expect(150_000).toBeGreaterThan(shadowFrom);
    expect(access).toMatchObject({ tid: 2, askedNs: 150_000, grantedNs: shadowTo + W, frozen: false });
  });
});

describe('ext4 fast commit runs in the fsyncing task', () => {
  afterEach(() => unbindThreadCpu());

  it('does a full commit when no full commit has happened since mount, then fast commits: every queued inode, its blocks and one flush, no hand-off', async () => {
    const policy = { fastCommit: true, commitIntervalMs: 60_000 };
    const { machine, g, j } = setup(policy, 6, { clock: 'virtual', costs });
    const per = machine.config.fsExtentBlocksPerInode;
    const [first] = await timed<{ tid: number; calledNs: number; returnedNs: number }>(machine, policy, [
      { cpu: 1, fn: 'fsyncAt', args: { policy, block: g.extentStart + per, value: 0x31, ino: 1, atNs: 0, extent: true } },
    ]);
    // jbd2_fc_begin_commit's -EINVAL: a full commit through kjournald2, two wake-ups.
    expect(first.returnedNs - first.calledNs).toBe(W + fullCommitNs(1) + W);
    expect(machine.views.journalState[JOURNAL.fcFallbacks]).toBe(1);
    // Now inode 2 changes its record (an inode-table block) and inode 1 its extent block again.
    bindThreadCpu(j.cpu);
    const tid = change(j, g.inodeTableStart, 0x32, 2);
    expect(mapExtent(j, g.extentStart + per, 0x33, 1)).toBe(tid);
    const t0 = nowNs();
    ext4_fc_commit(j, 1, tid);
    // Inode 1's record and its new extent, inode 2's record, packed as ext4 packs its tags:
    // one block, one flush, nothing else.
    expect(nowNs() - t0).toBe(B + F);
    expect(jbd2_transaction_committed(j, tid)).toBe(false);
    expect([ext4_fc_inode_clean(j, 1), ext4_fc_inode_clean(j, 2)]).toEqual([true, true]);
    expect(readCommitRecords(machine).map((r) => [r.kind, r.inodes, r.blocks])).toEqual([['full', 1, 3], ['fast', 2, 1]]);
    // A crash now: the fast commit restores both inodes' records and inode 1's extent block.
    const image = j.dev.crashImage(never);
    const r = jbd2_journal_recover(image, g);
    expect([r.replayed, r.fastCommits]).toEqual([[1], 2]);
    const extent = new Int32Array(image.buffer, (g.extentStart + per) * BLOCK_SIZE, 8);
    expect(Array.from(extent)).toEqual([0, 1, 0, 0, 0x33, 0x33, 0x33, 0x33]);
    expect(image[g.inodeTableStart * BLOCK_SIZE + 2 * 256]).toBe(0x32); // inode 2's record
    // A torn fast commit (its tail's block lost a line) is not replayed.
    const torn = j.dev.crashImage(never);
    const fcBlock = journalAreas(g).fcFirst;
    torn.fill(0, fcBlock * BLOCK_SIZE + 64, fcBlock * BLOCK_SIZE + 128);
    expect(jbd2_journal_recover(torn, g).fastCommits).toBe(0);
  });

  it('packs its records as ext4 packs its tags: none across a block, a long one split where a block ends, none past the area', () => {
    const buf = new Uint8Array(4 * BLOCK_SIZE);
    const w = new FcWriter(buf, 4);
    w.head(7);
    for (let i = 0; i < 20; i++) w.inode(i, 100 + i, new Uint8Array(256).fill(i));
    const extents = new Int32Array(1024).map((_, i) => i + 1); // a full extent block
    w.ext(99, extents);
    // HEAD and 15 inode records fill the first block exactly; 5 more and the extent block's
    // first 680 words the second; the rest of it and the tail the third.
    expect(w.tail(7)).toBe(3);
    expect(w.full).toBe(false);
    const [records, ...more] = readFastCommits(buf, 4, 7);
    expect(more).toEqual([]);
    const inodes = records.filter((r) => r.tag === FC_TAG.INODE);
    expect(inodes.map((r) => [r.ino, r.seq, r.record[0]])).toEqual(Array.from({ length: 20 }, (_, i) => [i, 100 + i, i]));
    const chunks = records.filter((r) => r.tag === FC_TAG.EXT);
    expect(chunks.map((r) => [r.home, r.first, r.words.length])).toEqual([[99, 0, 680], [99, 680, 344]]);
    expect(Int32Array.from(chunks.flatMap((r) => Array.from(r.words)))).toEqual(extents);
    // Another tid's, or a torn one, reads as nothing.
    expect(readFastCommits(buf, 4, 8)).toEqual([]);
    const torn = buf.slice();
    torn[2 * BLOCK_SIZE + 8] ^= 1;
    expect(readFastCommits(torn, 4, 7)).toEqual([]);
    // Two blocks cannot hold it: the fast commit is refused (ext4 falls back to a full commit).
    const small = new FcWriter(new Uint8Array(4 * BLOCK_SIZE), 2);
    small.head(7);
    for (let i = 0; i < 20; i++) small.inode(i, 0, new Uint8Array(256));
    small.ext(99, extents);
    expect(small.full).toBe(true);
  });

  it('waits for a full commit under way, then performs its fast commit itself', async () => {
    const policy = { fastCommit: true, commitIntervalMs: 60_000 };
    const { machine, j, g } = setup(policy, 6, { clock: 'virtual', costs });
    // One full commit first (on the host, before the CPUs start), so fast commits are allowed.
    change(j, g.inodeTableStart, 1, 3);
    jbd2_journal_commit_transaction(j);
    const per = machine.config.fsExtentBlocksPerInode;
    const [, fc] = await timed<{ tid: number; calledNs: number; returnedNs: number }>(machine, { commitIntervalMs: 60_000 }, [
      // Inode 3's fsync with fast commit off: a full commit of tid 2, from 0 to W + fullCommitNs(1).
      { cpu: 1, fn: 'fsyncAt', args: { policy: { commitIntervalMs: 60_000 }, block: g.inodeTableStart, value: 2, ino: 3, atNs: 0 } },
      { cpu: 2, fn: 'fsyncAt', args: { policy, block: g.extentStart + per, value: 0x41, ino: 1, atNs: 5000, extent: true } },
    ]);
    expect(fc.tid).toBe(3);
    const fullEnds = W + fullCommitNs(1);
    expect(fc.returnedNs).toBe(fullEnds + W + B + F);
    // (Then kjournald2's shutdown commits tid 3 in full.)
    const recs = readCommitRecords(machine);
    expect(recs.map((r) => [r.tid, r.kind])).toEqual([[1, 'full'], [2, 'full'], [3, 'fast'], [3, 'full']]);
    expect(recs[2].requestToDurableNs).toBe(fc.returnedNs - 5000);
  });

  it('falls back to a full commit, counted, when another inode made the transaction ineligible', async () => {
    const { machine, j, g } = setup({ fastCommit: true, commitIntervalMs: 60_000 });
    change(j, g.inodeTableStart, 1, 3);
    jbd2_journal_commit_transaction(j);
    const stop = await startCommitThread(machine, 5, { fastCommit: true, commitIntervalMs: 60_000 });
    const per = machine.config.fsExtentBlocksPerInode;
    const tid = change(j, g.extentStart + per, 0x41, 1);
    // Inode 2 frees blocks in the same transaction (a punch): inode 1 may depend on it.
    const h = jbd2_journal_start(j, 1);
    jbd2_journal_get_write_access(h, g.extentStart + 2 * per);
    jbd2_journal_dirty_metadata(h, g.extentStart + 2 * per);
    jbd2_journal_add_inode(h, 2);
    ext4_fc_mark_ineligible(h);
    jbd2_journal_stop(h);
    ext4_fc_commit(j, 1, tid);
    expect(jbd2_transaction_committed(j, tid)).toBe(true); // a full commit stood in
    expect(machine.views.journalState[JOURNAL.fcFallbacks]).toBe(1);
    expect(ext4_fc_inode_clean(j, 2)).toBe(true); // the full commit covered inode 2 as well
    expect(readCommitRecords(machine).filter((r) => r.kind === 'fast')).toEqual([]);
    await stop();
    expect(machine.views.journalState[JOURNAL.committer]).toBe(0); // the word left for the full commit was taken and let go
  });

  it('times each fast commit from its own request, and a fallback full commit from the fsync it serves', () => {
    // No commit thread: the fsyncing CPU commits. On the virtual clock, so each commit's time
    // is exactly its modeled cost and the pauses take no host time.
    const { machine, j, g } = virtualSetup({ fastCommit: true }, { fsExtentBlocksPerInode: 1 });
    const per = machine.config.fsExtentBlocksPerInode;
    const pause = () => charge(150e6);
    change(j, g.inodeTableStart, 1, 3);
    jbd2_journal_commit_transaction(j); // fast commits need a full commit since mount
    const tid = mapExtent(j, g.extentStart + per, 0x51, 1);
    ext4_fc_commit(j, 1, tid);
    pause();
    expect(mapExtent(j, g.extentStart + per, 0x52, 1)).toBe(tid);
    ext4_fc_commit(j, 1, tid);
    pause();
    // Inode 2 frees blocks in the same transaction: its fsync falls back to a full commit.
    const h = jbd2_journal_start(j, 1);
    jbd2_journal_get_write_access(h, g.extentStart + 2 * per);
    jbd2_journal_dirty_metadata(h, g.extentStart + 2 * per);
    jbd2_journal_add_inode(h, 2);
    ext4_fc_mark_ineligible(h);
    jbd2_journal_stop(h);
    ext4_fc_commit(j, 2, tid);
    const recs = readCommitRecords(machine).slice(1);
    expect(recs.map((r) => r.kind)).toEqual(['fast', 'fast', 'full']);
    // Each is its own commit's cost, from its own request: a fast commit writes its block
    // (inode 1's record and extent) and flushes once; a full commit adds its own work and
    // flushes twice.
    const [fc1, fc2, full] = recs;
    expect([fc1.requestToDurableNs, fc2.requestToDurableNs]).toEqual([B + F, B + F]);
    expect(full.requestToDurableNs).toBe(fullCommitNs(full.blocks - 2));
  });
});
