// The mapping index's checker: what a sound radix tree and node pool look like, checked
// from shared memory alone, so a test or the lab's end-of-run check can run it on a machine
// no CPU is working on. Split from radix_tree.ts, which changes the tree; this only reads it.
// (The kernel has no such walker; lib/radix-tree.c's debug dump comes closest.)

import { INDEX_NODE, INDEX_POOL, INDEX_ROOT, RADIX_TREE_MAP_SHIFT, RADIX_TREE_MAP_SIZE, RADIX_TREE_MAX_TAGS } from '../machine/layout.js';
import type { Machine } from '../machine/machine.js';
import { spin_is_locked } from '../sync/spinlock.js';
import { checkInt } from '../util/check.js';
import { PG_PMD_NR, RADIX_DAX_PMD, describeDaxEntry, isDaxEntry } from './dax_entry.js';
import { NODE_FREE_POISON, NODE_PENDING } from './node_pool.js';
import { POW2, RADIX_TREE_MAX_PATH, any_tag_set, tag_get } from './radix_tree.js';

const STRIDE = INDEX_NODE.stride;
const N_PARENT = INDEX_NODE.parent;
const N_OFFSET = INDEX_NODE.offset;
const N_SHIFT = INDEX_NODE.shift;
const N_COUNT = INDEX_NODE.count;
const R_STRIDE = INDEX_ROOT.stride;
const R_LOCK = INDEX_ROOT.lockState;
const R_RNODE = INDEX_ROOT.rnode;
const R_SHIFT = INDEX_ROOT.shift;
const R_NREXCEPTIONAL = INDEX_ROOT.nrexceptional;
const R_TAGS = INDEX_ROOT.tags;
const R_NODES = INDEX_ROOT.nodes;
const MAP_SHIFT = RADIX_TREE_MAP_SHIFT;
const MAP_SIZE = RADIX_TREE_MAP_SIZE;
const MAX_TAGS = RADIX_TREE_MAX_TAGS;

const TAG_NAMES = ['DIRTY', 'TOWRITE'];

interface TreeWalk {
  readonly nodes: Int32Array;
  readonly highWater: number;
  readonly capacity: number;
  readonly seen: Uint8Array;
  readonly out: string[];
  readonly where: string;
  entries: number;
  nodeCount: number;
}

/**
 * Checks node n (reached from parent at offset, expected to have shift, covering indices from
 * first) and below; returns its tag summary bits (bit t: any tag t).
 */
function checkNode(w: TreeWalk, n: number, parent: number, offset: number, shift: number, first: number): number {
  const nodes = w.nodes;
  if (!Number.isInteger(n) || n < 1 || n > w.capacity) {
    w.out.push(`${w.where}: node ${parent} slot ${offset} points to node ${n}, outside the pool 1..${w.capacity}`);
    return 0;
  }
  if (n > w.highWater) {
    w.out.push(`${w.where}: node ${parent} slot ${offset} points to node ${n}, above the pool's highWater ${w.highWater} (never allocated)`);
    return 0;
  }
  if (w.seen[n]) {
    w.out.push(`${w.where}: node ${n} reached twice (from node ${parent} slot ${offset}); a cycle or a node shared by two parents or trees`);
    return 0;
  }
  w.seen[n] = 1;
  w.nodeCount++;
  const base = n * STRIDE;
  const at = `${w.where}: node ${n} (shift ${shift})`;
  if (nodes[base + N_SHIFT] === NODE_FREE_POISON) w.out.push(`${at} is on the free list (its shift is the free poison) but reachable`);
  if (nodes[base + N_SHIFT] !== shift) w.out.push(`${at}: shift field is ${nodes[base + N_SHIFT]}, its depth says ${shift}`);
  if (nodes[base + N_PARENT] !== parent) w.out.push(`${at}: parent field is ${nodes[base + N_PARENT]}, reached from ${parent}`);
  if (parent !== 0 && nodes[base + N_OFFSET] !== offset) w.out.push(`${at}: offset field is ${nodes[base + N_OFFSET]}, sits in slot ${offset}`);
  let used = 0;
  for (let off = 0; off < MAP_SIZE; off++) {
    const v = nodes[base + off];
    if (v === 0) {
      for (let t = 0; t < MAX_TAGS; t++) {
        if (tag_get(nodes, base, t, off)) w.out.push(`${at} slot ${off}: tag ${TAG_NAMES[t]} set on an empty slot`);
      }
      continue;
    }
    used++;
    if (shift === 0) {
      if (!isDaxEntry(v)) w.out.push(`${at} slot ${off}: leaf holds ${v}, not a DAX entry (${describeDaxEntry(v)})`);
      else if ((v & RADIX_DAX_PMD) !== 0 && (first + off) % PG_PMD_NR !== 0) {
        w.out.push(`${at} slot ${off}: PMD entry at index ${first + off}, not a multiple of ${PG_PMD_NR}`);
      }
      w.entries++;
    } else {
      const childTags = checkNode(w, v, n, off, shift - MAP_SHIFT, first + off * POW2[shift]);
      for (let t = 0; t < MAX_TAGS; t++) {
        const bit = tag_get(nodes, base, t, off);
        const below = ((childTags >>> t) & 1) !== 0;
        if (bit !== below) {
          w.out.push(`${at} slot ${off}: tag ${TAG_NAMES[t]} bit is ${bit ? 'set' : 'clear'} but child node ${v} has ${below ? 'some' : 'none'}`);
        }
      }
    }
  }
  if (nodes[base + N_COUNT] !== used) w.out.push(`${at}: count field is ${nodes[base + N_COUNT]}, ${used} slots are in use`);
  if (used === 0) w.out.push(`${at}: empty node left in the tree`);
  let summary = 0;
  for (let t = 0; t < MAX_TAGS; t++) if (any_tag_set(nodes, base, t)) summary |= 1 << t;
  return summary;
}

/**
 * Checks one mapping's tree: tag bits match entries all the way up to the root, node counts
 * and links, shift and height, no empty or shrinkable node, the root's entry and node counts.
 * Returns violations (empty when sound). Marks the nodes it reaches in `seen` when given
 * (checkIndex uses it to account for the whole pool). Hold the tree_lock, or run it quiescent.
 */
export function checkRadixTree(machine: Machine, mapping: number, seen?: Uint8Array): string[] {
  checkInt('mapping', mapping, 0, machine.config.mappings - 1);
  return walkTree(machine, mapping, seen ?? new Uint8Array(machine.config.indexNodes + 1)).out;
}

function walkTree(machine: Machine, mapping: number, seen: Uint8Array): TreeWalk {
  const roots = machine.views.indexRoots;
  const nodes = machine.views.indexNodes;
  const r = mapping * R_STRIDE;
  const capacity = machine.config.indexNodes;
  const highWater = Math.min(machine.views.indexPool[INDEX_POOL.highWater], capacity);
  const w: TreeWalk = {
    nodes,
    highWater,
    capacity,
    seen,
    out: [],
    where: `mapping ${mapping}`,
    entries: 0,
    nodeCount: 0,
  };
  const rnode = roots[r + R_RNODE];
  const shift = roots[r + R_SHIFT];
  const rtags = roots[r + R_TAGS];
  if ((rtags & ~((1 << MAX_TAGS) - 1)) !== 0) w.out.push(`${w.where}: root tags ${rtags} has bits beyond the ${MAX_TAGS} tags`);
  if (rnode === 0) {
    if (shift !== 0) w.out.push(`${w.where}: empty tree with root shift ${shift}`);
    if (rtags !== 0) w.out.push(`${w.where}: empty tree with root tags ${rtags}`);
  } else if (shift === 0) {
    if (!isDaxEntry(rnode)) w.out.push(`${w.where}: rnode holds ${rnode} with root shift 0, not a DAX entry`);
    w.entries = 1;
  } else if (shift < 0 || shift % MAP_SHIFT !== 0 || shift > RADIX_TREE_MAX_PATH * MAP_SHIFT) {
    w.out.push(`${w.where}: root shift ${shift} is not a multiple of ${MAP_SHIFT} from ${MAP_SHIFT} to ${RADIX_TREE_MAX_PATH * MAP_SHIFT}`);
  } else {
    const summary = checkNode(w, rnode, 0, 0, shift - MAP_SHIFT, 0);
    for (let t = 0; t < MAX_TAGS; t++) {
      const bit = ((rtags >>> t) & 1) !== 0;
      const below = ((summary >>> t) & 1) !== 0;
      if (bit !== below) w.out.push(`${w.where}: root tag ${TAG_NAMES[t]} is ${bit ? 'set' : 'clear'} but the tree has ${below ? 'tagged' : 'no tagged'} entries`);
    }
    // A sound tree is fully shrunk: radix_tree_shrink() runs after every delete.
    if (rnode >= 1 && rnode <= highWater) {
      const base = rnode * STRIDE;
      if (nodes[base + N_COUNT] === 1 && nodes[base] !== 0) w.out.push(`${w.where}: top node ${rnode} holds only slot 0 (not shrunk)`);
    }
  }
  if (roots[r + R_NREXCEPTIONAL] !== w.entries) w.out.push(`${w.where}: nrexceptional is ${roots[r + R_NREXCEPTIONAL]}, the tree holds ${w.entries} entries`);
  if (roots[r + R_NODES] !== w.nodeCount) w.out.push(`${w.where}: root counts ${roots[r + R_NODES]} nodes, ${w.nodeCount} are reachable`);
  return w;
}

/**
 * Checks every mapping's tree (checkRadixTree) and the node pool as a whole: every node up to
 * the pool's highWater is in exactly one tree, on the free list or pending an RCU grace period
 * (none lost, none used twice), `used` equals the nodes in trees and pending, and no tree_lock
 * or pool lock is held. Run it only while no CPU works on the index.
 */
export function checkIndex(machine: Machine): string[] {
  const capacity = machine.config.indexNodes;
  const pool = machine.views.indexPool;
  const nodes = machine.views.indexNodes;
  const roots = machine.views.indexRoots;
  const seen = new Uint8Array(capacity + 1);
  const out: string[] = [];
  let inTrees = 0;
  for (let m = 0; m < machine.config.mappings; m++) {
    const r = m * R_STRIDE;
    if (roots[r + R_RNODE] === 0 && roots[r + R_SHIFT] === 0 && roots[r + R_NODES] === 0 && roots[r + R_NREXCEPTIONAL] === 0 && roots[r + R_TAGS] === 0) {
      if (spin_is_locked(roots, r + R_LOCK)) out.push(`mapping ${m}: tree_lock is held`);
      continue;
    }
    const w = walkTree(machine, m, seen);
    for (const v of w.out) out.push(v);
    inTrees += w.nodeCount;
    if (spin_is_locked(roots, r + R_LOCK)) out.push(`mapping ${m}: tree_lock is held`);
  }
  const high = pool[INDEX_POOL.highWater];
  const used = pool[INDEX_POOL.used];
  if (high < 0 || high > capacity) out.push(`pool: highWater ${high} outside 0..${capacity}`);
  // Nodes freed while a lockless reader was inside: in use until their grace period is over.
  const onPending = new Uint8Array(capacity + 1);
  const pending = walkPoolList(nodes, pool[INDEX_POOL.pendingHead], Math.min(high, capacity), 'pending list', onPending, out, (n) => {
    if (seen[n]) out.push(`pool: node ${n} is pending an RCU grace period and in a tree`);
    if (nodes[n * STRIDE + N_COUNT] !== NODE_PENDING) out.push(`pool: pending node ${n} lacks the pending mark (count ${nodes[n * STRIDE + N_COUNT]})`);
  });
  if (pending !== pool[INDEX_POOL.pending]) out.push(`pool: pending is ${pool[INDEX_POOL.pending]}, ${pending} nodes are on the pending list`);
  if (used !== inTrees + pending) out.push(`pool: used is ${used}, ${inTrees} nodes are in trees and ${pending} pending`);
  if (spin_is_locked(pool, INDEX_POOL.lockState)) out.push('pool: radix_node_pool lock is held');
  // Walk the free list.
  const onFree = new Uint8Array(capacity + 1);
  const free = walkPoolList(nodes, pool[INDEX_POOL.freeHead], Math.min(high, capacity), 'free list', onFree, out, (n) => {
    if (seen[n]) out.push(`pool: node ${n} is on the free list and in a tree`);
    if (onPending[n]) out.push(`pool: node ${n} is on the free list and pending`);
    if (nodes[n * STRIDE + N_SHIFT] !== NODE_FREE_POISON) out.push(`pool: free node ${n} lacks the free poison (shift ${nodes[n * STRIDE + N_SHIFT]})`);
  });
  const lost: number[] = [];
  for (let k = 1; k <= Math.min(high, capacity); k++) if (!seen[k] && !onFree[k] && !onPending[k]) lost.push(k);
  if (lost.length) out.push(`pool: ${lost.length} nodes neither in a tree nor free (lost): ${lost.slice(0, 10).join(', ')}${lost.length > 10 ? ', ...' : ''}`);
  if (used + free !== high && lost.length === 0) out.push(`pool: used ${used} + free ${free} != highWater ${high}`);
  return out;
}

/**
 * Walks a list of pool nodes linked through N_PARENT (the free list, or the RCU pending
 * list), marking each in `on` and calling `check` on it; a node out of range or met twice
 * (a cycle) is reported and ends the walk. Returns how many nodes it walked.
 */
function walkPoolList(nodes: Int32Array, head: number, last: number, what: string, on: Uint8Array, out: string[], check: (n: number) => void): number {
  let count = 0;
  for (let n = head; n !== 0; n = nodes[n * STRIDE + N_PARENT]) {
    if (!Number.isInteger(n) || n < 1 || n > last) {
      out.push(`pool: ${what} holds node ${n}, outside 1..highWater ${last}`);
      break;
    }
    if (on[n]) {
      out.push(`pool: node ${n} is on the ${what} twice (a cycle)`);
      break;
    }
    on[n] = 1;
    count++;
    check(n);
  }
  return count;
}
