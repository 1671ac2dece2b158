// mm/page-writeback.c's part of writeback that walks the mapping index: tagging the dirty
// entries a data-integrity writeback must visit, so entries dirtied after it starts are not
// chased forever (Jan Kara's "mm: implement writeback livelock avoidance using page
// tagging"). It drives the radix tree's iterator, as the kernel's
// radix_tree_for_each_tagged() does.

import { PAGECACHE_TAG_DIRTY, PAGECACHE_TAG_TOWRITE } from '../machine/layout.js';
import {
  RADIX_TREE_NO_SLOT,
  checkIndexArg,
  radix_tree_iter_init,
  radix_tree_iter_resume,
  radix_tree_iter_tag_set,
  radix_tree_next_chunk,
  radix_tree_next_slot,
  type RadixTree,
} from '../dax/radix_tree.js';

/** tag_pages_for_writeback() drops tree_lock after this many tagged entries (mm/page-writeback.c). */
export const WRITEBACK_TAG_BATCH = 4096;

/**
 * tag_pages_for_writeback() (mm/page-writeback.c): sets TOWRITE on every DIRTY entry with
 * index in [start, end] (DIRTY stays until the entry is written back); returns how many it
 * visited. Takes the mapping's tree_lock itself and drops it every WRITEBACK_TAG_BATCH
 * entries, so the caller must not hold it.
 */
export function tag_pages_for_writeback(root: RadixTree, start: number, end: number): number {
  checkIndexArg('start', start);
  checkIndexArg('end', end);
  if (root.holdsTreeLock) {
    throw new Error(`tag_pages_for_writeback: takes mapping ${root.mapping}'s tree_lock itself; call it without holding it`);
  }
  let tagged = 0;
  root.treeLock();
  radix_tree_iter_init(root, start);
  let slot = radix_tree_next_chunk(root, PAGECACHE_TAG_DIRTY);
  while (slot !== RADIX_TREE_NO_SLOT) {
    if (root.iterIndex > end) break;
    radix_tree_iter_tag_set(root, PAGECACHE_TAG_TOWRITE);
    tagged++;
    if (tagged % WRITEBACK_TAG_BATCH === 0) {
      radix_tree_iter_resume(root);
      root.treeUnlock();
      // cond_resched()
      root.treeLock();
      slot = radix_tree_next_chunk(root, PAGECACHE_TAG_DIRTY);
      continue;
    }
    slot = radix_tree_next_slot(root, PAGECACHE_TAG_DIRTY);
  }
  root.treeUnlock();
  return tagged;
}
