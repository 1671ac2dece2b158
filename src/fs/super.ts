// The filesystem as one CPU sees it (struct super_block + ext4_sb_info / xfs_mount): mkfs,
// mount, and the plumbing every operation shares: the per-inode lock, journal handles,
// metadata buffer access and the per-personality record of what changed.
//
// Locking rules (the whole of fs/; the operations in inode.ts, extents.ts and balloc.ts
// follow them):
//  - Order: journal handle -> i_data_sem -> ext4_group_lock -> j_state_lock. A CPU starts
//    its handle (jbd2_journal_start, which may sleep while a commit has the running
//    transaction locked) before it takes any fs lock, as ext4_journal_start() comes before
//    down_write(&ei->i_data_sem) in the kernel; a handle is stopped only after the fs locks
//    are dropped; a CPU holds at most one handle (nested starts join it: ext4_journal_start).
//  - i_data_sem (the lock words lockState/lockOwner of the inode's FS_INODE record in
//    views.fsInodeState, lock_stat class i_data_sem; XFS's ILOCK, taken through
//    xfs_ilock()) guards the inode's record in the inode table, its extent blocks, and its
//    FS_INODE sync state (i_sync_tid, i_datasync_tid, pinned, lastLsn, fsyncFields). It is
//    also held across a read chunk's copy and block zeroing. A write holds i_mmap_sem for
//    read from start to end (standing in for i_rwsem, which the lab does not have): its
//    handles cover only the block mapping and the size change, as ext4_iomap_begin/_end's
//    do, and the data copy runs under i_mmap_sem alone; truncate and punch take i_mmap_sem
//    for write, so they never run between a write's mapping and its copy. Order:
//    i_mmap_sem -> journal handle -> i_data_sem. A CPU never holds two inodes' i_data_sem.
//  - ext4_group_lock (one lock per allocation group, the words of its FS_GROUP record in
//    views.fsGroups, lock_stat class ext4_group_lock) guards that group's block bitmap words
//    in fsMeta and busy bits; group 0's also the claim of a free inode record, and (ext4
//    without a journal) each group's the copy of its bitmap block to the device. A CPU holds
//    at most one at a time. FS_ALLOC's counters change with Atomics under none. It nests
//    inside i_data_sem; nothing else nests inside it but j_state_lock (taken by
//    jbd2_journal_dirty_metadata).
//  - Metadata in views.fsMeta changes only between ext4_journal_get_write_access() and
//    ext4_handle_dirty_metadata() of an open handle (with a journal) or, without one, under
//    the locks above, and is then recorded on the owning inode's dirty-buffer list.
//  - Sleeps: lock acquisition (spin, then Atomics.wait past lockSpinNs), jbd2_journal_start
//    with no fs lock held, and commit waits in fsync with no fs lock and no handle held.
//    Injected costs (MachineConfig.costs, copied into the Fs at mount) are busy-waits
//    charged where the kernel pays them: a system call's entry at the vfs_* entry points
//    (syscallNs), block allocation (allocNs, mbSearchNs under ext4_group_lock,
//    allocJournalNs, extentNs; balloc.ts, extents.ts), zeroing and the data
//    copy of write(2) under i_mmap_sem (zeroBlockNs, copyBlockNs).

import { FS_ALLOC, FS_BUF, FS_INODE, LOCK_CLASS, fsGeometry, BLOCK_SIZE, type FsGeometry } from '../machine/layout.js';
import type { Cpu } from '../sync/cpu.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { PmemDevice } from '../pmem/device.js';
import {
  Journal,
  jbd2_journal_add_inode,
  jbd2_journal_dirty_metadata,
  jbd2_journal_get_write_access,
  jbd2_journal_start,
  jbd2_journal_stop,
  type Handle,
} from '../journal/journal.js';
import { jbd2_journal_create } from '../journal/commit.js';
import { xfs_cil_image_init, xfs_trans_ijoin_log, xlog_seq_stable } from '../journal/xfs_log.js';
import { journalAreas, maxTransactionBuffers } from '../journal/ondisk.js';
import type { JournalPolicy } from '../journal/policy.js';
import { checkOneOf } from '../util/check.js';
import { personalityOps, type PersonalityOps } from './personality_ops.js';
import { FsError } from './errno.js';
import {
  BITS_PER_BITMAP_BLOCK,
  EXT4_EXT_MAGIC,
  EXTENTS_PER_BLOCK,
  EXTENT_HEADER,
  FS_MAGIC,
  FS_MAX_FILE_BLOCKS,
  FS_PERSONALITIES,
  FS_REVISION,
  INODE,
  PERSONALITY_CODE,
  SUPERBLOCK,
  WORDS_PER_BLOCK,
  bitmapWord,
  extentBlock,
  imageWords,
  inodeBlock,
  inodeWord,
  sbWord,
  type FsPersonality,
} from './ondisk.js';

// What changed in an inode: XFS's inode log flags, also ext4's I_DIRTY_* (ondisk.ts).
export { XFS_ILOG_CORE, XFS_ILOG_DEXT, XFS_ILOG_TIMESTAMP } from './ondisk.js';

/** FS_BUF.flags: the buffer differs from its home block on the device (BH_Dirty; ext4 without a journal). */
export const BH_Dirty = 1;

/** filemap_write_and_wait_range() of a DAX file: write back the inode's dirty data in bytes [start, end] (end inclusive). */
export type WritebackHook = (fs: Fs, ino: number, start: number, end: number) => void;
/** truncate_pagecache_range(): drop mappings of bytes [start, end] (end inclusive) before their blocks are freed. */
export type InvalidateHook = (fs: Fs, ino: number, start: number, end: number) => void;

export interface FsHooks {
  /** The DAX writeback (issue 6) registers dax_writeback_mapping_range here; null: flush the file's mapped blocks. */
  writeback: WritebackHook | null;
  /** The DAX layer registers its entry invalidation here; null: nothing is mapped. */
  invalidate: InvalidateHook | null;
}

export interface MountOptions {
  /** The CPU's device; made when absent. */
  dev?: PmemDevice;
  /** The CPU's journal (ext4, xfs); made from journalPolicy when absent. */
  journal?: Journal;
  journalPolicy?: Partial<JournalPolicy>;
  hooks?: Partial<FsHooks>;
}

/** ext4_map_blocks()'s struct ext4_map_blocks: a request in, the mapping out (one per CPU, reused). */
export class MapBlocks {
  m_lblk = 0;
  m_len = 0;
  m_pblk = 0;
  m_flags = 0;
}

/** The filesystem on one CPU: shared views plus this CPU's scratch. One per CPU, made once by mountFs(). */
export class Fs {
  readonly cpu: Cpu;
  readonly dev: PmemDevice;
  readonly journal: Journal | null;
  readonly personality: FsPersonality;
  /** The personality's operations (file_operations / iomap_ops of the kernel): personality_ops.ts. */
  readonly ops: PersonalityOps;
  readonly g: FsGeometry;
  /** views.fsMeta: the metadata blocks in DRAM, and an Int32 view of them. */
  readonly meta: Uint8Array;
  readonly mw: Int32Array;
  readonly bufs: Int32Array;
  readonly inodes: Int32Array;
  readonly alloc: Int32Array;
  /** views.fsGroups: the allocation groups' lock words. */
  readonly groups: Int32Array;
  readonly hooks: FsHooks;
  /** Injected costs (MachineConfig.costs), ns: per block zeroed, per allocation, per 4 KiB copied by write(2), per system call. */
  readonly zeroBlockNs: number;
  readonly allocNs: number;
  /** mballoc's search of one group under its lock; an allocation's bitmap and descriptor journalled; one extent-map change (costs). */
  readonly mbSearchNs: number;
  readonly allocJournalNs: number;
  readonly extentNs: number;
  readonly copyBlockNs: number;
  readonly syscallNs: number;
  /** iomap_begin's extent lookup, per call (costs.iomapNs). */
  readonly iomapNs: number;
  /** Extents an inode can hold: fsExtentBlocksPerInode * 255. */
  readonly maxExtents: number;
  /** Credits an operation's handle asks for unless it says fewer (ext4_meta_trans_blocks). */
  readonly transCredits: number;
  /** Handles joined rather than started (ext4_journal_start inside an open handle). */
  nested = 0;
  /** Scratch: the mapping ext4_map_blocks() fills, new extent records for a splice, freed ranges. */
  readonly map = new MapBlocks();
  /** Blocks the last ext4_mb_new_blocks() returned. */
  allocLen = 0;
  readonly ext = new Int32Array(8 * 4);
  freed = new Int32Array(64);

  constructor(cpu: Cpu, opts: MountOptions = {}) {
    const v = cpu.machine.views;
    this.cpu = cpu;
    this.g = fsGeometry(cpu.machine.config);
    this.dev = opts.dev ?? new PmemDevice(cpu);
    this.meta = v.fsMeta;
    this.mw = imageWords(v.fsMeta);
    this.bufs = v.fsBufState;
    this.inodes = v.fsInodeState;
    this.alloc = v.fsAlloc;
    this.groups = v.fsGroups;
    const sb = sbWord(this.g);
    if (this.mw[sb + SUPERBLOCK.s_magic] !== FS_MAGIC) {
      throw new FsError('EINVAL', 'mount: no filesystem in fsMeta (bad superblock magic); run mkfs first');
    }
    const code = this.mw[sb + SUPERBLOCK.s_personality];
    const personality = FS_PERSONALITIES.find((p) => PERSONALITY_CODE[p] === code);
    if (personality === undefined) throw new FsError('EINVAL', `mount: unknown personality code ${code} in the superblock`);
    this.personality = personality;
    this.ops = personalityOps(personality);
    this.journal = !this.ops.makesJournal ? null : (opts.journal ?? new Journal(cpu, this.dev, opts.journalPolicy ?? {}));
    this.hooks = { writeback: opts.hooks?.writeback ?? null, invalidate: opts.hooks?.invalidate ?? null };
    const costs = cpu.machine.config.costs;
    this.zeroBlockNs = costs.zeroBlockNs;
    this.allocNs = costs.allocNs;
    this.mbSearchNs = costs.mbSearchNs;
    this.allocJournalNs = costs.allocJournalNs;
    this.extentNs = costs.extentNs;
    this.copyBlockNs = costs.copyBlockNs;
    this.syscallNs = costs.syscallNs;
    this.iomapNs = costs.iomapNs;
    this.maxExtents = this.g.extentBlocksPerInode * EXTENTS_PER_BLOCK;
    this.transCredits = ext4_meta_trans_blocks(this.g);
    if (this.journal !== null) checkJournalRoom(this.g, this.journal.maxTransactionBlocks);
  }
}

/**
 * ext4_meta_trans_blocks(): the most metadata blocks one handle of the lab's operations can
 * dirty, all for one inode: its inode-table block, its extent blocks, and every bitmap block
 * (a punch or truncate may free blocks in each allocation group).
 */
export function ext4_meta_trans_blocks(g: FsGeometry): number {
  return 1 + g.extentBlocksPerInode + g.bitmapBlocks;
}

/** Credits of a handle that changes only an inode's record: its inode-table block (ext4_dirty_inode asks 2; the lab keeps no other block per inode change). */
export const EXT4_INODE_CREDITS = 1;

/**
 * Rejects a geometry whose journal cannot take one handle: with a transaction limit (a
 * quarter of the journal) below ext4_meta_trans_blocks(), every operation that may dirty
 * that many blocks would be refused by jbd2_journal_start. Checked at mkfs and mount, naming
 * `field`, the setting that sizes the journal (journalBlocks, or a workload's journal.size).
 */
export function checkJournalRoom(g: FsGeometry, limit: number, field = 'journalBlocks'): void {
  const need = ext4_meta_trans_blocks(g);
  if (need <= limit) return;
  throw new RangeError(
    `${field}: a journal of ${g.journalBlocks} blocks holds transactions of at most ${limit} metadata blocks (a quarter of it, ` +
      `less its fast-commit area), less than one handle's credits: an operation may dirty ${need} metadata blocks (an inode-table ` +
      `block, fsExtentBlocksPerInode ${g.extentBlocksPerInode} extent blocks, ${g.bitmapBlocks} bitmap block${g.bitmapBlocks === 1 ? '' : 's'}); ` +
      `expected a journal of at least ${minJournalBlocks(need)} blocks or fewer fsExtentBlocksPerInode`,
  );
}

/** The smallest journal whose transactions may hold `need` metadata blocks. */
function minJournalBlocks(need: number): number {
  let blocks = 4 * need;
  while (maxTransactionBuffers(journalAreas({ journalStart: 0, journalBlocks: blocks } as FsGeometry)) < need) blocks++;
  return blocks;
}

/** Attaches this CPU to the filesystem mkfs() made (ext4_fill_super / xfs_fs_fill_super). */
export function mountFs(cpu: Cpu, opts: MountOptions = {}): Fs {
  return new Fs(cpu, opts);
}

export interface MkfsOptions {
  personality: FsPersonality;
  /** The journal to format (ext4, xfs); made when absent. */
  journal?: Journal;
}

/**
 * mkfs: writes the superblock, the bitmap (metadata, journal and padding blocks in use), an
 * empty inode table and empty extent headers into fsMeta and onto the device (flushed and
 * fenced, so a crash image taken at once is a valid filesystem), resets the DRAM state of
 * buffers, inodes and the allocator, and formats the journal. Run once, before any CPU mounts.
 */
export function mkfs(cpu: Cpu, dev: PmemDevice, opts: MkfsOptions): void {
  const personality = checkOneOf('personality', opts.personality, FS_PERSONALITIES);
  const v = cpu.machine.views;
  const g = fsGeometry(cpu.machine.config);
  const meta = v.fsMeta;
  const w = imageWords(meta);
  meta.fill(0);

  const sb = sbWord(g);
  w[sb + SUPERBLOCK.s_magic] = FS_MAGIC;
  w[sb + SUPERBLOCK.s_rev_level] = FS_REVISION;
  w[sb + SUPERBLOCK.s_personality] = PERSONALITY_CODE[personality];
  w[sb + SUPERBLOCK.s_block_size] = BLOCK_SIZE;
  w[sb + SUPERBLOCK.s_inode_size] = INODE.stride * 4;
  w[sb + SUPERBLOCK.s_blocks_count] = g.nblocks;
  w[sb + SUPERBLOCK.s_inodes_count] = g.inodes;
  w[sb + SUPERBLOCK.s_extent_blocks_per_inode] = g.extentBlocksPerInode;
  w[sb + SUPERBLOCK.s_bitmap_start] = g.bitmapStart;
  w[sb + SUPERBLOCK.s_bitmap_blocks] = g.bitmapBlocks;
  w[sb + SUPERBLOCK.s_inode_table] = g.inodeTableStart;
  w[sb + SUPERBLOCK.s_inode_table_blocks] = g.inodeTableBlocks;
  w[sb + SUPERBLOCK.s_extent_start] = g.extentStart;
  w[sb + SUPERBLOCK.s_journal_start] = g.journalStart;
  w[sb + SUPERBLOCK.s_journal_blocks] = g.journalBlocks;
  w[sb + SUPERBLOCK.s_first_data_block] = g.dataStart;
  w[sb + SUPERBLOCK.s_max_file_blocks] = FS_MAX_FILE_BLOCKS - 1;
  w[sb + SUPERBLOCK.s_extents_per_block] = EXTENTS_PER_BLOCK;

  // Metadata and journal blocks are in use, and so are the padding bits past the device.
  setBits(w, g, 0, g.dataStart);
  setBits(w, g, g.nblocks, g.bitmapBlocks * BITS_PER_BITMAP_BLOCK);

  for (let ino = 0; ino < g.inodes; ino++) {
    for (let k = 0; k < g.extentBlocksPerInode; k++) {
      const h = extentBlock(g, ino, k) * WORDS_PER_BLOCK;
      w[h + EXTENT_HEADER.eh_magic] = EXT4_EXT_MAGIC;
      w[h + EXTENT_HEADER.eh_max] = EXTENTS_PER_BLOCK;
    }
  }

  // Written through the block device (non-temporal stores): setup, charged nothing.
  dev.store(0, meta);
  dev.flushcache(0, meta.length);
  dev.fence();

  v.fsBufState.fill(0);
  v.fsInodeState.fill(0);
  v.fsAlloc.fill(0);
  v.fsGroups.fill(0);
  v.fsAlloc[FS_ALLOC.freeBlocks] = g.dataBlocks;
  v.fsAlloc[FS_ALLOC.goal] = g.dataStart;

  if (personalityOps(personality).makesJournal) {
    const j = opts.journal ?? new Journal(cpu, dev);
    checkJournalRoom(g, j.maxTransactionBlocks);
    jbd2_journal_create(j);
    xfs_cil_image_init(j);
  }
}

function setBits(w: Int32Array, g: FsGeometry, from: number, to: number): void {
  for (let b = from; b < to; b++) w[bitmapWord(g, b)] |= 1 << (b & 31);
}

// ---- i_data_sem -----------------------------------------------------------------------

/** down_write(&EXT4_I(inode)->i_data_sem). */
export function lockInode(fs: Fs, ino: number): void {
  spin_lock(fs.cpu, fs.inodes, ino * FS_INODE.stride + FS_INODE.lockState, LOCK_CLASS.i_data_sem);
}

/** up_write(&EXT4_I(inode)->i_data_sem). */
export function unlockInode(fs: Fs, ino: number): void {
  spin_unlock(fs.cpu, fs.inodes, ino * FS_INODE.stride + FS_INODE.lockState, LOCK_CLASS.i_data_sem);
}

/**
 * One change to an inode in a handle of its own, the shape of ext4's setattr, fallocate,
 * punch and truncate paths: ext4_journal_start() with `credits`, i_data_sem held around
 * `change`, then ext4_journal_stop(); undone in that order when `change` throws.
 */
export function inInodeHandle<T>(fs: Fs, ino: number, credits: number, change: (h: Handle | null) => T): T {
  const h = ext4_journal_start(fs, credits);
  try {
    lockInode(fs, ino);
    try {
      return change(h);
    } finally {
      unlockInode(fs, ino);
    }
  } finally {
    ext4_journal_stop(fs, h);
  }
}

/** xfs_ilock(): the lab's ILOCK is i_data_sem, exclusive for readers and writers alike. */
export function xfs_ilock(fs: Fs, ino: number): void {
  lockInode(fs, ino);
}

/** xfs_iunlock(). */
export function xfs_iunlock(fs: Fs, ino: number): void {
  unlockInode(fs, ino);
}

/** Throws unless ino names an inode slot; ENOENT past the table, EINVAL for a non-integer. */
export function checkIno(fs: Fs, ino: number): void {
  if (!Number.isInteger(ino) || ino < 0) throw new FsError('EINVAL', `inode: expected an inode number from 0 to ${fs.g.inodes - 1}, got ${String(ino)}`);
  if (ino >= fs.g.inodes) throw new FsError('ENOENT', `inode ${ino}: past the inode table (${fs.g.inodes} inodes)`);
}

/** Throws ENOENT unless inode ino is allocated. Called with its i_data_sem held. */
export function checkInUse(fs: Fs, ino: number): void {
  if (fs.mw[inodeWord(fs.g, ino) + INODE.i_mode] === 0) throw new FsError('ENOENT', `inode ${ino}: not allocated`);
}

// ---- journal handles and metadata buffers ----------------------------------------------

/**
 * ext4_journal_start() (xfs_trans_alloc() for the xfs personality): a handle in the running
 * transaction with `credits` blocks reserved, or null without a journal. Inside an open
 * handle of this CPU it joins it (journal_current_handle()), so a fault path that opened one
 * can call into fs/; the open handle's credits cover one operation on one inode.
 */
export function ext4_journal_start(fs: Fs, credits: number = fs.transCredits): Handle | null {
  const j = fs.journal;
  if (j === null) return null;
  if (j.handle.open) {
    fs.nested++;
    return j.handle;
  }
  return jbd2_journal_start(j, credits);
}

/** ext4_journal_stop() (xfs_trans_commit()): leaves the transaction unless the handle was joined. */
export function ext4_journal_stop(fs: Fs, h: Handle | null): void {
  if (h === null) return;
  if (fs.nested > 0) {
    fs.nested--;
    return;
  }
  jbd2_journal_stop(h);
}

/** ext4_journal_get_write_access(): before changing metadata block `block`. */
export function ext4_journal_get_write_access(fs: Fs, h: Handle | null, block: number): void {
  if (h !== null) jbd2_journal_get_write_access(h, block);
}

/**
 * ext4_handle_dirty_metadata(): after changing metadata block `block`. With a journal it
 * files the block in the handle's transaction; without one it marks the buffer dirty, on
 * inode ino's dirty-buffer list when ino >= 0 (mark_buffer_dirty_inode), else on no list.
 */
export function ext4_handle_dirty_metadata(fs: Fs, h: Handle | null, ino: number, block: number): void {
  if (h !== null) {
    jbd2_journal_dirty_metadata(h, block);
    return;
  }
  if (fs.journal !== null) throw new Error(`fs: metadata block ${block} changed outside a handle`);
  if (ino >= 0) mark_buffer_dirty_inode(fs, block, ino);
  else mark_buffer_dirty(fs, block);
}

/** mark_buffer_dirty(). */
export function mark_buffer_dirty(fs: Fs, block: number): void {
  const at = block * FS_BUF.stride + FS_BUF.flags;
  if ((Atomics.load(fs.bufs, at) & BH_Dirty) === 0) Atomics.or(fs.bufs, at, BH_Dirty);
}

/**
 * mark_buffer_dirty_inode(): dirties the buffer and puts it on inode ino's list
 * (FS_BUF.ownerInode = ino + 1; FS_INODE.dirtyBuffers counts the list). Only the inode's
 * own extent blocks go on its list, under its i_data_sem.
 */
export function mark_buffer_dirty_inode(fs: Fs, block: number, ino: number): void {
  const at = block * FS_BUF.stride;
  if ((Atomics.load(fs.bufs, at + FS_BUF.flags) & BH_Dirty) !== 0) return;
  fs.bufs[at + FS_BUF.ownerInode] = ino + 1;
  Atomics.or(fs.bufs, at + FS_BUF.flags, BH_Dirty);
  Atomics.add(fs.inodes, ino * FS_INODE.stride + FS_INODE.dirtyBuffers, 1);
}

/**
 * write_dirty_buffer() + wait: writes metadata block `block` home to the device (store and
 * flush; the caller fences) if it is dirty, and takes it off its inode's list. Returns
 * whether it wrote.
 */
export function write_dirty_buffer(fs: Fs, block: number): boolean {
  const at = block * FS_BUF.stride;
  // Clear the dirty bit before copying: a change racing the copy dirties it again.
  if ((Atomics.and(fs.bufs, at + FS_BUF.flags, ~BH_Dirty) & BH_Dirty) === 0) return false;
  const owner = fs.bufs[at + FS_BUF.ownerInode];
  if (owner !== 0) {
    fs.bufs[at + FS_BUF.ownerInode] = 0;
    Atomics.sub(fs.inodes, (owner - 1) * FS_INODE.stride + FS_INODE.dirtyBuffers, 1);
  }
  const off = block * BLOCK_SIZE;
  fs.dev.store(off, fs.meta.subarray(off, off + BLOCK_SIZE));
  fs.dev.flush(off, BLOCK_SIZE);
  return true;
}

/** Changes to inode ino's record: get write access to its inode-table block. */
export function inodeWriteAccess(fs: Fs, h: Handle | null, ino: number): void {
  ext4_journal_get_write_access(fs, h, inodeBlock(fs.g, ino));
  if (h !== null) fs.ops.trans_ijoin(h, ino);
}

/**
 * ext4_mark_iloc_dirty(): the inode's record changed. With a journal its table block goes
 * into the handle's transaction; without one the inode itself is marked dirty
 * (markInodeChanged: I_DIRTY_*) and ext4_write_inode() writes the record at fsync.
 */
export function ext4_mark_iloc_dirty(fs: Fs, h: Handle | null, ino: number): void {
  if (h !== null) ext4_handle_dirty_metadata(fs, h, -1, inodeBlock(fs.g, ino));
}

// ---- what each personality records about a change --------------------------------------

/** ext4_update_inode_fsync_trans(): fsync waits for i_sync_tid, fdatasync for i_datasync_tid. */
export function ext4_update_inode_fsync_trans(fs: Fs, h: Handle, ino: number, datasync: boolean): void {
  const b = ino * FS_INODE.stride;
  fs.inodes[b + FS_INODE.i_sync_tid] = h.tid;
  if (datasync) fs.inodes[b + FS_INODE.i_datasync_tid] = h.tid;
}

/**
 * xfs_trans_log_inode(): the inode is logged in this transaction: its fields are noted for
 * fsync now (ili_fsync_fields); xfs_log_commit_cil() pins it at the CIL sequence it commits into.
 */
export function xfs_trans_log_inode(fs: Fs, h: Handle, ino: number, fields: number): void {
  xfs_ipincount(fs, ino); // drops a pin (and its fields) whose sequence is on disk
  fs.inodes[ino * FS_INODE.stride + FS_INODE.fsyncFields] |= fields;
  xfs_trans_ijoin_log(h, ino, fields);
}

/**
 * Records that inode ino changed in `fields` (XFS_ILOG_*) under handle h, per personality
 * (fs.ops.log_inode): ext4 moves i_sync_tid (and i_datasync_tid unless only timestamps changed) and tells the
 * journal (jbd2_journal_add_inode, for fast commit); xfs logs the inode; ext4 without a
 * journal marks the inode dirty (I_DIRTY_SYNC / I_DIRTY_DATASYNC, kept in fsyncFields).
 * Called with the inode's i_data_sem held.
 */
export function markInodeChanged(fs: Fs, h: Handle | null, ino: number, fields: number): void {
  if (h === null) {
    fs.inodes[ino * FS_INODE.stride + FS_INODE.fsyncFields] |= fields;
    return;
  }
  fs.ops.log_inode(fs, h, ino, fields);
  jbd2_journal_add_inode(h, ino);
}

/**
 * xfs_ipincount(): 1 while the inode's last committed change is not on disk (its CIL
 * sequence pushed and the iclog I/O complete). Called with the ILOCK held. XFS unpins the
 * inode at log I/O completion (xfs_inode_item_unpin) and clears
 * ili_fsync_fields when it writes the inode back (xfs_iflush); the lab's commit thread knows
 * no inodes, so both happen here, lazily, once the inode's last sequence is seen committed.
 */
export function xfs_ipincount(fs: Fs, ino: number): number {
  const b = ino * FS_INODE.stride;
  if (fs.inodes[b + FS_INODE.pinned] === 0) return 0;
  if (xlog_seq_stable(fs.journal!, fs.inodes[b + FS_INODE.lastLsn])) {
    fs.inodes[b + FS_INODE.pinned] = 0;
    fs.inodes[b + FS_INODE.fsyncFields] = 0;
    return 0;
  }
  return 1;
}
