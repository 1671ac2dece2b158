// Index benchmarks on a 1M-entry mapping: insert, lookup, and the tagged walk that finds
// the single dirty entry among them (what fsync of one dirty page in a big file pays).
// The plain insert row times inserts only: the tree_lock pair and the deletes that reset
// its holes run in tinybench's beforeEach/afterEach, outside the timing.

import { createMachine } from '../src/machine/machine.js';
import { MiB, PAGECACHE_TAG_DIRTY } from '../src/machine/layout.js';
import { attachCpu } from '../src/sync/cpu.js';
import {
  RadixTree,
  find_get_entries_tag,
  radix_tree_delete,
  radix_tree_insert,
  radix_tree_lookup,
  radix_tree_tag_set,
  radixTreeHeight,
} from '../src/dax/radix_tree.js';
import { dax_radix_locked_entry, daxEntryUnlock } from '../src/dax/dax_entry.js';
import type { BatchedTask } from './support.js';

export const INDEX_ENTRIES = 1_000_000;
const PAGEVEC_SIZE = 14;
/** Indices the insert row fills: one per leaf, in leaves spread over the tree and visited out of order. */
const HOLES = 1000;

export function buildIndex(entries: number) {
  const machine = createMachine({ cpus: 1, pmemBytes: 2 * MiB, mappings: 1, indexNodes: Math.ceil(entries / 63) + 1000 });
  const tree = new RadixTree(attachCpu(machine, 0), 0);
  tree.treeLock();
  for (let i = 0; i < entries; i++) radix_tree_insert(tree, i, daxEntryUnlock(dax_radix_locked_entry(i & 0xfffff, 0)));
  tree.treeUnlock();
  return { machine, tree };
}

export function indexTasks(): BatchedTask[] {
  const { tree } = buildIndex(INDEX_ENTRIES);
  const dirtyAt = 777_777;
  tree.treeLock();
  radix_tree_tag_set(tree, dirtyAt, PAGECACHE_TAG_DIRTY);
  tree.treeUnlock();
  const outIdx = new Float64Array(PAGEVEC_SIZE);
  const outEnt = new Int32Array(PAGEVEC_SIZE);
  const entry = daxEntryUnlock(dax_radix_locked_entry(1, 0));
  tree.treeLock();
  tree.nodesVisited = 0;
  find_get_entries_tag(tree, 0, PAGECACHE_TAG_DIRTY, PAGEVEC_SIZE, outIdx, outEnt);
  const visited = tree.nodesVisited;
  tree.treeUnlock();
  const B = 1000;
  let x = 12345;
  let fresh = INDEX_ENTRIES;
  // The insert row fills these holes, one radix_tree_insert each and no node to allocate
  // (each leaf keeps its other 63 entries); afterEach empties them again outside the timing.
  // Leaf 7919k mod 15,600 (7919 is prime: all distinct; all full, below index 1M) spreads
  // them like the random lookups.
  const holes = new Float64Array(HOLES);
  for (let k = 0; k < HOLES; k++) {
    const index = ((k * 7919) % 15_600) * 64 + (k % 64);
    holes[k] = index === dirtyAt ? index + 1 : index;
  }
  tree.treeLock();
  for (const i of holes) radix_tree_delete(tree, i);
  tree.treeUnlock();
  const H = holes.length;
  return [
    {
      name: 'index lookup, 1M-entry tree, random index (tree_lock held)',
      batch: B,
      fn: () => {
        tree.treeLock();
        for (let i = 0; i < B; i++) {
          x = (x * 1103515245 + 12345) >>> 0;
          radix_tree_lookup(tree, x % INDEX_ENTRIES);
        }
        tree.treeUnlock();
      },
    },
    {
      name: 'index insert + delete beyond the end, 1M-entry tree',
      batch: B,
      fn: () => {
        tree.treeLock();
        for (let i = 0; i < B; i++) {
          radix_tree_insert(tree, fresh, entry);
          radix_tree_delete(tree, fresh);
          fresh = fresh === INDEX_ENTRIES + 100_000 ? INDEX_ENTRIES : fresh + 1;
        }
        tree.treeUnlock();
      },
    },
    {
      name: 'index insert, 1M-entry tree, its leaf present',
      batch: H,
      note: `${H} indices in ${H} leaves per iteration, deleted again untimed`,
      beforeEach: () => tree.treeLock(),
      fn: () => {
        for (let i = 0; i < H; i++) radix_tree_insert(tree, holes[i], entry);
      },
      afterEach: () => {
        for (let i = 0; i < H; i++) if (radix_tree_delete(tree, holes[i]) !== entry) throw new Error(`insert at ${holes[i]} did not land`);
        tree.treeUnlock();
      },
    },
    {
      name: 'find_get_entries_tag: 1 DIRTY among 1M entries',
      batch: 100,
      note: `${visited} nodes visited per walk (height ${radixTreeHeight(tree)})`,
      fn: () => {
        tree.treeLock();
        for (let i = 0; i < 100; i++) {
          if (find_get_entries_tag(tree, 0, PAGECACHE_TAG_DIRTY, PAGEVEC_SIZE, outIdx, outEnt) !== 1) throw new Error('lost the dirty entry');
        }
        tree.treeUnlock();
      },
    },
  ];
}
