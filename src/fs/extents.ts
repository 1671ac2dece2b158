// An inode's block map (fs/ext4/extents.c over the lab's flat extent array, ondisk.ts):
// lookup, insertion with merging, unwritten -> written conversion, removal of a range, and
// ext4_map_blocks(), the one entry point through which every operation maps or allocates.
//
// Locking rules: as super.ts. Every function here expects the caller to hold the inode's
// i_data_sem and, when it changes anything, an open handle (or none, without a journal);
// the allocator's group locks are taken inside (balloc.ts). Each change of the map charges
// extentNs (extSplice). Block zeroing happens under i_data_sem
// (the kernel zeroes after dropping it and relies on the extent status tree and DAX entry
// locks; the lab has neither, so it keeps the window closed).
//
// Every change goes through extSplice(), which checks the inode's extent capacity before it
// touches anything, so a change that does not fit fails with ENOSPC and leaves the map as it
// was. Hot lookups (ext4_ext_find_extent) are a binary search over fsMeta words: no objects.

import { BLOCK_SIZE } from '../machine/layout.js';
import type { Handle } from '../journal/journal.js';
import { charge } from '../sync/vclock.js';
import { STEP, stepEnter, stepLeave } from '../measure/steps.js';
import { FsError } from './errno.js';
import {
  EXTENTS_PER_BLOCK,
  EXTENT_HEADER,
  EXT_INIT_MAX_LEN,
  EXT_UNWRITTEN,
  EXT_UNWRITTEN_MAX_LEN,
  EXTENT,
  FS_MAX_FILE_BLOCKS,
  INODE,
  WORDS_PER_BLOCK,
  extentBlock,
  extentWord,
  inodeWord,
} from './ondisk.js';
import { ext4_free_blocks, ext4_inode_to_goal_block, ext4_mb_new_blocks } from './balloc.js';
import {
  XFS_ILOG_CORE,
  XFS_ILOG_DEXT,
  ext4_handle_dirty_metadata,
  ext4_journal_get_write_access,
  ext4_mark_iloc_dirty,
  inodeWriteAccess,
  markInodeChanged,
  type Fs,
  type MapBlocks,
} from './super.js';

// ext4_map_blocks() flags (EXT4_GET_BLOCKS_*).
export const EXT4_GET_BLOCKS_CREATE = 0x1;
export const EXT4_GET_BLOCKS_UNWRIT_EXT = 0x2;
export const EXT4_GET_BLOCKS_CREATE_UNWRIT_EXT = EXT4_GET_BLOCKS_CREATE | EXT4_GET_BLOCKS_UNWRIT_EXT;
export const EXT4_GET_BLOCKS_ZERO = 0x200;
export const EXT4_GET_BLOCKS_CREATE_ZERO = EXT4_GET_BLOCKS_CREATE | EXT4_GET_BLOCKS_ZERO;

// map.m_flags (EXT4_MAP_*): none set means a hole.
export const EXT4_MAP_NEW = 0x1;
export const EXT4_MAP_MAPPED = 0x2;
export const EXT4_MAP_UNWRITTEN = 0x4;

const EPB = EXTENTS_PER_BLOCK;
const X = EXTENT.stride;

// ---- reading -------------------------------------------------------------------------

/** Extents the inode holds (the sum of its extent blocks' eh_entries, which fill in order). */
export function extCount(fs: Fs, ino: number): number {
  const w = fs.mw;
  let n = 0;
  for (let k = 0; k < fs.g.extentBlocksPerInode; k++) {
    const e = w[extentBlock(fs.g, ino, k) * WORDS_PER_BLOCK + EXTENT_HEADER.eh_entries];
    n += e;
    if (e < EPB) break;
  }
  return n;
}

export function eeBlock(fs: Fs, ino: number, e: number): number {
  return fs.mw[extentWord(fs.g, ino, e) + EXTENT.ee_block];
}
export function eeStart(fs: Fs, ino: number, e: number): number {
  return fs.mw[extentWord(fs.g, ino, e) + EXTENT.ee_start];
}
export function eeLen(fs: Fs, ino: number, e: number): number {
  return fs.mw[extentWord(fs.g, ino, e) + EXTENT.ee_len];
}
export function eeFlags(fs: Fs, ino: number, e: number): number {
  return fs.mw[extentWord(fs.g, ino, e) + EXTENT.ee_flags];
}

/** ext4_ext_find_extent(): index of the last of the n extents starting at or before lblk, or -1. */
export function ext4_ext_find_extent(fs: Fs, ino: number, lblk: number, n: number): number {
  let lo = 0;
  let hi = n - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (eeBlock(fs, ino, mid) <= lblk) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

// ---- changing ------------------------------------------------------------------------

/** Writes extent record x of the scratch list fs.ext. */
function extPut(fs: Fs, x: number, lblk: number, pblk: number, len: number, flags: number): void {
  const o = x * X;
  fs.ext[o + EXTENT.ee_block] = lblk;
  fs.ext[o + EXTENT.ee_start] = pblk;
  fs.ext[o + EXTENT.ee_len] = len;
  fs.ext[o + EXTENT.ee_flags] = flags;
}

/**
 * Replaces extents [pos, pos + del) of the inode's n with the first `add` records of
 * fs.ext, shifting the rest; returns the new count. ENOSPC, before any change, when the
 * result would not fit the inode's extent blocks.
 */
export function extSplice(fs: Fs, h: Handle | null, ino: number, n: number, pos: number, del: number, add: number): number {
  const n2 = n - del + add;
  if (n2 > fs.maxExtents) {
    throw new FsError('ENOSPC', `inode ${ino}: its extent map is full (${fs.maxExtents} extents in ${fs.g.extentBlocksPerInode} blocks)`);
  }
  if (del === 0 && add === 0) return n;
  // One change of the map (ext4_ext_insert_extent, ext4_ext_convert_to_initialized or
  // ext4_ext_remove_space): its path and the inode marked dirty, the extent status tree.
  if (fs.extentNs > 0) charge(fs.extentNs);
  const g = fs.g;
  const w = fs.mw;
  const last = Math.max(n, n2);
  const k0 = Math.floor(pos / EPB);
  const k1 = Math.floor((last - 1) / EPB);
  for (let k = k0; k <= k1; k++) ext4_journal_get_write_access(fs, h, extentBlock(g, ino, k));

  const tail = n - pos - del;
  if (add > del) {
    for (let t = tail - 1; t >= 0; t--) copyExtent(w, extentWord(g, ino, pos + del + t), extentWord(g, ino, pos + add + t));
  } else if (add < del) {
    for (let t = 0; t < tail; t++) copyExtent(w, extentWord(g, ino, pos + del + t), extentWord(g, ino, pos + add + t));
  }
  for (let x = 0; x < add; x++) {
    const to = extentWord(g, ino, pos + x);
    for (let f = 0; f < X; f++) w[to + f] = fs.ext[x * X + f];
  }
  for (let e = n2; e < n; e++) w.fill(0, extentWord(g, ino, e), extentWord(g, ino, e) + X);
  for (let k = k0; k <= k1; k++) {
    w[extentBlock(g, ino, k) * WORDS_PER_BLOCK + EXTENT_HEADER.eh_entries] = Math.max(0, Math.min(EPB, n2 - k * EPB));
  }
  for (let k = k0; k <= k1; k++) ext4_handle_dirty_metadata(fs, h, ino, extentBlock(g, ino, k));
  return n2;
}

function copyExtent(w: Int32Array, from: number, to: number): void {
  w[to] = w[from];
  w[to + 1] = w[from + 1];
  w[to + 2] = w[from + 2];
  w[to + 3] = w[from + 3];
}

function maxLen(flags: number): number {
  return (flags & EXT_UNWRITTEN) !== 0 ? EXT_UNWRITTEN_MAX_LEN : EXT_INIT_MAX_LEN;
}

/**
 * ext4_ext_insert_extent(): puts extent (lblk, pblk, len, flags), which lies in a hole,
 * before extent `pos`, merged with its neighbours when they are logically and physically
 * contiguous and of the same kind (ext4_ext_try_to_merge). Returns the new count.
 */
export function ext4_ext_insert_extent(
  fs: Fs,
  h: Handle | null,
  ino: number,
  n: number,
  pos: number,
  lblk: number,
  pblk: number,
  len: number,
  flags: number,
): number {
  const max = maxLen(flags);
  let left = 0;
  if (pos > 0) {
    const l = pos - 1;
    const ll = eeLen(fs, ino, l);
    if (eeFlags(fs, ino, l) === flags && eeBlock(fs, ino, l) + ll === lblk && eeStart(fs, ino, l) + ll === pblk && ll + len <= max) left = ll;
  }
  let right = 0;
  if (pos < n) {
    const rl = eeLen(fs, ino, pos);
    if (eeFlags(fs, ino, pos) === flags && lblk + len === eeBlock(fs, ino, pos) && pblk + len === eeStart(fs, ino, pos) && left + len + rl <= max) right = rl;
  }
  extPut(fs, 0, lblk - left, pblk - left, left + len + right, flags);
  return extSplice(fs, h, ino, n, left > 0 ? pos - 1 : pos, (left > 0 ? 1 : 0) + (right > 0 ? 1 : 0), 1);
}

/**
 * ext4_ext_convert_to_initialized(): turns blocks [lblk, lblk + len) of unwritten extent i
 * into a written extent, splitting it and merging the written part with written neighbours.
 * When the split does not fit the extent map, it zeroes the rest of the extent and converts
 * all of it (ext4_split_extent_at's EXT4_EXT_MAY_ZEROOUT fallback). Returns the new count.
 */
export function ext4_ext_convert_to_initialized(fs: Fs, h: Handle | null, ino: number, n: number, i: number, lblk: number, len: number): number {
  const b = eeBlock(fs, ino, i);
  const p = eeStart(fs, ino, i);
  const l = eeLen(fs, ino, i);
  const aLen = lblk - b;
  const cLen = b + l - lblk - len;
  const pB = p + aLen;
  let left = 0;
  if (aLen === 0 && i > 0) {
    const ll = eeLen(fs, ino, i - 1);
    if (eeFlags(fs, ino, i - 1) === 0 && eeBlock(fs, ino, i - 1) + ll === lblk && eeStart(fs, ino, i - 1) + ll === pB && ll + len <= EXT_INIT_MAX_LEN) left = ll;
  }
  let right = 0;
  if (cLen === 0 && i + 1 < n) {
    const rl = eeLen(fs, ino, i + 1);
    if (eeFlags(fs, ino, i + 1) === 0 && lblk + len === eeBlock(fs, ino, i + 1) && pB + len === eeStart(fs, ino, i + 1) && left + len + rl <= EXT_INIT_MAX_LEN) right = rl;
  }
  const del = 1 + (left > 0 ? 1 : 0) + (right > 0 ? 1 : 0);
  const add = (aLen > 0 ? 1 : 0) + 1 + (cLen > 0 ? 1 : 0);
  if (n - del + add > fs.maxExtents) {
    // ext4_ext_zeroout(): no room to split, so zero the parts not asked for and convert it all.
    if (aLen > 0) ext4_issue_zeroout(fs, p, aLen);
    if (cLen > 0) ext4_issue_zeroout(fs, pB + len, cLen);
    return ext4_ext_convert_to_initialized(fs, h, ino, n, i, b, l);
  }
  let x = 0;
  if (aLen > 0) extPut(fs, x++, b, p, aLen, EXT_UNWRITTEN);
  extPut(fs, x++, lblk - left, pB - left, left + len + right, 0);
  if (cLen > 0) extPut(fs, x++, lblk + len, pB + len, cLen, EXT_UNWRITTEN);
  return extSplice(fs, h, ino, n, left > 0 ? i - 1 : i, del, add);
}

/**
 * ext4_ext_remove_space(): unmaps logical blocks [start, end) and frees their physical
 * blocks, splitting the extents at the edges. Returns the blocks freed. ENOSPC, with nothing
 * changed, when splitting one extent in two does not fit the extent map.
 */
export function ext4_ext_remove_space(fs: Fs, h: Handle | null, ino: number, start: number, end: number): number {
  const n = extCount(fs, ino);
  if (n === 0 || start >= end) return 0;
  let i0 = ext4_ext_find_extent(fs, ino, start, n);
  if (i0 < 0 || eeBlock(fs, ino, i0) + eeLen(fs, ino, i0) <= start) i0++;
  const i1 = ext4_ext_find_extent(fs, ino, end - 1, n);
  if (i1 < i0) return 0;

  // What is left of the first and last extents.
  let x = 0;
  const b0 = eeBlock(fs, ino, i0);
  if (b0 < start) extPut(fs, x++, b0, eeStart(fs, ino, i0), start - b0, eeFlags(fs, ino, i0));
  const b1 = eeBlock(fs, ino, i1);
  const e1 = b1 + eeLen(fs, ino, i1);
  if (e1 > end) extPut(fs, x++, end, eeStart(fs, ino, i1) + (end - b1), e1 - end, eeFlags(fs, ino, i1));
  if (n - (i1 - i0 + 1) + x > fs.maxExtents) {
    throw new FsError('ENOSPC', `inode ${ino}: its extent map is full (${fs.maxExtents} extents); cannot split an extent to punch`);
  }

  // The physical ranges to free, collected before the map changes.
  const ranges = i1 - i0 + 1;
  if (fs.freed.length < ranges * 2) fs.freed = new Int32Array(Math.max(ranges * 2, fs.freed.length * 2));
  let freedBlocks = 0;
  for (let e = i0; e <= i1; e++) {
    const b = eeBlock(fs, ino, e);
    const from = Math.max(b, start);
    const to = Math.min(b + eeLen(fs, ino, e), end);
    fs.freed[(e - i0) * 2] = eeStart(fs, ino, e) + (from - b);
    fs.freed[(e - i0) * 2 + 1] = to - from;
    freedBlocks += to - from;
  }
  extSplice(fs, h, ino, n, i0, ranges, x);
  for (let r = 0; r < ranges; r++) ext4_free_blocks(fs, h, fs.freed[r * 2], fs.freed[r * 2 + 1]);
  addBlocks(fs, h, ino, -freedBlocks);
  return freedBlocks;
}

/** i_blocks += delta, as a change to the inode's record. */
function addBlocks(fs: Fs, h: Handle | null, ino: number, delta: number): void {
  inodeWriteAccess(fs, h, ino);
  fs.mw[inodeWord(fs.g, ino) + INODE.i_blocks] += delta;
  ext4_mark_iloc_dirty(fs, h, ino);
}

/**
 * ext4_ext_find_goal(): the block physically where lblk would continue its neighbour extent
 * i; with no extent yet, ext4_inode_to_goal_block() (-1: none).
 */
function ext4_ext_find_goal(fs: Fs, ino: number, n: number, i: number, lblk: number): number {
  const e = i >= 0 ? i : n > 0 ? 0 : -1;
  if (e < 0) return ext4_inode_to_goal_block(fs);
  const goal = eeStart(fs, ino, e) + (lblk - eeBlock(fs, ino, e));
  return goal >= fs.g.dataStart && goal < fs.g.nblocks ? goal : -1;
}

/**
 * ext4_issue_zeroout(): zeroes blocks on the device and makes the zeroes durable (the pmem
 * driver's write_pmem of the zero page: non-temporal stores, then wmb), charging zeroBlockNs
 * per block under the caller's i_data_sem. The `alloc+zero` step of an attributed operation.
 */
export function ext4_issue_zeroout(fs: Fs, pblk: number, len: number): void {
  stepEnter(STEP.alloc_zero);
  fs.dev.zero(pblk * BLOCK_SIZE, len * BLOCK_SIZE);
  fs.dev.flushcache(pblk * BLOCK_SIZE, len * BLOCK_SIZE);
  fs.dev.fence();
  if (fs.zeroBlockNs > 0) charge(fs.zeroBlockNs * len);
  stepLeave();
}

/**
 * ext4_map_blocks(): maps up to map.m_len blocks from map.m_lblk. Without
 * EXT4_GET_BLOCKS_CREATE it only looks: the result is a written extent (MAPPED), an
 * unwritten one (UNWRITTEN) or a hole (m_flags 0, m_len up to the next extent). With CREATE
 * it allocates a hole (unwritten with UNWRIT_EXT, for fallocate; written otherwise) and
 * converts an unwritten extent to written (unless UNWRIT_EXT), setting EXT4_MAP_NEW; with
 * EXT4_GET_BLOCKS_ZERO the new written blocks are zeroed on the device first (DAX:
 * EXT4_GET_BLOCKS_CREATE_ZERO). Returns m_len, at least 1. Called with i_data_sem held.
 */
export function ext4_map_blocks(fs: Fs, h: Handle | null, ino: number, map: MapBlocks, flags: number): number {
  const lblk = map.m_lblk;
  const n = extCount(fs, ino);
  const i = ext4_ext_find_extent(fs, ino, lblk, n);
  if (i >= 0) {
    const b = eeBlock(fs, ino, i);
    const l = eeLen(fs, ino, i);
    if (lblk < b + l) {
      const len = Math.min(map.m_len, b + l - lblk);
      const pblk = eeStart(fs, ino, i) + (lblk - b);
      map.m_len = len;
      map.m_pblk = pblk;
      if (eeFlags(fs, ino, i) === 0) {
        map.m_flags = EXT4_MAP_MAPPED;
        return len;
      }
      if ((flags & EXT4_GET_BLOCKS_CREATE) === 0 || (flags & EXT4_GET_BLOCKS_UNWRIT_EXT) !== 0) {
        map.m_flags = EXT4_MAP_UNWRITTEN;
        return len;
      }
      // ext4_ext_handle_unwritten_extents(): the first write converts.
      if ((flags & EXT4_GET_BLOCKS_ZERO) !== 0) ext4_issue_zeroout(fs, pblk, len);
      ext4_ext_convert_to_initialized(fs, h, ino, n, i, lblk, len);
      markInodeChanged(fs, h, ino, XFS_ILOG_DEXT);
      map.m_flags = EXT4_MAP_MAPPED | EXT4_MAP_NEW;
      return len;
    }
  }
  const next = i + 1 < n ? eeBlock(fs, ino, i + 1) : FS_MAX_FILE_BLOCKS;
  let len = Math.min(map.m_len, next - lblk);
  if ((flags & EXT4_GET_BLOCKS_CREATE) === 0) {
    map.m_len = len;
    map.m_pblk = 0;
    map.m_flags = 0;
    return len;
  }
  const unwritten = (flags & EXT4_GET_BLOCKS_UNWRIT_EXT) !== 0;
  const eflags = unwritten ? EXT_UNWRITTEN : 0;
  len = Math.min(len, maxLen(eflags));
  const pblk = ext4_mb_new_blocks(fs, h, ext4_ext_find_goal(fs, ino, n, i, lblk), len);
  const got = fs.allocLen;
  try {
    ext4_ext_insert_extent(fs, h, ino, n, i + 1, lblk, pblk, got, eflags);
  } catch (e) {
    ext4_free_blocks(fs, h, pblk, got);
    throw e;
  }
  if (!unwritten && (flags & EXT4_GET_BLOCKS_ZERO) !== 0) ext4_issue_zeroout(fs, pblk, got);
  addBlocks(fs, h, ino, got);
  markInodeChanged(fs, h, ino, XFS_ILOG_CORE | XFS_ILOG_DEXT);
  map.m_len = got;
  map.m_pblk = pblk;
  map.m_flags = EXT4_MAP_NEW | (unwritten ? EXT4_MAP_UNWRITTEN : EXT4_MAP_MAPPED);
  return got;
}
