// Which locked DAX entries hash to an entry wait queue's bucket: what a CPU asleep on that
// bucket is most likely waiting for. The bucket is a hash of (mapping, index), so the only
// way back is to look at every locked entry of every mapping and hash it again.
//
// Locking rules: none are taken, on purpose. The watchdog runs when CPUs may be stuck
// holding a tree_lock, and taking it would hang the main thread too. The walk reads the
// index while CPUs may change it, so it is best effort: node numbers are range-checked and
// the walk visits at most every node of the pool once, so a node freed and reused under it
// can give a wrong answer but never a fault or an endless loop.

import type { Machine } from '../machine/machine.js';
import { INDEX_NODE, INDEX_ROOT, RADIX_TREE_MAP_SIZE } from '../machine/layout.js';
import { dax_is_pmd_entry, daxEntryIsLocked } from '../dax/dax_entry.js';
import { dax_entry_waitqueue } from '../sync/waitqueue.js';
import { RADIX_TREE_MAX_INDEX } from '../dax/radix_tree.js';

export interface LockedEntry {
  mapping: number;
  index: number;
  pmd: boolean;
}

type MachineLike = Pick<Machine, 'config' | 'views'>;

/** Every locked entry of every mapping whose wait queue is `bucket`. */
export function lockedEntriesInBucket(machine: MachineLike, bucket: number): LockedEntry[] {
  const found: LockedEntry[] = [];
  const roots = machine.views.indexRoots;
  const budget = { nodes: machine.config.indexNodes };
  for (let mapping = 0; mapping < machine.config.mappings; mapping++) {
    const r = mapping * INDEX_ROOT.stride;
    const rnode = Atomics.load(roots, r + INDEX_ROOT.rnode);
    if (rnode === 0) continue;
    const visit = (index: number, entry: number) => {
      // A node freed and reused under the walk can give a shift that makes no index at all.
      if (!(Number.isInteger(index) && index >= 0 && index <= RADIX_TREE_MAX_INDEX)) return;
      if (!daxEntryIsLocked(entry)) return;
      const pmd = dax_is_pmd_entry(entry);
      if (dax_entry_waitqueue(mapping, index, pmd) === bucket) found.push({ mapping, index, pmd });
    };
    // Root shift 0: rnode is the lone entry at index 0, not a node (radix_tree.ts).
    if (Atomics.load(roots, r + INDEX_ROOT.shift) === 0) visit(0, rnode);
    else walkNode(machine, rnode, 0, visit, budget);
  }
  return found;
}

function walkNode(
  machine: MachineLike,
  node: number,
  first: number,
  visit: (index: number, entry: number) => void,
  budget: { nodes: number },
): void {
  if (!(node >= 1 && node <= machine.config.indexNodes) || budget.nodes-- <= 0) return;
  const nodes = machine.views.indexNodes;
  const base = node * INDEX_NODE.stride;
  const shift = Atomics.load(nodes, base + INDEX_NODE.shift);
  const span = 2 ** shift;
  for (let off = 0; off < RADIX_TREE_MAP_SIZE; off++) {
    const slot = Atomics.load(nodes, base + INDEX_NODE.slots + off);
    if (slot === 0) continue;
    // Indexes reach 2^48: multiply, never shift.
    const index = first + off * span;
    if (shift === 0) visit(index, slot);
    else walkNode(machine, slot, index, visit, budget);
  }
}
