// The block allocator (fs/ext4/mballoc.c reduced to its next-fit core): the bitmap lives in
// fsMeta's bitmap blocks, one per allocation group of 32768 blocks; FS_ALLOC in views.fsAlloc
// keeps the free count and the stream goal (sbi->s_mb_last_group/s_mb_last_start).
//
// Locking rules: as super.ts. The bitmap words, FS_ALLOC.freeBlocks and FS_ALLOC.goal change
// only under ext4_group_lock (views.fsAlloc's lock words), which nests inside the caller's
// i_data_sem. Write access to a group's bitmap block is taken before the group lock, as
// ext4_mb_mark_diskspace_used() does, and the block is filed in the handle after it.
// Nothing here sleeps but the lock itself.
//
// Simplification: ext4 keeps a freed block out of reach until the transaction that freed it
// commits (ext4_mb_free_metadata); here a freed block is reusable at once, so after a crash
// an uncommitted punch can leave a file pointing at a block another file already wrote.

import { FS_ALLOC, LOCK_CLASS } from '../machine/layout.js';
import type { Handle } from '../journal/journal.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { FsError } from './errno.js';
import { BITS_PER_BITMAP_BLOCK, bitmapWord } from './ondisk.js';
import { ext4_handle_dirty_metadata, ext4_journal_get_write_access, type Fs } from './super.js';

/** ext4_lock_group(). */
export function ext4_lock_group(fs: Fs): void {
  spin_lock(fs.cpu, fs.alloc, FS_ALLOC.lockState, LOCK_CLASS.ext4_group_lock);
}

/** ext4_unlock_group(). */
export function ext4_unlock_group(fs: Fs): void {
  spin_unlock(fs.cpu, fs.alloc, FS_ALLOC.lockState, LOCK_CLASS.ext4_group_lock);
}

/** Free data blocks (ext4_count_free_clusters, from the allocator's counter). */
export function freeBlocks(fs: Fs): number {
  return Atomics.load(fs.alloc, FS_ALLOC.freeBlocks);
}

/**
 * ext4_mb_new_blocks(): allocates up to `want` contiguous blocks, at `goal` if it is free,
 * else at the first free block after it (next-fit, wrapping once around the device), within
 * one allocation group. Returns the first block and leaves the count in fs.allocLen.
 * Throws ENOSPC when no block is free. Called with i_data_sem held.
 */
export function ext4_mb_new_blocks(fs: Fs, h: Handle | null, goal: number, want: number): number {
  const g = fs.g;
  const a = fs.alloc;
  if (Atomics.load(a, FS_ALLOC.freeBlocks) <= 0) throw new FsError('ENOSPC', 'no free blocks on the device');
  if (!(goal >= g.dataStart && goal < g.nblocks)) goal = Atomics.load(a, FS_ALLOC.goal);
  if (!(goal >= g.dataStart && goal < g.nblocks)) goal = g.dataStart;
  const groups = g.bitmapBlocks;
  const g0 = Math.floor(goal / BITS_PER_BITMAP_BLOCK);
  for (let i = 0; i <= groups; i++) {
    const grp = (g0 + i) % groups;
    let from = grp * BITS_PER_BITMAP_BLOCK;
    let to = Math.min(from + BITS_PER_BITMAP_BLOCK, g.nblocks);
    if (i === 0) from = goal;
    else if (i === groups) to = goal; // back in the goal's group: the part before the goal
    if (from < g.dataStart) from = g.dataStart;
    if (from >= to) continue;
    const block = g.bitmapStart + grp;
    ext4_journal_get_write_access(fs, h, block);
    ext4_lock_group(fs);
    const start = findZeroBit(fs, from, to);
    if (start < 0) {
      ext4_unlock_group(fs);
      continue;
    }
    const len = zeroRun(fs, start, Math.min(to, start + want));
    setBits(fs, start, len, true);
    a[FS_ALLOC.freeBlocks] -= len;
    a[FS_ALLOC.goal] = start + len < g.nblocks ? start + len : g.dataStart;
    ext4_unlock_group(fs);
    ext4_handle_dirty_metadata(fs, h, -1, block);
    fs.allocLen = len;
    return start;
  }
  throw new FsError('ENOSPC', 'no free blocks on the device');
}

/** ext4_free_blocks(): returns blocks [pblk, pblk + count) to the bitmap. Called with i_data_sem held. */
export function ext4_free_blocks(fs: Fs, h: Handle | null, pblk: number, count: number): void {
  const g = fs.g;
  if (!(pblk >= g.dataStart && count > 0 && pblk + count <= g.nblocks)) {
    throw new Error(`ext4_free_blocks: blocks ${pblk}+${count} are not data blocks`);
  }
  let b = pblk;
  const end = pblk + count;
  while (b < end) {
    const grp = Math.floor(b / BITS_PER_BITMAP_BLOCK);
    const segEnd = Math.min(end, (grp + 1) * BITS_PER_BITMAP_BLOCK);
    const block = g.bitmapStart + grp;
    ext4_journal_get_write_access(fs, h, block);
    ext4_lock_group(fs);
    for (let x = b; x < segEnd; x++) {
      if ((fs.mw[bitmapWord(g, x)] & (1 << (x & 31))) === 0) {
        ext4_unlock_group(fs);
        throw new Error(`ext4_free_blocks: block ${x} is already free (bitmap and extents disagree)`);
      }
    }
    setBits(fs, b, segEnd - b, false);
    fs.alloc[FS_ALLOC.freeBlocks] += segEnd - b;
    ext4_unlock_group(fs);
    ext4_handle_dirty_metadata(fs, h, -1, block);
    b = segEnd;
  }
}

/** The first clear bit in [from, to), or -1. */
function findZeroBit(fs: Fs, from: number, to: number): number {
  const w = fs.mw;
  const base = bitmapWord(fs.g, 0);
  let b = from;
  while (b < to) {
    const free = ~w[base + (b >>> 5)] & (-1 << (b & 31));
    if (free === 0) {
      b = (b | 31) + 1;
      continue;
    }
    const at = (b & ~31) + (31 - Math.clz32(free & -free));
    return at < to ? at : -1;
  }
  return -1;
}

/** Length of the run of clear bits starting at `start` (clear), stopping at `limit`. */
function zeroRun(fs: Fs, start: number, limit: number): number {
  const w = fs.mw;
  const base = bitmapWord(fs.g, 0);
  let b = start;
  while (b < limit) {
    if ((b & 31) === 0 && b + 32 <= limit && w[base + (b >>> 5)] === 0) {
      b += 32;
      continue;
    }
    if ((w[base + (b >>> 5)] & (1 << (b & 31))) !== 0) break;
    b++;
  }
  return b - start;
}

function setBits(fs: Fs, start: number, len: number, on: boolean): void {
  const w = fs.mw;
  const base = bitmapWord(fs.g, 0);
  let b = start;
  const end = start + len;
  while (b < end) {
    const n = Math.min(32 - (b & 31), end - b);
    const mask = (n === 32 ? -1 : ((1 << n) - 1)) << (b & 31);
    const at = base + (b >>> 5);
    w[at] = on ? w[at] | mask : w[at] & ~mask;
    b += n;
  }
}
