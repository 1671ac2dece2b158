// Which slot holds the entry of a page. The 4.14 radix tree stores a PMD entry as a
// multiorder entry that every one of its 512 indices finds; the lab keeps it in the slot of
// its first page only, so every lookup by page goes through here (today's XArray: a
// multi-index entry, found by xas_load at any of its indices).

import { PG_PMD_COLOUR, dax_is_pmd_entry } from './dax_entry.js';
import { find_get_entries, radix_tree_lookup, radix_tree_lookup_rcu, type RadixTree } from './radix_tree.js';

/**
 * The index of the entry that covers page `index` (tree_lock held): the PMD entry's at
 * index & ~511 when there is one, else index itself. Costs nothing for a file that never
 * had a PMD entry.
 */
export function dax_entry_index(tree: RadixTree, index: number): number {
  if ((index & PG_PMD_COLOUR) === 0 || !tree.hasPmdEntries()) return index;
  const head = index - (index & PG_PMD_COLOUR);
  const entry = radix_tree_lookup(tree, head);
  return entry !== 0 && dax_is_pmd_entry(entry) ? head : index;
}

/**
 * dax_entry_index() without tree_lock, under rcu_read_lock(): where a writeback range that
 * starts at page `index` starts (the kernel's tagged walk finds a multiorder entry from any of
 * its pages). A snapshot: a PMD entry inserted after the look was not dirty when the sync began.
 */
export function dax_entry_index_rcu(tree: RadixTree, index: number): number {
  if ((index & PG_PMD_COLOUR) === 0 || !tree.hasPmdEntries()) return index;
  const head = index - (index & PG_PMD_COLOUR);
  const entry = radix_tree_lookup_rcu(tree, head);
  return entry !== 0 && dax_is_pmd_entry(entry) ? head : index;
}

/**
 * The rule the lookup above relies on: no entry sits inside a PMD entry's 512 pages, and a
 * PMD entry sits at a multiple of 512 (a multiorder slot in the kernel cannot overlap
 * another). Returns violations ([] when sound); takes tree_lock.
 */
export function checkEntryRanges(tree: RadixTree): string[] {
  const out: string[] = [];
  const idx = new Float64Array(64);
  const ent = new Int32Array(64);
  let pmdEnd = -1; // last page of the PMD entry seen last
  let pmdAt = -1;
  tree.treeLock();
  try {
    for (let from = 0; ; ) {
      const n = find_get_entries(tree, from, idx.length, idx, ent);
      for (let i = 0; i < n; i++) {
        const index = idx[i];
        if (index <= pmdEnd) out.push(`mapping ${tree.mapping}: entry at ${index} lies inside the PMD entry at ${pmdAt}`);
        if (dax_is_pmd_entry(ent[i])) {
          if ((index & PG_PMD_COLOUR) !== 0) out.push(`mapping ${tree.mapping}: PMD entry at ${index}, not a multiple of ${PG_PMD_COLOUR + 1}`);
          pmdAt = index;
          pmdEnd = index + PG_PMD_COLOUR;
        }
      }
      if (n < idx.length) break;
      from = idx[n - 1] + 1;
    }
  } finally {
    tree.treeUnlock();
  }
  return out;
}
