// The commit thread's work: a full commit of the running transaction
// (jbd2_journal_commit_transaction), a fast commit of requested inodes
// (ext4_fc_perform_commit), and the checkpoint that writes committed metadata home.
//
// Locking rules: as journal.ts. A commit locks the running transaction (T_LOCKED: no new
// handles), sleeps until its open handles stop (t_updates == 0), then, under j_state_lock,
// takes the transaction's blocks, snapshots them and opens the next transaction, so the
// snapshot is consistent and CPUs wait only for that switch, not for the writes. One
// commit, full or fast, runs at a time (JOURNAL.committer: kjournald2, or with no commit
// thread the CPU that needs it), so the journal area has one writer. The committing
// transaction's block list is in shared memory (views.journalCommitBuffers, with
// committingTid and committingBuffers), for other CPUs and the watchdog to read; the
// checkpoint reads it after them, and the next full commit overwrites it.
//
// Failures: a commit that fails before the switch puts the transaction back as it was
// (running, unlocked); one that fails after it, when the transaction is neither running nor
// durable, or before its checkpoint, aborts the journal (jbd2_journal_abort), so that no CPU
// sleeps on a commit that will never come. Either way the committer word is let go.
//
// Simplification: the checkpoint runs right after each full commit instead of when the
// journal fills (jbd2's __jbd2_log_wait_for_space), so the journal holds at most one full
// transaction and every full commit starts at the area's first block. It is charged no
// injected cost: the kernel checkpoints off the commit's critical path (its block writes
// are made durable with flushcache(), which charges nothing; its fences charge fenceNs).

import { crc32 } from 'node:zlib';
import {
  BLOCK_SIZE,
  COMMIT_RECORD,
  COMMIT_RECORDS,
  FS_BUF,
  FS_INODE,
  INODE_SIZE,
  JOURNAL,
  JOURNAL_TIMES,
} from '../machine/layout.js';
import { charge, vnotify, vwaitEvent } from '../sync/vclock.js';
import { STEP, stepEnter, stepLeave } from '../measure/steps.js';
import { monoNs } from '../util/clock.js';
import { FsError } from '../fs/errno.js';
import { T_LOCKED, T_RUNNING, wakeCommitThread, type Journal } from './journal.js';
import {
  EXT4_FC_BLOCK,
  FC_INODE_OFFSET,
  JBD2_COMMIT_BLOCK,
  JBD2_DESCRIPTOR_BLOCK,
  JBD2_MAGIC_NUMBER,
  JBD2_SUPERBLOCK_V2,
  JCOMMIT,
  JDESC,
  JDESC_MAX_TAGS,
  JFC,
  JFC_MAX_TAGS,
  JSB,
  fullCommitBlocks,
} from './ondisk.js';

const J = JOURNAL;

export const COMMIT_FULL = 1;
export const COMMIT_FAST = 2;

export type CommitStep = 'descriptor' | 'metadata' | 'commit-block' | 'durable' | 'checkpoint';

export interface CommitOptions {
  /** Called after each step's blocks are stored (tests take crash images here). */
  onStep?: (step: CommitStep, tid: number) => void;
}

export interface CommitResult {
  tid: number;
  kind: typeof COMMIT_FULL | typeof COMMIT_FAST;
  /** Journal blocks written: descriptors, copies, commit block (fast: header and copies). */
  blocks: number;
  metadataBlocks: number;
  handles: number;
  inodes: number;
  requestNs: number;
  startNs: number;
  durableNs: number;
}

/** Scratch memory private to the commit thread: snapshots and block images. */
interface CommitScratch {
  copies: Uint8Array;
  homes: Int32Array;
  block: Uint8Array;
  words: Int32Array;
}

const scratch = new WeakMap<Journal, CommitScratch>();

function scratchOf(j: Journal): CommitScratch {
  let s = scratch.get(j);
  if (!s) {
    const n = Math.max(j.areas.fullBlocks, j.areas.fcBlocks);
    const block = new Uint8Array(BLOCK_SIZE);
    s = { copies: new Uint8Array(n * BLOCK_SIZE), homes: new Int32Array(n), block, words: new Int32Array(block.buffer) };
    scratch.set(j, s);
  }
  return s;
}

/** Writes one journal block image to device block `at` (submit_bh of a journal buffer), charging journalBlockWriteNs. */
function writeJournalBlock(j: Journal, at: number, data: Uint8Array): void {
  j.dev.store(at * BLOCK_SIZE, data);
  if (j.journalBlockWriteNs > 0) charge(j.journalBlockWriteNs);
}

/**
 * Makes device blocks [first, first + n) durable and fences: the REQ_PREFLUSH/REQ_FUA of a
 * commit, charging journalFlushNs. The pmem driver wrote the blocks with non-temporal stores
 * (their cost is journalBlockWriteNs), so no clwb is charged per line. The `cache flush` step
 * of an attributed operation that commits inline.
 */
function flushJournalBlocks(j: Journal, first: number, n: number): void {
  stepEnter(STEP.cache_flush);
  j.dev.flushcache(first * BLOCK_SIZE, n * BLOCK_SIZE);
  j.dev.fence();
  if (j.journalFlushNs > 0) charge(j.journalFlushNs);
  stepLeave();
}

/** jbd2_journal_create(): writes an empty journal's superblock (mkfs time). */
export function jbd2_journal_create(j: Journal): void {
  const s = scratchOf(j);
  s.block.fill(0);
  s.words[JSB.magic] = JBD2_MAGIC_NUMBER;
  s.words[JSB.blocktype] = JBD2_SUPERBLOCK_V2;
  s.words[JSB.s_start] = j.areas.first;
  s.words[JSB.s_sequence] = 1;
  s.words[JSB.s_maxlen] = j.geometry.journalBlocks;
  s.words[JSB.s_fc_start] = j.areas.fcFirst;
  j.dev.store(j.areas.sb * BLOCK_SIZE, s.block);
  j.dev.flushcache(j.areas.sb * BLOCK_SIZE, BLOCK_SIZE);
  j.dev.fence();
}

/** jbd2_journal_lock_updates(): locks the running transaction and sleeps until its handles stop. */
function jbd2_journal_lock_updates(j: Journal): number {
  const js = j.js;
  j.lock();
  const tid = js[J.runningTid];
  if (tid !== 0) js[J.runningState] = T_LOCKED;
  j.unlock();
  if (tid === 0) return 0;
  for (let u = Atomics.load(js, J.updates); u !== 0; u = Atomics.load(js, J.updates)) vwaitEvent(j.cpu, js, J.updates, u, 1000);
  return tid;
}

/** jbd2_journal_unlock_updates(): lets new handles in again. Called with j_state_lock held. */
function jbd2_journal_unlock_updates(j: Journal): void {
  Atomics.store(j.js, J.runningState, T_RUNNING);
}

/**
 * Takes the committer word (JOURNAL.committer: JBD2_FULL_COMMIT_ONGOING and
 * JBD2_FAST_COMMIT_ONGOING in one), sleeping while another CPU commits. Returns false when
 * this CPU holds it already (it commits inline, several commits in a row).
 */
export function beginCommitOngoing(j: Journal): boolean {
  const js = j.js;
  const tag = j.cpu.tag;
  for (;;) {
    const holder = Atomics.compareExchange(js, J.committer, 0, tag);
    if (holder === 0) return true;
    if (holder === tag) return false;
    vwaitEvent(j.cpu, js, J.committer, holder, 1000);
  }
}

/** Lets go of the committer word (jbd2_fc_end_commit / the end of jbd2_journal_commit_transaction) and wakes a CPU waiting for it. */
export function endCommitOngoing(j: Journal): void {
  Atomics.store(j.js, J.committer, 0);
  vnotify(j.cpu, j.js, J.committer);
}

/**
 * jbd2_journal_abort(): a commit failed after its transaction stopped running and before it
 * was durable and checkpointed, so the journal can no longer promise anything: it stops.
 * New handles get EROFS and commit waiters EIO (journal.ts); everyone asleep on a journal
 * word is woken to find that out. The caller holds the committer word and lets it go.
 */
export function jbd2_journal_abort(j: Journal): void {
  const js = j.js;
  j.lock();
  Atomics.store(js, J.aborted, 1);
  js[J.committingTid] = 0;
  js[J.committingBuffers] = 0;
  if (js[J.runningState] === T_LOCKED) jbd2_journal_unlock_updates(j);
  j.unlock();
  for (const w of [J.runningState, J.runningTid, J.commitSequence, J.updates]) vnotify(j.cpu, js, w);
  for (let ino = 0; ino < j.cpu.machine.config.fsInodes; ino++) vnotify(j.cpu, j.inodes, ino * FS_INODE.stride + FS_INODE.fcDone);
  wakeCommitThread(j);
}

/**
 * A commit failed: before the switch (`switched` false) the transaction is put back as it
 * was, running and unlocked; after it the journal is aborted. Returns the error to throw.
 */
function commitFailed(j: Journal, tid: number, switched: boolean, e: unknown): unknown {
  if (switched) {
    jbd2_journal_abort(j);
    return e;
  }
  j.lock();
  if (j.js[J.runningTid] === tid) jbd2_journal_unlock_updates(j);
  j.unlock();
  vnotify(j.cpu, j.js, J.runningState);
  return e;
}

/**
 * jbd2_journal_commit_transaction(): commits the running transaction, if any, and makes its
 * waiters' tid durable; then checkpoints it. Returns what it wrote, or null with nothing to commit.
 */
export function jbd2_journal_commit_transaction(j: Journal, opts: CommitOptions = {}): CommitResult | null {
  const took = beginCommitOngoing(j);
  try {
    if (Atomics.load(j.js, J.aborted) !== 0) throw new FsError('EIO', 'jbd2_journal_commit_transaction: the journal was aborted');
    const tid = jbd2_journal_lock_updates(j);
    if (tid === 0) return null;
    let switched = false;
    try {
      const t = switchRunningTransaction(j, tid);
      switched = true;
      return writeCommit(j, t, opts);
    } catch (e) {
      throw commitFailed(j, tid, switched, e);
    }
  } finally {
    if (took) endCommitOngoing(j);
  }
}

/** What the switch took of the committing transaction: its blocks (n, in views.journalCommitBuffers) and its record's figures. */
interface Committing {
  tid: number;
  n: number;
  handles: number;
  inodes: number;
  startNs: number;
  requestNs: number;
  fcTargets: number[];
}

/**
 * jbd2_journal_commit_transaction()'s switch: with the transaction locked and no handle
 * open, under j_state_lock, publishes its blocks as the committing list, snapshots them and
 * lets the next transaction start.
 */
function switchRunningTransaction(j: Journal, tid: number): Committing {
  const js = j.js;
  const s = scratchOf(j);
  j.lock();
  const listed = js[J.nrBuffers];
  // Credits keep a transaction within the area; this only catches a broken reservation.
  if (fullCommitBlocks(listed) > j.areas.fullBlocks || listed > j.cbufs.length) {
    j.unlock();
    throw new RangeError(
      `journal: nrBuffers: transaction ${tid} holds ${listed} metadata blocks, ${fullCommitBlocks(listed)} journal blocks with its ` +
        `descriptors and commit block, more than the full-commit area's ${j.areas.fullBlocks} (journalBlocks ${j.geometry.journalBlocks})`,
    );
  }
  const handles = js[J.handleCount];
  const inodes = js[J.nrInodes];
  const startNs = monoNs();
  // The transaction's own list (t_buffers), not a scan of every metadata buffer: a commit
  // costs what its transaction holds, however large the file system.
  const meta = j.cpu.machine.views.fsMeta;
  let n = 0;
  for (let i = 0; i < listed; i++) {
    const b = j.tbufs[i];
    const at = b * FS_BUF.stride + FS_BUF.transaction;
    if (j.bufs[at] !== tid) continue;
    j.bufs[at] = 0;
    j.cbufs[n] = b;
    s.copies.set(meta.subarray(b * BLOCK_SIZE, (b + 1) * BLOCK_SIZE), n * BLOCK_SIZE);
    n++;
  }
  const fcTargets = snapshotFcTargets(j, tid);
  js[J.committingBuffers] = n;
  js[J.committingTid] = tid;
  js[J.runningTid] = 0;
  if (js[J.fcIneligibleTid] === tid) js[J.fcIneligibleTid] = 0;
  // Pending fast-commit requests are this transaction's too: the full commit serves them.
  const requestNs = earliestNs(j.times[JOURNAL_TIMES.requestNs], j.times[JOURNAL_TIMES.fcRequestNs]) || startNs;
  j.times[JOURNAL_TIMES.requestNs] = 0;
  j.times[JOURNAL_TIMES.fcRequestNs] = 0;
  jbd2_journal_unlock_updates(j);
  j.unlock();
  // Handles held back by the lock or by the size limit may join the next transaction now.
  vnotify(j.cpu, js, J.runningState);
  vnotify(j.cpu, js, J.runningTid);
  return { tid, n, handles, inodes, startNs, requestNs, fcTargets };
}

/**
 * jbd2_journal_commit_transaction() after the switch: descriptors and copies, the commit
 * block, the flushes; then the record, the waiters' wake-up and the checkpoint.
 */
function writeCommit(j: Journal, t: Committing, opts: CommitOptions): CommitResult {
  const js = j.js;
  const s = scratchOf(j);
  const homes = j.cbufs;
  const { tid, n, handles, inodes, startNs, requestNs, fcTargets } = t;

  // jbd2's own per-commit work (buffer lists, the switch, the journal superblock), done
  // after the switch like most of it in the kernel, so new handles need not wait for it.
  if (j.commitNs > 0) charge(j.commitNs);

  // Descriptor blocks, each followed by the copies it describes, then the commit block.
  const first = j.areas.first;
  let at = first;
  for (let d = 0; d < n; d += JDESC_MAX_TAGS) {
    const count = Math.min(JDESC_MAX_TAGS, n - d);
    s.block.fill(0);
    s.words[JDESC.magic] = JBD2_MAGIC_NUMBER;
    s.words[JDESC.blocktype] = JBD2_DESCRIPTOR_BLOCK;
    s.words[JDESC.tid] = tid;
    s.words[JDESC.count] = count;
    s.words.set(homes.subarray(d, d + count), JDESC.tags);
    writeJournalBlock(j, at++, s.block);
    opts.onStep?.('descriptor', tid);
    for (let i = d; i < d + count; i++) writeJournalBlock(j, at++, s.copies.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE));
    opts.onStep?.('metadata', tid);
  }
  // Without async_commit the copies are durable before the commit block is written.
  if (!j.policy.asyncCommit) flushJournalBlocks(j, first, at - first);
  s.block.fill(0);
  s.words[JCOMMIT.magic] = JBD2_MAGIC_NUMBER;
  s.words[JCOMMIT.blocktype] = JBD2_COMMIT_BLOCK;
  s.words[JCOMMIT.tid] = tid;
  s.words[JCOMMIT.count] = n;
  s.words[JCOMMIT.checksum] = crc32(s.copies.subarray(0, n * BLOCK_SIZE)) | 0;
  writeJournalBlock(j, at++, s.block);
  opts.onStep?.('commit-block', tid);
  flushJournalBlocks(j, j.policy.asyncCommit ? first : at - 1, j.policy.asyncCommit ? at - first : 1);
  const durableNs = monoNs();
  const r: CommitResult = {
    tid,
    kind: COMMIT_FULL,
    blocks: at - first,
    metadataBlocks: n,
    handles,
    inodes,
    requestNs,
    startNs,
    durableNs,
  };
  // Recorded before the waiters wake, so a waiter finds the record of the commit it waited for.
  recordCommit(j, r);

  // The tid is durable: wake its waiters and the fast-commit waiters of its inodes.
  j.lock();
  js[J.committingTid] = 0;
  js[J.committingBuffers] = 0;
  js[J.fcHead] = 0;
  j.unlock();
  // fcDone first: a task that sees the tid committed must also see its inodes clean. The
  // fast-commit waiters are woken only once the tid is committed too: one woken before would
  // find its own (later) change not yet done, the tid not yet committed, and sleep on fcDone
  // again, where nothing wakes it.
  const fcWords = publishFcDone(j, fcTargets);
  Atomics.store(js, J.commitSequence, tid);
  wakeFcDone(j, fcWords);
  vnotify(j.cpu, js, J.commitSequence);
  opts.onStep?.('durable', tid);

  jbd2_log_do_checkpoint(j, s, homes, n, tid + 1);
  opts.onStep?.('checkpoint', tid);
  return r;
}

/**
 * The fcSeq of every inode the transaction logged: a full commit makes those changes durable
 * too. It also drops the fast-commit requests still queued (ext4_fc_cleanup() after a full
 * commit): they can only be for inodes of this transaction, and they are served by it.
 * Called with j_state_lock held.
 */
function snapshotFcTargets(j: Journal, tid: number): number[] {
  const out: number[] = [];
  const inodes = j.inodes;
  for (let ino = 0; ino < j.cpu.machine.config.fsInodes; ino++) {
    const b = ino * FS_INODE.stride;
    if (inodes[b + FS_INODE.lastTid] === tid) out.push(ino, inodes[b + FS_INODE.fcSeq]);
    inodes[b + FS_INODE.fcRequested] = 0;
  }
  j.js[J.fcPending] = 0;
  return out;
}

/** The earlier of two instants, either of which may be 0 (none). */
function earliestNs(a: number, b: number): number {
  return a === 0 ? b : b === 0 ? a : Math.min(a, b);
}

/**
 * Raises each target inode's fcDone; returns every target's word, for wakeFcDone(): a waiter
 * whose own change came after the snapshot waits for the tid's commit instead, and must be
 * woken by it even where fcDone did not move.
 */
function publishFcDone(j: Journal, targets: number[]): number[] {
  const words: number[] = [];
  for (let i = 0; i < targets.length; i += 2) {
    const at = targets[i] * FS_INODE.stride + FS_INODE.fcDone;
    if (Atomics.load(j.inodes, at) < targets[i + 1]) Atomics.store(j.inodes, at, targets[i + 1]);
    words.push(at);
  }
  return words;
}

/** Wakes the fast-commit waiters of the fcDone words publishFcDone() returned. */
function wakeFcDone(j: Journal, words: number[]): void {
  for (const at of words) vnotify(j.cpu, j.inodes, at);
}

/**
 * jbd2_log_do_checkpoint(): writes the committed copies to their home blocks, then moves the
 * journal superblock past the transaction (jbd2_update_log_tail), so recovery expects `next`.
 */
function jbd2_log_do_checkpoint(j: Journal, s: CommitScratch, homes: Int32Array, n: number, next: number): void {
  for (let i = 0; i < n; i++) {
    const home = homes[i] * BLOCK_SIZE;
    j.dev.store(home, s.copies.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE));
    j.dev.flushcache(home, BLOCK_SIZE);
  }
  j.dev.fence();
  s.block.set(j.dev.load(j.areas.sb * BLOCK_SIZE, BLOCK_SIZE));
  s.words[JSB.s_sequence] = next;
  j.dev.store(j.areas.sb * BLOCK_SIZE, s.block);
  j.dev.flushcache(j.areas.sb * BLOCK_SIZE, BLOCK_SIZE);
  j.dev.fence();
}

/**
 * ext4_fc_perform_commit(): logs the requested inodes' own records and extent blocks in the
 * fast-commit area. Returns how many inodes it committed, or -1 when the transaction was
 * ineligible or the area full, in which case it asked for a full commit instead.
 */
export function ext4_fc_perform_commit(j: Journal, opts: CommitOptions = {}): number {
  if (Atomics.load(j.js, J.fcPending) === 0) return 0;
  const took = beginCommitOngoing(j); // jbd2_fc_begin_commit()
  const phase = { tid: 0, locked: false, writing: false };
  try {
    if (Atomics.load(j.js, J.aborted) !== 0) throw new FsError('EIO', 'ext4_fc_perform_commit: the journal was aborted');
    return fcCommitInodes(j, opts, phase);
  } catch (e) {
    // Locked: put the transaction back; writing: its records may be torn, so stop the journal.
    if (phase.writing) throw commitFailed(j, phase.tid, true, e);
    if (phase.locked) throw commitFailed(j, phase.tid, false, e);
    throw e;
  } finally {
    if (took) endCommitOngoing(j); // jbd2_fc_end_commit()
  }
}

/** ext4_fc_perform_commit() with the committer word held; `phase` says how far it got, for a failure. */
function fcCommitInodes(j: Journal, opts: CommitOptions, phase: { tid: number; locked: boolean; writing: boolean }): number {
  const js = j.js;
  const startNs = monoNs();
  const tid = jbd2_journal_lock_updates(j);
  phase.tid = tid;
  phase.locked = tid !== 0;
  const s = scratchOf(j);
  const per = j.cpu.machine.config.fsExtentBlocksPerInode;
  const g = j.geometry;
  const meta = j.cpu.machine.views.fsMeta;

  j.lock();
  const eligible = tid !== 0 && js[J.fcIneligibleTid] !== tid;
  const need = (1 + per) * js[J.fcPending];
  const fits = js[J.fcHead] + need <= j.areas.fcBlocks && per <= JFC_MAX_TAGS;
  const inos: number[] = [];
  const targets: number[] = [];
  let n = 0;
  for (let ino = 0; ino < j.cpu.machine.config.fsInodes; ino++) {
    const b = ino * FS_INODE.stride;
    if (j.inodes[b + FS_INODE.fcRequested] === 0) continue;
    j.inodes[b + FS_INODE.fcRequested] = 0;
    if (!(eligible && fits)) continue;
    inos.push(ino);
    targets.push(ino, j.inodes[b + FS_INODE.fcSeq]);
    // Header: the inode record rides inside it; then the inode's extent blocks.
    s.copies.fill(0, n * BLOCK_SIZE, (n + 1) * BLOCK_SIZE);
    const rec = (g.inodeTableStart * BLOCK_SIZE) + ino * INODE_SIZE;
    s.copies.set(meta.subarray(rec, rec + INODE_SIZE), n * BLOCK_SIZE + FC_INODE_OFFSET);
    s.homes[n++] = -1 - ino;
    for (let k = 0; k < per; k++) {
      const home = g.extentStart + ino * per + k;
      s.copies.set(meta.subarray(home * BLOCK_SIZE, (home + 1) * BLOCK_SIZE), n * BLOCK_SIZE);
      s.homes[n++] = home;
    }
  }
  js[J.fcPending] = 0;
  const t = j.times;
  const fcRequestNs = t[JOURNAL_TIMES.fcRequestNs];
  t[JOURNAL_TIMES.fcRequestNs] = 0;
  if (!(eligible && fits)) {
    if (tid !== 0) {
      js[J.fcFallbacks]++;
      if (js[J.commitRequest] < tid) js[J.commitRequest] = tid;
      // The full commit now serves these fsyncs: their wait started at their own request.
      t[JOURNAL_TIMES.requestNs] = earliestNs(t[JOURNAL_TIMES.requestNs], fcRequestNs);
    }
    jbd2_journal_unlock_updates(j);
    phase.locked = false;
    j.unlock();
    vnotify(j.cpu, js, J.runningState);
    return -1;
  }
  const head = js[J.fcHead];
  js[J.fcHead] = head + n;
  const requestNs = fcRequestNs || startNs;
  jbd2_journal_unlock_updates(j);
  phase.locked = false;
  phase.writing = true;
  j.unlock();
  vnotify(j.cpu, js, J.runningState);

  // Write each inode's header (with a checksum over its record and blocks) and its blocks.
  let at = j.areas.fcFirst + head;
  for (let i = 0; i < n; i += 1 + per) {
    const hdr = new Int32Array(s.copies.buffer, i * BLOCK_SIZE, JFC.stride);
    hdr[JFC.magic] = JBD2_MAGIC_NUMBER;
    hdr[JFC.blocktype] = EXT4_FC_BLOCK;
    hdr[JFC.tid] = tid;
    hdr[JFC.ino] = -1 - s.homes[i];
    hdr[JFC.count] = per;
    hdr[JFC.seq] = targets[(i / (1 + per)) * 2 + 1];
    const tags = new Int32Array(s.copies.buffer, i * BLOCK_SIZE + JFC.tags * 4, per);
    tags.set(s.homes.subarray(i + 1, i + 1 + per));
    hdr[JFC.checksum] = fcChecksum(s.copies, i, per);
    for (let k = 0; k <= per; k++) writeJournalBlock(j, at++, s.copies.subarray((i + k) * BLOCK_SIZE, (i + k + 1) * BLOCK_SIZE));
  }
  opts.onStep?.('metadata', tid);
  flushJournalBlocks(j, j.areas.fcFirst + head, n);
  const durableNs = monoNs();
  js[J.fcCommits] += inos.length;
  // Recorded before the waiters wake, so a waiter finds the record of the commit it waited for.
  recordCommit(j, {
    tid,
    kind: COMMIT_FAST,
    blocks: n,
    metadataBlocks: n - inos.length,
    handles: 0,
    inodes: inos.length,
    requestNs,
    startNs,
    durableNs,
  });
  wakeFcDone(j, publishFcDone(j, targets));
  opts.onStep?.('durable', tid);
  return inos.length;
}

/** crc32 of a fast-commit record: its header's inode record and tags, then its blocks. */
export function fcChecksum(blocks: Uint8Array, first: number, per: number): number {
  const base = first * BLOCK_SIZE;
  let c = crc32(blocks.subarray(base + JFC.tags * 4, base + FC_INODE_OFFSET + INODE_SIZE));
  c = crc32(blocks.subarray(base + BLOCK_SIZE, base + (1 + per) * BLOCK_SIZE), c);
  return c | 0;
}

function recordCommit(j: Journal, r: CommitResult): void {
  const slot = (j.js[J.commits] % COMMIT_RECORDS) * COMMIT_RECORD.stride;
  const st = j.cpu.machine.views.journalStats;
  st[slot + COMMIT_RECORD.tid] = r.tid;
  st[slot + COMMIT_RECORD.kind] = r.kind;
  st[slot + COMMIT_RECORD.blocks] = r.blocks;
  st[slot + COMMIT_RECORD.handles] = r.handles;
  st[slot + COMMIT_RECORD.inodes] = r.inodes;
  st[slot + COMMIT_RECORD.requestNs] = r.requestNs;
  st[slot + COMMIT_RECORD.startNs] = r.startNs;
  st[slot + COMMIT_RECORD.durableNs] = r.durableNs;
  Atomics.add(j.js, J.commits, 1);
}
