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
// only the fsyncing one: each inode the running transaction logged (ext4_mark_iloc_dirty ->
// ext4_fc_track_inode, a chmod's too) whose changes no fast or full commit has made durable
// yet. With updates locked it takes each queued inode's record and what changed in its
// extent map (ext4 marks them EXT4_STATE_FC_COMMITTING and reads them after), lets handles
// in again, writes the records and flushes.
//
// Its records are packed into the area's blocks as ext4 packs its tags (fc_records.ts): an
// inode's record is 272 bytes (ext4's EXT4_FC_TAG_INODE, 264). Simplification: where ext4
// logs each changed range of the inode's map as a 16-byte EXT4_FC_TAG_ADD_RANGE /
// DEL_RANGE, the lab logs the header and used entries of each of its extent blocks changed
// in the transaction (a file of one extent: 32 bytes); ext4 writes its HEAD once per
// transaction, the lab once per fast commit (16 bytes). The area is 1/64 of the journal
// beside it, as mke2fs -O fast_commit makes it (ondisk.ts journalAreas).

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
import { FcWriter } from './fc_records.js';
import { EXTENT, EXTENT_HEADER } from '../fs/ondisk.js';

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
    const g = j.geometry;
    const per = g.extentBlocksPerInode;
    j.lock();
    const eligible = tid !== 0 && js[J.fcIneligibleTid] !== tid;
    // The fast-commit queue: inodes logged in tid that no commit has made durable since. Their
    // records as they are now, packed as ext4 packs its tags, into the room left in the area.
    const head = js[J.fcHead];
    const fc = new FcWriter(snapshotOf(j), j.areas.fcBlocks - head);
    const targets: number[] = [];
    let extentBlocks = 0;
    if (tid !== 0) {
      fc.head(tid);
      for (let ino = 0; ino < g.inodes && !fc.full; ino++) {
        const b = ino * FS_INODE.stride;
        if (j.inodes[b + FS_INODE.lastTid] !== tid || j.inodes[b + FS_INODE.fcDone] >= j.inodes[b + FS_INODE.fcSeq]) continue;
        const seq = j.inodes[b + FS_INODE.fcSeq];
        const rec = g.inodeTableStart * BLOCK_SIZE + ino * INODE_SIZE;
        fc.inode(ino, seq, j.meta.subarray(rec, rec + INODE_SIZE));
        // ext4_fc_write_inode_data(): what changed in its map; here its extent blocks changed in
        // this transaction, their header and the entries in use.
        for (let k = 0; k < per; k++) {
          const home = g.extentStart + ino * per + k;
          if (j.bufs[home * FS_BUF.stride + FS_BUF.modifiedTid] !== tid) continue;
          const words = new Int32Array(j.meta.buffer, j.meta.byteOffset + home * BLOCK_SIZE, BLOCK_SIZE / 4);
          fc.ext(home, words.subarray(0, EXTENT_HEADER.stride + Math.max(0, words[EXTENT_HEADER.eh_entries]) * EXTENT.stride));
          extentBlocks++;
        }
        targets.push(ino, seq);
      }
    }
    const need = tid !== 0 ? fc.tail(tid) : 0;
    if (tid !== 0 && !(eligible && !fc.full)) {
      js[J.fcFallbacks]++;
      jbd2_journal_unlock_updates(j);
      phase.locked = false;
      j.unlock();
      vnotify(j.cpu, js, J.runningState);
      release = COMMITTER_FULL_PENDING;
      return { fallback: tid, inodes: 0 };
    }
    if (targets.length === 0) {
      if (tid !== 0) jbd2_journal_unlock_updates(j);
      phase.locked = false;
      j.unlock();
      vnotify(j.cpu, js, J.runningState);
      return { fallback: 0, inodes: 0 };
    }
    js[J.fcHead] = head + need;
    jbd2_journal_unlock_updates(j);
    phase.locked = false;
    phase.writing = true;
    j.unlock();
    vnotify(j.cpu, js, J.runningState);

    const snap = snapshotOf(j);
    const first = j.areas.fcFirst + head;
    for (let i = 0; i < need; i++) writeJournalBlock(j, first + i, snap.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE));
    opts.onStep?.('metadata', tid);
    flushJournalBlocks(j, [first, need]);
    const durableNs = monoNs();
    const inodes = targets.length / 2;
    j.lock();
    js[J.fcCommits] += inodes;
    j.unlock();
    // Recorded before the inodes read as clean, so a caller finds the record of the commit it made.
    recordCommit(j, { tid, kind: COMMIT_FAST, blocks: need, metadataBlocks: extentBlocks, handles: 0, inodes, requestNs, startNs, durableNs });
    publishFcDone(j, targets);
    opts.onStep?.('durable', tid);
    return { fallback: 0, inodes };
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

