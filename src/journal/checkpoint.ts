// The log's space (fs/jbd2/checkpoint.c, and journal.c's tail handling). Full commits fill
// the log, a ring, one after another; a committed transaction stays in it, replayable, until
// every buffer on its checkpoint list is either written home (the checkpoint) or logged again
// by a later commit (which takes the buffer onto its own list). The log's tail then moves
// past it: the journal superblock is rewritten (s_start, s_sequence) and its blocks are free
// again. A handle that finds the log too short of space for a transaction runs the
// checkpoint itself before it joins (start_this_handle -> add_transaction_credits ->
// __jbd2_log_wait_for_space -> jbd2_log_do_checkpoint), so the journal's size decides how
// often a task pays for it. The commit thread never checkpoints; after a commit it moves the
// tail when that frees a quarter of the journal's worth of transactions whose buffers were
// all logged again (jbd2_journal_commit_transaction's update_tail).
//
// Locking rules: j_checkpoint_mutex (JOURNAL.checkpointMutex: the holder's tag, a sleeping
// mutex) serialises checkpoints and tail moves; under it the log's words and the buffers'
// checkpoint fields are still changed under j_state_lock only. A checkpoint that meets a
// buffer a running or committing transaction holds asks for that commit and waits for it,
// having let go of the mutex first (the commit may want it to move the tail). While it
// writes a buffer home the buffer carries BH_Lock, which write access waits for.
//
// Costs: a checkpoint writes each buffer home as one block write (journalBlockWriteNs: a
// 4 KiB submit_bh to the pmem device, as a journal block is), and moving the tail flushes
// the filesystem device (journalFlushNs, blkdev_issue_flush) and writes the superblock with
// REQ_FUA (journalBlockWriteNs + journalFlushNs).
//
// Simplification: the kernel also lets the flusher threads write checkpointed buffers home
// (dirty_expire_centisecs, 30 s) and then drops them from the checkpoint lists unwritten
// (__jbd2_journal_clean_checkpoint_list); the lab has no buffer writeback, so only the
// checkpoint writes them. The kernel keeps 32 blocks of the log spare for rounding; the lab
// counts a transaction's blocks exactly and keeps one (an empty transaction's commit block).

import { BLOCK_SIZE, FS_BUF, JOURNAL, LOG_TX } from '../machine/layout.js';
import { charge, vnotify, vwaitEvent } from '../sync/vclock.js';
import { STEP, stepEnter, stepLeave } from '../measure/steps.js';
import { FsError } from '../fs/errno.js';
import { JSB, fullCommitBlocks, logBlock } from './ondisk.js';
import { BH_Lock } from './buffers.js';
import type { Journal } from './journal.js';
import { jbd2_log_start_commit, jbd2_log_wait_commit, markWaiting } from './journal.js';
import { jbd2_journal_abort } from './commit.js';
import { xfsCommittedBlock, xfsLog } from './xfs_log.js';

const J = JOURNAL;

/** Log blocks kept spare so that a transaction with no buffers can still commit (the kernel's "allow for rounding errors"). */
export const JBD2_LOG_RESERVED = 1;

/** The word of transaction tid's record (LOG_TX) in views.journalLog. */
export function logTx(j: Journal, tid: number): number {
  return (tid % j.geometry.journalBlocks) * LOG_TX.stride;
}

/** jbd2_log_space_left(): free log blocks (the committing transaction's are reserved at its switch). j_state_lock held, or a sample. */
export function jbd2_log_space_left(j: Journal): number {
  return j.js[J.free] - JBD2_LOG_RESERVED;
}

/** jbd2_space_needed(): the log blocks a transaction of the largest size writes, descriptors and commit block included. */
export function jbd2_space_needed(j: Journal): number {
  return fullCommitBlocks(j.maxTransactionBlocks);
}

/**
 * jbd2_journal_create()'s log half (journal_reset at mkfs): an empty log whose tail is its
 * first block and whose next transaction is tid 1. Called before any CPU uses the journal.
 */
export function jbd2_log_reset(j: Journal): void {
  const js = j.js;
  js[J.head] = 0;
  js[J.tail] = 0;
  js[J.free] = j.areas.fullBlocks;
  js[J.tailTid] = 1;
  js[J.nextTid] = 1;
  js[J.commitSequence] = 0;
  js[J.checkpointMutex] = 0;
  j.log.fill(0);
  j.logHomes.fill(-1);
}

/** Whether any committed transaction still has buffers to write home (j_checkpoint_transactions != NULL). j_state_lock held. */
function hasCheckpointTransactions(j: Journal): boolean {
  return oldestCheckpointTid(j) !== 0;
}

/** The oldest committed transaction whose checkpoint list is not empty, 0 when none. j_state_lock held. */
function oldestCheckpointTid(j: Journal): number {
  const last = j.js[J.commitSequence];
  for (let t = j.js[J.tailTid]; t <= last; t++) if (j.log[logTx(j, t) + LOG_TX.cpBuffers] > 0) return t;
  return 0;
}

export interface LogTail {
  /** The oldest transaction the log must keep, and the log block it starts at. */
  tid: number;
  block: number;
  /** Whether that is past the current tail (jbd2_journal_get_log_tail()'s return). */
  advance: boolean;
}

/**
 * jbd2_journal_get_log_tail(): where the log could start now: the oldest committed
 * transaction with buffers still to write home, else the committing one, else the head.
 */
export function jbd2_journal_get_log_tail(j: Journal): LogTail {
  const js = j.js;
  j.lock();
  let tid = oldestCheckpointTid(j);
  let block: number;
  if (tid !== 0) block = j.log[logTx(j, tid) + LOG_TX.logStart];
  else if (js[J.committingTid] !== 0) {
    tid = js[J.committingTid];
    block = j.log[logTx(j, tid) + LOG_TX.logStart];
  } else {
    tid = js[J.runningTid] !== 0 ? js[J.runningTid] : Math.max(1, js[J.nextTid]);
    block = js[J.head];
  }
  const advance = tid > js[J.tailTid];
  j.unlock();
  return { tid, block, advance };
}

/** Log blocks the transactions from the tail up to (not including) tid occupy: what moving the tail to tid frees. j_state_lock held. */
function blocksBefore(j: Journal, tid: number): number {
  let n = 0;
  for (let t = j.js[J.tailTid]; t < tid; t++) n += j.log[logTx(j, t) + LOG_TX.logBlocks];
  return n;
}

/** Log blocks moving the tail to tid would free now. */
export function logBlocksFreedBy(j: Journal, tid: number): number {
  j.lock();
  const n = blocksBefore(j, tid);
  j.unlock();
  return n;
}

/**
 * __jbd2_update_log_tail(): writes the journal superblock with the new tail (durable before
 * anything reuses the blocks it frees), then frees the blocks. j_checkpoint_mutex held.
 */
export function __jbd2_update_log_tail(j: Journal, tail: LogTail): void {
  const sb = j.areas.sb * BLOCK_SIZE;
  const block = new Uint8Array(BLOCK_SIZE);
  const words = new Int32Array(block.buffer);
  block.set(j.dev.load(sb, BLOCK_SIZE));
  words[JSB.s_start] = logBlock(j.areas, tail.block);
  words[JSB.s_sequence] = tail.tid;
  // jbd2_journal_update_sb_log_tail(): the superblock, REQ_SYNC | REQ_FUA.
  j.dev.store(sb, block);
  j.dev.flushcache(sb, BLOCK_SIZE);
  j.dev.fence();
  if (j.journalBlockWriteNs > 0) charge(j.journalBlockWriteNs);
  if (j.journalFlushNs > 0) charge(j.journalFlushNs);
  const js = j.js;
  j.lock();
  js[J.free] += blocksBefore(j, tail.tid);
  js[J.tail] = tail.block;
  js[J.tailTid] = tail.tid;
  js[J.tailUpdates]++;
  j.unlock();
}

/** jbd2_update_log_tail(): moves the tail to `tail` unless someone moved it further meanwhile. Takes j_checkpoint_mutex. */
export function jbd2_update_log_tail(j: Journal, tail: LogTail): void {
  checkpointMutexLock(j);
  try {
    if (tail.tid > Atomics.load(j.js, J.tailTid)) __jbd2_update_log_tail(j, tail);
  } finally {
    checkpointMutexUnlock(j);
  }
}

/**
 * jbd2_cleanup_journal_tail(): moves the tail past the transactions nothing needs any more,
 * after flushing the device so that the home blocks written for them are durable. Returns 0
 * when it moved it, 1 when there was nothing to free. j_checkpoint_mutex held.
 */
export function jbd2_cleanup_journal_tail(j: Journal): number {
  const tail = jbd2_journal_get_log_tail(j);
  if (!tail.advance) return 1;
  // blkdev_issue_flush() of the filesystem device: the checkpoint's writes are durable.
  j.dev.fence();
  if (j.journalFlushNs > 0) charge(j.journalFlushNs);
  __jbd2_update_log_tail(j, tail);
  return 0;
}

/**
 * jbd2_log_do_checkpoint(): writes home the buffers of the oldest transaction with any
 * left, then moves the tail. A buffer that a running or committing transaction holds
 * cannot be written (it may be mid-change, and a newer copy is on its way to the log): that
 * transaction's commit is asked for and waited for, and the buffer moves to its list.
 * j_checkpoint_mutex held (let go while it waits for a commit).
 */
export function jbd2_log_do_checkpoint(j: Journal): void {
  if (jbd2_cleanup_journal_tail(j) === 0) return;
  const js = j.js;
  const bufs = j.bufs;
  j.lock();
  const tid = oldestCheckpointTid(j);
  j.unlock();
  if (tid === 0) return;
  const rec = logTx(j, tid);
  const start = j.log[rec + LOG_TX.logStart];
  const n = j.log[rec + LOG_TX.logBlocks];
  let written = 0;
  restart: for (;;) {
    for (let k = 0; k < n; k++) {
      const home = j.logHomes[(start + k) % j.areas.fullBlocks];
      if (home < 0) continue;
      const at = home * FS_BUF.stride;
      j.lock();
      // Done with this transaction (every buffer written or logged again) while we waited.
      if (j.log[rec + LOG_TX.tid] !== tid || j.log[rec + LOG_TX.cpBuffers] === 0) {
        j.unlock();
        break restart;
      }
      if (bufs[at + FS_BUF.cpTid] !== tid) {
        j.unlock();
        continue;
      }
      const holder = bufs[at + FS_BUF.transaction];
      if (holder !== 0) {
        j.unlock();
        if (written > 0) j.dev.fence();
        written = 0;
        checkpointMutexUnlock(j);
        try {
          jbd2_log_start_commit(j, holder);
          jbd2_log_wait_commit(j, holder);
        } finally {
          checkpointMutexLock(j);
        }
        continue restart;
      }
      bufs[at + FS_BUF.flags] |= BH_Lock;
      j.unlock();
      // write_dirty_buffer(): the buffer's data is what its last commit logged.
      const off = home * BLOCK_SIZE;
      try {
        // xfs: the block as committed transactions left it; open ones' changes are not on the log yet.
        j.dev.store(off, xfsLog(j) ? xfsCommittedBlock(j, home) : j.meta.subarray(off, off + BLOCK_SIZE));
        j.dev.flushcache(off, BLOCK_SIZE);
        if (j.journalBlockWriteNs > 0) charge(j.journalBlockWriteNs);
      } finally {
        j.lock();
        bufs[at + FS_BUF.flags] &= ~BH_Lock;
        bufs[at + FS_BUF.cpTid] = 0;
        j.log[rec + LOG_TX.cpBuffers]--;
        js[J.checkpointBlocks]++;
        j.unlock();
        vnotify(j.cpu, bufs, at + FS_BUF.flags);
      }
      written++;
    }
    break;
  }
  if (written > 0) j.dev.fence();
  j.lock();
  js[J.checkpoints]++;
  j.unlock();
  jbd2_cleanup_journal_tail(j);
}

/**
 * __jbd2_log_wait_for_space(): until the log has room for a transaction: checkpoints the
 * oldest transaction, or moves the tail over ones nothing needs, or waits for the committing
 * transaction; with none of those possible the journal cannot go on and is aborted. Called
 * with no lock held, by a CPU about to join the running transaction (no handle open).
 */
export function __jbd2_log_wait_for_space(j: Journal): void {
  const js = j.js;
  const needed = jbd2_space_needed(j);
  while (Atomics.load(js, J.aborted) === 0 && jbd2_log_space_left(j) < needed) {
    checkpointMutexLock(j);
    let held = true;
    try {
      if (Atomics.load(js, J.aborted) !== 0) return;
      j.lock();
      const left = jbd2_log_space_left(j);
      const chkpt = hasCheckpointTransactions(j);
      const committing = js[J.committingTid];
      j.unlock();
      if (left >= needed) continue;
      if (chkpt) jbd2_log_do_checkpoint(j);
      else if (jbd2_cleanup_journal_tail(j) === 0) {
        // Space recovered by moving the tail alone.
      } else if (committing !== 0) {
        // The commit may want j_checkpoint_mutex to move the tail: let go of it while waiting.
        checkpointMutexUnlock(j);
        held = false;
        jbd2_log_wait_commit(j, committing);
      } else {
        // "no way to get more journal space": the journal stops; the handle gets EIO.
        jbd2_journal_abort(j);
        throw new FsError(
          'EIO',
          `__jbd2_log_wait_for_space: needed ${needed} log blocks and only ${left} are free, with nothing to checkpoint and nothing committing (the journal was aborted)`,
        );
      }
    } finally {
      if (held) checkpointMutexUnlock(j);
    }
  }
}

/** mutex_lock(&j_checkpoint_mutex): sleeps while another CPU checkpoints. */
export function checkpointMutexLock(j: Journal): void {
  const js = j.js;
  const tag = j.cpu.tag;
  for (;;) {
    const holder = Atomics.compareExchange(js, J.checkpointMutex, 0, tag);
    if (holder === 0) return;
    if (holder === tag) throw new Error(`j_checkpoint_mutex: cpu ${j.cpu.id} already holds it`);
    stepEnter(STEP.journal_commit_wait);
    markWaiting(j, js, J.checkpointMutex);
    try {
      vwaitEvent(j.cpu, js, J.checkpointMutex, holder, 1000);
    } finally {
      markWaiting(j, null, -1);
      stepLeave();
    }
  }
}

/** mutex_unlock(&j_checkpoint_mutex). */
export function checkpointMutexUnlock(j: Journal): void {
  Atomics.store(j.js, J.checkpointMutex, 0);
  vnotify(j.cpu, j.js, J.checkpointMutex);
}
