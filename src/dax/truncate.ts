// Dropping DAX entries when their blocks go away: truncate and hole punch
// (truncate_pagecache_range -> unmap_mapping_range + truncate_inode_pages_range, which for a
// DAX mapping deletes entries with dax_delete_mapping_entry).
//
// Locking rules: as fs/dax.c. The filesystem calls this before it frees the blocks, holding
// nothing. Pages are unmapped first, so no CPU keeps a writable page whose entry is gone;
// each entry is deleted under tree_lock once nobody holds its lock.
//
// Seed 003: a PMD entry only partly inside the range cannot just be deleted: its other
// pages may be dirty. It is written back first (then deleted, since its 2 MiB are no longer
// one extent; the pages that stay re-fault as PTEs). The punch-drops-dirty-pmd variant
// skips that write-back.

import { PAGECACHE_TAG_DIRTY, PAGECACHE_TAG_TOWRITE, PAGE_SIZE } from '../machine/layout.js';
import type { InvalidateHook } from '../fs/super.js';
import { PG_PMD_COLOUR, PG_PMD_NR, dax_is_pmd_entry } from './dax_entry.js';
import { find_get_entries, radix_tree_delete, radix_tree_tag_get, radix_tree_tag_set } from './radix_tree.js';
import { get_unlocked_mapping_entry, put_unlocked_mapping_entry } from './entry_lock.js';
import { PAGEVEC_SIZE, dax_writeback_one, daxMappings, type DaxMapping, type MappingOf } from './writeback.js';

/** dax_delete_mapping_entry() (__dax_invalidate_mapping_entry with trunc): waits for the entry, deletes it; true when there was one. */
export function dax_delete_mapping_entry(m: DaxMapping, index: number): boolean {
  const tree = m.tree;
  tree.treeLock();
  const entry = get_unlocked_mapping_entry(tree, index);
  if (entry !== 0) radix_tree_delete(tree, index);
  tree.treeUnlock();
  put_unlocked_mapping_entry(tree, index, entry);
  return entry !== 0;
}

/** Writes back a dirty PMD entry that a punch only partly covers (the seed 003 fix). */
function dax_writeback_partial_pmd(m: DaxMapping, index: number, entry: number): void {
  const tree = m.tree;
  tree.treeLock();
  const dirty = radix_tree_tag_get(tree, index, PAGECACHE_TAG_DIRTY) || radix_tree_tag_get(tree, index, PAGECACHE_TAG_TOWRITE);
  if (dirty) radix_tree_tag_set(tree, index, PAGECACHE_TAG_TOWRITE);
  tree.treeUnlock();
  if (dirty) {
    dax_writeback_one(m, index, entry);
    m.dev.fence();
  }
}

/**
 * truncate_inode_pages_range() for a DAX mapping: drops the entries of pages [start, end]
 * (bytes, inclusive) after unmapping them; returns how many entries it deleted.
 */
export function dax_truncate_range(m: DaxMapping, start: number, end: number): number {
  const first = Math.floor(start / PAGE_SIZE);
  const last = Math.floor(end / PAGE_SIZE);
  m.unmap?.(first, Math.min(last, Number.MAX_SAFE_INTEGER - 1) - first + 1);
  const tree = m.tree;
  const { indices, entries } = m;
  let from = first - (first & PG_PMD_COLOUR); // a PMD entry may start before the range
  let deleted = 0;
  for (;;) {
    // pagevec_lookup_entries(): under rcu_read_lock, no tree_lock; each entry is deleted under it.
    const nr = find_get_entries(tree, from, PAGEVEC_SIZE, indices, entries);
    if (nr === 0) break;
    for (let i = 0; i < nr; i++) {
      const index = indices[i];
      if (index > last) return deleted;
      const entry = entries[i];
      if (dax_is_pmd_entry(entry)) {
        if (index + PG_PMD_NR - 1 < first) continue;
        m.unmap?.(index, PG_PMD_NR); // a PMD mapping cannot be split: zap all of it
        const partial = index < first || index + PG_PMD_NR - 1 > last;
        if (partial && m.variant !== 'punch-drops-dirty-pmd') dax_writeback_partial_pmd(m, index, entry);
      } else if (index < first) {
        continue;
      }
      if (dax_delete_mapping_entry(m, index)) deleted++;
    }
    from = indices[nr - 1] + 1;
  }
  return deleted;
}

/** The filesystem's truncate_pagecache_range() for DAX files. */
export function daxInvalidateHook(mappingOf: MappingOf = daxMappings()): InvalidateHook {
  return (fs, ino, start, end) => {
    dax_truncate_range(mappingOf(fs, ino), start, end);
  };
}
