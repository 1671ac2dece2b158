// One CPU of `daxlab stress`: a random mix of the index operations the DAX paths perform,
// on one mapping shared with the other CPUs. Each operation takes the locks the kernel
// step would: tree_lock for lookups and changes, the entry lock around a page's writeback.

import { PAGECACHE_TAG_DIRTY, PAGECACHE_TAG_TOWRITE, PAGE_SIZE } from '../machine/layout.js';
import type { Cpu } from '../sync/cpu.js';
import { PmemDevice } from '../pmem/device.js';
import { seededRng } from '../util/rng.js';
import {
  RadixTree,
  radix_tree_delete,
  radix_tree_insert,
  radix_tree_lookup,
  radix_tree_tag_clear,
  radix_tree_tag_set,
} from '../dax/radix_tree.js';
import { tag_pages_for_writeback } from '../mm/page_writeback.js';
import { dax_radix_locked_entry, daxEntryUnlock } from '../dax/dax_entry.js';
import {
  get_unlocked_mapping_entry,
  lockMappingEntry,
  put_locked_mapping_entry,
  put_unlocked_mapping_entry,
} from '../dax/entry_lock.js';

export interface StressArgs {
  ops: number;
  /** Page indexes the CPUs share. */
  range: number;
  seed: number;
}

export const STRESS_OPS = ['lookup', 'insert', 'dirty', 'writeback', 'delete', 'retag'] as const;
export type StressOp = (typeof STRESS_OPS)[number];

export interface StressResult {
  cpu: number;
  elapsedNs: number;
  counts: Record<StressOp, number>;
}

export function stressCpu(cpu: Cpu, args: StressArgs): StressResult {
  const tree = new RadixTree(cpu, 0);
  const dev = new PmemDevice(cpu);
  const rng = seededRng(args.seed * 1000 + cpu.id);
  const pages = Math.floor(dev.size / PAGE_SIZE);
  const data = new Uint8Array(64).fill(cpu.id + 1);
  const counts = Object.fromEntries(STRESS_OPS.map((k) => [k, 0])) as Record<StressOp, number>;
  const t0 = performance.now();
  for (let i = 0; i < args.ops; i++) {
    const index = Math.floor(rng() * args.range);
    const pick = rng();
    if (pick < 0.4) {
      tree.treeLock();
      radix_tree_lookup(tree, index);
      tree.treeUnlock();
      counts.lookup++;
    } else if (pick < 0.6) {
      // A read fault: insert a clean entry if the page has none.
      tree.treeLock();
      if (radix_tree_lookup(tree, index) === 0) radix_tree_insert(tree, index, daxEntryUnlock(dax_radix_locked_entry(index % pages, 0)));
      tree.treeUnlock();
      counts.insert++;
    } else if (pick < 0.75) {
      // A write: store to the page, then tag the entry DIRTY (dax_pfn_mkwrite).
      tree.treeLock();
      if (radix_tree_lookup(tree, index) !== 0) {
        radix_tree_tag_set(tree, index, PAGECACHE_TAG_DIRTY);
        dev.store((index % pages) * PAGE_SIZE, data);
      }
      tree.treeUnlock();
      counts.dirty++;
    } else if (pick < 0.87) {
      // dax_writeback_one: lock the entry, flush the page, clear its tags, unlock.
      const entry = lockMappingEntry(tree, index);
      if (entry !== 0) {
        dev.flush((index % pages) * PAGE_SIZE, PAGE_SIZE);
        tree.treeLock();
        radix_tree_tag_clear(tree, index, PAGECACHE_TAG_DIRTY);
        radix_tree_tag_clear(tree, index, PAGECACHE_TAG_TOWRITE);
        tree.treeUnlock();
        put_locked_mapping_entry(tree, index);
      }
      counts.writeback++;
    } else if (pick < 0.95) {
      // Truncate of one page (__dax_invalidate_mapping_entry): wait for the entry, delete it.
      tree.treeLock();
      const entry = get_unlocked_mapping_entry(tree, index);
      if (entry !== 0) radix_tree_delete(tree, index);
      tree.treeUnlock();
      put_unlocked_mapping_entry(tree, index, entry);
      counts.delete++;
    } else {
      const start = Math.max(0, index - 32);
      tag_pages_for_writeback(tree, start, start + 64);
      counts.retag++;
    }
  }
  return { cpu: cpu.id, elapsedNs: (performance.now() - t0) * 1e6, counts };
}
