// The block allocator (fs/ext4/mballoc.c reduced to its next-fit core): the bitmap lives in
// fsMeta's bitmap blocks, one per allocation group of 32768 blocks; FS_ALLOC in views.fsAlloc
// keeps the free count and the stream goal (sbi->s_mb_last_group/s_mb_last_start).
//
// Injected cost: allocNs per successful allocation call, charged under ext4_group_lock
// (mballoc searches the buddy bitmap of a group under ext4_lock_group()).
//
// Locking rules: as super.ts. The bitmap words, FS_ALLOC.freeBlocks and FS_ALLOC.goal change
// only under ext4_group_lock (views.fsAlloc's lock words), which nests inside the caller's
// i_data_sem. Write access to a group's bitmap block is taken before the group lock, as
// ext4_mb_mark_diskspace_used() does, and the block is filed in the handle after it.
// Nothing here sleeps but the lock itself.
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

import { FS_ALLOC, LOCK_CLASS } from '../machine/layout.js';
import { jbd2_complete_transaction, jbd2_transaction_committed, type Handle } from '../journal/journal.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { charge } from '../sync/vclock.js';
import { STEP, stepEnter, stepLeave } from '../measure/steps.js';
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
 * Throws ENOSPC when no block is free. Called with i_data_sem held. The `alloc+zero` step
 * of an attributed operation (closed on ENOSPC too: the caller may retry within the operation).
 */
export function ext4_mb_new_blocks(fs: Fs, h: Handle | null, goal: number, want: number): number {
  stepEnter(STEP.alloc_zero);
  try {
    return ext4_mb_regular_allocator(fs, h, goal, want);
  } finally {
    stepLeave();
  }
}

/** ext4_mb_regular_allocator(): the search; charges allocNs under the group lock, where mballoc searches the buddy bitmap. */
function ext4_mb_regular_allocator(fs: Fs, h: Handle | null, goal: number, want: number): number {
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
    if (fs.allocNs > 0) charge(fs.allocNs);
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
    if (h !== null && fs.journal !== null) ext4_mb_free_metadata(fs, h.tid, b, segEnd - b);
    fs.alloc[FS_ALLOC.freeBlocks] += segEnd - b;
    ext4_unlock_group(fs);
    ext4_handle_dirty_metadata(fs, h, -1, block);
    b = segEnd;
  }
}

/** ext4_mb_free_metadata(): keeps freed blocks busy until `tid` commits. Group lock held. */
function ext4_mb_free_metadata(fs: Fs, tid: number, start: number, len: number): void {
  const busy = fs.cpu.machine.views.fsBusy;
  const busyTid = fs.cpu.machine.views.fsBusyTid;
  let added = 0;
  for (let b = start; b < start + len; b++) {
    if ((busy[b >>> 5] & (1 << (b & 31))) === 0) added++;
    busy[b >>> 5] |= 1 << (b & 31);
    busyTid[b] = tid;
  }
  fs.alloc[FS_ALLOC.busyBlocks] += added;
  if (tid > fs.alloc[FS_ALLOC.busyTidMax]) fs.alloc[FS_ALLOC.busyTidMax] = tid;
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
    else fs.alloc[FS_ALLOC.busyBlocks]--;
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
