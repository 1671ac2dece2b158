// The filesystem's operations, callable from any CPU: create, fallocate and punch hole,
// write (the background-copy path), read, truncate, fsync/fdatasync, and iomap_begin (what a
// DAX fault asks). Each public vfs_* call checks its arguments, then runs the personality's
// steps, named after the kernel's: ext4 (fs/ext4/inode.c, extents.c, file.c, fsync.c) and,
// for the xfs personality, xfs_file_iomap_begin / xfs_iomap_write_direct / xfs_file_fsync
// (fs/xfs/xfs_iomap.c, xfs_file.c). The xfs personality shares ext4's extent map and
// allocator (the lab's on-disk format); it differs in what a change records (the inode is
// logged and pinned: xfs_trans_log_inode) and in how fsync and IOMAP_F_DIRTY read that.
//
// Locking rules: as super.ts (handle -> i_data_sem -> ext4_group_lock -> j_state_lock).
// Every change below runs in one handle taken before i_data_sem and stopped after it is
// dropped, in try/finally so that no error leaves a handle open or a lock held. fsync waits
// for a commit holding nothing. The writeback and invalidate hooks are called holding
// nothing (truncate_pagecache_range() runs before ext4_journal_start() in the kernel too).
//
// Durability of data: a write stores and flushes its data blocks as it goes (the DAX write
// path copies with copy_from_iter_flushcache); blocks handed out written are zeroed and
// flushed first (EXT4_GET_BLOCKS_CREATE_ZERO). fsync's data step is the writeback hook.
//
// Injected costs (MachineConfig.costs, super.ts): every vfs_* entry point that stands for a
// system call (creat, write, read, fallocate, truncate, fsync/fdatasync) first pays
// entry_SYSCALL_64 (syscallNs); vfs_fsync_range does not, because a MAP_SYNC fault calls it
// from inside the kernel. write(2) pays copyBlockNs per 4 KiB copied, under i_data_sem.
//
// Argument rules (FsError): inode numbers outside the table or not allocated -> ENOENT
// (EINVAL when not a non-negative integer); negative or non-integer offsets and sizes,
// empty or unaligned fallocate/punch ranges (the lab requires whole 4 KiB blocks there) ->
// EINVAL; unknown fallocate modes -> EOPNOTSUPP; past s_maxbytes (FS_MAX_BYTES) -> EFBIG; no
// free block, inode or extent slot -> ENOSPC. A write that made progress before ENOSPC
// returns the bytes written, as write(2) does.

import { BLOCK_SIZE, FS_INODE, LOCK_CLASS } from '../machine/layout.js';
import { charge } from '../sync/vclock.js';
import { monoNs } from '../util/clock.js';
import { down_read, down_write, up_read, up_write } from '../sync/rwsem.js';
import {
  ext4_fc_inode_clean,
  jbd2_complete_transaction,
  jbd2_transaction_committed,
  type Handle,
} from '../journal/journal.js';
import { ext4_fc_commit } from '../journal/fast_commit.js';
import { xfs_log_force_seq } from '../journal/xfs_log.js';
import { FsError, isFsError } from './errno.js';
import {
  EXT4_EXTENTS_FL,
  FS_MAX_BYTES,
  FS_MAX_FILE_BLOCKS,
  INODE,
  S_IFMT,
  S_IFREG,
  extentBlock,
  inodeBlock,
  inodeWord,
  readSize,
  writeSize,
} from './ondisk.js';
import { ext4_lock_group, ext4_should_retry_alloc, ext4_unlock_group } from './balloc.js';
import {
  EXT4_GET_BLOCKS_CREATE_UNWRIT_EXT,
  EXT4_GET_BLOCKS_CREATE_ZERO,
  EXT4_MAP_MAPPED,
  EXT4_MAP_NEW,
  EXT4_MAP_UNWRITTEN,
  eeBlock,
  eeFlags,
  eeLen,
  eeStart,
  ext4_ext_find_extent,
  ext4_ext_remove_space,
  ext4_map_blocks,
  extCount,
} from './extents.js';
import {
  XFS_ILOG_CORE,
  XFS_ILOG_DEXT,
  XFS_ILOG_TIMESTAMP,
  EXT4_INODE_CREDITS,
  checkInUse,
  checkIno,
  ext4_journal_get_write_access,
  ext4_journal_start,
  ext4_journal_stop,
  ext4_mark_iloc_dirty,
  inodeWriteAccess,
  lockInode,
  markInodeChanged,
  unlockInode,
  write_dirty_buffer,
  xfs_ilock,
  xfs_ipincount,
  xfs_iunlock,
  type Fs,
} from './super.js';

// ---- iomap (include/linux/iomap.h, 4.15) -------------------------------------------------

export const IOMAP_HOLE = 0x01;
export const IOMAP_DELALLOC = 0x02;
export const IOMAP_MAPPED = 0x03;
export const IOMAP_UNWRITTEN = 0x04;

export const IOMAP_WRITE = 1 << 0;
export const IOMAP_ZERO = 1 << 1;
export const IOMAP_REPORT = 1 << 2;
export const IOMAP_FAULT = 1 << 3;

/** Blocks were allocated or converted by this call (and zeroed on the device). */
export const IOMAP_F_NEW = 0x01;
/** The inode's block mapping is not yet durable: a MAP_SYNC fault must fdatasync first. */
export const IOMAP_F_DIRTY = 0x02;

/** struct iomap: what iomap_begin() found or made. The caller owns one and passes it in. */
export class Iomap {
  type = IOMAP_HOLE;
  flags = 0;
  /** File range the mapping covers, in bytes (whole blocks). */
  offset = 0;
  length = 0;
  /** First device block of the range (4 KiB blocks); -1 for a hole. */
  blockno = -1;
}

// ---- fallocate(2) modes --------------------------------------------------------------

export const FALLOC_FL_KEEP_SIZE = 0x01;
export const FALLOC_FL_PUNCH_HOLE = 0x02;

/** Blocks one write chunk maps and copies under one handle and one i_data_sem hold. */
export const WRITE_CHUNK_BLOCKS = 32;

// ---- argument checks -----------------------------------------------------------------

function checkPos(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new FsError('EINVAL', `${name}: expected a non-negative integer, got ${String(v)}`);
}

function checkEnd(what: string, end: number): void {
  if (end > FS_MAX_BYTES) throw new FsError('EFBIG', `${what}: ends at byte ${end}, past the largest file (${FS_MAX_BYTES} bytes)`);
}

function iSize(fs: Fs, ino: number): number {
  return readSize(fs.mw, inodeWord(fs.g, ino));
}

/** Sets i_size (and i_disksize) as a change to the inode's record. */
function setSize(fs: Fs, h: Handle | null, ino: number, size: number): void {
  inodeWriteAccess(fs, h, ino);
  writeSize(fs.mw, inodeWord(fs.g, ino), size);
  ext4_mark_iloc_dirty(fs, h, ino);
}

/** jiffies at HZ 250, from the clock every CPU agrees on (virtual time, or CLOCK_MONOTONIC). */
function jiffies(): number {
  return Math.floor(monoNs() / 4e6) & 0x7fffffff;
}

// ---- system calls --------------------------------------------------------------------

/** entry_SYSCALL_64(): a system call's entry and exit (syscallNs), paid once per call before its work. */
export function entry_SYSCALL_64(fs: Fs): void {
  if (fs.syscallNs > 0) charge(fs.syscallNs);
}

// ---- create --------------------------------------------------------------------------

/** creat(2): allocates an empty regular file and returns its inode number. ENOSPC when the table is full. */
export function vfs_create(fs: Fs): number {
  entry_SYSCALL_64(fs);
  return __ext4_new_inode(fs);
}

/** __ext4_new_inode(): claims the first free inode record (xfs_dialloc for the xfs personality). */
export function __ext4_new_inode(fs: Fs): number {
  const g = fs.g;
  const w = fs.mw;
  const perBlock = BLOCK_SIZE / (INODE.stride * 4);
  const h = ext4_journal_start(fs, EXT4_INODE_CREDITS);
  try {
    for (let first = 0; first < g.inodes; first += perBlock) {
      const last = Math.min(first + perBlock, g.inodes);
      let any = false;
      for (let ino = first; ino < last && !any; ino++) any = w[inodeWord(g, ino) + INODE.i_mode] === 0;
      if (!any) continue;
      const block = inodeBlock(g, first);
      ext4_journal_get_write_access(fs, h, block);
      // The inode table lives in group 0: its lock guards the claim (the kernel's inode bitmap of the group).
      ext4_lock_group(fs, 0);
      let got = -1;
      for (let ino = first; ino < last; ino++) {
        const iw = inodeWord(g, ino);
        if (w[iw + INODE.i_mode] !== 0) continue;
        const gen = w[iw + INODE.i_generation];
        w.fill(0, iw, iw + INODE.stride);
        w[iw + INODE.i_mode] = S_IFREG;
        w[iw + INODE.i_flags] = EXT4_EXTENTS_FL;
        w[iw + INODE.i_generation] = gen + 1;
        w[iw + INODE.i_mtime] = jiffies();
        got = ino;
        break;
      }
      ext4_unlock_group(fs, 0);
      if (got < 0) continue;
      ext4_mark_iloc_dirty(fs, h, got);
      lockInode(fs, got);
      try {
        const b = got * FS_INODE.stride;
        for (const f of [FS_INODE.i_sync_tid, FS_INODE.i_datasync_tid, FS_INODE.pinned, FS_INODE.lastLsn, FS_INODE.fsyncFields]) {
          fs.inodes[b + f] = 0;
        }
        markInodeChanged(fs, h, got, XFS_ILOG_CORE);
      } finally {
        unlockInode(fs, got);
      }
      return got;
    }
    throw new FsError('ENOSPC', `the inode table is full (${g.inodes} inodes)`);
  } finally {
    ext4_journal_stop(fs, h);
  }
}

// ---- datasync state ------------------------------------------------------------------

/**
 * ext4_inode_datasync_dirty() (seed 002 patch 16, with 5.10's fast-commit test): with a
 * journal, whether i_datasync_tid is not committed (and, under fast commit, the inode not
 * fast-committed since); without one, whether the inode has metadata buffers to write or
 * is I_DIRTY_DATASYNC. Called with i_data_sem held.
 */
export function ext4_inode_datasync_dirty(fs: Fs, ino: number): boolean {
  const j = fs.journal;
  const b = ino * FS_INODE.stride;
  if (j !== null) {
    if (jbd2_transaction_committed(j, fs.inodes[b + FS_INODE.i_datasync_tid])) return false;
    if (j.policy.fastCommit) return !ext4_fc_inode_clean(j, ino);
    return true;
  }
  if (Atomics.load(fs.inodes, b + FS_INODE.dirtyBuffers) !== 0) return true;
  return (fs.inodes[b + FS_INODE.fsyncFields] & ~XFS_ILOG_TIMESTAMP) !== 0;
}

/** The XFS test of seed 002 patch 18: pinned in the log with fields other than timestamps dirty. ILOCK held. */
export function xfsInodeDatasyncDirty(fs: Fs, ino: number): boolean {
  return xfs_ipincount(fs, ino) !== 0 && (fs.inodes[ino * FS_INODE.stride + FS_INODE.fsyncFields] & ~XFS_ILOG_TIMESTAMP) !== 0;
}

/** Whether an fdatasync of the inode would have metadata to make durable (its block mapping or size). */
export function inode_datasync_dirty(fs: Fs, ino: number): boolean {
  checkIno(fs, ino);
  lockInode(fs, ino);
  try {
    checkInUse(fs, ino);
    return fs.ops.inode_datasync_dirty(fs, ino);
  } finally {
    unlockInode(fs, ino);
  }
}

// ---- iomap_begin -----------------------------------------------------------------------

/**
 * iomap_ops->iomap_begin(): maps the file range [offset, offset + length) from its first
 * block, filling `iomap` (no allocation: a fault calls this about a million times a
 * second). Without IOMAP_WRITE it reports a hole, an unwritten or a mapped extent. With
 * IOMAP_WRITE a hole is allocated and an unwritten extent converted, zeroed on the device,
 * and reported MAPPED with IOMAP_F_NEW; IOMAP_F_DIRTY is set when the inode's block mapping
 * is not yet durable. The mapping may be shorter than asked. Inside a handle this CPU
 * opened (a write fault's), the allocation joins it.
 */
export function iomap_begin(fs: Fs, ino: number, offset: number, length: number, flags: number, iomap: Iomap): void {
  checkIno(fs, ino);
  checkPos('offset', offset);
  if (!Number.isInteger(length) || length <= 0) throw new FsError('EINVAL', `length: expected a positive integer, got ${String(length)}`);
  checkEnd('iomap_begin', offset + length);
  if (fs.iomapNs > 0) charge(fs.iomapNs);
  fs.ops.iomap_begin(fs, ino, offset, length, flags, iomap);
}

function fillIomap(fs: Fs, iomap: Iomap): void {
  const m = fs.map;
  iomap.offset = m.m_lblk * BLOCK_SIZE;
  iomap.length = m.m_len * BLOCK_SIZE;
  iomap.flags = (m.m_flags & EXT4_MAP_NEW) !== 0 ? IOMAP_F_NEW : 0;
  if ((m.m_flags & EXT4_MAP_MAPPED) !== 0) {
    iomap.type = IOMAP_MAPPED;
    iomap.blockno = m.m_pblk;
  } else if ((m.m_flags & EXT4_MAP_UNWRITTEN) !== 0) {
    iomap.type = IOMAP_UNWRITTEN;
    iomap.blockno = m.m_pblk;
  } else {
    iomap.type = IOMAP_HOLE;
    iomap.blockno = -1;
  }
}

/** Looks the range up (no change) under the held i_data_sem; true when a write needs nothing more. */
function lookupForIomap(fs: Fs, ino: number, offset: number, length: number, flags: number, iomap: Iomap): boolean {
  checkInUse(fs, ino);
  const first = Math.floor(offset / BLOCK_SIZE);
  fs.map.m_lblk = first;
  fs.map.m_len = Math.floor((offset + length - 1) / BLOCK_SIZE) - first + 1;
  ext4_map_blocks(fs, null, ino, fs.map, 0);
  if ((flags & IOMAP_WRITE) !== 0 && (fs.map.m_flags & EXT4_MAP_MAPPED) === 0) return false;
  fillIomap(fs, iomap);
  return true;
}

/**
 * ext4_iomap_begin(). A write to blocks already written returns without a handle (the
 * overwrite fast path of later kernels; 4.14 started one anyway, which the lab's fault path
 * pays for itself by opening its handle as ext4_dax_huge_fault() does).
 */
export function ext4_iomap_begin(fs: Fs, ino: number, offset: number, length: number, flags: number, iomap: Iomap): void {
  lockInode(fs, ino);
  try {
    if (lookupForIomap(fs, ino, offset, length, flags, iomap)) {
      if ((flags & IOMAP_WRITE) !== 0 && ext4_inode_datasync_dirty(fs, ino)) iomap.flags |= IOMAP_F_DIRTY;
      return;
    }
  } finally {
    unlockInode(fs, ino);
  }
  fs.ops.inode_transaction(fs, ino, fs.transCredits, (h) => {
    checkInUse(fs, ino);
    const first = Math.floor(offset / BLOCK_SIZE);
    fs.map.m_lblk = first;
    fs.map.m_len = Math.floor((offset + length - 1) / BLOCK_SIZE) - first + 1;
    ext4_map_blocks(fs, h, ino, fs.map, EXT4_GET_BLOCKS_CREATE_ZERO);
    fillIomap(fs, iomap);
    if (ext4_inode_datasync_dirty(fs, ino)) iomap.flags |= IOMAP_F_DIRTY;
  });
}

/** xfs_file_iomap_begin(): xfs_bmapi_read under the ILOCK, xfs_iomap_write_direct for a hole or unwritten extent. */
export function xfs_file_iomap_begin(fs: Fs, ino: number, offset: number, length: number, flags: number, iomap: Iomap): void {
  xfs_ilock(fs, ino);
  try {
    if (lookupForIomap(fs, ino, offset, length, flags, iomap)) {
      if ((flags & IOMAP_WRITE) !== 0 && xfsInodeDatasyncDirty(fs, ino)) iomap.flags |= IOMAP_F_DIRTY;
      return;
    }
  } finally {
    xfs_iunlock(fs, ino);
  }
  xfs_iomap_write_direct(fs, ino, offset, length, iomap);
}

/**
 * xfs_iomap_write_direct(): allocates (or converts) the range in its own transaction with
 * XFS_BMAPI_CONVERT | XFS_BMAPI_ZERO, as for a DAX inode, and reports it. The transaction
 * commits before the ILOCK goes, so the inode is pinned in the CIL when xfs_file_iomap_begin
 * reads IOMAP_F_DIRTY off it.
 */
export function xfs_iomap_write_direct(fs: Fs, ino: number, offset: number, length: number, iomap: Iomap): void {
  const h = ext4_journal_start(fs); // xfs_trans_alloc()
  try {
    xfs_ilock(fs, ino);
  } catch (e) {
    ext4_journal_stop(fs, h);
    throw e;
  }
  try {
    try {
      checkInUse(fs, ino);
      const first = Math.floor(offset / BLOCK_SIZE);
      fs.map.m_lblk = first;
      fs.map.m_len = Math.floor((offset + length - 1) / BLOCK_SIZE) - first + 1;
      ext4_map_blocks(fs, h, ino, fs.map, EXT4_GET_BLOCKS_CREATE_ZERO); // xfs_bmapi_write()
      fillIomap(fs, iomap);
    } finally {
      ext4_journal_stop(fs, h); // xfs_trans_commit()
    }
    if (xfsInodeDatasyncDirty(fs, ino)) iomap.flags |= IOMAP_F_DIRTY;
  } finally {
    xfs_iunlock(fs, ino);
  }
}

// ---- timestamps ----------------------------------------------------------------------

/**
 * file_update_time(): moves i_mtime to now when the clock has ticked (4 ms jiffies), in
 * its own handle. A timestamp change makes the inode fsync-dirty, not fdatasync-dirty.
 * Called by write(), and by a DAX write fault as ext4_dax_huge_fault() does.
 */
export function file_update_time(fs: Fs, ino: number): void {
  checkIno(fs, ino);
  const now = jiffies();
  if (fs.mw[inodeWord(fs.g, ino) + INODE.i_mtime] === now) return;
  fs.ops.inode_transaction(fs, ino, EXT4_INODE_CREDITS, (h) => {
    checkInUse(fs, ino);
    touchMtime(fs, h, ino, now);
  });
}

function touchMtime(fs: Fs, h: Handle | null, ino: number, now: number): void {
  inodeWriteAccess(fs, h, ino);
  fs.mw[inodeWord(fs.g, ino) + INODE.i_mtime] = now;
  ext4_mark_iloc_dirty(fs, h, ino);
  markInodeChanged(fs, h, ino, XFS_ILOG_TIMESTAMP);
}

/**
 * chmod(2) (notify_change -> ext4_setattr / xfs_setattr_nonsize): new permission bits in the
 * inode's record, in a handle of its own. It dirties the inode's table block in the running
 * transaction but not its datasync state (ext4 passes need_datasync = 0; XFS logs the core,
 * as its chmod does), so it costs fdatasync nothing, and an fsync of any other inode that
 * commits this transaction writes the block too: the "unrelated metadata" of seed 001.
 */
export function vfs_chmod(fs: Fs, ino: number, mode: number): void {
  entry_SYSCALL_64(fs);
  checkIno(fs, ino);
  fs.ops.inode_transaction(fs, ino, EXT4_INODE_CREDITS, (h) => {
    checkInUse(fs, ino);
    inodeWriteAccess(fs, h, ino);
    const w = inodeWord(fs.g, ino) + INODE.i_mode;
    fs.mw[w] = (fs.mw[w] & S_IFMT) | (mode & 0o7777);
    ext4_mark_iloc_dirty(fs, h, ino);
    markInodeChanged(fs, h, ino, fs.ops.chmodFields);
  });
}

// ---- write and read ------------------------------------------------------------------

/**
 * write(2) at `offset` (ext4_dax_write_iter / xfs_file_dax_write over dax_iomap_rw): per
 * chunk of up to WRITE_CHUNK_BLOCKS, in one handle under i_data_sem, maps the blocks with
 * EXT4_GET_BLOCKS_CREATE_ZERO (allocating holes, converting unwritten extents), stores and
 * flushes the data, and extends i_size, so a crash never finds written blocks past i_size.
 * Returns the bytes written.
 */
export function vfs_write(fs: Fs, ino: number, offset: number, src: Uint8Array): number {
  entry_SYSCALL_64(fs);
  for (let retries = 0; ; retries++) {
    try {
      return ext4_dax_write_iter(fs, ino, offset, src);
    } catch (e) {
      if (!(isFsError(e, 'ENOSPC') && ext4_should_retry_alloc(fs, retries))) throw e;
    }
  }
}

/**
 * ext4_dax_write_iter(): one attempt of vfs_write(); ENOSPC with nothing written is thrown for
 * a retry. As in 4.14, each chunk's journal handle covers only the block mapping
 * (ext4_iomap_begin stops it before returning), the copy runs with no handle open
 * (dax_iomap_actor), and a size change takes a handle of its own (ext4_iomap_end): a commit
 * never waits for a write's data copy. i_mmap_sem held for read across the whole write
 * stands in for the inode lock (i_rwsem) that keeps truncate and hole punch out between the
 * mapping and the copy; both take it for write.
 */
function ext4_dax_write_iter(fs: Fs, ino: number, offset: number, src: Uint8Array): number {
  checkIno(fs, ino);
  checkPos('offset', offset);
  if (src.length === 0) return 0;
  const end = offset + src.length;
  checkEnd('write', end);
  down_read_i_mmap_sem(fs, ino);
  try {
    checkInUse(fs, ino);
    file_update_time(fs, ino);
    let pos = offset;
    let done = 0;
    while (pos < end) {
      const lblk = Math.floor(pos / BLOCK_SIZE);
      const map = fs.map;
      try {
        ext4_iomap_begin_write(fs, ino, lblk, Math.min(Math.floor((end - 1) / BLOCK_SIZE) - lblk + 1, WRITE_CHUNK_BLOCKS));
      } catch (e) {
        if (done > 0 && isFsError(e, 'ENOSPC')) return done;
        throw e;
      }
      const upto = Math.min(end, (lblk + map.m_len) * BLOCK_SIZE);
      dax_copy_from_iter(fs, map.m_pblk * BLOCK_SIZE + (pos - lblk * BLOCK_SIZE), src.subarray(done, done + upto - pos));
      if (upto > iSize(fs, ino)) ext4_iomap_end_write(fs, ino, upto);
      done += upto - pos;
      pos = upto;
    }
    return done;
  } finally {
    up_read_i_mmap_sem(fs, ino);
  }
}

/** ext4_iomap_begin() for a DAX write: maps (allocating) up to len blocks from lblk into fs.map, in a handle of its own. */
function ext4_iomap_begin_write(fs: Fs, ino: number, lblk: number, len: number): void {
  fs.ops.inode_transaction(fs, ino, fs.transCredits, (h) => {
    const map = fs.map;
    map.m_lblk = lblk;
    map.m_len = len;
    ext4_map_blocks(fs, h, ino, map, EXT4_GET_BLOCKS_CREATE_ZERO);
  });
}

/** ext4_iomap_end() after a DAX write that went past i_size: the new size, in a handle of its own. */
function ext4_iomap_end_write(fs: Fs, ino: number, size: number): void {
  fs.ops.inode_transaction(fs, ino, EXT4_INODE_CREDITS, (h) => {
    if (size > iSize(fs, ino)) {
      setSize(fs, h, ino, size);
      markInodeChanged(fs, h, ino, XFS_ILOG_CORE);
    }
  });
}

/**
 * dax_copy_from_iter(): copies a write's bytes to the device with copy_from_iter_flushcache
 * (non-temporal stores: durable without a clwb), charging copyBlockNs per 4 KiB, pro rata.
 */
function dax_copy_from_iter(fs: Fs, at: number, src: Uint8Array): void {
  fs.dev.store(at, src);
  fs.dev.flushcache(at, src.length);
  if (fs.copyBlockNs > 0) charge((fs.copyBlockNs * src.length) / BLOCK_SIZE);
}

/** read(2) at `offset` into dst: holes and unwritten extents read as zeroes; stops at i_size. Returns the bytes read. */
export function vfs_read(fs: Fs, ino: number, offset: number, dst: Uint8Array): number {
  entry_SYSCALL_64(fs);
  checkIno(fs, ino);
  checkPos('offset', offset);
  let done = 0;
  while (done < dst.length) {
    const pos = offset + done;
    lockInode(fs, ino);
    try {
      checkInUse(fs, ino);
      const size = iSize(fs, ino);
      if (pos >= size) break;
      const end = Math.min(offset + dst.length, size);
      const lblk = Math.floor(pos / BLOCK_SIZE);
      const map = fs.map;
      map.m_lblk = lblk;
      map.m_len = Math.floor((end - 1) / BLOCK_SIZE) - lblk + 1;
      ext4_map_blocks(fs, null, ino, map, 0);
      const n = Math.min(end, (lblk + map.m_len) * BLOCK_SIZE) - pos;
      if ((map.m_flags & EXT4_MAP_MAPPED) !== 0) {
        dst.set(fs.dev.load(map.m_pblk * BLOCK_SIZE + (pos - lblk * BLOCK_SIZE), n), done);
      } else {
        dst.fill(0, done, done + n);
      }
      done += n;
    } finally {
      unlockInode(fs, ino);
    }
  }
  return done;
}

// ---- fallocate, punch hole, truncate -------------------------------------------------

/**
 * fallocate(2): mode 0 or FALLOC_FL_KEEP_SIZE allocates unwritten extents over the holes of
 * [offset, offset + len) (and extends i_size unless KEEP_SIZE); FALLOC_FL_PUNCH_HOLE |
 * FALLOC_FL_KEEP_SIZE frees the range. offset and len are whole blocks.
 */
export function vfs_fallocate(fs: Fs, ino: number, mode: number, offset: number, len: number): void {
  entry_SYSCALL_64(fs);
  checkIno(fs, ino);
  if (!Number.isInteger(mode) || (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) !== 0) {
    throw new FsError('EOPNOTSUPP', `fallocate: mode ${String(mode)} is not supported (KEEP_SIZE and PUNCH_HOLE only)`);
  }
  if ((mode & FALLOC_FL_PUNCH_HOLE) !== 0 && (mode & FALLOC_FL_KEEP_SIZE) === 0) {
    throw new FsError('EOPNOTSUPP', 'fallocate: FALLOC_FL_PUNCH_HOLE needs FALLOC_FL_KEEP_SIZE');
  }
  checkPos('offset', offset);
  if (!Number.isInteger(len) || len <= 0) throw new FsError('EINVAL', `len: expected a positive integer, got ${String(len)}`);
  if (offset % BLOCK_SIZE !== 0 || len % BLOCK_SIZE !== 0) {
    throw new FsError('EINVAL', `fallocate: offset ${offset} and len ${len} must be multiples of the block size (${BLOCK_SIZE})`);
  }
  checkEnd('fallocate', offset + len);
  checkInUse(fs, ino);
  if ((mode & FALLOC_FL_PUNCH_HOLE) !== 0) return ext4_punch_hole(fs, ino, offset, len);
  for (let retries = 0; ; retries++) {
    try {
      return ext4_fallocate(fs, ino, mode, offset, len);
    } catch (e) {
      if (!(isFsError(e, 'ENOSPC') && ext4_should_retry_alloc(fs, retries))) throw e;
    }
  }
}

/** ext4_fallocate() -> ext4_alloc_file_blocks(): one handle per ext4_map_blocks() call, as the kernel loops. */
export function ext4_fallocate(fs: Fs, ino: number, mode: number, offset: number, len: number): void {
  const keep = (mode & FALLOC_FL_KEEP_SIZE) !== 0;
  let lblk = offset / BLOCK_SIZE;
  const endBlk = (offset + len) / BLOCK_SIZE;
  while (lblk < endBlk) {
    fs.ops.inode_transaction(fs, ino, fs.transCredits, (h) => {
      checkInUse(fs, ino);
      fs.map.m_lblk = lblk;
      fs.map.m_len = endBlk - lblk;
      ext4_map_blocks(fs, h, ino, fs.map, EXT4_GET_BLOCKS_CREATE_UNWRIT_EXT);
      lblk += fs.map.m_len;
      const epos = Math.min(lblk * BLOCK_SIZE, offset + len);
      if (!keep && epos > iSize(fs, ino)) {
        setSize(fs, h, ino, epos);
        markInodeChanged(fs, h, ino, XFS_ILOG_CORE);
      }
    });
  }
}

/**
 * ext4_punch_hole(): drops the DAX mappings of the range, then frees its blocks in one
 * handle, splitting the extents at its edges. Not clipped to i_size (XFS's rule; ext4 clips
 * at i_size rounded up). A transaction that frees blocks is ineligible for fast commit.
 */
export function ext4_punch_hole(fs: Fs, ino: number, offset: number, len: number): void {
  // i_mmap_sem for write: no fault may map the range again between the invalidate and the free.
  down_write_i_mmap_sem(fs, ino);
  try {
    fs.hooks.invalidate?.(fs, ino, offset, offset + len - 1);
    ext4_punch_hole_blocks(fs, ino, offset, len);
  } finally {
    up_write_i_mmap_sem(fs, ino);
  }
}

function ext4_punch_hole_blocks(fs: Fs, ino: number, offset: number, len: number): void {
  fs.ops.inode_transaction(fs, ino, fs.transCredits, (h) => {
    checkInUse(fs, ino);
    const freed = ext4_ext_remove_space(fs, h, ino, offset / BLOCK_SIZE, (offset + len) / BLOCK_SIZE);
    if (freed > 0) blocksFreed(fs, h, ino);
  });
}

function blocksFreed(fs: Fs, h: Handle | null, ino: number): void {
  if (h !== null) fs.ops.trans_freed_blocks(h);
  inodeWriteAccess(fs, h, ino);
  fs.mw[inodeWord(fs.g, ino) + INODE.i_mtime] = jiffies();
  ext4_mark_iloc_dirty(fs, h, ino);
  markInodeChanged(fs, h, ino, XFS_ILOG_CORE | XFS_ILOG_DEXT);
}

/** truncate(2): sets i_size; frees every block at or past the new end (ext4_setattr -> ext4_truncate; xfs_setattr_size). */
export function vfs_truncate(fs: Fs, ino: number, size: number): void {
  entry_SYSCALL_64(fs);
  checkIno(fs, ino);
  checkPos('size', size);
  checkEnd('truncate', size);
  checkInUse(fs, ino);
  ext4_truncate(fs, ino, size);
}

/**
 * ext4_truncate(): drops the DAX mappings past the new size, then in one handle zeroes the
 * tail of a partial last block on the device (ext4_block_truncate_page), frees the blocks
 * past it and sets i_size.
 */
export function ext4_truncate(fs: Fs, ino: number, size: number): void {
  down_write_i_mmap_sem(fs, ino);
  try {
    fs.hooks.invalidate?.(fs, ino, size, Number.MAX_SAFE_INTEGER);
    ext4_truncate_blocks(fs, ino, size);
  } finally {
    up_write_i_mmap_sem(fs, ino);
  }
}

function ext4_truncate_blocks(fs: Fs, ino: number, size: number): void {
  const endBlk = Math.ceil(size / BLOCK_SIZE);
  fs.ops.inode_transaction(fs, ino, fs.transCredits, (h) => {
    checkInUse(fs, ino);
    const tail = size % BLOCK_SIZE;
    if (tail !== 0 && size < iSize(fs, ino)) ext4_block_truncate_page(fs, ino, size);
    const freed = ext4_ext_remove_space(fs, h, ino, endBlk, FS_MAX_FILE_BLOCKS);
    setSize(fs, h, ino, size);
    if (freed > 0) blocksFreed(fs, h, ino);
    else touchMtime(fs, h, ino, jiffies());
    markInodeChanged(fs, h, ino, XFS_ILOG_CORE);
  });
}

/** ext4_block_truncate_page(): zeroes the bytes of the block holding `size` from `size` on, if written. */
function ext4_block_truncate_page(fs: Fs, ino: number, size: number): void {
  const lblk = Math.floor(size / BLOCK_SIZE);
  fs.map.m_lblk = lblk;
  fs.map.m_len = 1;
  ext4_map_blocks(fs, null, ino, fs.map, 0);
  if ((fs.map.m_flags & EXT4_MAP_MAPPED) === 0) return;
  const at = fs.map.m_pblk * BLOCK_SIZE + (size - lblk * BLOCK_SIZE);
  const n = BLOCK_SIZE - (size - lblk * BLOCK_SIZE);
  fs.dev.zero(at, n);
  fs.dev.flush(at, n);
  fs.dev.fence();
}

// ---- i_mmap_sem ----------------------------------------------------------------------

const MMAP_SEM = FS_INODE.mmapSemCount;

/** down_read(&EXT4_I(inode)->i_mmap_sem): a DAX fault keeps truncate and punch out. */
export function down_read_i_mmap_sem(fs: Fs, ino: number): void {
  down_read(fs.cpu, fs.inodes, ino * FS_INODE.stride + MMAP_SEM, LOCK_CLASS.i_mmap_sem);
}

export function up_read_i_mmap_sem(fs: Fs, ino: number): void {
  up_read(fs.cpu, fs.inodes, ino * FS_INODE.stride + MMAP_SEM);
}

/** down_write(&EXT4_I(inode)->i_mmap_sem): truncate and punch wait for running faults and block new ones. */
export function down_write_i_mmap_sem(fs: Fs, ino: number): void {
  down_write(fs.cpu, fs.inodes, ino * FS_INODE.stride + MMAP_SEM, LOCK_CLASS.i_mmap_sem);
}

export function up_write_i_mmap_sem(fs: Fs, ino: number): void {
  up_write(fs.cpu, fs.inodes, ino * FS_INODE.stride + MMAP_SEM);
}

// ---- fsync ---------------------------------------------------------------------------

/** fsync(2) / fdatasync(2) of the whole file (the system call: vfs_fsync_range is the kernel's internal entry). */
export function vfs_fsync(fs: Fs, ino: number, datasync: boolean): void {
  entry_SYSCALL_64(fs);
  vfs_fsync_range(fs, ino, 0, Number.MAX_SAFE_INTEGER, datasync);
}

/**
 * vfs_fsync_range(): data of bytes [start, end] (end inclusive) through the writeback hook,
 * then the metadata: ext4 commits up to i_datasync_tid (fdatasync) or i_sync_tid (fsync);
 * ext4 without a journal writes its dirty buffers home; xfs forces the log up to the
 * inode's last change.
 */
export function vfs_fsync_range(fs: Fs, ino: number, start: number, end: number, datasync: boolean): void {
  checkIno(fs, ino);
  checkPos('start', start);
  checkPos('end', end);
  if (end < start) throw new FsError('EINVAL', `fsync: end ${end} is before start ${start}`);
  checkInUse(fs, ino);
  fs.ops.fsync(fs, ino, start, end, datasync);
}

/** file_write_and_wait_range(): the writeback hook, or by default a flush of the range's written blocks. */
export function file_write_and_wait_range(fs: Fs, ino: number, start: number, end: number): void {
  if (fs.hooks.writeback !== null) {
    fs.hooks.writeback(fs, ino, start, end);
    return;
  }
  const first = Math.floor(start / BLOCK_SIZE);
  const last = Math.min(Math.floor(end / BLOCK_SIZE), FS_MAX_FILE_BLOCKS - 1);
  lockInode(fs, ino);
  try {
    const n = extCount(fs, ino);
    for (let e = Math.max(0, ext4_ext_find_extent(fs, ino, first, n)); e < n; e++) {
      const b = eeBlock(fs, ino, e);
      if (b > last) break;
      const l = eeLen(fs, ino, e);
      if (eeFlags(fs, ino, e) !== 0 || b + l <= first) continue;
      const from = Math.max(b, first);
      const to = Math.min(b + l - 1, last);
      fs.dev.flush((eeStart(fs, ino, e) + from - b) * BLOCK_SIZE, (to - from + 1) * BLOCK_SIZE);
    }
  } finally {
    unlockInode(fs, ino);
  }
  fs.dev.fence();
}

/** ext4_sync_file(): data, then jbd2_complete_transaction() (ext4_fc_commit() under fast commit). */
export function ext4_sync_file(fs: Fs, ino: number, start: number, end: number, datasync: boolean): void {
  file_write_and_wait_range(fs, ino, start, end);
  const j = fs.journal;
  if (j === null) {
    ext4_fsync_nojournal(fs, ino, datasync);
    return;
  }
  const b = ino * FS_INODE.stride;
  lockInode(fs, ino);
  const tid = fs.inodes[b + (datasync ? FS_INODE.i_datasync_tid : FS_INODE.i_sync_tid)];
  unlockInode(fs, ino);
  ext4_fc_commit(j, ino, tid);
}

/**
 * ext4_fsync_nojournal(): sync_mapping_buffers() writes the inode's dirty extent blocks home;
 * then the bitmap blocks its allocations changed (ext4 leaves those to writeback and e2fsck;
 * the lab writes them so that a synced file checks clean); then sync_inode_metadata() writes
 * its record when I_DIRTY_DATASYNC (or, for fsync, I_DIRTY_SYNC). One fence at the end.
 */
export function ext4_fsync_nojournal(fs: Fs, ino: number, datasync: boolean): void {
  const g = fs.g;
  const b = ino * FS_INODE.stride;
  lockInode(fs, ino);
  try {
    const mapped = Atomics.load(fs.inodes, b + FS_INODE.dirtyBuffers) !== 0;
    for (let k = 0; k < g.extentBlocksPerInode; k++) write_dirty_buffer(fs, extentBlock(g, ino, k));
    if (mapped) {
      for (let k = 0; k < g.bitmapBlocks; k++) {
        ext4_lock_group(fs, k);
        try {
          write_dirty_buffer(fs, g.bitmapStart + k);
        } finally {
          ext4_unlock_group(fs, k);
        }
      }
    }
    const fields = fs.inodes[b + FS_INODE.fsyncFields];
    if ((datasync ? fields & ~XFS_ILOG_TIMESTAMP : fields) !== 0) {
      fs.inodes[b + FS_INODE.fsyncFields] = 0;
      ext4_write_inode(fs, ino);
    }
    fs.dev.fence();
  } finally {
    unlockInode(fs, ino);
  }
}

/**
 * ext4_write_inode(): writes the inode's record home (store + flush; the caller fences).
 * The kernel writes the record's whole inode-table block, other inodes' records included;
 * those carry their extents inline for small files and so stay self-consistent. Here
 * extents live in their own blocks, so only the inode's own 256 bytes go, lest another
 * inode's record reach the device without the extent blocks it describes.
 */
export function ext4_write_inode(fs: Fs, ino: number): void {
  const off = inodeWord(fs.g, ino) * 4;
  fs.dev.store(off, fs.meta.subarray(off, off + INODE.stride * 4));
  fs.dev.flush(off, INODE.stride * 4);
}

/**
 * xfs_file_fsync(): forces the log up to ili_last_lsn when the inode is pinned (for
 * fdatasync only when fields other than timestamps are dirty), then clears
 * ili_fsync_fields. XFS holds ILOCK_SHARED across the force; the lab's ILOCK is exclusive
 * and a handle waiting for it would hold up the commit, so it drops the lock to wait and
 * clears the fields only if no newer change is still pinned.
 */
export function xfs_file_fsync(fs: Fs, ino: number, start: number, end: number, datasync: boolean): void {
  file_write_and_wait_range(fs, ino, start, end);
  const b = ino * FS_INODE.stride;
  let lsn = 0;
  xfs_ilock(fs, ino);
  try {
    if (xfs_ipincount(fs, ino) !== 0 && (!datasync || (fs.inodes[b + FS_INODE.fsyncFields] & ~XFS_ILOG_TIMESTAMP) !== 0)) {
      lsn = fs.inodes[b + FS_INODE.lastLsn];
    }
  } finally {
    xfs_iunlock(fs, ino);
  }
  if (lsn === 0) return;
  xfs_log_force_seq(fs.journal!, lsn, jbd2_complete_transaction);
  xfs_ilock(fs, ino);
  if (xfs_ipincount(fs, ino) === 0) fs.inodes[b + FS_INODE.fsyncFields] = 0;
  xfs_iunlock(fs, ino);
}

// ---- inspection ----------------------------------------------------------------------

export interface ExtentInfo {
  lblk: number;
  pblk: number;
  len: number;
  unwritten: boolean;
}

export interface InodeInfo {
  size: number;
  /** i_blocks: blocks mapped, written or unwritten. */
  blocks: number;
  extents: ExtentInfo[];
}

/** The inode's size and extents (for tests and reports; allocates). */
export function inodeInfo(fs: Fs, ino: number): InodeInfo {
  checkIno(fs, ino);
  lockInode(fs, ino);
  try {
    checkInUse(fs, ino);
    const n = extCount(fs, ino);
    const extents: ExtentInfo[] = [];
    for (let e = 0; e < n; e++) {
      extents.push({ lblk: eeBlock(fs, ino, e), pblk: eeStart(fs, ino, e), len: eeLen(fs, ino, e), unwritten: eeFlags(fs, ino, e) !== 0 });
    }
    return { size: iSize(fs, ino), blocks: fs.mw[inodeWord(fs.g, ino) + INODE.i_blocks], extents };
  } finally {
    unlockInode(fs, ino);
  }
}
