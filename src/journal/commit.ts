// The commit thread's work: a full commit of the running transaction
// (jbd2_journal_commit_transaction, fs/jbd2/commit.c), and what fast commits share with it
// (the committer word, block writes and flushes, commit records).
//
// Locking rules: as journal.ts. A commit locks the running transaction (T_LOCKED: no new
// handles), sleeps until its open handles stop (t_updates == 0), then, briefly under
// j_state_lock, switches: the transaction's dirtied buffers become the committing list, its
// log blocks are reserved at the log's head and the next transaction may start. Nothing is
// copied there: the commit then writes each buffer to the log from its frozen copy, if a
// handle of the next transaction made one, or from the buffer itself with BH_Shadow set
// (jbd2_journal_write_metadata_buffer), so a handle that wants it meanwhile waits for that
// one block write. One commit, full or fast, runs at a time (JOURNAL.committer), so the
// journal area has one writer. The committing transaction's block list is in shared memory
// (views.journalCommitBuffers, with committingTid and committingBuffers), for other CPUs and
// the watchdog to read.
//
// After the commit block is durable the commit moves the log's tail if that frees a quarter
// of the journal's worth (checkpoint.ts), files each buffer on the transaction's checkpoint
// list (taking it off an older one's) and refiles it into the next transaction if a handle
// of it took write access meanwhile, updates j_average_commit_time and wakes its waiters. It
// never checkpoints: the checkpoint runs when a handle finds the log short of space.
//
// Failures: a commit that fails before the switch puts the transaction back as it was
// (running, unlocked); one that fails after it, when the transaction is neither running nor
// durable, aborts the journal (jbd2_journal_abort), so that no CPU sleeps on a commit that
// will never come. Either way the committer word is let go.

import { crc32 } from 'node:zlib';
import {
  BLOCK_SIZE,
  COMMIT_RECORD,
  COMMIT_RECORDS,
  COMMITTER_FULL_PENDING,
  FS_BUF,
  FS_INODE,
  JOURNAL,
  JOURNAL_TIMES,
  LOG_TX,
} from '../machine/layout.js';
import { charge, vnotify, vwaitEvent } from '../sync/vclock.js';
import { STEP, stepEnter, stepLeave } from '../measure/steps.js';
import { monoNs } from '../util/clock.js';
import { FsError } from '../fs/errno.js';
import { T_LOCKED, T_RUNNING, wakeCommitThread, type Journal } from './journal.js';
import {
  JBD2_COMMIT_BLOCK,
  JBD2_DESCRIPTOR_BLOCK,
  JBD2_MAGIC_NUMBER,
  JBD2_SUPERBLOCK_V2,
  JCOMMIT,
  JDESC,
  JDESC_MAX_TAGS,
  JSB,
  fullCommitBlocks,
  logBlock,
} from './ondisk.js';
import { BH_Shadow, BJ_Logged, BJ_Metadata, BJ_None, BJ_Reserved } from './buffers.js';
import { IclogWriter, xfsLog, xlog_cil_push_swap } from './xfs_log.js';
import { jbd2_journal_get_log_tail, jbd2_log_reset, jbd2_update_log_tail, logBlocksFreedBy, logTx } from './checkpoint.js';

const J = JOURNAL;

export const COMMIT_FULL = 1;
export const COMMIT_FAST = 2;

export type CommitStep = 'descriptor' | 'metadata' | 'commit-block' | 'durable';

export interface CommitOptions {
  /** Called after each step's blocks are stored (tests take crash images here). */
  onStep?: (step: CommitStep, tid: number) => void;
}

export interface CommitResult {
  tid: number;
  kind: typeof COMMIT_FULL | typeof COMMIT_FAST;
  /** Journal blocks written: descriptors, copies, commit block (fast: headers and copies). */
  blocks: number;
  metadataBlocks: number;
  handles: number;
  inodes: number;
  requestNs: number;
  startNs: number;
  durableNs: number;
}

/** Scratch memory private to a committer: one block image. */
interface CommitScratch {
  block: Uint8Array;
  words: Int32Array;
}

const scratch = new WeakMap<Journal, CommitScratch>();

export function scratchOf(j: Journal): CommitScratch {
  let s = scratch.get(j);
  if (!s) {
    const block = new Uint8Array(BLOCK_SIZE);
    s = { block, words: new Int32Array(block.buffer) };
    scratch.set(j, s);
  }
  return s;
}

/** Writes one journal block image to device block `at` (submit_bh of a journal buffer), charging journalBlockWriteNs. */
export function writeJournalBlock(j: Journal, at: number, data: Uint8Array): void {
  j.dev.store(at * BLOCK_SIZE, data);
  if (j.journalBlockWriteNs > 0) charge(j.journalBlockWriteNs);
}

/**
 * Makes device blocks [first, first + n) of each range durable and fences: the
 * REQ_PREFLUSH/REQ_FUA of a commit, charging journalFlushNs once. The pmem driver wrote the
 * blocks with non-temporal stores (their cost is journalBlockWriteNs), so no clwb is charged
 * per line. The `cache flush` step of an attributed operation that commits inline.
 */
export function flushJournalBlocks(j: Journal, ...ranges: [first: number, n: number][]): void {
  stepEnter(STEP.cache_flush);
  for (const [first, n] of ranges) if (n > 0) j.dev.flushcache(first * BLOCK_SIZE, n * BLOCK_SIZE);
  j.dev.fence();
  if (j.journalFlushNs > 0) charge(j.journalFlushNs);
  stepLeave();
}

/** Flushes log blocks [rel, rel + n) (relative, wrapping at the log's end) as one flush. */
function flushLog(j: Journal, rel: number, n: number): void {
  const full = j.areas.fullBlocks;
  const start = rel % full;
  const first = Math.min(n, full - start);
  flushJournalBlocks(j, [j.areas.first + start, first], [j.areas.first, n - first]);
}

/**
 * jbd2_journal_create(): zeroes the journal (mke2fs does unless lazy_journal_init, so that
 * no block of an earlier journal on the device can pass for a transaction), writes an empty
 * journal's superblock and resets the log (mkfs time).
 */
export function jbd2_journal_create(j: Journal): void {
  const s = scratchOf(j);
  j.dev.zero(j.areas.sb * BLOCK_SIZE, j.geometry.journalBlocks * BLOCK_SIZE);
  j.dev.flushcache(j.areas.sb * BLOCK_SIZE, j.geometry.journalBlocks * BLOCK_SIZE);
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
  jbd2_log_reset(j);
}

/** jbd2_journal_lock_updates(): locks the running transaction and sleeps until its handles stop. Returns its tid (0: none). */
export function jbd2_journal_lock_updates(j: Journal): number {
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
export function jbd2_journal_unlock_updates(j: Journal): void {
  Atomics.store(j.js, J.runningState, T_RUNNING);
}

/**
 * Takes the committer word for a full commit (JBD2_FULL_COMMIT_ONGOING), sleeping while
 * another CPU commits; a word a fallen-back fast commit left for its full commit is free to
 * it. Returns false when this CPU holds it already (it commits inline, several in a row).
 */
export function beginCommitOngoing(j: Journal): boolean {
  const js = j.js;
  const tag = j.cpu.tag;
  for (;;) {
    const holder = Atomics.compareExchange(js, J.committer, 0, tag);
    if (holder === 0) return true;
    if (holder === tag) return false;
    if (holder === COMMITTER_FULL_PENDING && Atomics.compareExchange(js, J.committer, holder, tag) === holder) return true;
    vwaitEvent(j.cpu, js, J.committer, holder, 1000);
  }
}

/** Lets go of the committer word (the end of jbd2_journal_commit_transaction / jbd2_fc_end_commit) and wakes a CPU waiting for it. */
export function endCommitOngoing(j: Journal, to = 0): void {
  Atomics.store(j.js, J.committer, to);
  vnotify(j.cpu, j.js, J.committer);
}

/**
 * jbd2_journal_abort(): a commit failed after its transaction stopped running and before it
 * was durable, so the journal can no longer promise anything: it stops. New handles get
 * EROFS and commit waiters EIO (journal.ts); everyone asleep on a journal word is woken to
 * find that out. A caller holding the committer word lets it go.
 */
export function jbd2_journal_abort(j: Journal): void {
  const js = j.js;
  j.lock();
  Atomics.store(js, J.aborted, 1);
  const committing = js[J.committingBuffers];
  for (let i = 0; i < committing; i++) j.bufs[j.cbufs[i] * FS_BUF.stride + FS_BUF.flags] &= ~BH_Shadow;
  js[J.committingTid] = 0;
  js[J.committingBuffers] = 0;
  if (js[J.runningState] === T_LOCKED) jbd2_journal_unlock_updates(j);
  j.unlock();
  for (const w of [J.runningState, J.runningTid, J.commitSequence, J.updates, J.committer, J.checkpointMutex]) vnotify(j.cpu, js, w);
  for (let i = 0; i < committing; i++) vnotify(j.cpu, j.bufs, j.cbufs[i] * FS_BUF.stride + FS_BUF.flags);
  wakeCommitThread(j);
}

/**
 * A commit failed: before the switch (`switched` false) the transaction is put back as it
 * was, running and unlocked; after it the journal is aborted. Returns the error to throw.
 */
export function commitFailed(j: Journal, tid: number, switched: boolean, e: unknown): unknown {
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
 * waiters' tid durable. Returns what it wrote, or null with nothing to commit.
 */
export function jbd2_journal_commit_transaction(j: Journal, opts: CommitOptions = {}): CommitResult | null {
  const took = beginCommitOngoing(j);
  try {
    if (Atomics.load(j.js, J.aborted) !== 0) throw new FsError('EIO', 'jbd2_journal_commit_transaction: the journal was aborted');
    // A CIL push takes the context as it is: transactions still open are not in it.
    const tid = xfsLog(j) ? Atomics.load(j.js, J.runningTid) : jbd2_journal_lock_updates(j);
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

/** What the switch took of the committing transaction: its blocks (n, in views.journalCommitBuffers), its place in the log and its record's figures. */
interface Committing {
  tid: number;
  n: number;
  logStart: number;
  logBlocks: number;
  handles: number;
  inodes: number;
  startNs: number;
  requestNs: number;
  fcTargets: number[];
}

/**
 * jbd2_journal_commit_transaction()'s switch (T_LOCKED -> T_FLUSH): with the transaction
 * locked and no handle open, under j_state_lock, lists its dirtied buffers as the committing
 * transaction's (buffers it only took write access to are unfiled, as t_reserved_list's
 * are), reserves their log blocks at the head and lets the next transaction start.
 */
function switchRunningTransaction(j: Journal, tid: number): Committing {
  const js = j.js;
  const bufs = j.bufs;
  j.lock();
  const dirtied = js[J.nrBuffers];
  const logBlocks = fullCommitBlocks(dirtied);
  // Credits and the log-space check keep a transaction within both; these only catch a broken reservation.
  if (dirtied > j.maxTransactionBlocks || logBlocks > js[J.free]) {
    j.unlock();
    throw new RangeError(
      `journal: nrBuffers: transaction ${tid} holds ${dirtied} metadata blocks, ${logBlocks} log blocks with its descriptors and ` +
        `commit block; a transaction may hold ${j.maxTransactionBlocks} and the log has ${js[J.free]} blocks free (journalBlocks ${j.geometry.journalBlocks})`,
    );
  }
  let n = 0;
  const listed = js[J.listed];
  for (let i = 0; i < listed; i++) {
    const b = j.tbufs[i];
    const at = b * FS_BUF.stride;
    if (bufs[at + FS_BUF.transaction] !== tid) continue;
    if (bufs[at + FS_BUF.jlist] === BJ_Metadata) {
      j.cbufs[n++] = b;
    } else {
      bufs[at + FS_BUF.transaction] = 0;
      bufs[at + FS_BUF.jlist] = BJ_None;
    }
  }
  const handles = js[J.handleCount];
  const inodes = js[J.nrInodes];
  const startNs = monoNs();
  const logStart = js[J.head];
  js[J.head] = (logStart + logBlocks) % j.areas.fullBlocks;
  js[J.free] -= logBlocks;
  const rec = logTx(j, tid);
  j.log[rec + LOG_TX.tid] = tid;
  j.log[rec + LOG_TX.logStart] = logStart;
  j.log[rec + LOG_TX.logBlocks] = logBlocks;
  j.log[rec + LOG_TX.cpBuffers] = 0;
  const fcTargets = snapshotFcTargets(j, tid);
  js[J.committingBuffers] = n;
  js[J.committingTid] = tid;
  js[J.frozenCount] = 0;
  if (xfsLog(j)) xlog_cil_push_swap(j, n);
  js[J.runningTid] = 0;
  js[J.listed] = 0;
  if (js[J.fcIneligibleTid] === tid) js[J.fcIneligibleTid] = 0;
  const requestNs = j.times[JOURNAL_TIMES.requestNs] || startNs;
  j.times[JOURNAL_TIMES.requestNs] = 0;
  jbd2_journal_unlock_updates(j);
  j.unlock();
  // Handles held back by the lock or by the size limit may join the next transaction now.
  vnotify(j.cpu, js, J.runningState);
  vnotify(j.cpu, js, J.runningTid);
  return { tid, n, logStart, logBlocks, handles, inodes, startNs, requestNs, fcTargets };
}

/**
 * jbd2_journal_write_metadata_buffer(): the data the commit logs for buffer `block`, the
 * frozen copy if a handle made one, else the buffer itself, marked BH_Shadow until written.
 */
function jbd2_journal_write_metadata_buffer(j: Journal, block: number): Uint8Array {
  const at = block * FS_BUF.stride;
  j.lock();
  const frozen = j.bufs[at + FS_BUF.frozen];
  if (frozen === 0) j.bufs[at + FS_BUF.flags] |= BH_Shadow;
  j.unlock();
  if (frozen !== 0) return j.frozen.subarray((frozen - 1) * BLOCK_SIZE, frozen * BLOCK_SIZE);
  return j.meta.subarray(block * BLOCK_SIZE, (block + 1) * BLOCK_SIZE);
}

/** journal_end_buffer_io_sync() of a logged buffer: BH_Shadow cleared, its waiters woken; the copy is in the log (BJ_Logged). */
function endBufferLogged(j: Journal, block: number): void {
  const at = block * FS_BUF.stride;
  j.lock();
  const shadow = (j.bufs[at + FS_BUF.flags] & BH_Shadow) !== 0;
  j.bufs[at + FS_BUF.flags] &= ~BH_Shadow;
  j.bufs[at + FS_BUF.jlist] = BJ_Logged;
  j.unlock();
  if (shadow) vnotify(j.cpu, j.bufs, at + FS_BUF.flags);
}

/**
 * jbd2_journal_commit_transaction() after the switch: descriptors and copies, the commit
 * block, the flushes; then the tail, the checkpoint lists, the record and the waiters.
 */
function writeCommit(j: Journal, t: Committing, opts: CommitOptions): CommitResult {
  const js = j.js;
  const s = scratchOf(j);
  const homes = j.cbufs;
  const full = j.areas.fullBlocks;
  const { tid, n, logStart, handles, inodes, startNs, requestNs, fcTargets } = t;

  // jbd2's own per-commit work (buffer lists, the revoke table, the journal superblock),
  // done after the switch like most of it in the kernel, so new handles need not wait for it.
  if (j.commitNs > 0) charge(j.commitNs);

  // Descriptor blocks, each followed by the copies it describes, then the commit block; an
  // xfs push writes them through its in-core log buffers (xfs_log.ts).
  const ic = xfsLog(j) ? new IclogWriter(j) : null;
  let rel = logStart;
  let crc = 0;
  for (let d = 0; d < n; d += JDESC_MAX_TAGS) {
    const count = Math.min(JDESC_MAX_TAGS, n - d);
    s.block.fill(0);
    s.words[JDESC.magic] = JBD2_MAGIC_NUMBER;
    s.words[JDESC.blocktype] = JBD2_DESCRIPTOR_BLOCK;
    s.words[JDESC.tid] = tid;
    s.words[JDESC.count] = count;
    s.words.set(homes.subarray(d, d + count), JDESC.tags);
    j.logHomes[rel % full] = -1;
    ic?.space();
    writeJournalBlock(j, logBlock(j.areas, rel), s.block);
    ic?.wrote(logBlock(j.areas, rel));
    rel++;
    opts.onStep?.('descriptor', tid);
    for (let i = d; i < d + count; i++) {
      const data = jbd2_journal_write_metadata_buffer(j, homes[i]);
      try {
        crc = crc32(data, crc);
        j.logHomes[rel % full] = homes[i];
        ic?.space();
        writeJournalBlock(j, logBlock(j.areas, rel), data);
        ic?.wrote(logBlock(j.areas, rel));
        rel++;
      } finally {
        endBufferLogged(j, homes[i]);
      }
    }
    opts.onStep?.('metadata', tid);
  }
  // Without async_commit the copies are durable before the commit block is written.
  if (ic === null && !j.policy.asyncCommit) flushLog(j, logStart, rel - logStart);
  // Where the log could start once this commit is durable (taken before the commit block, as jbd2 does).
  const tail = jbd2_journal_get_log_tail(j);
  const updateTail = tail.advance && logBlocksFreedBy(j, tail.tid) >= j.maxTransactionBlocks;
  s.block.fill(0);
  s.words[JCOMMIT.magic] = JBD2_MAGIC_NUMBER;
  s.words[JCOMMIT.blocktype] = JBD2_COMMIT_BLOCK;
  s.words[JCOMMIT.tid] = tid;
  s.words[JCOMMIT.count] = n;
  s.words[JCOMMIT.checksum] = crc | 0;
  j.logHomes[rel % full] = -1;
  ic?.space();
  writeJournalBlock(j, logBlock(j.areas, rel), s.block);
  ic?.wrote(logBlock(j.areas, rel));
  rel++;
  // An xfs push's last iclog goes out with the commit block; the others went as they filled.
  ic?.finish(tid);
  opts.onStep?.('commit-block', tid);
  if (ic === null) {
    if (j.policy.asyncCommit) flushLog(j, logStart, rel - logStart);
    else flushLog(j, rel - 1, 1);
  }
  const durableNs = monoNs();
  if (updateTail) jbd2_update_log_tail(j, tail);
  jbd2_journal_insert_checkpoints(j, tid, n);

  const r: CommitResult = {
    tid,
    kind: COMMIT_FULL,
    blocks: rel - logStart,
    metadataBlocks: n,
    handles,
    inodes,
    requestNs,
    startNs,
    durableNs,
  };
  // Recorded before the waiters wake, so a waiter finds the record of the commit it waited for.
  recordCommit(j, r);

  // The tid is durable: its inodes are clean, its waiters wake.
  publishFcDone(j, fcTargets);
  j.lock();
  js[J.committingTid] = 0;
  js[J.committingBuffers] = 0;
  js[J.fcHead] = 0;
  // j_average_commit_time: from the switch to here, weighted 3:1 towards the average.
  const took = monoNs() - startNs;
  const avg = j.times[JOURNAL_TIMES.averageCommitNs];
  j.times[JOURNAL_TIMES.averageCommitNs] = avg > 0 ? (took + avg * 3) / 4 : took;
  Atomics.store(js, J.commitSequence, tid);
  j.unlock();
  vnotify(j.cpu, js, J.commitSequence);
  opts.onStep?.('durable', tid);
  return r;
}

/**
 * jbd2_journal_commit_transaction()'s t_forget processing: each committed buffer leaves the
 * checkpoint list of the older transaction that last logged it and joins this one's (it
 * must be written home, or logged again, before the log may drop this transaction); a
 * buffer a handle of the next transaction took write access to meanwhile is refiled there,
 * the rest are unfiled. Frozen copies are dropped.
 */
function jbd2_journal_insert_checkpoints(j: Journal, tid: number, n: number): void {
  const bufs = j.bufs;
  const rec = logTx(j, tid);
  j.lock();
  for (let i = 0; i < n; i++) {
    const at = j.cbufs[i] * FS_BUF.stride;
    const old = bufs[at + FS_BUF.cpTid];
    if (old !== 0) j.log[logTx(j, old) + LOG_TX.cpBuffers]--;
    bufs[at + FS_BUF.cpTid] = tid;
    j.log[rec + LOG_TX.cpBuffers]++;
    bufs[at + FS_BUF.frozen] = 0;
    const next = bufs[at + FS_BUF.nextTransaction];
    bufs[at + FS_BUF.transaction] = next;
    bufs[at + FS_BUF.nextTransaction] = 0;
    bufs[at + FS_BUF.jlist] = next === 0 ? BJ_None : bufs[at + FS_BUF.modifiedTid] === next ? BJ_Metadata : BJ_Reserved;
  }
  j.unlock();
}

/**
 * The fcSeq of every inode the transaction logged: a full commit makes those changes durable
 * too (ext4_fc_cleanup() after a full commit empties the fast-commit queue). Called with
 * j_state_lock held.
 */
function snapshotFcTargets(j: Journal, tid: number): number[] {
  const out: number[] = [];
  const inodes = j.inodes;
  for (let ino = 0; ino < j.cpu.machine.config.fsInodes; ino++) {
    const b = ino * FS_INODE.stride;
    if (inodes[b + FS_INODE.lastTid] === tid) out.push(ino, inodes[b + FS_INODE.fcSeq]);
  }
  return out;
}

/** Raises each target inode's fcDone (pairs of inode, fcSeq) to its target. */
export function publishFcDone(j: Journal, targets: number[]): void {
  for (let i = 0; i < targets.length; i += 2) {
    const at = targets[i] * FS_INODE.stride + FS_INODE.fcDone;
    if (Atomics.load(j.inodes, at) < targets[i + 1]) Atomics.store(j.inodes, at, targets[i + 1]);
  }
}

/** Appends a commit's record to the ring in journalStats (before its waiters wake). */
export function recordCommit(j: Journal, r: CommitResult): void {
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
