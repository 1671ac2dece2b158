// jbd2 as CPUs see it: handles joined to the running transaction, metadata buffers filed
// in it, commit requests and waits (fs/jbd2/transaction.c, journal.c). The commit thread's
// side is in commit.ts and kjournald.ts, the log's space in checkpoint.ts, ext4's fast
// commit in fast_commit.ts.
//
// Locking rules:
//  - j_state_lock (JOURNAL.lockState in views.journalState, class j_state_lock) guards the
//    transaction state: runningTid, runningState, updates, handle/buffer/inode counts,
//    commitRequest, the log's head, tail and free space, and every journal field of the
//    buffers (FS_BUF: transaction, nextTransaction, jlist, modifiedTid, cpTid, frozen and the
//    BH_Lock / BH_Shadow bits), standing in for jbd_lock_bh_state and j_list_lock too. It is
//    the innermost lock: callers may hold i_data_sem or the allocator's lock around it, never
//    the other way round. Nothing sleeps under it; a frozen copy is made under it, as
//    do_get_write_access() makes one under jbd_lock_bh_state.
//  - A handle is open between jbd2_journal_start() and jbd2_journal_stop(); while any is
//    open the running transaction cannot commit (t_updates). A CPU has one handle at a
//    time (jbd2's nested handles are not modelled) and must not wait for a commit while
//    its handle is open: the commit would wait for the handle, the handle for the commit.
//  - Credits: a handle reserves, when it starts, the most blocks it may add to the
//    transaction, and spends one per block it dirties; jbd2_journal_stop() gives back the
//    rest. The running transaction's blocks plus its open handles' unspent credits
//    (outstandingCredits) never exceed maxTransactionBlocks (j_max_transaction_buffers, a
//    quarter of the journal): a handle that would push it past is held back until a commit
//    has switched the transaction out (add_transaction_credits). A handle also waits, before
//    it joins, until the log has room for a transaction of that size (checkpoint.ts).
//  - Buffers: jbd2_journal_get_write_access() files a buffer in the handle's transaction
//    before the filesystem changes it. A buffer the committing transaction still owns is
//    filed as its next transaction's (nextTransaction); if the commit has not written it to
//    the log yet, a frozen copy of it is made first (views.journalFrozen), which the commit
//    writes instead. While the commit writes a buffer's own data (BH_Shadow), or the
//    checkpoint writes it home (BH_Lock), write access waits.
//  - Sleeps: jbd2_journal_start() sleeps while a commit has the running transaction locked
//    (wait_transaction_locked, on runningState), while the transaction is too large for its
//    credits (it spins for lockSpinNs, then sleeps on runningTid until the switch) and while
//    it waits for log space (checkpoint.ts); write access sleeps on a buffer's flags word;
//    jbd2_journal_stop() of a synchronous handle sleeps its batching time (schedule_hrtimeout)
//    with the handle still open; jbd2_log_wait_commit() sleeps until the tid is durable
//    (j_wait_done_commit, on commitSequence). All with no spinlock held.
//  - One commit at a time: whoever commits (kjournald2, the CPU whose fsync performs a fast
//    commit, or with no commit thread the CPU that needs the commit) holds JOURNAL.committer.
//    With no commit thread, a waiter records its request and tries for the word under
//    j_state_lock; the holder commits until no request is pending and lets go under
//    j_state_lock, so every request is served by the holder or by the waiter that finds the
//    word free (kjournald2_inline).
//  - The metadata itself (views.fsMeta) is changed by the filesystem under its own locks,
//    between jbd2_journal_get_write_access() and jbd2_journal_dirty_metadata() of an open
//    handle. A commit locks the transaction and waits for every handle to stop, so no block
//    of it is mid-change when the commit writes it; a change for the next transaction is
//    made only after the commit's copy is safe (frozen, or written).
//
// Attribution (measure/steps.ts): every sleep for a commit (wait_transaction_locked,
// jbd2_log_wait_commit, ext4_fc_commit), a commit a waiter performs itself and a wait for log
// space is the `journal commit wait` step; after such a wait the waiter looks up the commit's
// record (commit.ts records it before it wakes anyone) and notes whether it carried other
// inodes.
//
// Today's jbd2 keeps these steps and names. The xfs personality's log uses the same engine
// differently (xfs_log.ts): its transactions join the running transaction (the CIL context)
// only when they commit, and a commit (a CIL push) never waits for open ones.

import {
  COMMIT_RECORD,
  COMMIT_RECORDS,
  COMMITTER_FULL_PENDING,
  CPU_STATE,
  FS_BUF,
  FS_INODE,
  JOURNAL,
  JOURNAL_TIMES,
  LOCK_CLASS,
  BLOCK_SIZE,
  fsGeometry,
  type FsGeometry,
} from '../machine/layout.js';
import type { Cpu } from '../sync/cpu.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { charge, isVirtual, vnotify, vsleepUntil, vtimerArm, vwaitEvent } from '../sync/vclock.js';
import type { PmemDevice } from '../pmem/device.js';
import { checkInt } from '../util/check.js';
import { monoNs, nowNs } from '../util/clock.js';
import { FsError } from '../fs/errno.js';
import { journalAreas, maxTransactionBuffers, type JournalAreas } from './ondisk.js';
import { resolveJournalPolicy, type JournalPolicy } from './policy.js';
import { COMMIT_FULL, COMMIT_FAST, jbd2_journal_commit_transaction } from './commit.js';
import { BH_Lock, BH_Shadow, BJ_Metadata, BJ_Reserved } from './buffers.js';
import { __jbd2_log_wait_for_space, jbd2_log_space_left, jbd2_space_needed } from './checkpoint.js';
import { xfsLog, xfs_log_commit_cil, xfs_trans_bjoin, xfs_trans_log_buf } from './xfs_log.js';
import { STEP, attributing, stepEnter, stepLeave, stepNoteCommitOthers } from '../measure/steps.js';

export const T_RUNNING = 0;
export const T_LOCKED = 1;
/** cpuState waitKind of a CPU waiting for a journal commit (spinlock 1, entry wait queue 2). */
export const WAIT_KIND_JOURNAL = 3;

const J = JOURNAL;
const LOCK = LOCK_CLASS.j_state_lock;

export interface Handle {
  readonly journal: Journal;
  /** The transaction this handle is joined to (0 when closed). */
  tid: number;
  open: boolean;
  /** Blocks the handle may still dirty in its transaction (h_total_credits). */
  credits: number;
  /**
   * h_sync: jbd2_journal_stop() batches, asks for the commit and waits for it. ext4 sets it
   * for IS_SYNC / dirsync inodes (mount -o sync, chattr +S), which no operation of the lab
   * has: its fsync and MAP_SYNC paths wait through jbd2_complete_transaction() instead.
   */
  sync: boolean;
}

/** One CPU's view of the journal (journal_t); one per CPU, made once. */
export class Journal {
  readonly cpu: Cpu;
  readonly dev: PmemDevice;
  readonly policy: JournalPolicy;
  readonly geometry: FsGeometry;
  readonly areas: JournalAreas;
  readonly js: Int32Array;
  readonly times: Float64Array;
  readonly bufs: Int32Array;
  /** views.journalBuffers: the running transaction's buffers, JOURNAL.listed of them (t_reserved_list + t_buffers). */
  readonly tbufs: Int32Array;
  /** views.journalCommitBuffers: the committing transaction's blocks, committingBuffers of them. */
  readonly cbufs: Int32Array;
  /** views.journalFrozen: frozen copies, one block per slot. */
  readonly frozen: Uint8Array;
  /** views.journalLog and journalLogHomes: the transactions in the log and what each log block holds. */
  readonly log: Int32Array;
  readonly logHomes: Int32Array;
  readonly inodes: Int32Array;
  readonly meta: Uint8Array;
  readonly handle: Handle;
  /** Metadata blocks a transaction may hold, counting its open handles' credits (j_max_transaction_buffers). */
  readonly maxTransactionBlocks: number;
  /** Injected costs the commit charges, ns: the policy's when it sets them, else the machine's cost profile's (policy.ts). */
  readonly journalBlockWriteNs: number;
  readonly journalFlushNs: number;
  /** Injected cost of a full commit's own work (MachineConfig.costs.commitNs). */
  readonly commitNs: number;
  /** A handle's start and stop (MachineConfig.costs.handleNs). */
  readonly handleNs: number;
  /** A word nobody wakes: the wall clock's timed sleep (schedule_hrtimeout). */
  private readonly sleepWord = new Int32Array(new SharedArrayBuffer(4));

  constructor(cpu: Cpu, dev: PmemDevice, policy: Partial<JournalPolicy> = {}) {
    const v = cpu.machine.views;
    this.cpu = cpu;
    this.dev = dev;
    this.policy = resolveJournalPolicy(policy);
    const costs = cpu.machine.config.costs;
    this.journalBlockWriteNs = this.policy.journalBlockWriteNs ?? costs.journalBlockWriteNs;
    this.journalFlushNs = this.policy.journalFlushNs ?? costs.journalFlushNs;
    this.commitNs = costs.commitNs;
    this.handleNs = costs.handleNs;
    this.geometry = fsGeometry(cpu.machine.config);
    this.areas = journalAreas(this.geometry);
    this.js = v.journalState;
    this.times = v.journalTimes;
    this.bufs = v.fsBufState;
    this.tbufs = v.journalBuffers;
    this.cbufs = v.journalCommitBuffers;
    this.frozen = v.journalFrozen;
    this.log = v.journalLog;
    this.logHomes = v.journalLogHomes;
    this.inodes = v.fsInodeState;
    this.meta = v.fsMeta;
    this.handle = { journal: this, tid: 0, open: false, credits: 0, sync: false };
    this.maxTransactionBlocks = maxTransactionBuffers(this.areas);
  }

  lock(): void {
    spin_lock(this.cpu, this.js, J.lockState, LOCK);
  }

  unlock(): void {
    spin_unlock(this.cpu, this.js, J.lockState, LOCK);
  }

  /** schedule_hrtimeout(): sleeps ns, woken by nothing but the timer (virtual time on the virtual clock). */
  sleepNs(ns: number): void {
    if (isVirtual()) vsleepUntil(nowNs() + ns);
    else Atomics.wait(this.sleepWord, 0, 0, ns / 1e6);
  }
}

/** How long the running transaction has run, ms, on the clock every CPU agrees on (t_start's age). */
export function transactionAgeMs(j: Journal): number {
  return (monoNs() - j.times[JOURNAL_TIMES.tStartNs]) / 1e6;
}

/** Wakes the commit thread (wake_up(&journal->j_wait_commit)). */
export function wakeCommitThread(j: Journal): void {
  Atomics.add(j.js, J.wakeSeq, 1);
  vnotify(j.cpu, j.js, J.wakeSeq);
}

/** When the running transaction's commit timer expires (t_expires, on the clock every CPU agrees on); Infinity when none runs. */
export function commitTimerExpiresNs(j: Journal): number {
  if (Atomics.load(j.js, J.runningTid) === 0) return Infinity;
  return j.times[JOURNAL_TIMES.tStartNs] + j.policy.commitIntervalMs * 1e6;
}

/**
 * jbd2_get_transaction()'s add_timer(&journal->j_commit_timer): the timer, not a wake-up,
 * brings kjournald2 to the transaction when its interval expires (commit_timeout()), so
 * starting a transaction leaves kjournald2 idle. On the wall clock kjournald2's sleep read
 * its timeout when it began, so it is woken to read the new one (host time only).
 */
function armCommitTimer(j: Journal): void {
  if (isVirtual()) vtimerArm(j.cpu, j.js, J.wakeSeq, commitTimerExpiresNs(j));
  else wakeCommitThread(j);
}

/**
 * jbd2_journal_start(): a handle in the running transaction (started if none runs) with
 * `credits` blocks to dirty in it: the most this operation can dirty. Sleeps while a commit
 * has the transaction locked, while the transaction has no room for the credits, and while
 * the log has no room for a transaction.
 */
export function jbd2_journal_start(j: Journal, credits: number): Handle {
  const h = j.handle;
  if (h.open) throw new Error(`jbd2_journal_start: cpu ${j.cpu.id} already has an open handle (nested handles are not modelled)`);
  if (Atomics.load(j.js, J.tailTid) === 0) throw new Error('jbd2_journal_start: the journal was never created (jbd2_journal_create, at mkfs)');
  // start_this_handle's "wants too many credits": no transaction could ever take it.
  checkInt('credits', credits, 1, j.maxTransactionBlocks);
  if (j.handleNs > 0) charge(j.handleNs);
  start_this_handle(j, h, credits);
  return h;
}

/** start_this_handle(): joins the running transaction (making one if none runs) once it and the log have room for the credits. */
function start_this_handle(j: Journal, h: Handle, credits: number): void {
  const js = j.js;
  for (;;) {
    j.lock();
    if (js[J.aborted] !== 0) {
      j.unlock();
      throw journalAborted('EROFS', 'jbd2_journal_start');
    }
    let created = false;
    if (js[J.runningTid] === 0) {
      jbd2_get_transaction(j);
      created = true;
    }
    // On false it dropped j_state_lock and waited: look again.
    if (!add_transaction_credits(j, credits)) {
      if (created) armCommitTimer(j);
      continue;
    }
    js[J.updates]++;
    js[J.handleCount]++;
    h.tid = js[J.runningTid];
    h.credits = credits;
    h.open = true;
    h.sync = false;
    j.unlock();
    if (created) armCommitTimer(j);
    return;
  }
}

/** jbd2_get_transaction(): makes a new running transaction. Called with j_state_lock held. */
function jbd2_get_transaction(j: Journal): void {
  const js = j.js;
  const tid = js[J.nextTid] === 0 ? 1 : js[J.nextTid];
  // t_start before the tid: kjournald2 reads the tid, then t_start, for its timer (commitTimerExpiresNs).
  j.times[JOURNAL_TIMES.tStartNs] = monoNs();
  js[J.nextTid] = tid + 1;
  js[J.runningTid] = tid;
  js[J.handleCount] = 0;
  js[J.nrBuffers] = 0;
  js[J.listed] = 0;
  // Under jbd2 no handle outlives its transaction; xfs transactions still open keep their credits across a CIL push.
  if (js[J.updates] === 0) js[J.outstandingCredits] = 0;
  js[J.nrInodes] = 0;
  j.times[JOURNAL_TIMES.requestNs] = 0;
}

/**
 * add_transaction_credits(): reserves the handle's credits in the running transaction.
 * Called with j_state_lock held; returns true with it still held, or false after dropping
 * it and sleeping (the transaction was locked, or too large for the credits, or the log had
 * no room for a transaction), to be retried.
 */
function add_transaction_credits(j: Journal, credits: number): boolean {
  const js = j.js;
  const tid = js[J.runningTid];
  if (js[J.runningState] !== T_RUNNING) {
    j.unlock();
    wait_transaction_locked(j, tid, false);
    return false;
  }
  const needed = js[J.outstandingCredits] + credits;
  if (needed > j.maxTransactionBlocks) {
    // Too large to take this handle: have it committed, then join the next transaction.
    const first = js[J.sizeLimitTid] !== tid;
    js[J.sizeLimitTid] = tid;
    j.unlock();
    if (first) wakeCommitThread(j);
    wait_transaction_locked(j, tid, true);
    return false;
  }
  // The commit never makes room in the log itself: a handle may join only while the log has
  // room for its transaction at the largest, or the commit could find the log full.
  if (jbd2_log_space_left(j) < jbd2_space_needed(j)) {
    j.unlock();
    stepEnter(STEP.journal_commit_wait);
    try {
      __jbd2_log_wait_for_space(j);
    } finally {
      stepLeave();
    }
    return false;
  }
  js[J.outstandingCredits] = needed;
  return true;
}

/**
 * wait_transaction_locked(): sleeps until transaction tid stops holding new handles back.
 * Locked by a commit: until the commit lets it go (a fast commit unlocks it, a full commit
 * switches to a new transaction). Too large for a handle's credits (`tooLarge`): asks for
 * its commit, as the kernel's does, and sleeps until the commit has switched it out; with no
 * commit thread this CPU commits it (it holds no handle yet, so it cannot block the commit).
 */
function wait_transaction_locked(j: Journal, tid: number, tooLarge: boolean): void {
  const js = j.js;
  stepEnter(STEP.journal_commit_wait);
  try {
    if (!tooLarge) {
      markWaiting(j, js, J.runningState);
      while (Atomics.load(js, J.runningState) === T_LOCKED && Atomics.load(js, J.aborted) === 0) {
        vwaitEvent(j.cpu, js, J.runningState, T_LOCKED, 1000);
      }
      return;
    }
    jbd2_log_start_commit(j, tid);
    markWaiting(j, js, J.runningTid);
    // Spin first, as a contended lock does (spinlock.ts): with no handle left open the switch
    // comes within microseconds of the request, sooner than a sleep and wake-up would. On the
    // virtual clock the wake-up is the switch's own instant: no spin.
    const spinUntil = isVirtual() ? 0 : nowNs() + j.cpu.machine.config.lockSpinNs;
    while (Atomics.load(js, J.runningTid) === tid && Atomics.load(js, J.aborted) === 0) {
      if (Atomics.load(js, J.threadRunning) === 0) {
        markWaiting(j, null, -1);
        jbd2_log_wait_commit(j, tid);
        return;
      }
      if (nowNs() < spinUntil) continue;
      vwaitEvent(j.cpu, js, J.runningTid, tid, 1000);
    }
  } finally {
    markWaiting(j, null, -1);
    stepLeave();
  }
}

/**
 * jbd2_journal_stop(): leaves the transaction, giving back unspent credits; the last handle
 * out of a locked one wakes the commit. A synchronous handle (h_sync) first lets other tasks
 * join the transaction: unless this CPU stopped the last synchronous handle too (a lone task
 * syncing over and over has nobody to wait for), it sleeps, handle still open, for as long as
 * a commit takes on average (j_average_commit_time), bounded by min_batch_time and
 * max_batch_time, when the transaction is younger than that; max_batch_time 0 turns this
 * off. Then it asks for the commit and waits for it.
 */
export function jbd2_journal_stop(h: Handle): void {
  if (!h.open) throw new Error('jbd2_journal_stop: the handle is not open');
  const j = h.journal;
  if (xfsLog(j)) {
    xfs_log_commit_cil(h);
    return;
  }
  const js = j.js;
  const tid = h.tid;
  const tag = j.cpu.tag;
  const { minBatchTimeUs, maxBatchTimeUs } = j.policy;
  if (h.sync && js[J.lastSyncWriter] !== tag && maxBatchTimeUs > 0) {
    js[J.lastSyncWriter] = tag;
    j.lock();
    let commitTime = j.times[JOURNAL_TIMES.averageCommitNs];
    j.unlock();
    const transTime = monoNs() - j.times[JOURNAL_TIMES.tStartNs];
    commitTime = Math.min(Math.max(commitTime, 1000 * minBatchTimeUs), 1000 * maxBatchTimeUs);
    if (transTime < commitTime) {
      stepEnter(STEP.journal_commit_wait);
      try {
        j.sleepNs(commitTime);
      } finally {
        stepLeave();
      }
    }
  }
  const wait = h.sync;
  if (wait) jbd2_log_start_commit(j, tid);
  stop_this_handle(j, h);
  if (wait) jbd2_log_wait_commit(j, tid);
}

/** stop_this_handle(): drops t_updates and the unspent credits; the last handle out of a locked transaction wakes the commit. */
function stop_this_handle(j: Journal, h: Handle): void {
  j.lock();
  const left = --j.js[J.updates];
  // A commit cannot switch the transaction while this handle is open: it is still the running one.
  j.js[J.outstandingCredits] -= h.credits;
  const wake = left === 0 && j.js[J.runningState] === T_LOCKED;
  j.unlock();
  h.open = false;
  h.tid = 0;
  h.credits = 0;
  h.sync = false;
  if (wake) vnotify(j.cpu, j.js, J.updates);
}

function checkBlock(j: Journal, h: Handle, block: number): void {
  if (!h.open) throw new Error('journal: metadata changed outside an open handle');
  checkInt('block', block, 0, j.geometry.metaBlocks - 1);
}

/**
 * jbd2_journal_get_write_access() (do_get_write_access): files metadata block `block` in the
 * handle's transaction before the filesystem changes it. It waits while the checkpoint
 * writes the buffer home (lock_buffer) or the commit writes its own data to the log
 * (BH_Shadow). A buffer the committing transaction owns becomes the running one's next
 * (b_next_transaction); if the commit has not logged it yet, a frozen copy keeps the
 * committing version for it.
 */
export function jbd2_journal_get_write_access(h: Handle, block: number): void {
  const j = h.journal;
  checkBlock(j, h, block);
  if (xfsLog(j)) {
    xfs_trans_bjoin(h, block);
    return;
  }
  const bufs = j.bufs;
  const at = block * FS_BUF.stride;
  // Only this transaction's handles set either field to its tid, and it cannot switch while h is open.
  if (bufs[at + FS_BUF.transaction] === h.tid || bufs[at + FS_BUF.nextTransaction] === h.tid) return;
  for (;;) {
    j.lock();
    const flags = bufs[at + FS_BUF.flags];
    if ((flags & (BH_Lock | BH_Shadow)) !== 0) {
      j.unlock();
      wait_on_buffer(j, at + FS_BUF.flags, flags);
      continue;
    }
    const owner = bufs[at + FS_BUF.transaction];
    if (owner === h.tid || bufs[at + FS_BUF.nextTransaction] === h.tid) {
      j.unlock();
      return;
    }
    if (owner === 0) {
      bufs[at + FS_BUF.transaction] = h.tid;
      bufs[at + FS_BUF.jlist] = BJ_Reserved;
    } else {
      if (owner !== j.js[J.committingTid]) {
        j.unlock();
        throw new Error(`jbd2_journal_get_write_access: block ${block} is filed in tid ${owner}, neither running nor committing`);
      }
      if (bufs[at + FS_BUF.jlist] === BJ_Metadata && bufs[at + FS_BUF.frozen] === 0) jbd2_freeze_jh_data(j, block);
      bufs[at + FS_BUF.nextTransaction] = h.tid;
    }
    j.tbufs[j.js[J.listed]++] = block;
    j.unlock();
    return;
  }
}

/** jbd2_freeze_jh_data(): copies the buffer as the committing transaction has it (b_frozen_data). j_state_lock held. */
function jbd2_freeze_jh_data(j: Journal, block: number): void {
  const slot = j.js[J.frozenCount]++;
  // The committing transaction holds at most maxTransactionBlocks buffers, and the region that many slots.
  if ((slot + 1) * BLOCK_SIZE > j.frozen.length) throw new Error(`jbd2_freeze_jh_data: no frozen slot left for block ${block}`);
  j.frozen.set(j.meta.subarray(block * BLOCK_SIZE, (block + 1) * BLOCK_SIZE), slot * BLOCK_SIZE);
  j.bufs[block * FS_BUF.stride + FS_BUF.frozen] = slot + 1;
}

/** wait_on_bit(BH_Shadow) / lock_buffer(): sleeps until a buffer's flags word moves from `seen`. */
function wait_on_buffer(j: Journal, word: number, seen: number): void {
  stepEnter(STEP.journal_commit_wait);
  markWaiting(j, j.bufs, word);
  try {
    if (Atomics.load(j.bufs, word) === seen) vwaitEvent(j.cpu, j.bufs, word, seen, 1000);
  } finally {
    markWaiting(j, null, -1);
    stepLeave();
  }
}

/**
 * jbd2_journal_dirty_metadata(): block `block`, filed by jbd2_journal_get_write_access(),
 * was changed: the handle's transaction logs it, spending one of the handle's credits the
 * first time in this transaction (b_modified).
 */
export function jbd2_journal_dirty_metadata(h: Handle, block: number): void {
  const j = h.journal;
  checkBlock(j, h, block);
  if (xfsLog(j)) {
    xfs_trans_log_buf(h, block);
    return;
  }
  const bufs = j.bufs;
  const at = block * FS_BUF.stride;
  if (bufs[at + FS_BUF.modifiedTid] === h.tid) return;
  j.lock();
  const owner = bufs[at + FS_BUF.transaction];
  if (owner !== h.tid && bufs[at + FS_BUF.nextTransaction] !== h.tid) {
    j.unlock();
    throw new Error(`jbd2_journal_dirty_metadata: block ${block} was changed without write access in tid ${h.tid} (jbd2_journal_get_write_access first)`);
  }
  if (bufs[at + FS_BUF.modifiedTid] !== h.tid) {
    if (h.credits === 0) {
      j.unlock();
      // The reservation is what keeps the transaction within the journal: never file past it.
      throw new Error(
        `jbd2_journal_dirty_metadata: credits: cpu ${j.cpu.id}'s handle has dirtied as many new blocks as it reserved; ` +
          `block ${block} would be one more (the caller asked jbd2_journal_start for too few)`,
      );
    }
    h.credits--;
    bufs[at + FS_BUF.modifiedTid] = h.tid;
    j.js[J.nrBuffers]++;
    // A buffer still the committing transaction's becomes BJ_Metadata when the commit refiles it.
    if (owner === h.tid) bufs[at + FS_BUF.jlist] = BJ_Metadata;
  }
  j.unlock();
}

/** jbd2_journal_add_inode() / ext4_fc_track_inode(): the inode has changes in the handle's transaction. */
export function jbd2_journal_add_inode(h: Handle, ino: number): void {
  const j = h.journal;
  checkInt('ino', ino, 0, j.cpu.machine.config.fsInodes - 1);
  if (!h.open) throw new Error('jbd2_journal_add_inode: the handle is not open');
  const b = ino * FS_INODE.stride;
  j.lock();
  if (j.inodes[b + FS_INODE.lastTid] !== h.tid) {
    j.inodes[b + FS_INODE.lastTid] = h.tid;
    j.js[J.nrInodes]++;
  }
  j.inodes[b + FS_INODE.fcSeq]++;
  j.unlock();
}

/**
 * ext4_fc_mark_ineligible(): no fast commit may stand in for this transaction; an fsync
 * during it falls back to a full commit. The filesystem marks a transaction that frees
 * blocks: another inode may already have been given them, and a fast commit of that inode
 * alone would make its extents durable before the free that they depend on.
 */
export function ext4_fc_mark_ineligible(h: Handle): void {
  if (!h.open) throw new Error('ext4_fc_mark_ineligible: the handle is not open');
  const j = h.journal;
  j.lock();
  j.js[J.fcIneligibleTid] = h.tid;
  j.unlock();
}

/** jbd2_transaction_committed(): whether tid's commit block is durable (tid 0: nothing to wait for). */
export function jbd2_transaction_committed(j: Journal, tid: number): boolean {
  return tid <= Atomics.load(j.js, J.commitSequence);
}

/** jbd2_log_start_commit(): asks the commit thread to commit up to tid. */
export function jbd2_log_start_commit(j: Journal, tid: number): void {
  if (jbd2_transaction_committed(j, tid)) return;
  j.lock();
  const ask = j.js[J.commitRequest] < tid;
  if (ask) {
    j.js[J.commitRequest] = tid;
    if (j.times[JOURNAL_TIMES.requestNs] === 0) j.times[JOURNAL_TIMES.requestNs] = monoNs();
  }
  j.unlock();
  if (ask) wakeCommitThread(j);
}

/** jbd2_log_wait_commit(): sleeps until tid's commit is durable; with no commit thread, commits it. */
export function jbd2_log_wait_commit(j: Journal, tid: number): void {
  if (j.handle.open && j.handle.tid <= tid && !jbd2_transaction_committed(j, tid)) {
    throw new Error(`jbd2_log_wait_commit: cpu ${j.cpu.id} would wait for tid ${tid} with a handle open in it (deadlock)`);
  }
  const js = j.js;
  let seq = Atomics.load(js, J.commitSequence);
  if (seq >= tid) return;
  stepEnter(STEP.journal_commit_wait);
  markWaiting(j, js, J.commitSequence);
  try {
    while (seq < tid) {
      if (Atomics.load(js, J.aborted) !== 0) throw journalAborted('EIO', `jbd2_log_wait_commit: tid ${tid}`);
      // Nobody else will commit: do kjournald2's work here (the handle check above rules out a deadlock).
      if (Atomics.load(js, J.threadRunning) === 0 && kjournald2_inline(j, tid)) {
        seq = Atomics.load(js, J.commitSequence);
        if (seq < tid && Atomics.load(js, J.aborted) === 0) {
          throw new Error(`jbd2_log_wait_commit: tid ${tid} was never started (the journal is at ${seq})`);
        }
        continue;
      }
      vwaitEvent(j.cpu, js, J.commitSequence, seq, 1000);
      seq = Atomics.load(js, J.commitSequence);
    }
  } finally {
    markWaiting(j, null, -1);
    stepLeave();
  }
  if (attributing) stepNoteCommitOthers(commitCarriedOtherInodes(j, tid, false));
}

/**
 * kjournald2's work, done by a CPU that waits for tid while no commit thread runs. Under
 * j_state_lock it records the request and takes the committer word if it is free (or left
 * for the full commit a fast commit fell back to), then serves requests until none is
 * pending (serveCommitRequests). Returns false when another CPU holds the word: that CPU
 * serves the request before it lets go (the caller sleeps on commitSequence).
 */
function kjournald2_inline(j: Journal, tid: number): boolean {
  const js = j.js;
  j.lock();
  if (js[J.commitRequest] < tid) js[J.commitRequest] = tid;
  const mine =
    Atomics.compareExchange(js, J.committer, 0, j.cpu.tag) === 0 ||
    Atomics.compareExchange(js, J.committer, COMMITTER_FULL_PENDING, j.cpu.tag) === COMMITTER_FULL_PENDING;
  j.unlock();
  if (!mine) return false;
  serveCommitRequests(j);
  return true;
}

/**
 * With the committer word held and no commit thread: commits the running transaction while a
 * commit of it is asked for, then lets go of the word under j_state_lock, where requests are
 * recorded, so that none recorded meanwhile is left for a CPU asleep on commitSequence.
 */
export function serveCommitRequests(j: Journal): void {
  const js = j.js;
  let held = true;
  try {
    for (;;) {
      j.lock();
      const running = js[J.runningTid];
      if (running === 0 || js[J.commitRequest] < running || js[J.aborted] !== 0) {
        Atomics.store(js, J.committer, 0);
        held = false;
        j.unlock();
        return;
      }
      j.unlock();
      if (j.handle.open) {
        throw new Error(`jbd2_log_wait_commit: cpu ${j.cpu.id} would commit tid ${running} with its own handle open in it (deadlock)`);
      }
      jbd2_journal_commit_transaction(j);
    }
  } finally {
    if (held) Atomics.store(js, J.committer, 0);
    vnotify(j.cpu, js, J.committer);
  }
}

/**
 * Whether the commit that made tid durable carried other inodes' metadata: its record says
 * more than one inode was logged in it (the waiter's own inode is one). For a fast-commit
 * waiter (`fast`), the newest fast commit of tid counts unless a full commit of tid came
 * after it. The records sit in a ring the committer writes before it wakes waiters; a
 * record overwritten since (1024 commits later) reads as false. Attribution only.
 */
export function commitCarriedOtherInodes(j: Journal, tid: number, fast: boolean): boolean {
  const st = j.cpu.machine.views.journalStats;
  const total = Atomics.load(j.js, J.commits);
  for (let i = total - 1; i >= 0 && i >= total - COMMIT_RECORDS; i--) {
    const b = (i % COMMIT_RECORDS) * COMMIT_RECORD.stride;
    if (st[b + COMMIT_RECORD.tid] !== tid) continue;
    const kind = st[b + COMMIT_RECORD.kind];
    if (kind === COMMIT_FULL || (fast && kind === COMMIT_FAST)) return st[b + COMMIT_RECORD.inodes] > 1;
  }
  return false;
}

/**
 * jbd2_complete_transaction(): commits up to tid if needed and waits until it is durable.
 * It never batches (only a synchronous handle's jbd2_journal_stop() does). With no commit
 * thread running (unit tests, one-CPU tools) the waiter commits itself.
 */
export function jbd2_complete_transaction(j: Journal, tid: number): void {
  if (jbd2_transaction_committed(j, tid)) return;
  // From the request on: a waiter preempted until the commit is done still waited for it.
  stepEnter(STEP.journal_commit_wait);
  jbd2_log_start_commit(j, tid);
  jbd2_log_wait_commit(j, tid);
  if (attributing) stepNoteCommitOthers(commitCarriedOtherInodes(j, tid, false));
  stepLeave();
}

/** Whether the inode's changes are all durable through a fast or full commit (its fc list entry is gone). */
export function ext4_fc_inode_clean(j: Journal, ino: number): boolean {
  const b = ino * FS_INODE.stride;
  return Atomics.load(j.inodes, b + FS_INODE.fcDone) >= Atomics.load(j.inodes, b + FS_INODE.fcSeq);
}

/** The error a CPU gets from an aborted journal: EROFS for a new handle, EIO for a commit waiter (as jbd2 and ext4 return). */
export function journalAborted(code: 'EROFS' | 'EIO', what: string): FsError {
  return new FsError(code, `${what}: the journal was aborted (a commit failed part-way)`);
}

/** Tells the watchdog this CPU waits on word `word` of `arr` (journal state or a buffer's flags); `arr` null: not waiting. */
export function markWaiting(j: Journal, arr: Int32Array | null, word: number): void {
  const st = j.cpu.machine.views.cpuState;
  const base = j.cpu.stateBase;
  if (arr === null) {
    Atomics.store(st, base + CPU_STATE.waitKind, 0);
    return;
  }
  st[base + CPU_STATE.waitRegion] = j.cpu.regionOf(arr.buffer);
  st[base + CPU_STATE.waitAt] = word;
  st[base + CPU_STATE.waitClass] = LOCK;
  Atomics.store(st, base + CPU_STATE.waitKind, WAIT_KIND_JOURNAL);
}
