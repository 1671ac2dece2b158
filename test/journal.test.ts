import { afterEach, describe, expect, it } from 'vitest';
import { attachMachine, createMachine, type Machine } from '../src/machine/machine.js';
import { BLOCK_SIZE, COMMIT_RECORD, JOURNAL, MiB, fsGeometry, type MachineConfigInput } from '../src/machine/layout.js';
import { attachCpu } from '../src/sync/cpu.js';
import { PmemDevice } from '../src/pmem/device.js';
import {
  Journal,
  ext4_fc_commit,
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
  type CommitResult,
  type CommitStep,
} from '../src/journal/commit.js';
import { jbd2_journal_recover } from '../src/journal/recovery.js';
import { fullCommitBlocks, journalAreas } from '../src/journal/ondisk.js';
import { readCommitRecords } from '../src/journal/stats.js';
import { change } from './workers/journal_scenarios.js';
import type { KjournaldSummary } from '../src/journal/kjournald.js';
import { resolveJournalPolicy, type JournalPolicy } from '../src/journal/policy.js';
import { runCpus } from './support/workers.js';
import { bindThreadCpu, charge, unbindThreadCpu } from '../src/sync/vclock.js';
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

describe('jbd2 journal', () => {
  it('rejects a bad policy naming the knob', () => {
    expect(() => resolveJournalPolicy({ commitIntervalMs: 0 })).toThrow(/journal\.commitIntervalMs: expected an integer from 1/);
    expect(() => resolveJournalPolicy({ fastCommit: 'yes' as unknown as boolean })).toThrow(/journal\.fastCommit/);
  });

  it('commits a transaction: metadata reaches its home block only through the journal', () => {
    const { j, dev, g } = setup();
    const block = g.inodeTableStart;
    const tid = change(j, block, 0x5a);
    expect(jbd2_transaction_committed(j, tid)).toBe(false);
    expect(homeByte(dev.crashImage(never), block)).toBe(0);
    const r = jbd2_journal_commit_transaction(j)!;
    expect(r).toMatchObject({ tid, kind: COMMIT_FULL, metadataBlocks: 1, blocks: 3, handles: 1, inodes: 1 });
    expect(jbd2_transaction_committed(j, tid)).toBe(true);
    expect(homeByte(dev.crashImage(never), block)).toBe(0x5a);
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
    // Once the commit is durable (before the checkpoint wrote the home block), replay restores it.
    const late = images.get('durable')!;
    expect(homeByte(late, block)).toBe(0);
    const r2 = jbd2_journal_recover(late, g);
    expect(r2.replayed).toEqual([1]);
    expect(homeByte(late, block)).toBe(0x11);
    // After the checkpoint there is nothing left to replay and the next tid is expected.
    const after = dev.crashImage(never);
    expect(jbd2_journal_recover(after, g)).toMatchObject({ replayed: [], nextTid: 2 });
    expect(homeByte(after, block)).toBe(0x11);
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
    // Durable means a crash now recovers it: the checkpoint that writes the home block runs
    // just after the waiters are woken, so the image is read through recovery (which replays
    // the transaction unless the checkpoint got there first).
    const image = dev.crashImage(never);
    jbd2_journal_recover(image, g);
    expect(homeByte(image, g.inodeTableStart)).toBe(0x77);
    expect((await stop()).triggers.interval).toBe(1);
  });

  it('fast-commits just the inode when the transaction is eligible', async () => {
    const { machine, j, dev, g } = setup({ fastCommit: true, commitIntervalMs: 60_000 });
    const stop = await startCommitThread(machine, 5, { fastCommit: true, commitIntervalMs: 60_000 });
    const per = machine.config.fsExtentBlocksPerInode;
    const mine = g.extentStart + 1 * per; // inode 1's first extent block
    const theirs = g.extentStart + 2 * per; // inode 2's
    const tid = change(j, mine, 0x31, 1);
    change(j, theirs, 0x32, 2);
    ext4_fc_commit(j, 1, tid);
    expect(jbd2_transaction_committed(j, tid)).toBe(false); // no full commit happened
    expect(ext4_fc_inode_clean(j, 1)).toBe(true);
    expect(ext4_fc_inode_clean(j, 2)).toBe(false);
    const image = dev.crashImage(never);
    const r = jbd2_journal_recover(image, g);
    expect(r.fastCommits).toBe(1);
    expect(homeByte(image, mine)).toBe(0x31);
    expect(homeByte(image, theirs)).toBe(0); // the other inode's change was not made durable
    const s = await stop();
    expect(s.fastCommits).toBe(1);
    expect(machine.views.journalState[JOURNAL.fcFallbacks]).toBe(0);
  });

  it('falls back to a full commit when another inode made the transaction ineligible', async () => {
    const { machine, j, g } = setup({ fastCommit: true, commitIntervalMs: 60_000 });
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
    expect((await stop()).fastCommits).toBe(0);
  });

  it('times each fast commit from its own request, and a fallback full commit from the fsync it serves', () => {
    // No commit thread: the fsyncing CPU commits, as ext4's fast commit does. One extent
    // block per inode, so that the 8-block fast-commit area holds both fast commits. On the
    // virtual clock, so each commit's time is exactly its modeled cost and the pauses take
    // no host time.
    const costs = { journalBlockWriteNs: 2000, journalFlushNs: 1000, commitNs: 10_000 };
    const { machine, j, g } = setup({ fastCommit: true }, 6, { fsExtentBlocksPerInode: 1, clock: 'virtual', costs });
    bindThreadCpu(j.cpu);
    try {
      const per = machine.config.fsExtentBlocksPerInode;
      const pause = () => charge(150e6);
      const tid = change(j, g.extentStart + per, 0x51, 1);
      ext4_fc_commit(j, 1, tid);
      pause();
      expect(change(j, g.extentStart + per, 0x52, 1)).toBe(tid);
      ext4_fc_commit(j, 1, tid);
      pause();
      // Inode 2 frees blocks in the same transaction: its fsync falls back to a full commit.
      const h = jbd2_journal_start(j, 1);
      jbd2_journal_dirty_metadata(h, g.extentStart + 2 * per);
      jbd2_journal_add_inode(h, 2);
      ext4_fc_mark_ineligible(h);
      jbd2_journal_stop(h);
      ext4_fc_commit(j, 2, tid);
      const recs = readCommitRecords(machine);
      expect(recs.map((r) => r.kind)).toEqual(['fast', 'fast', 'full']);
      // Each is its own commit's cost, from its own request (the first request's time would
      // put the second at one pause and the full commit at two): a fast commit writes its
      // blocks and flushes once; a full commit adds its own work and flushes twice.
      const [fc1, fc2, full] = recs;
      expect(fc1.requestToDurableNs).toBe(fc1.blocks * costs.journalBlockWriteNs + costs.journalFlushNs);
      expect(fc2.requestToDurableNs).toBe(fc2.blocks * costs.journalBlockWriteNs + costs.journalFlushNs);
      expect(full.requestToDurableNs).toBe(costs.commitNs + full.blocks * costs.journalBlockWriteNs + 2 * costs.journalFlushNs);
    } finally {
      unbindThreadCpu();
    }
  });

  it('holds a handle back when the transaction has no room for its credits; kjournald2 commits it on the size limit and no CPU hangs', async () => {
    const limit = 8;
    const policy = { commitIntervalMs: 60_000, maxTransactionBlocks: limit };
    const { machine, g } = setup(policy);
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
    // 240 blocks filed in transactions of at most 8: many commits, every one within the limit.
    const recs = readCommitRecords(machine);
    expect(recs.length).toBeGreaterThanOrEqual(240 / limit);
    for (const r of recs) expect(r.blocks).toBeLessThanOrEqual(fullCommitBlocks(limit));
    for (const o of out) expect(o.maxSeen).toBeLessThanOrEqual(limit);
    const js = machine.views.journalState;
    expect(js[JOURNAL.runningTid]).toBe(0); // shutdown committed the rest
    expect(js[JOURNAL.commitSequence]).toBe(Math.max(...out.flatMap((o) => o.tids)));
  });

  it('fills the full-commit area with a transaction at the size limit; a crash once it is durable replays all of it', () => {
    const { j, dev, g } = setup();
    const limit = j.maxTransactionBlocks;
    const area = journalAreas(g).fullBlocks;
    expect(fullCommitBlocks(limit)).toBeLessThanOrEqual(area);
    expect(fullCommitBlocks(limit + 1)).toBeGreaterThan(area);
    const blocks = extentBlocks(g, 0, limit);
    for (const b of blocks) expect(change(j, b, 1 + (b % 200))).toBe(1);
    let image: Uint8Array | undefined;
    const r = jbd2_journal_commit_transaction(j, { onStep: (step) => step === 'durable' && (image = dev.crashImage(never)) }) as CommitResult;
    expect(r).toMatchObject({ tid: 1, metadataBlocks: limit, blocks: fullCommitBlocks(limit) });
    expect(jbd2_journal_recover(image!, g).replayed).toEqual([1]);
    for (const b of blocks) expect(homeByte(image!, b)).toBe(1 + (b % 200));

    // With no commit thread, the handle that finds the next transaction full commits it itself.
    for (const b of blocks) expect(change(j, b, 2)).toBe(2);
    expect(change(j, g.inodeTableStart, 3)).toBe(3);
    expect(jbd2_transaction_committed(j, 2)).toBe(true);
    expect(readCommitRecords(j.cpu.machine).map((c) => c.blocks)).toEqual([fullCommitBlocks(limit), fullCommitBlocks(limit)]);
  });

  it('rejects a size limit the journal cannot hold and a handle that asks for, or files, more than that', () => {
    const { j, cpu, dev } = setup();
    const room = j.maxTransactionBlocks;
    expect(() => new Journal(cpu, dev, { maxTransactionBlocks: room + 1 })).toThrow(/^journal\.maxTransactionBlocks: \d+ blocks do not fit the journal/);
    expect(new Journal(cpu, dev, { maxTransactionBlocks: room }).maxTransactionBlocks).toBe(room);
    expect(() => jbd2_journal_start(j, room + 1)).toThrow(new RegExp(`^credits: expected an integer from 1 to ${room}`));
    expect(j.handle.open).toBe(false);
    const h = jbd2_journal_start(j, 1);
    jbd2_journal_dirty_metadata(h, 3);
    jbd2_journal_dirty_metadata(h, 3); // already filed: no credit spent
    expect(() => jbd2_journal_dirty_metadata(h, 4)).toThrow(/credits: cpu 0's handle has filed as many new blocks as it reserved/);
    jbd2_journal_stop(h);
    expect(j.js[JOURNAL.outstandingCredits]).toBe(1); // the one block filed; nothing reserved
  });

  it('puts the transaction back when a commit fails before the switch, and aborts the journal when one fails after it', () => {
    const { j, g } = setup();
    const js = j.js;
    const tid = change(j, g.inodeTableStart, 0x21);
    // A transaction listing more blocks than the area holds (a broken reservation) is refused...
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
    expect(seen).toEqual([`descriptor: tid 1 ${all}`, `metadata: tid 1 ${all}`, `commit-block: tid 1 ${all}`, 'durable: tid 0 []', 'checkpoint: tid 0 []']);
  });

  it.each([
    ['a batching window lets a second syncer join the first one\'s commit', 1_500_000],
    ['with no batching window the second syncer gets a commit of its own', 0],
  ])('%s', async (_name, batchWindowUs) => {
    const policy = { commitIntervalMs: 60_000, batchWindowUs };
    const { machine, g } = setup(policy);
    const stop = await startCommitThread(machine, 5, policy);
    // The second syncer starts once the first has asked for tid 1's commit, and waits for that
    // commit up to 300 ms: inside a 1.5 s window it joins tid 1; with none, tid 1 is done first.
    const [first, second] = await runCpus<{ tid: number }>(machine, [
      { cpu: 1, module: 'journal_scenarios', fn: 'joinAndSync', args: { policy, block: g.inodeTableStart + 1, value: 1, n: 1, barrier: new SharedArrayBuffer(4) } },
      { cpu: 2, module: 'journal_scenarios', fn: 'syncAfterRequest', args: { policy, block: g.inodeTableStart + 2, value: 2, firstTid: 1, pauseMs: 300 } },
    ]);
    const summary = await stop();
    const recs = readCommitRecords(machine);
    if (batchWindowUs > 0) {
      expect([first.tid, second.tid]).toEqual([1, 1]);
      expect(summary.commits).toBe(1);
      expect(recs).toEqual([expect.objectContaining({ tid: 1, handles: 2, inodes: 2 })]);
    } else {
      expect([first.tid, second.tid]).toEqual([1, 2]);
      expect(recs.map((r) => [r.tid, r.handles])).toEqual([[1, 1], [2, 1]]);
    }
    expect(summary.triggers.request).toBe(summary.commits);
  });

  it(
    'cuts a batching window short when a handle finds the transaction full',
    async () => {
      // A 10 s window: were it slept through, the test would time out (8 s) rather than pass.
      // The fillers start 300 ms after tid 1's commit is asked for, when the window has begun.
      const policy = { commitIntervalMs: 60_000, batchWindowUs: 10_000_000, maxTransactionBlocks: 8 };
      const { machine, g } = setup(policy);
      const stop = await startCommitThread(machine, 5, policy);
      const [syncer] = await runCpus<{ tid: number }>(machine, [
        { cpu: 1, module: 'journal_scenarios', fn: 'joinAndSync', args: { policy, block: g.inodeTableStart + 1, value: 1, n: 1, barrier: new SharedArrayBuffer(4) } },
        ...[2, 3].map((cpu) => ({
          cpu,
          module: 'journal_scenarios',
          fn: 'fillHandles',
          args: { policy, first: g.extentStart + 16 * cpu, span: 16, perHandle: 2, rounds: 20, afterRequestOf: 1, pauseMs: 300 },
        })),
      ]);
      expect(syncer.tid).toBe(1);
      const summary = await stop();
      // Tid 1's commit was asked for, but it was the size limit that started it.
      expect(summary.triggers).toMatchObject({ request: 0 });
      expect(summary.triggers.size).toBeGreaterThan(0);
    },
    8_000,
  );

  it(
    'performs a fast commit asked for during a batching window at once',
    async () => {
      const policy = { commitIntervalMs: 60_000, batchWindowUs: 10_000_000, fastCommit: true };
      const { machine, j, g } = setup(policy);
      const stop = await startCommitThread(machine, 5, policy);
      const full = runCpus<{ tid: number }>(machine, [
        { cpu: 1, module: 'journal_scenarios', fn: 'joinAndSync', args: { policy, block: g.inodeTableStart + 1, value: 1, n: 1, barrier: new SharedArrayBuffer(4) } },
      ]);
      const js = machine.views.journalState;
      while (js[JOURNAL.commitRequest] < 1) await new Promise((r) => setTimeout(r, 2));
      await new Promise((r) => setTimeout(r, 300)); // the window has begun
      // Tid 1's full commit waits out its window; inode 2's fsync in the same transaction must not.
      const per = machine.config.fsExtentBlocksPerInode;
      const tid = change(j, g.extentStart + 2 * per, 0x62, 2);
      expect(tid).toBe(1);
      ext4_fc_commit(j, 2, tid);
      expect(ext4_fc_inode_clean(j, 2)).toBe(true);
      expect(jbd2_transaction_committed(j, tid)).toBe(false);
      const summary = await stop(); // shutdown ends the window
      expect((await full)[0].tid).toBe(1);
      expect(summary.fastCommits).toBe(1);
    },
    8_000,
  );

  it('refuses to wait for a transaction while holding a handle in it (that would deadlock)', () => {
    const { j, g } = setup();
    const h = jbd2_journal_start(j, 1);
    jbd2_journal_dirty_metadata(h, g.inodeTableStart);
    expect(() => jbd2_complete_transaction(j, h.tid)).toThrow(/deadlock/);
    expect(() => jbd2_journal_start(j, 1)).toThrow(/already has an open handle/);
    expect(() => jbd2_journal_dirty_metadata(h, g.metaBlocks)).toThrow(/block: expected an integer from 0 to/);
    jbd2_journal_stop(h);
    expect(() => jbd2_journal_stop(h)).toThrow(/not open/);
  });
});
