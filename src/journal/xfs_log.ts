// The xfs personality's log: XFS's delayed logging (fs/xfs/xfs_log_cil.c, xfs_log.c) on the
// lab's log engine. A transaction (xfs_trans_alloc .. xfs_trans_commit) changes metadata in
// place, as every personality does, but nothing of it reaches the log until it commits: at
// commit, xfs_log_commit_cil() formats its changes into the CIL and returns without waiting.
// A log force (xfs_log_force_seq) pushes the CIL (xlog_cil_push_work) into the in-core log
// buffers and waits for their I/O; it never waits for a transaction still open, whose
// changes are simply not in the CIL yet. The CIL is also pushed in the background when it
// grows past XLOG_CIL_SPACE_LIMIT (xlog_cil_push_background), and by the log worker every
// xfs_syncd_centisecs (kjournald2's commit interval under xfs: policy.ts XFS_LOG_WORKER_MS).
//
// How it sits on the engine (journal.ts, commit.ts): the running transaction stands for the
// CIL context (its tid is the CIL sequence), the commit thread for the CIL push work, a
// commit for a push. The on-device format is the engine's (descriptor, block images, commit
// block per context), so recovery.ts replays an xfs log unchanged: what a push wrote replays.
//
// Formatting: views.xfsCilImage holds every metadata block as its committed transactions
// left it (the lab's log vectors: XFS keeps a formatted copy per log item, xlog_cil_insert_format_items).
// At commit a transaction formats, under j_state_lock (standing in for xc_ctx_lock held for
// read and xc_cil_lock): the records of the inodes it logged (xfs_inode_item_format: per
// inode, not the whole inode-table block), the extent blocks of those inodes (it holds their
// ILOCK: the xfs personality commits before xfs_iunlock, as XFS callers do with the inode
// joined), and the bitmap bits it set or cleared (XFS locks its AG free-space buffers for
// the whole transaction; the lab's bitmap words are shared, so the transaction logs its own
// bits only). A push copies its context's images into frozen slots under j_state_lock (the
// context swap) and writes those, so a commit into the next context never waits for it.
// A checkpoint writes blocks home from the committed image too (checkpoint.ts).
//
// In-core log buffers (struct xlog_in_core): a push writes its blocks through `logbufs`
// iclogs of `logbsize` bytes, each written with REQ_PREFLUSH|REQ_FUA when full or when the
// push ends (xlog_state_release_iclog -> xlog_sync). Copying a block into an iclog costs
// journalBlockWriteNs; an iclog's I/O completes journalFlushNs after it was submitted, or
// after the iclog before it completes (iclog completions run in order,
// xlog_state_do_callback). The pusher does not wait for the I/O; it waits only when the
// iclog it needs next is still in flight (xlog_state_get_iclog_space sleeping on
// l_flush_wait): with few iclogs and a stream of forces, the waits show. A force waits for
// the completion of its context's last iclog (xlog_wait on ic_force_wait), and an inode
// stays pinned until then (xfs_inode_item_unpin at I/O completion).
//
// Simplifications: 4.14 writes the commit record in the push's last iclog and forces that
// one; the lab's log keeps jbd2's commit block for recovery and counts it in the last iclog.
// The pmem driver completes a bio inside submit_bio; the lab gives iclog I/O the device's
// flush time as latency instead, so that `logbufs` means what it means on other devices.

import { BLOCK_SIZE, FS_ALLOC, FS_BUF, FS_INODE, JOURNAL, JOURNAL_TIMES, XLOG_CTX_RING, type FsGeometry } from '../machine/layout.js';
import { INODE, PERSONALITY_CODE, SUPERBLOCK, imageWords, inodeBlock, inodeWord, sbWord } from '../fs/ondisk.js';
import { vnotify } from '../sync/vclock.js';
import { atomicMax } from '../sync/atomic_max.js';
import { nowNs } from '../util/clock.js';
import { STEP, stepEnter, stepLeave } from '../measure/steps.js';
import { BJ_Metadata } from './buffers.js';
import type { Handle, Journal } from './journal.js';

const J = JOURNAL;
const T = JOURNAL_TIMES;

/** fsBusyTid of a block freed by a transaction not yet committed: no sequence is ever that far on. */
export const XFS_BUSY_OPEN = 0x7fffffff;

/** One CPU's open transaction: what it joined, logged, set in the bitmap, logged of inodes and freed. */
class XfsTrans {
  blocks: number[] = [];
  logged: boolean[] = [];
  /** Bitmap changes: word, mask, 1 set / 0 clear. */
  bits: number[] = [];
  /** Inodes logged: ino, XFS_ILOG_* fields. */
  inodes: number[] = [];
  /** Extents freed: start, len (xfs_extent_busy_insert). */
  busy: number[] = [];
  clear(): void {
    this.blocks.length = 0;
    this.logged.length = 0;
    this.bits.length = 0;
    this.inodes.length = 0;
    this.busy.length = 0;
  }
}

const transOf = new WeakMap<Journal, XfsTrans>();
const sbView = new WeakMap<Journal, Int32Array>();

function trans(j: Journal): XfsTrans {
  let t = transOf.get(j);
  if (t === undefined) {
    t = new XfsTrans();
    transOf.set(j, t);
  }
  return t;
}

/** Whether this journal is an xfs log: the superblock mkfs wrote says so. */
export function xfsLog(j: Journal): boolean {
  let w = sbView.get(j);
  if (w === undefined) {
    w = imageWords(j.meta);
    sbView.set(j, w);
  }
  return w[sbWord(j.geometry) + SUPERBLOCK.s_personality] === PERSONALITY_CODE.xfs;
}

/** mkfs: the committed image starts as the formatted metadata. */
export function xfs_cil_image_init(j: Journal): void {
  j.cpu.machine.views.xfsCilImage.set(j.meta);
}

/** The committed image of metadata block `block` (what a push or a checkpoint writes). */
export function xfsCommittedBlock(j: Journal, block: number): Uint8Array {
  return j.cpu.machine.views.xfsCilImage.subarray(block * BLOCK_SIZE, (block + 1) * BLOCK_SIZE);
}

/** xfs_trans_bjoin() / xfs_trans_read_buf(): the transaction uses metadata block `block`. */
export function xfs_trans_bjoin(h: Handle, block: number): void {
  const t = trans(h.journal);
  if (t.blocks.includes(block)) return;
  t.blocks.push(block);
  t.logged.push(false);
}

/** xfs_trans_log_buf(): block `block` changed in the transaction; its first change spends a credit (t_blk_res). */
export function xfs_trans_log_buf(h: Handle, block: number): void {
  const t = trans(h.journal);
  const i = t.blocks.indexOf(block);
  if (i < 0) throw new Error(`xfs_trans_log_buf: block ${block} was changed without joining the transaction (xfs_trans_bjoin first)`);
  if (t.logged[i]) return;
  if (h.credits === 0) {
    throw new Error(`xfs_trans_log_buf: credits: cpu ${h.journal.cpu.id}'s transaction has logged as many new blocks as it reserved; block ${block} would be one more`);
  }
  h.credits--;
  t.logged[i] = true;
}

/** The transaction set (`on`) or cleared bits `mask` of bitmap word `word` (views.fsMeta words). */
export function xfs_trans_log_bits(h: Handle, word: number, mask: number, on: boolean): void {
  trans(h.journal).bits.push(word, mask, on ? 1 : 0);
}

/** xfs_trans_log_inode()'s record in the transaction: the inode's fields go to the CIL at commit. */
export function xfs_trans_ijoin_log(h: Handle, ino: number, fields: number): void {
  const t = trans(h.journal);
  for (let i = 0; i < t.inodes.length; i += 2) {
    if (t.inodes[i] === ino) {
      t.inodes[i + 1] |= fields;
      return;
    }
  }
  t.inodes.push(ino, fields);
}

/** xfs_extent_busy_insert(): blocks [start, start + len) freed in the transaction stay busy until the context it commits into is on disk. */
export function xfs_extent_busy_insert(h: Handle, start: number, len: number): void {
  trans(h.journal).busy.push(start, len);
}

/**
 * xfs_log_commit_cil() (xfs_trans_commit): formats the transaction's changes into the
 * committed image and its blocks into the CIL context (the running transaction, started if
 * none runs), pins its inodes at the context's sequence, gives back its unspent credits,
 * and asks for a background push when the CIL is past its space limit. Never waits.
 */
export function xfs_log_commit_cil(h: Handle): void {
  const j = h.journal;
  const js = j.js;
  const t = trans(j);
  const image = j.cpu.machine.views.xfsCilImage;
  const iw = imageWords(image);
  const mw = imageWords(j.meta);
  const g = j.geometry;
  j.lock();
  if (js[J.runningTid] === 0) xlog_cil_new_ctx(j);
  const seq = js[J.runningTid];
  // Inode items: each joined inode's record (its ILOCK is held by the caller).
  for (let i = 0; i < t.inodes.length; i += 2) {
    const at = inodeWord(g, t.inodes[i]);
    iw.set(mw.subarray(at, at + INODE.stride), at);
  }
  // Buffer items of the bitmap: this transaction's own bits.
  for (let i = 0; i < t.bits.length; i += 3) {
    const w = t.bits[i];
    iw[w] = t.bits[i + 2] === 1 ? iw[w] | t.bits[i + 1] : iw[w] & ~t.bits[i + 1];
  }
  // Other buffer items (the extent blocks of inodes whose ILOCK the caller holds): whole.
  let refund = h.credits;
  for (let i = 0; i < t.blocks.length; i++) {
    if (!t.logged[i]) continue;
    const b = t.blocks[i];
    if (!isBitmapBlock(g, b) && !isInodeTableBlock(g, b)) image.set(j.meta.subarray(b * BLOCK_SIZE, (b + 1) * BLOCK_SIZE), b * BLOCK_SIZE);
    if (!xlog_cil_insert(j, b, seq)) refund++;
  }
  // An inode logged without its table block changed still has its item in the CIL (a block the transaction spent no credit on).
  for (let i = 0; i < t.inodes.length; i += 2) {
    if (xlog_cil_insert(j, inodeBlock(g, t.inodes[i]), seq)) js[J.outstandingCredits]++;
  }
  js[J.outstandingCredits] -= refund;
  js[J.updates]--;
  js[J.handleCount]++;
  const inodes = j.inodes;
  for (let i = 0; i < t.inodes.length; i += 2) {
    const b = t.inodes[i] * FS_INODE.stride;
    inodes[b + FS_INODE.lastLsn] = seq;
    inodes[b + FS_INODE.pinned] = 1;
  }
  xfs_extent_busy_commit(j, t, seq);
  const background = js[J.nrBuffers] > xlogCilSpaceLimit(j) && js[J.commitRequest] < seq;
  if (background) js[J.commitRequest] = seq;
  j.unlock();
  t.clear();
  h.open = false;
  h.tid = 0;
  h.credits = 0;
  if (background) {
    Atomics.add(js, J.wakeSeq, 1);
    vnotify(j.cpu, js, J.wakeSeq);
  }
}

function isBitmapBlock(g: FsGeometry, b: number): boolean {
  return b >= g.bitmapStart && b < g.bitmapStart + g.bitmapBlocks;
}

function isInodeTableBlock(g: FsGeometry, b: number): boolean {
  return b >= g.inodeTableStart && b < g.inodeTableStart + g.inodeTableBlocks;
}

/**
 * XLOG_CIL_SPACE_LIMIT: a push is queued once the CIL holds an eighth of the log
 * (l_logsize >> 3); the lab counts blocks, and keeps it under a context's largest size.
 */
export function xlogCilSpaceLimit(j: Journal): number {
  return Math.min(j.maxTransactionBlocks - 1, Math.floor(j.areas.fullBlocks / 8));
}

/** A new CIL context (xlog_cil_push's swap installs it; here the first commit after a push does). j_state_lock held. */
function xlog_cil_new_ctx(j: Journal): void {
  const js = j.js;
  const seq = js[J.nextTid] === 0 ? 1 : js[J.nextTid];
  js[J.nextTid] = seq + 1;
  js[J.runningTid] = seq;
  js[J.handleCount] = 0;
  js[J.nrBuffers] = 0;
  js[J.listed] = 0;
  js[J.nrInodes] = 0;
  j.times[T.tStartNs] = nowNs();
  j.times[T.requestNs] = 0;
}

/**
 * Files block `block` in CIL context `seq` (xlog_cil_insert_items: a log item joins the CIL
 * once). A block the pushing context still holds becomes the next context's as well, as jbd2's
 * b_next_transaction. Returns whether the block is new to the context. j_state_lock held.
 */
function xlog_cil_insert(j: Journal, block: number, seq: number): boolean {
  const bufs = j.bufs;
  const at = block * FS_BUF.stride;
  if (bufs[at + FS_BUF.modifiedTid] === seq) return false;
  const owner = bufs[at + FS_BUF.transaction];
  if (owner === 0) {
    bufs[at + FS_BUF.transaction] = seq;
    bufs[at + FS_BUF.jlist] = BJ_Metadata;
  } else if (owner !== seq) {
    bufs[at + FS_BUF.nextTransaction] = seq;
  }
  bufs[at + FS_BUF.modifiedTid] = seq;
  j.tbufs[j.js[J.listed]++] = block;
  j.js[J.nrBuffers]++;
  return true;
}

/** The freed extents become busy in context seq (xlog_cil_insert_items moves tp->t_busy to ctx->busy_extents). */
function xfs_extent_busy_commit(j: Journal, t: XfsTrans, seq: number): void {
  if (t.busy.length === 0) return;
  const v = j.cpu.machine.views;
  for (let i = 0; i < t.busy.length; i += 2) {
    for (let b = t.busy[i]; b < t.busy[i] + t.busy[i + 1]; b++) if (v.fsBusyTid[b] === XFS_BUSY_OPEN) v.fsBusyTid[b] = seq;
  }
  atomicMax(v.fsAlloc, FS_ALLOC.busyTidMax, seq);
}

/**
 * xlog_cil_push's context swap, with j_state_lock held (xc_ctx_lock for write): the
 * context's n blocks (in j.cbufs) get frozen copies of their committed images, which the
 * push writes; the credits of transactions still open stay reserved for the next context.
 */
export function xlog_cil_push_swap(j: Journal, n: number): void {
  const js = j.js;
  for (let i = 0; i < n; i++) {
    const b = j.cbufs[i];
    j.frozen.set(xfsCommittedBlock(j, b), i * BLOCK_SIZE);
    j.bufs[b * FS_BUF.stride + FS_BUF.frozen] = i + 1;
  }
  js[J.frozenCount] = n;
  js[J.outstandingCredits] -= js[J.nrBuffers];
}

// ---- in-core log buffers ---------------------------------------------------------------

/** A push's walk through the iclogs: blocks copied into the current one, and where it began. */
export class IclogWriter {
  private filled = 0;
  private readonly perIclog: number;
  private readonly bufs: number;
  private last = 0;
  /** Device blocks of the iclog being filled. */
  private readonly inIclog: number[] = [];
  constructor(private readonly j: Journal) {
    this.perIclog = j.policy.logbsize / BLOCK_SIZE;
    this.bufs = j.policy.logbufs;
  }

  /** xlog_state_get_iclog_space(): before a block is copied in; waits for the iclog if its I/O is in flight. */
  space(): void {
    if (this.filled > 0) return;
    const times = this.j.times;
    const k = times[T.iclogsSubmitted] % this.bufs;
    const busyUntil = times[T.iclogDoneNs + k];
    const now = nowNs();
    if (busyUntil > now) {
      times[T.iclogWaits]++;
      times[T.iclogWaitNs] += busyUntil - now;
      stepEnter(STEP.journal_commit_wait);
      try {
        this.j.sleepNs(busyUntil - now);
      } finally {
        stepLeave();
      }
    }
  }

  /** Device block `at` was copied in (journalBlockWriteNs charged by the writer); a full iclog goes out. */
  wrote(at: number): void {
    this.inIclog.push(at);
    if (++this.filled >= this.perIclog) this.release();
  }

  /**
   * xlog_state_release_iclog() -> xlog_sync(): the iclog goes to the device with
   * REQ_PREFLUSH|REQ_FUA; it completes journalFlushNs later, never before the one before it.
   */
  release(): void {
    if (this.filled === 0) return;
    // The device has the iclog from here (the model's persistence); its time is the completion's.
    for (const at of this.inIclog) this.j.dev.flushcache(at * BLOCK_SIZE, BLOCK_SIZE);
    this.j.dev.fence();
    this.inIclog.length = 0;
    const times = this.j.times;
    const k = times[T.iclogsSubmitted] % this.bufs;
    let prev = 0;
    for (let i = 0; i < this.bufs; i++) prev = Math.max(prev, times[T.iclogDoneNs + i]);
    const done = Math.max(nowNs(), prev) + this.j.journalFlushNs;
    times[T.iclogDoneNs + k] = done;
    times[T.iclogsSubmitted]++;
    this.last = done;
    this.filled = 0;
  }

  /** The push is written: its context is on disk once its last iclog completes. */
  finish(seq: number): void {
    this.release();
    const r = seq % XLOG_CTX_RING;
    this.j.times[T.ctxDoneNs + r] = this.last;
    this.j.times[T.ctxDoneSeq + r] = seq;
  }
}

/** When context seq's last iclog completes (0: already, or too long ago to be remembered, which is also already). Its push has ended. */
function ctxDoneNs(j: Journal, seq: number): number {
  const r = seq % XLOG_CTX_RING;
  return j.times[T.ctxDoneSeq + r] === seq ? j.times[T.ctxDoneNs + r] : 0;
}

/** Whether sequence seq is on disk: pushed, and its iclogs' I/O complete (an inode logged in it unpins then). */
export function xlog_seq_stable(j: Journal, seq: number): boolean {
  if (seq > Atomics.load(j.js, J.commitSequence)) return false;
  return ctxDoneNs(j, seq) <= nowNs();
}

/**
 * xfs_log_force_seq(): pushes the CIL up to sequence seq if it is not pushed yet
 * (xlog_cil_force_seq -> xlog_cil_push_now), waits for the push, then for the I/O of the
 * iclog that ends it. Transactions still open are not waited for: they are not in the CIL.
 */
export function xfs_log_force_seq(j: Journal, seq: number, startPush: (j: Journal, seq: number) => void): void {
  if (seq > Atomics.load(j.js, J.commitSequence)) startPush(j, seq);
  const left = ctxDoneNs(j, seq) - nowNs();
  if (left <= 0) return;
  stepEnter(STEP.journal_commit_wait);
  try {
    j.sleepNs(left);
  } finally {
    stepLeave();
  }
}

/** The iclog figures since mkfs: iclogs written, waits for a free one and their total ns. */
export function iclogStats(j: Journal): { iclogs: number; waits: number; waitNs: number } {
  return { iclogs: j.times[T.iclogsSubmitted], waits: j.times[T.iclogWaits], waitNs: j.times[T.iclogWaitNs] };
}
