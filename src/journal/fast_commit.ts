// ext4 fast commit (fs/ext4/fast_commit.c, Linux 5.10 on; 4.14 had none): an fsync logs the
// inodes the running transaction changed since their last commit, alone, in the fast-commit
// area, instead of committing the whole transaction. It runs in the fsyncing task
// (ext4_fc_commit), not in kjournald2: the task takes the committer word
// (jbd2_fc_begin_commit: JBD2_FAST_COMMIT_ONGOING), or, finding a full or fast commit under
// way, waits for it to end and looks again: done if that commit covered its inode, else it
// tries once more. It falls back to a full commit (jbd2_fc_end_commit_fallback, which leaves
// JBD2_FULL_COMMIT_ONGOING set for it) when the transaction is ineligible or the area is
// full, and does a full commit outright when no full commit has happened since mount
// (jbd2_fc_begin_commit's -EINVAL).
//
// A fast commit writes every inode on the fast-commit queue (ext4_fc_perform_commit), not
// only the fsyncing one: each inode the running transaction logged whose changes no fast or
// full commit has made durable yet. With updates locked it takes each queued inode's record
// and its extent blocks changed in this transaction (ext4 marks them EXT4_STATE_FC_COMMITTING
// and reads them after), lets handles in again, writes the records and flushes.
//
// Format simplification: ext4 packs tags (an inode's raw record, its added and removed
// ranges) into fast-commit blocks several to a block; the lab writes one header block per
// inode (its record and the home blocks of what follows) and whole copies of the extent
// blocks that changed, so a fast commit of a chmodded inode is one block where ext4's is
// about 300 bytes, and one that mapped new blocks carries a 4 KiB extent block where ext4's
// carries a 16-byte range tag.

import { BLOCK_SIZE, COMMITTER_FULL_PENDING, FS_BUF, FS_INODE, INODE_SIZE, JOURNAL } from '../machine/layout.js';
import { vnotify, vwaitEvent } from '../sync/vclock.js';
import { STEP, attributing, stepEnter, stepLeave, stepNoteCommitOthers } from '../measure/steps.js';
import { monoNs } from '../util/clock.js';
import {
  jbd2_complete_transaction,
  jbd2_transaction_committed,
  journalAborted,
  markWaiting,
  type Journal,
} from './journal.js';
import {
  COMMIT_FAST,
  commitFailed,
  endCommitOngoing,
  flushJournalBlocks,
  jbd2_journal_lock_updates,
  jbd2_journal_unlock_updates,
  publishFcDone,
  recordCommit,
  writeJournalBlock,
  type CommitOptions,
} from './commit.js';
import { EXT4_FC_BLOCK, FC_INODE_OFFSET, JBD2_MAGIC_NUMBER, JFC, JFC_MAX_TAGS } from './ondisk.js';
import { crc32 } from 'node:zlib';

const J = JOURNAL;

/** Snapshot memory private to a fast committer: the whole fast-commit area's worth of blocks. */
const snapshots = new WeakMap<Journal, Uint8Array>();

function snapshotOf(j: Journal): Uint8Array {
  let s = snapshots.get(j);
  if (!s) {
    s = new Uint8Array(j.areas.fcBlocks * BLOCK_SIZE);
    snapshots.set(j, s);
  }
  return s;
}

/**
 * ext4_fc_commit(): makes inode ino's changes up to tid durable, with a fast commit when the
 * journal has fast commit on, else (or when a fast commit cannot stand in) a full one.
 */
export function ext4_fc_commit(j: Journal, ino: number, tid: number, opts: CommitOptions = {}): void {
  if (!j.policy.fastCommit) return jbd2_complete_transaction(j, tid);
  if (jbd2_transaction_committed(j, tid)) return;
  const b = ino * FS_INODE.stride;
  const target = Atomics.load(j.inodes, b + FS_INODE.fcSeq);
  const done = () => Atomics.load(j.inodes, b + FS_INODE.fcDone) >= target || jbd2_transaction_committed(j, tid);
  if (done()) return;
  const requestNs = monoNs();
  stepEnter(STEP.journal_commit_wait);
  try {
    for (;;) {
      const r = jbd2_fc_begin_commit(j, tid);
      if (r === 'inval') {
        countFallback(j);
        jbd2_complete_transaction(j, tid);
        return;
      }
      if (r === 'already') {
        // ext4 looks at s_fc_subtid; the lab at its own inode: covered by the commit it waited for, or not yet.
        if (done()) return;
        continue;
      }
      const fc = ext4_fc_perform_commit(j, requestNs, opts);
      if (fc.fallback !== 0) {
        jbd2_complete_transaction(j, fc.fallback);
        return;
      }
      if (attributing) stepNoteCommitOthers(fc.inodes > 1);
      // Its change was logged in tid, which was running: the fast commit took it.
      if (!done()) jbd2_complete_transaction(j, tid);
      return;
    }
  } finally {
    stepLeave();
  }
}

function countFallback(j: Journal): void {
  j.lock();
  j.js[J.fcFallbacks]++;
  j.unlock();
}

/**
 * jbd2_fc_begin_commit(): takes the committer word for a fast commit. 'already' when tid is
 * committed, or when another commit was under way (after waiting for it to end); 'inval'
 * when no full commit has been done yet (j_stats.ts_tid == 0).
 */
function jbd2_fc_begin_commit(j: Journal, tid: number): 'ok' | 'already' | 'inval' {
  const js = j.js;
  if (Atomics.load(js, J.aborted) !== 0) throw journalAborted('EIO', 'ext4_fc_commit');
  if (Atomics.load(js, J.commitSequence) === 0) return 'inval';
  j.lock();
  if (jbd2_transaction_committed(j, tid)) {
    j.unlock();
    return 'already';
  }
  const holder = Atomics.compareExchange(js, J.committer, 0, j.cpu.tag);
  j.unlock();
  if (holder === 0) return 'ok';
  if (holder === j.cpu.tag) throw new Error(`ext4_fc_commit: cpu ${j.cpu.id} already holds the committer word`);
  markWaiting(j, js, J.committer);
  try {
    // wait on j_fc_wait until that commit ends.
    while (Atomics.load(js, J.committer) === holder && Atomics.load(js, J.aborted) === 0) vwaitEvent(j.cpu, js, J.committer, holder, 1000);
  } finally {
    markWaiting(j, null, -1);
  }
  return 'already';
}

interface FastCommitOutcome {
  /** The tid a full commit must now serve (a fallback), 0 when the fast commit stood. */
  fallback: number;
  /** Inodes the fast commit wrote. */
  inodes: number;
}

/**
 * ext4_fc_perform_commit() with the committer word held, through jbd2_fc_end_commit(): logs
 * the queued inodes of the running transaction, or, ineligible or out of room, hands the
 * word to the full commit that must stand in (jbd2_fc_end_commit_fallback).
 */
function ext4_fc_perform_commit(j: Journal, requestNs: number, opts: CommitOptions): FastCommitOutcome {
  const js = j.js;
  const startNs = monoNs();
  const phase = { tid: 0, locked: false, writing: false };
  let release = 0;
  try {
    if (Atomics.load(js, J.aborted) !== 0) throw journalAborted('EIO', 'ext4_fc_perform_commit');
    const tid = jbd2_journal_lock_updates(j);
    phase.tid = tid;
    phase.locked = tid !== 0;
    const snap = snapshotOf(j);
    const g = j.geometry;
    const per = g.extentBlocksPerInode;
    const homes: number[] = [];
    const records: { ino: number; seq: number; at: number; count: number }[] = [];

    j.lock();
    const eligible = tid !== 0 && js[J.fcIneligibleTid] !== tid;
    // The fast-commit queue: inodes logged in tid that no commit has made durable since.
    let need = 0;
    if (tid !== 0) {
      for (let ino = 0; ino < g.inodes; ino++) {
        const b = ino * FS_INODE.stride;
        if (j.inodes[b + FS_INODE.lastTid] !== tid || j.inodes[b + FS_INODE.fcDone] >= j.inodes[b + FS_INODE.fcSeq]) continue;
        let count = 0;
        for (let k = 0; k < per; k++) {
          const home = g.extentStart + ino * per + k;
          if (j.bufs[home * FS_BUF.stride + FS_BUF.modifiedTid] === tid) count++;
        }
        records.push({ ino, seq: j.inodes[b + FS_INODE.fcSeq], at: need, count });
        need += 1 + count;
      }
    }
    const fits = js[J.fcHead] + need <= j.areas.fcBlocks && per <= JFC_MAX_TAGS;
    if (tid !== 0 && !(eligible && fits)) {
      js[J.fcFallbacks]++;
      jbd2_journal_unlock_updates(j);
      phase.locked = false;
      j.unlock();
      vnotify(j.cpu, js, J.runningState);
      release = COMMITTER_FULL_PENDING;
      return { fallback: tid, inodes: 0 };
    }
    if (records.length === 0) {
      if (tid !== 0) jbd2_journal_unlock_updates(j);
      phase.locked = false;
      j.unlock();
      vnotify(j.cpu, js, J.runningState);
      return { fallback: 0, inodes: 0 };
    }
    // The records as they are now: header (with the inode's record) and its changed extent blocks.
    for (const r of records) {
      const base = r.at * BLOCK_SIZE;
      snap.fill(0, base, base + BLOCK_SIZE);
      const rec = g.inodeTableStart * BLOCK_SIZE + r.ino * INODE_SIZE;
      snap.set(j.meta.subarray(rec, rec + INODE_SIZE), base + FC_INODE_OFFSET);
      const hdr = new Int32Array(snap.buffer, base, JFC.stride);
      const tags = new Int32Array(snap.buffer, base + JFC.tags * 4, r.count);
      let t = 0;
      for (let k = 0; k < per; k++) {
        const home = g.extentStart + r.ino * per + k;
        if (j.bufs[home * FS_BUF.stride + FS_BUF.modifiedTid] !== tid) continue;
        tags[t] = home;
        snap.set(j.meta.subarray(home * BLOCK_SIZE, (home + 1) * BLOCK_SIZE), (r.at + 1 + t) * BLOCK_SIZE);
        homes.push(home);
        t++;
      }
      hdr[JFC.magic] = JBD2_MAGIC_NUMBER;
      hdr[JFC.blocktype] = EXT4_FC_BLOCK;
      hdr[JFC.tid] = tid;
      hdr[JFC.ino] = r.ino;
      hdr[JFC.count] = r.count;
      hdr[JFC.seq] = r.seq;
      hdr[JFC.checksum] = fcChecksum(snap, r.at, r.count);
    }
    const head = js[J.fcHead];
    js[J.fcHead] = head + need;
    jbd2_journal_unlock_updates(j);
    phase.locked = false;
    phase.writing = true;
    j.unlock();
    vnotify(j.cpu, js, J.runningState);

    const first = j.areas.fcFirst + head;
    for (let i = 0; i < need; i++) writeJournalBlock(j, first + i, snap.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE));
    opts.onStep?.('metadata', tid);
    flushJournalBlocks(j, [first, need]);
    const durableNs = monoNs();
    j.lock();
    js[J.fcCommits] += records.length;
    j.unlock();
    // Recorded before the inodes read as clean, so a caller finds the record of the commit it made.
    recordCommit(j, {
      tid,
      kind: COMMIT_FAST,
      blocks: need,
      metadataBlocks: homes.length,
      handles: 0,
      inodes: records.length,
      requestNs,
      startNs,
      durableNs,
    });
    publishFcDone(j, records.flatMap((r) => [r.ino, r.seq]));
    opts.onStep?.('durable', tid);
    return { fallback: 0, inodes: records.length };
  } catch (e) {
    release = 0;
    // Locked: put the transaction back; writing: its records may be torn, so stop the journal.
    if (phase.writing) throw commitFailed(j, phase.tid, true, e);
    if (phase.locked) throw commitFailed(j, phase.tid, false, e);
    throw e;
  } finally {
    endCommitOngoing(j, release); // jbd2_fc_end_commit() / jbd2_fc_end_commit_fallback()
  }
}

/** crc32 of a fast-commit record: its header's tags and inode record, then its blocks. */
export function fcChecksum(blocks: Uint8Array, first: number, count: number): number {
  const base = first * BLOCK_SIZE;
  let c = crc32(blocks.subarray(base + JFC.tags * 4, base + FC_INODE_OFFSET + INODE_SIZE));
  c = crc32(blocks.subarray(base + BLOCK_SIZE, base + (1 + count) * BLOCK_SIZE), c);
  return c | 0;
}
