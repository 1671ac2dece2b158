// The block allocator (fs/ext4/mballoc.c reduced to its search order): the bitmap lives in
// fsMeta's bitmap blocks, one per allocation group of 32768 blocks (128 MiB); FS_ALLOC in
// views.fsAlloc keeps the free count and the stream goal (sbi->s_mb_last_group/start).
//
// The search, as ext4_mb_regular_allocator() orders it:
//  1. ext4_mb_find_by_goal(): the whole request at the goal (the block after the inode's
//     neighbouring extent, or its group's first block: ext4_inode_to_goal_block()), or nothing.
//  2. A request of 2^k >= 4 blocks (s_mb_order2_reqs): ext4_mb_simple_scan_group(), the first
//     free 2^k-aligned run of 2^k blocks (a buddy of that order), group by group from the
//     stream goal's group. A 2 MiB PMD fault into a hole gets its aligned extent here.
//  3. Anything free, next-fit from the stream goal, the run cut at `want` (the lab's stand-in for
//     ext4_mb_complex_scan_group's criteria 1-3, which look for the best extent in a group).
// Today's mballoc names the criteria CR_POWER2_ALIGNED, CR_GOAL_LEN_FAST, CR_BEST_AVAIL_LEN,
// CR_GOAL_LEN_SLOW and CR_ANY_FREE and picks groups from per-order lists; the order is the same.
// Not modelled: the inode and locality-group preallocations (ext4_mb_use_preallocated; a
// request is not normalised to a preallocation), the buddy's own orders beyond the bitmap, and
// ext4_mb_good_group()'s lockless skip of full groups (each group tried is searched).
//
// Injected costs: allocNs per allocation call outside any group lock (the context, the
// normalisation, the preallocation lookup, the buddy load); mbSearchNs per group searched,
// under that group's ext4_lock_group (the search, mb_mark_used and mb_set_bits with the
// checksums; the kernel takes the lock twice, for the search and for
// ext4_mb_mark_diskspace_used, the lab once, since its bitmap is both the buddy and the
// on-disk bitmap); allocJournalNs per allocation or freed range after the lock (the bitmap and
// group descriptor journalled). The extent change is extents.ts's (extentNs).
//
// Locking rules: as super.ts. A group's bitmap words and busy bits change only under that
// group's lock (views.fsGroups, class ext4_group_lock, one lock per group as
// ext4_lock_group() has it; xfs's allocation groups have their AGF buffer lock the same way),
// which nests inside the caller's i_data_sem; a CPU holds one group lock at a time.
// FS_ALLOC's counters change with Atomics (the kernel's percpu s_freeclusters_counter and
// s_md_lock). Write access to a group's bitmap block is taken before its lock, and the block
// is filed in the handle after it. Nothing here sleeps but the locks themselves.
//
// Busy blocks: a block freed inside a journal handle stays out of reach until the
// transaction that freed it commits (ext4_mb_free_metadata; XFS: xfs_extent_busy_insert), or
// after a crash the file that still maps it could see another file's data. views.fsBusy is a
// bitmap of such blocks and fsBusyTid the tid that freed each; both change under the group
// lock, and the allocator forgets a busy block lazily once its tid is committed. An
// allocation that finds only busy blocks fails with ENOSPC; its caller, holding no handle,
// asks ext4_should_retry_alloc() to commit the freeing transaction and tries again.
// Without a journal there is no transaction to wait for, and ext4 then keeps no busy list
// either: a freed block is reusable at once. A crash after another file's fsync took such a
// block, but before the freeing file was synced, leaves it mapped by both files on the
// device; fsck.ts reports it (multiply-claimed), as e2fsck would.

import { FS_ALLOC, FS_GROUP, LOCK_CLASS } from '../machine/layout.js';
import { jbd2_complete_transaction, jbd2_transaction_committed, type Handle } from '../journal/journal.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { charge } from '../sync/vclock.js';
import { atomicMax } from '../sync/atomic_max.js';
import { STEP, stepEnter, stepLeave } from '../measure/steps.js';
import { FsError } from './errno.js';
import { BITS_PER_BITMAP_BLOCK, bitmapWord } from './ondisk.js';
import { XFS_BUSY_OPEN } from '../journal/xfs_log.js';
import { ext4_handle_dirty_metadata, ext4_journal_get_write_access, type Fs } from './super.js';

/** s_mb_order2_reqs (MB_DEFAULT_ORDER2_REQS): requests of 2^k blocks from 2^2 up try an aligned buddy first. */
export const MB_ORDER2_MIN_BLOCKS = 4;

/** ext4_get_group_number(): the allocation group of block b. */
export function ext4_get_group_number(b: number): number {
  return Math.floor(b / BITS_PER_BITMAP_BLOCK);
}

/** ext4_lock_group(). */
export function ext4_lock_group(fs: Fs, group: number): void {
  spin_lock(fs.cpu, fs.groups, group * FS_GROUP.stride + FS_GROUP.lockState, LOCK_CLASS.ext4_group_lock);
}

/** ext4_unlock_group(). */
export function ext4_unlock_group(fs: Fs, group: number): void {
  spin_unlock(fs.cpu, fs.groups, group * FS_GROUP.stride + FS_GROUP.lockState, LOCK_CLASS.ext4_group_lock);
}

/** Free data blocks (ext4_count_free_clusters, from the allocator's counter). */
export function freeBlocks(fs: Fs): number {
  return Atomics.load(fs.alloc, FS_ALLOC.freeBlocks);
}

/**
 * ext4_inode_to_goal_block(): where an inode with no block yet starts looking. With flex_bg
 * (mkfs.ext4's default, 16 groups a flex group) a regular file starts at the second group of
 * its flex group, the first being kept for directories; the lab's inodes all live in group 0,
 * so a file's first block is looked for at group 1's first block. On a device of one group
 * that block does not exist and mballoc falls back to s_first_data_block (block 0, never
 * free): -1, no goal.
 */
export function ext4_inode_to_goal_block(fs: Fs): number {
  return fs.g.bitmapBlocks > 1 ? BITS_PER_BITMAP_BLOCK : -1;
}

/**
 * ext4_mb_new_blocks(): allocates up to `want` contiguous blocks for `goal` (-1: none) and
 * returns the first; leaves the count in fs.allocLen. Throws ENOSPC when no block is free.
 * Called with i_data_sem held. The `alloc+zero` step of an attributed operation (closed on
 * ENOSPC too: the caller may retry within the operation).
 */
export function ext4_mb_new_blocks(fs: Fs, h: Handle | null, goal: number, want: number): number {
  stepEnter(STEP.alloc_zero);
  try {
    if (fs.allocNs > 0) charge(fs.allocNs);
    return ext4_mb_regular_allocator(fs, h, goal, want);
  } finally {
    stepLeave();
  }
}

/** ext4_mb_regular_allocator(): the goal, then an aligned buddy for a 2^k request, then anything (see the header). */
function ext4_mb_regular_allocator(fs: Fs, h: Handle | null, goal: number, want: number): number {
  const g = fs.g;
  const a = fs.alloc;
  if (Atomics.load(a, FS_ALLOC.freeBlocks) <= 0) throw new FsError('ENOSPC', 'no free blocks on the device');
  if (goal >= g.dataStart && goal < g.nblocks) {
    const got = ext4_mb_find_by_goal(fs, h, goal, want);
    if (got >= 0) return got;
  }
  // Stream allocation: the search goes on from where the last allocation ended.
  let stream = Atomics.load(a, FS_ALLOC.goal);
  if (!(stream >= g.dataStart && stream < g.nblocks)) stream = g.dataStart;
  const groups = g.bitmapBlocks;
  const g0 = ext4_get_group_number(stream);
  if (want >= MB_ORDER2_MIN_BLOCKS && (want & (want - 1)) === 0) {
    for (let i = 0; i < groups; i++) {
      const got = ext4_mb_simple_scan_group(fs, h, (g0 + i) % groups, want);
      if (got >= 0) return got;
    }
  }
  for (let i = 0; i <= groups; i++) {
    const grp = (g0 + i) % groups;
    let from = grp * BITS_PER_BITMAP_BLOCK;
    let to = Math.min(from + BITS_PER_BITMAP_BLOCK, g.nblocks);
    if (i === 0) from = stream;
    else if (i === groups) to = stream; // back in the stream goal's group: the part before it
    if (from < g.dataStart) from = g.dataStart;
    if (from >= to) continue;
    const got = ext4_mb_complex_scan_group(fs, h, grp, from, to, want);
    if (got >= 0) return got;
  }
  throw new FsError('ENOSPC', 'no free blocks on the device');
}

/** ext4_mb_find_by_goal(): all `want` blocks at `goal`, under its group's lock, or -1. */
function ext4_mb_find_by_goal(fs: Fs, h: Handle | null, goal: number, want: number): number {
  const grp = ext4_get_group_number(goal);
  const end = Math.min((grp + 1) * BITS_PER_BITMAP_BLOCK, fs.g.nblocks);
  const block = fs.g.bitmapStart + grp;
  ext4_journal_get_write_access(fs, h, block);
  ext4_lock_group(fs, grp);
  if (fs.mbSearchNs > 0) charge(fs.mbSearchNs);
  if (goal + want > end || zeroRun(fs, goal, goal + want) < want) {
    ext4_unlock_group(fs, grp);
    return -1;
  }
  return ext4_mb_mark_diskspace_used(fs, h, grp, goal, want);
}

/** ext4_mb_simple_scan_group() (criteria 0): the first free run of `want` (2^k) blocks aligned to `want` in the group, or -1. */
function ext4_mb_simple_scan_group(fs: Fs, h: Handle | null, grp: number, want: number): number {
  const g = fs.g;
  const lo = Math.max(grp * BITS_PER_BITMAP_BLOCK, g.dataStart);
  const hi = Math.min((grp + 1) * BITS_PER_BITMAP_BLOCK, g.nblocks);
  if (hi - lo < want) return -1;
  const block = g.bitmapStart + grp;
  ext4_journal_get_write_access(fs, h, block);
  ext4_lock_group(fs, grp);
  if (fs.mbSearchNs > 0) charge(fs.mbSearchNs);
  for (let b = lo; b < hi; ) {
    const free = findZeroBit(fs, b, hi);
    if (free < 0) break;
    const at = Math.ceil(free / want) * want;
    if (at + want > hi) break;
    const run = zeroRun(fs, at, at + want);
    if (run === want) return ext4_mb_mark_diskspace_used(fs, h, grp, at, want);
    b = at + run + 1;
  }
  ext4_unlock_group(fs, grp);
  return -1;
}

/** The next-fit search of [from, to) in group grp (criteria 1-3's stand-in): the first free block and the free run after it, up to `want`; or -1. */
function ext4_mb_complex_scan_group(fs: Fs, h: Handle | null, grp: number, from: number, to: number, want: number): number {
  const block = fs.g.bitmapStart + grp;
  ext4_journal_get_write_access(fs, h, block);
  ext4_lock_group(fs, grp);
  if (fs.mbSearchNs > 0) charge(fs.mbSearchNs);
  const start = findZeroBit(fs, from, to);
  if (start < 0) {
    ext4_unlock_group(fs, grp);
    return -1;
  }
  return ext4_mb_mark_diskspace_used(fs, h, grp, start, zeroRun(fs, start, Math.min(to, start + want)));
}

/**
 * ext4_mb_mark_diskspace_used(): with group grp's lock held (and dropped here), marks
 * [start, start + len) used, moves the stream goal after it, then files the bitmap in the
 * handle and journals the group's bitmap and descriptor (allocJournalNs). Returns start.
 */
function ext4_mb_mark_diskspace_used(fs: Fs, h: Handle | null, grp: number, start: number, len: number): number {
  const g = fs.g;
  setBits(fs, h, start, len, true);
  ext4_unlock_group(fs, grp);
  Atomics.sub(fs.alloc, FS_ALLOC.freeBlocks, len);
  Atomics.store(fs.alloc, FS_ALLOC.goal, start + len < g.nblocks ? start + len : g.dataStart);
  ext4_handle_dirty_metadata(fs, h, -1, g.bitmapStart + grp);
  if (fs.allocJournalNs > 0) charge(fs.allocJournalNs);
  fs.allocLen = len;
  return start;
}

/**
 * ext4_free_blocks(): returns blocks [pblk, pblk + count) to the bitmap, group by group under
 * each group's lock, journalling each group's bitmap and descriptor (allocJournalNs).
 * Called with i_data_sem held.
 */
export function ext4_free_blocks(fs: Fs, h: Handle | null, pblk: number, count: number): void {
  const g = fs.g;
  if (!(pblk >= g.dataStart && count > 0 && pblk + count <= g.nblocks)) {
    throw new Error(`ext4_free_blocks: blocks ${pblk}+${count} are not data blocks`);
  }
  let b = pblk;
  const end = pblk + count;
  while (b < end) {
    const grp = ext4_get_group_number(b);
    const segEnd = Math.min(end, (grp + 1) * BITS_PER_BITMAP_BLOCK);
    const block = g.bitmapStart + grp;
    ext4_journal_get_write_access(fs, h, block);
    ext4_lock_group(fs, grp);
    for (let x = b; x < segEnd; x++) {
      if ((fs.mw[bitmapWord(g, x)] & (1 << (x & 31))) === 0) {
        ext4_unlock_group(fs, grp);
        throw new Error(`ext4_free_blocks: block ${x} is already free (bitmap and extents disagree)`);
      }
    }
    setBits(fs, h, b, segEnd - b, false);
    if (h !== null && fs.journal !== null) fs.ops.trans_free_extent(fs, h, b, segEnd - b);
    ext4_unlock_group(fs, grp);
    Atomics.add(fs.alloc, FS_ALLOC.freeBlocks, segEnd - b);
    ext4_handle_dirty_metadata(fs, h, -1, block);
    if (fs.allocJournalNs > 0) charge(fs.allocJournalNs);
    b = segEnd;
  }
}

/** ext4_mb_free_metadata(): keeps freed blocks busy until `tid` commits. The blocks' group lock held. */
export function ext4_mb_free_metadata(fs: Fs, tid: number, start: number, len: number): void {
  const busy = fs.cpu.machine.views.fsBusy;
  const busyTid = fs.cpu.machine.views.fsBusyTid;
  let added = 0;
  for (let b = start; b < start + len; b++) {
    if ((busy[b >>> 5] & (1 << (b & 31))) === 0) added++;
    busy[b >>> 5] |= 1 << (b & 31);
    busyTid[b] = tid;
  }
  Atomics.add(fs.alloc, FS_ALLOC.busyBlocks, added);
  // A sequence no commit reaches (xfs: the freeing transaction is still open) is not a commit to force for.
  if (tid === XFS_BUSY_OPEN) return;
  atomicMax(fs.alloc, FS_ALLOC.busyTidMax, tid);
}

/**
 * ext4_should_retry_alloc(): after an ENOSPC, when blocks freed by an uncommitted
 * transaction may satisfy the allocation, commits it (jbd2_force_commit) and says to retry,
 * at most 3 times. The caller must hold no handle and no lock.
 */
export function ext4_should_retry_alloc(fs: Fs, retries: number): boolean {
  const j = fs.journal;
  if (j === null || retries >= 3 || j.handle.open || Atomics.load(fs.alloc, FS_ALLOC.busyBlocks) === 0) return false;
  const tid = Atomics.load(fs.alloc, FS_ALLOC.busyTidMax);
  if (jbd2_transaction_committed(j, tid)) {
    // Committed already: the busy blocks are reusable and the next scan forgets them.
    return retries === 0;
  }
  jbd2_complete_transaction(j, tid);
  return true;
}

/**
 * The busy bits of bitmap word `word` whose freeing transaction has not committed yet;
 * forgets the others (ext4_free_data_in_buddy, run by the kernel after the commit). Group lock held.
 */
function busyBits(fs: Fs, word: number): number {
  const busy = fs.cpu.machine.views.fsBusy;
  let bits = busy[word];
  if (bits === 0 || fs.journal === null) return 0;
  const busyTid = fs.cpu.machine.views.fsBusyTid;
  let still = 0;
  while (bits !== 0) {
    const low = bits & -bits;
    bits ^= low;
    const b = word * 32 + (31 - Math.clz32(low));
    if (!jbd2_transaction_committed(fs.journal, busyTid[b])) still |= low;
    else Atomics.sub(fs.alloc, FS_ALLOC.busyBlocks, 1);
  }
  busy[word] = still;
  return still;
}

/** The first clear, not busy, bit in [from, to), or -1. */
function findZeroBit(fs: Fs, from: number, to: number): number {
  const w = fs.mw;
  const base = bitmapWord(fs.g, 0);
  let b = from;
  while (b < to) {
    const free = ~(w[base + (b >>> 5)] | busyBits(fs, b >>> 5)) & (-1 << (b & 31));
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
    const used = w[base + (b >>> 5)] | busyBits(fs, b >>> 5);
    if ((b & 31) === 0 && b + 32 <= limit && used === 0) {
      b += 32;
      continue;
    }
    if ((used & (1 << (b & 31))) !== 0) break;
    b++;
  }
  return b - start;
}

/** Sets or clears the bits of blocks [start, start + len); a transaction that logs bits (xfs) records each word's change. */
function setBits(fs: Fs, h: Handle | null, start: number, len: number, on: boolean): void {
  const w = fs.mw;
  const base = bitmapWord(fs.g, 0);
  let b = start;
  const end = start + len;
  while (b < end) {
    const n = Math.min(32 - (b & 31), end - b);
    const mask = (n === 32 ? -1 : ((1 << n) - 1)) << (b & 31);
    const at = base + (b >>> 5);
    w[at] = on ? w[at] | mask : w[at] & ~mask;
    if (h !== null) fs.ops.trans_log_bits(h, at, mask, on);
    b += n;
  }
}
