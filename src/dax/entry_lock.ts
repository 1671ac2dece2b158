// DAX entry locks: a lock bit inside the radix-tree entry, and the hashed wait queues a
// CPU sleeps on while another holds it (fs/dax.c, Linux 4.14).
//
// Locking rules (as fs/dax.c states them):
//  - The lock bit (RADIX_DAX_ENTRY_LOCK) is read and changed only under mapping->tree_lock.
//    A locked entry stands in for the page lock DAX has no page for: whoever holds it may
//    drop tree_lock and work on the entry's pages (fault, write back, delete) knowing no
//    other CPU does the same.
//  - get_unlocked_mapping_entry() is called and returns with tree_lock held, but sleeps
//    with it dropped: the caller must look at the tree again after it returns.
//  - A CPU holds one entry lock at a time, and never sleeps on an entry wait queue while
//    holding one (waiting for a second entry would deadlock against a CPU that holds it and
//    waits for ours).
//  - Unlocking wakes the entry's bucket after the bit is cleared, so a sleeper that checked
//    the bit under tree_lock before the unlock is woken by it (waitqueue.ts: event counts).
//
// Today's kernel keeps these steps on the XArray: get_unlocked_entry(), put_unlocked_entry(),
// dax_lock_entry() / dax_unlock_entry() and dax_wake_entry() with xa_lock for tree_lock.

import { checkInt } from '../util/check.js';
import {
  __wake_up,
  dax_entry_waitqueue,
  entryLockAcquired,
  entryLockReleased,
  finish_wait,
  init_wait,
  prepare_to_wait_exclusive,
  schedule,
  waitqueue_active,
} from '../sync/waitqueue.js';
import { dax_is_pmd_entry, daxEntryIsLocked, daxEntryLock, daxEntryUnlock, isDaxEntry } from './dax_entry.js';
import { RADIX_TREE_MAX_INDEX, RadixTree, radix_tree_lookup, radixTreeReplaceFound } from './radix_tree.js';

/** slot_locked(): whether the entry's lock bit is set. */
export function slot_locked(entry: number): boolean {
  return daxEntryIsLocked(entry);
}

/** lock_slot(): sets the lock bit of the entry at index (tree_lock held); returns the locked entry. */
export function lock_slot(tree: RadixTree, index: number): number {
  const entry = radix_tree_lookup(tree, index);
  if (entry === 0) throw new Error(`lock_slot: mapping ${tree.mapping} index ${index} has no entry`);
  const locked = daxEntryLock(entry);
  radixTreeReplaceFound(tree, locked);
  entryLockAcquired(tree.cpu);
  return locked;
}

/** unlock_slot(): clears the lock bit of the entry at index (tree_lock held); returns the unlocked entry. */
export function unlock_slot(tree: RadixTree, index: number): number {
  const entry = radix_tree_lookup(tree, index);
  if (!slot_locked(entry)) throw new Error(`unlock_slot: mapping ${tree.mapping} index ${index} is not locked`);
  const unlocked = daxEntryUnlock(entry);
  radixTreeReplaceFound(tree, unlocked);
  entryLockReleased(tree.cpu);
  return unlocked;
}

/**
 * get_unlocked_mapping_entry(): the entry at index once nobody holds its lock (0 when
 * there is none). Called with tree_lock held and returns with it held; sleeps on the
 * entry's wait queue, tree_lock dropped, while the entry is locked.
 */
export function get_unlocked_mapping_entry(tree: RadixTree, index: number): number {
  checkInt('index', index, 0, RADIX_TREE_MAX_INDEX);
  let entry = radix_tree_lookup(tree, index);
  if (entry === 0 || !slot_locked(entry)) return entry;
  const wait = init_wait(tree.cpu);
  do {
    prepare_to_wait_exclusive(wait, dax_entry_waitqueue(tree.mapping, index, dax_is_pmd_entry(entry)));
    tree.treeUnlock();
    schedule(wait);
    tree.treeLock();
    entry = radix_tree_lookup(tree, index);
  } while (entry !== 0 && slot_locked(entry));
  finish_wait(wait);
  return entry;
}

/**
 * dax_wake_mapping_entry_waiter(): wakes CPUs waiting for the entry at index. The kernel
 * wakes one exclusive waiter unless wakeAll; the lab's buckets always wake all of theirs
 * (see waitqueue.ts), so wakeAll only documents the caller's intent.
 */
export function dax_wake_mapping_entry_waiter(tree: RadixTree, index: number, entry: number, wakeAll: boolean): void {
  void wakeAll;
  // The entry's PMD bit picks the bucket: a bad one would wake nobody, quietly. 0 (the
  // entry was gone, as dropLockedEntry may find) wakes the index's own bucket.
  if (entry !== 0 && !isDaxEntry(entry)) {
    throw new RangeError(`entry: expected a DAX entry (an odd Int32 from 1 to 2147483647) or 0 for none, got ${String(entry)}`);
  }
  const bucket = dax_entry_waitqueue(tree.mapping, index, dax_is_pmd_entry(entry));
  if (waitqueue_active(tree.cpu, bucket)) __wake_up(tree.cpu, bucket);
}

/** put_unlocked_mapping_entry(): passes on a wake-up this CPU may have consumed without taking the lock. */
export function put_unlocked_mapping_entry(tree: RadixTree, index: number, entry: number): void {
  if (entry !== 0) dax_wake_mapping_entry_waiter(tree, index, entry, false);
}

/** put_locked_mapping_entry(): unlocks the entry at index (takes tree_lock itself) and wakes its waiters. */
export function put_locked_mapping_entry(tree: RadixTree, index: number): void {
  // Checked before tree_lock is taken: a throw under it would leave the mapping locked.
  checkInt('index', index, 0, RADIX_TREE_MAX_INDEX);
  tree.treeLock();
  let entry: number;
  try {
    entry = unlock_slot(tree, index);
  } catch (e) {
    // unlock_slot() refused (the entry is not locked) and changed nothing; tree_lock is still ours.
    tree.treeUnlock();
    throw e;
  }
  tree.treeUnlock();
  dax_wake_mapping_entry_waiter(tree, index, entry, false);
}

/**
 * Takes the lock of the entry at index, waiting for its holder (the locking half of the
 * kernel's grab_mapping_entry(), which also inserts an empty entry for a hole: that is
 * the fault path's business). Returns the locked entry, or 0 when there is no entry.
 * Call without tree_lock held.
 */
export function lockMappingEntry(tree: RadixTree, index: number): number {
  // Checked before tree_lock is taken: a throw under it would leave the mapping locked.
  checkInt('index', index, 0, RADIX_TREE_MAX_INDEX);
  tree.treeLock();
  const entry = get_unlocked_mapping_entry(tree, index);
  const locked = entry === 0 ? 0 : lock_slot(tree, index);
  tree.treeUnlock();
  return locked;
}
