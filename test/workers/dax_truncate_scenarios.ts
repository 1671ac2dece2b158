// Test CPUs for truncate and hole punch against a locked DAX entry (test/dax_truncate.test.ts):
// one CPU holds the entry lock of a mapped page (as a fault or writeback of that page would),
// another truncates or punches the page away. dax_delete_mapping_entry must sleep on the
// entry's wait queue until the holder unlocks, and only then delete the entry.

import type { Cpu } from '../../src/sync/cpu.js';
import { mountFs } from '../../src/fs/super.js';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, vfs_fallocate, vfs_truncate } from '../../src/fs/inode.js';
import { radix_tree_lookup } from '../../src/dax/radix_tree.js';
import { lockMappingEntry, put_locked_mapping_entry } from '../../src/dax/entry_lock.js';
import { attachMm } from '../../src/mm/mm.js';
import { awaitEntrySleeper } from './entry_lock_scenarios.js';

const PAGE = 4096;

export interface LockedEntryArgs {
  ino: number;
  /** The file page whose entry the holder locks. */
  page: number;
  op: 'truncate' | 'punch';
  truncaterCpu: number;
  /** Int32 [holder has the lock, holder is unlocking]. */
  sync: SharedArrayBuffer;
}

export interface HolderResult {
  /** The truncating CPU was seen asleep on an entry wait queue while the lock was held. */
  sawSleeper: boolean;
  /** The entry was still in the index just before the unlock. */
  presentAtUnlock: boolean;
}

/** Locks the page's entry, waits until the truncating CPU sleeps on an entry wait queue, holds 20 ms more, unlocks. */
export function holdEntry(cpu: Cpu, a: LockedEntryArgs): HolderResult {
  const fs = mountFs(cpu, {});
  const mm = attachMm(cpu, fs);
  const tree = mm.mappingOf(fs, a.ino).tree;
  const s = new Int32Array(a.sync);
  if (lockMappingEntry(tree, a.page) === 0) throw new Error(`no entry at page ${a.page} to lock`);
  Atomics.store(s, 0, 1);
  Atomics.notify(s, 0);
  const sawSleeper = awaitEntrySleeper(cpu, a.truncaterCpu);
  tree.treeLock();
  const presentAtUnlock = radix_tree_lookup(tree, a.page) !== 0;
  tree.treeUnlock();
  Atomics.store(s, 1, 1);
  put_locked_mapping_entry(tree, a.page);
  return { sawSleeper, presentAtUnlock };
}

export interface TruncaterResult {
  /** The holder had begun to unlock when the truncate or punch returned. */
  returnedAfterUnlock: boolean;
  /** The page's entry was gone when it returned. */
  entryGone: boolean;
}

/** Once the holder has the lock: truncates the file to end before the page, or punches the page. */
export function truncateLocked(cpu: Cpu, a: LockedEntryArgs): TruncaterResult {
  const fs = mountFs(cpu, {});
  const mm = attachMm(cpu, fs);
  const s = new Int32Array(a.sync);
  while (Atomics.load(s, 0) === 0) Atomics.wait(s, 0, 0, 100);
  if (a.op === 'truncate') vfs_truncate(fs, a.ino, a.page * PAGE);
  else vfs_fallocate(fs, a.ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, a.page * PAGE, PAGE);
  const returnedAfterUnlock = Atomics.load(s, 1) === 1;
  const tree = mm.mappingOf(fs, a.ino).tree;
  tree.treeLock();
  const entryGone = radix_tree_lookup(tree, a.page) === 0;
  tree.treeUnlock();
  return { returnedAfterUnlock, entryGone };
}
