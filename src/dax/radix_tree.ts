// The mapping index: one radix tree per mapping (struct address_space's page_tree), as
// lib/radix-tree.c of Linux 4.14 builds it, over shared memory.
//
// Shape. A mapping's root record (INDEX_ROOT in views.indexRoots) holds rnode, the root's
// tag bits and the tree's height as radix_tree_load_root() reports it (root.shift: the top
// node's shift + RADIX_TREE_MAP_SHIFT, or 0 when rnode is empty or is itself the entry at
// index 0, as the kernel keeps a lone index-0 item without a node). Nodes (INDEX_NODE in
// views.indexNodes, taken from the shared pool in node_pool.ts) have 64 slots: a node whose
// shift is above 0 holds child node numbers, a leaf (shift 0) holds DAX entries
// (dax_entry.ts; every entry is odd, so never 0). Each node keeps one 64-bit bitmap per tag
// (two Int32 words): a slot's bit is set iff the entry there carries the tag (leaf) or the
// child node has any bit of that tag set (interior); the root's bit for a tag is set iff any
// entry carries it, so tagged walks skip untagged subtrees. The tree grows with
// radix_tree_extend() and shrinks with radix_tree_shrink(); delete_node() returns empty
// nodes to the pool. Indices are JavaScript numbers from 0 to RADIX_TREE_MAX_INDEX (2^48 - 1),
// never put through 32-bit operators above 2^32. Only order-0 entries are stored: a PMD
// entry sits at its PMD-aligned index, and only there: insert and replace refuse it elsewhere
// and the checker (radix_tree_check.ts) reports it (the 4.14 kernel used multiorder entries and sibling slots for
// it; callers here look up index & ~PG_PMD_COLOUR themselves). A dense file of
// 16M pages takes 266,305 nodes of 288 bytes: 73 MiB of views.indexNodes.
//
// Locking rules (as fs/dax.c and mm/filemap.c state theirs):
//   - mapping->tree_lock (the lock words at the root's lockState, lock_stat class
//     tree_lock) guards the root record and every node reachable from it: every function
//     here that takes a RadixTree expects its caller to hold that mapping's tree_lock
//     (RadixTree.treeLock()/treeUnlock()); tag_pages_for_writeback() (mm/page_writeback.ts)
//     takes and drops it itself, every WRITEBACK_TAG_BATCH entries, as mm/page-writeback.c does.
//   - The node pool's lock (class radix_node_pool, node_pool.ts) nests inside tree_lock:
//     node allocation and freeing take it while tree_lock is held. Never take a tree_lock
//     while holding the pool lock, and never hold two tree_locks at once.
//   - Nothing sleeps while holding tree_lock: every function here runs to completion without
//     waiting, except that acquiring the pool lock may spin and, past lockSpinNs, sleep
//     briefly in Atomics.wait. Entry locks (RADIX_DAX_ENTRY_LOCK) are bits in the entries,
//     set and cleared under tree_lock; waiting for one happens in fs/dax's wait queues after
//     dropping tree_lock, never here.
//   - Readers may run under rcu_read_lock() without tree_lock, as 4.14's do:
//     find_get_entries_tag() and find_get_entries() (the pagevec lookups of writeback and
//     truncate) always do, and radix_tree_lookup_rcu() is the lookup for such a reader. For
//     them every link a writer changes (a child in its parent's slot, rnode) is stored with
//     Atomics after the node it points to is filled in, and read with Atomics; the root's
//     rnode and shift change together inside a seqcount (INDEX_ROOT.seq, set_root()); a node
//     taken out of the tree keeps what a reader still in it needs (slot 0 of a node the tree
//     shrank out points on to its child, or holds RADIX_TREE_RETRY where that child was the
//     lone entry) and goes back to the pool only after an RCU grace period (node_pool.ts).
//     A lockless walk that meets an emptied tagged slot or RETRY restarts from the root.
//     Everything that changes the tree, and every lookup whose result is acted on, still runs
//     under tree_lock (grab_mapping_entry, dax_writeback_one, ...), as fs/dax.c has it.
//   - Node reservation: the kernel preloads nodes per CPU (radix_tree_preload()) before
//     taking tree_lock; here an insert counts the nodes it needs and takes them all from the
//     pool under one pool-lock hold before changing anything, so ENOMEM leaves the tree as
//     it was. Frees are batched per operation and wait for an RCU grace period when a reader
//     is inside rcu_read_lock() (the kernel's call_rcu()).
//
// Today's kernel replaced this with the XArray (lib/xarray.c): tree_lock became xa_lock
// (i_pages.xa_lock), radix_tree_insert/lookup/delete became xas_store()/xas_load(), tags
// became marks (XA_MARK_0/1, xas_set_mark), the tagged walk xas_find_marked(), and
// tag_pages_for_writeback() uses xas_for_each_marked() with xas_pause() every
// XA_CHECK_SCHED entries.

import {
  INDEX_NODE,
  INDEX_ROOT,
  LOCK_CLASS,
  RADIX_TREE_MAP_SHIFT,
  RADIX_TREE_MAP_SIZE,
  RADIX_TREE_MAX_TAGS,
} from '../machine/layout.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { rcu_read_lock, rcu_read_unlock } from '../sync/rcu.js';
import { charge } from '../sync/vclock.js';
import type { Cpu } from '../sync/cpu.js';
import { checkInt } from '../util/check.js';
import { PG_PMD_NR, RADIX_DAX_PMD, checkDaxEntry } from './dax_entry.js';
import { NodePool } from './node_pool.js';

// ---- layout shorthands ------------------------------------------------------------------

const STRIDE = INDEX_NODE.stride;
const N_TAGS = INDEX_NODE.tags;
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
const R_SEQ = INDEX_ROOT.seq;

const MAP_SHIFT = RADIX_TREE_MAP_SHIFT;
const MAP_SIZE = RADIX_TREE_MAP_SIZE;
const MAP_MASK = MAP_SIZE - 1;
const MAX_TAGS = RADIX_TREE_MAX_TAGS;
const TREE_LOCK = LOCK_CLASS.tree_lock;

// ---- public constants -------------------------------------------------------------------

/** Index bits the tree supports: 48 (pages of 4 KiB: 1 EiB files). */
export const RADIX_TREE_INDEX_BITS = 48;
/** Largest index: 2^48 - 1. */
export const RADIX_TREE_MAX_INDEX = 2 ** RADIX_TREE_INDEX_BITS - 1;
/** RADIX_TREE_MAX_PATH: the most node levels a tree can have (8). */
export const RADIX_TREE_MAX_PATH = Math.ceil(RADIX_TREE_INDEX_BITS / MAP_SHIFT);
/** The slot reference of root->rnode (node slots are word offsets into views.indexNodes, always >= INDEX_NODE.stride). */
export const RADIX_TREE_ROOT_SLOT = 0;
/** No slot (the kernel's NULL slot pointer). */
export const RADIX_TREE_NO_SLOT = -1;
/**
 * RADIX_TREE_RETRY: what radix_tree_shrink() leaves in slot 0 of a node it takes out when the
 * tree shrinks to a lone entry at the root, so a lockless reader still in the node restarts
 * from the root instead of reporting that entry at an index it no longer has the node for.
 * Neither a node number (>= 1) nor a DAX entry (odd, >= 1).
 */
export const RADIX_TREE_RETRY = -2;
/** A lockless walk that restarts this often met a corrupt tree, not a concurrent writer. */
const MAX_RESTARTS = 1_000_000;
/** errno EEXIST: radix_tree_insert() returns -EEXIST when the index is occupied. */
export const EEXIST = 17;

const ROOT_SLOT = RADIX_TREE_ROOT_SLOT;
const NO_SLOT = RADIX_TREE_NO_SLOT;
const MAX_INDEX = RADIX_TREE_MAX_INDEX;
const TWO_32 = 4294967296;
/** Tag argument of the iterator meaning "every present slot" (untagged walk). */
const ITER_ALL = -1;

/** POW2[k] = 2^k, exact in a double for every k used here. */
export const POW2 = new Float64Array(64);
for (let k = 0; k < 64; k++) POW2[k] = 2 ** k;

/** The slot offset of `index` in a node of `shift` (`(index >> shift) & RADIX_TREE_MAP_MASK`, safe above 2^32). */
function indexOffset(index: number, shift: number): number {
  if (index < TWO_32) return shift < 32 ? (index >>> shift) & MAP_MASK : 0;
  return Math.floor(index / POW2[shift]) & MAP_MASK;
}

export function checkIndexArg(name: string, index: number): void {
  if (!(index >= 0 && index <= MAX_INDEX && Number.isInteger(index))) checkInt(name, index, 0, MAX_INDEX);
}

function checkTagArg(tag: number): void {
  if (!(tag >= 0 && tag < MAX_TAGS && (tag | 0) === tag)) checkInt('tag', tag, 0, MAX_TAGS - 1);
}

// ---- the handle ---------------------------------------------------------------------------

/**
 * One CPU's handle on one mapping's index (struct radix_tree_root plus the per-call state the
 * kernel keeps on the stack: __radix_tree_lookup's node and slot, a struct radix_tree_iter,
 * the preloaded nodes). Make it once per worker and mapping; calls on it allocate nothing.
 */
export class RadixTree {
  readonly cpu: Cpu;
  readonly mapping: number;
  /** views.indexRoots. */
  readonly roots: Int32Array;
  /** views.indexNodes. */
  readonly nodes: Int32Array;
  readonly pool: NodePool;
  /** Offset of this mapping's INDEX_ROOT record in roots. */
  readonly r: number;
  /** Nodes read by walks through this handle (tests assert tagged walks are O(height)). */
  nodesVisited = 0;
  /** Costs of a level walked and of a tag change (costs.radixLevelNs, costs.tagNs). */
  readonly levelNs: number;
  readonly tagNs: number;
  /** __radix_tree_lookup()'s *nodep: the node holding the last looked-up slot (0: the root). */
  node = 0;
  /** __radix_tree_lookup()'s *slotp: RADIX_TREE_ROOT_SLOT, a word offset into nodes, or RADIX_TREE_NO_SLOT. */
  slot = NO_SLOT;
  /** struct radix_tree_iter: the current index, where the next chunk starts, its node and slot offset. */
  iterIndex = 0;
  iterNextIndex = 0;
  iterNode = 0;
  iterOffset = 0;
  /** The lone entry of a single-slot tree, as the walk's root load read it (ROOT_SLOT's value). */
  iterRootEntry = 0;
  /** radix_tree_load_root_rcu()'s result: rnode and the root's shift, read as one pair. */
  rootNode = 0;
  rootShift = 0;
  /** Whether a PMD entry was ever inserted in this mapping (INDEX_ROOT.pmdEntries). */
  hasPmdEntries(): boolean {
    return Atomics.load(this.roots, this.r + INDEX_ROOT.pmdEntries) !== 0;
  }

  /** Records that a PMD entry is being inserted (called with tree_lock held). */
  markPmdEntries(): void {
    Atomics.store(this.roots, this.r + INDEX_ROOT.pmdEntries, 1);
  }

  /** Whether this handle holds tree_lock (set by treeLock/treeUnlock). */
  holdsTreeLock = false;
  /** Nodes taken from the pool for the insert in progress (radix_tree_preload's per-CPU stock). */
  readonly preloaded = new Int32Array(2 * RADIX_TREE_MAX_PATH);
  preloadedCount = 0;
  /** Nodes freed by the operation in progress, returned to the pool at its end (call_rcu's queue). */
  readonly rcuFree = new Int32Array(4 * RADIX_TREE_MAX_PATH);
  rcuFreeCount = 0;

  constructor(cpu: Cpu, mapping: number, pool: NodePool = new NodePool(cpu)) {
    checkInt('mapping', mapping, 0, cpu.machine.config.mappings - 1);
    this.cpu = cpu;
    this.mapping = mapping;
    this.roots = cpu.machine.views.indexRoots;
    this.nodes = cpu.machine.views.indexNodes;
    this.pool = pool;
    this.r = mapping * R_STRIDE;
    this.levelNs = cpu.machine.config.costs.radixLevelNs;
    this.tagNs = cpu.machine.config.costs.tagNs;
  }

  /** spin_lock(&mapping->tree_lock). */
  treeLock(): void {
    spin_lock(this.cpu, this.roots, this.r + R_LOCK, TREE_LOCK);
    this.holdsTreeLock = true;
  }

  /** spin_unlock(&mapping->tree_lock). */
  treeUnlock(): void {
    this.holdsTreeLock = false;
    spin_unlock(this.cpu, this.roots, this.r + R_LOCK, TREE_LOCK);
  }
}

/** Entries in the tree (mapping->nrexceptional: every DAX entry is exceptional). */
export function radixTreeEntries(root: RadixTree): number {
  return root.roots[root.r + R_NREXCEPTIONAL];
}

/** Nodes the tree uses. */
export function radixTreeNodes(root: RadixTree): number {
  return root.roots[root.r + R_NODES];
}

/** Node levels: 0 when empty or when rnode holds the index-0 entry itself. */
export function radixTreeHeight(root: RadixTree): number {
  return root.roots[root.r + R_SHIFT] / MAP_SHIFT;
}

// ---- tags -----------------------------------------------------------------------------------

/** tag_get(): whether node (at word base) has tag set for offset. */
export function tag_get(nodes: Int32Array, base: number, tag: number, offset: number): boolean {
  return ((nodes[base + N_TAGS + tag * 2 + (offset >>> 5)] >>> (offset & 31)) & 1) !== 0;
}

/** tag_set(). */
function tag_set(nodes: Int32Array, base: number, tag: number, offset: number): void {
  nodes[base + N_TAGS + tag * 2 + (offset >>> 5)] |= 1 << (offset & 31);
}

/** tag_clear(). */
function tag_clear(nodes: Int32Array, base: number, tag: number, offset: number): void {
  nodes[base + N_TAGS + tag * 2 + (offset >>> 5)] &= ~(1 << (offset & 31));
}

/** any_tag_set(): whether any slot of node has tag. */
export function any_tag_set(nodes: Int32Array, base: number, tag: number): boolean {
  const at = base + N_TAGS + tag * 2;
  return (nodes[at] | nodes[at + 1]) !== 0;
}

/** root_tag_get(). */
function root_tag_get(root: RadixTree, tag: number): boolean {
  return ((root.roots[root.r + R_TAGS] >>> tag) & 1) !== 0;
}

/** root_tag_set(). */
function root_tag_set(root: RadixTree, tag: number): void {
  root.roots[root.r + R_TAGS] |= 1 << tag;
}

/** root_tag_clear(). */
function root_tag_clear(root: RadixTree, tag: number): void {
  root.roots[root.r + R_TAGS] &= ~(1 << tag);
}

/** root_tag_clear_all(). */
function root_tag_clear_all(root: RadixTree): void {
  root.roots[root.r + R_TAGS] = 0;
}

/** radix_tree_find_next_bit(): the first offset >= offset whose tag bit is set in node, or 64. */
function radix_tree_find_next_bit(nodes: Int32Array, base: number, tag: number, offset: number): number {
  const at = base + N_TAGS + tag * 2;
  if (offset < 32) {
    const w = nodes[at] & (-1 << offset);
    if (w !== 0) return 31 - Math.clz32(w & -w);
    offset = 32;
  }
  if (offset < 64) {
    const w = nodes[at + 1] & (-1 << (offset - 32));
    if (w !== 0) return 63 - Math.clz32(w & -w);
  }
  return MAP_SIZE;
}

/** node_tag_set(): sets tag for offset in node and in every ancestor that lacks it, then on the root. */
function node_tag_set(root: RadixTree, node: number, tag: number, offset: number): void {
  if (root.tagNs > 0) charge(root.tagNs);
  const nodes = root.nodes;
  while (node !== 0) {
    const base = node * STRIDE;
    if (tag_get(nodes, base, tag, offset)) return;
    tag_set(nodes, base, tag, offset);
    offset = nodes[base + N_OFFSET];
    node = nodes[base + N_PARENT];
  }
  if (!root_tag_get(root, tag)) root_tag_set(root, tag);
}

/** node_tag_clear(): clears tag for offset in node, and upwards while a node is left with no bit of it. */
function node_tag_clear(root: RadixTree, node: number, tag: number, offset: number): void {
  if (root.tagNs > 0) charge(root.tagNs);
  const nodes = root.nodes;
  while (node !== 0) {
    const base = node * STRIDE;
    if (!tag_get(nodes, base, tag, offset)) return;
    tag_clear(nodes, base, tag, offset);
    if (any_tag_set(nodes, base, tag)) return;
    offset = nodes[base + N_OFFSET];
    node = nodes[base + N_PARENT];
  }
  if (root_tag_get(root, tag)) root_tag_clear(root, tag);
}

// ---- nodes ----------------------------------------------------------------------------------

/** Takes `count` nodes from the pool for the insert in progress (stands in for radix_tree_preload()); throws ENOMEM with nothing changed. */
function preloadNodes(root: RadixTree, count: number): void {
  root.pool.allocNodes(count, root.preloaded);
  root.preloadedCount = count;
}

/** radix_tree_node_alloc(): a preloaded node, linked to parent at offset, with shift and count set. */
function radix_tree_node_alloc(root: RadixTree, parent: number, shift: number, offset: number, count: number): number {
  if (root.preloadedCount === 0) throw new Error('radix_tree_node_alloc: no preloaded node (a bug in radix_tree.ts)');
  const node = root.preloaded[--root.preloadedCount];
  const nodes = root.nodes;
  const base = node * STRIDE;
  nodes[base + N_PARENT] = parent;
  nodes[base + N_OFFSET] = offset;
  nodes[base + N_SHIFT] = shift;
  nodes[base + N_COUNT] = count;
  root.roots[root.r + R_NODES]++;
  return node;
}

/** radix_tree_node_free(): queues node for the pool (the kernel frees it through call_rcu()). */
function radix_tree_node_free(root: RadixTree, node: number): void {
  root.roots[root.r + R_NODES]--;
  if (root.rcuFreeCount === root.rcuFree.length) flushFreedNodes(root);
  root.rcuFree[root.rcuFreeCount++] = node;
}

/** Returns the nodes the operation freed to the pool (the RCU callbacks running). */
function flushFreedNodes(root: RadixTree): void {
  root.pool.freeNodes(root.rcuFree, root.rcuFreeCount);
  root.rcuFreeCount = 0;
}

// ---- lookup -----------------------------------------------------------------------------------

/** radix_tree_load_root(): the root's shift (0: rnode is empty or the index-0 entry); maxindex is 2^shift - 1. */
function radix_tree_load_root(root: RadixTree): number {
  return root.roots[root.r + R_SHIFT];
}

/**
 * radix_tree_load_root() for a reader that may hold no tree_lock (rcu_dereference of
 * root->rnode): sets root.rootNode and root.rootShift to a pair no writer was changing, by
 * the root's seqcount (writers change the pair between two increments, with nothing charged
 * in between, so a retry is short).
 */
function radix_tree_load_root_rcu(root: RadixTree): void {
  const roots = root.roots;
  const r = root.r;
  for (;;) {
    const seq = Atomics.load(roots, r + R_SEQ);
    if ((seq & 1) !== 0) continue;
    const rnode = Atomics.load(roots, r + R_RNODE);
    const shift = Atomics.load(roots, r + R_SHIFT);
    if (Atomics.load(roots, r + R_SEQ) !== seq) continue;
    root.rootNode = rnode;
    root.rootShift = shift;
    return;
  }
}

/** Stores the root's rnode and shift as one pair for lockless readers (tree_lock held). */
function set_root(root: RadixTree, rnode: number, shift: number): void {
  const roots = root.roots;
  const r = root.r;
  Atomics.add(roots, r + R_SEQ, 1);
  Atomics.store(roots, r + R_RNODE, rnode);
  Atomics.store(roots, r + R_SHIFT, shift);
  Atomics.add(roots, r + R_SEQ, 1);
}

/** radix_tree_descend(): the offset of index's slot in node (at word base); counts the visit. */
function radix_tree_descend(root: RadixTree, base: number, index: number): number {
  root.nodesVisited++;
  if (root.levelNs > 0) charge(root.levelNs);
  return indexOffset(index, root.nodes[base + N_SHIFT]);
}

/**
 * __radix_tree_lookup(): the entry at index (0 if none). Sets root.node and root.slot to the
 * deepest node on index's path and the slot there (RADIX_TREE_NO_SLOT if index is beyond the
 * tree). Safe without tree_lock under rcu_read_lock(): links are read with Atomics, and a
 * RADIX_TREE_RETRY restarts the walk.
 */
function __radix_tree_lookup(root: RadixTree, index: number): number {
  const nodes = root.nodes;
  for (;;) {
    radix_tree_load_root_rcu(root);
    const shift = root.rootShift;
    if (index > POW2[shift] - 1) {
      root.node = 0;
      root.slot = NO_SLOT;
      return 0;
    }
    let child = root.rootNode;
    let parent = 0;
    let slot = ROOT_SLOT;
    if (shift !== 0) {
      for (;;) {
        parent = child;
        const base = parent * STRIDE;
        slot = base + radix_tree_descend(root, base, index);
        child = Atomics.load(nodes, slot);
        if (child === 0 || child === RADIX_TREE_RETRY || nodes[base + N_SHIFT] === 0) break;
      }
      if (child === RADIX_TREE_RETRY) continue;
    }
    root.node = parent;
    root.slot = slot;
    return child;
  }
}

/** radix_tree_lookup(): the entry at index, or 0. */
export function radix_tree_lookup(root: RadixTree, index: number): number {
  checkIndexArg('index', index);
  return __radix_tree_lookup(root, index);
}

/** radix_tree_lookup_slot(): the slot holding index's entry, or RADIX_TREE_NO_SLOT; valid until the tree next changes. */
export function radix_tree_lookup_slot(root: RadixTree, index: number): number {
  checkIndexArg('index', index);
  if (__radix_tree_lookup(root, index) === 0) return NO_SLOT;
  return root.slot;
}

/** radix_tree_deref_slot_protected(): the value in a slot (caller holds tree_lock). */
export function radix_tree_deref_slot_protected(root: RadixTree, slot: number): number {
  if (slot === ROOT_SLOT) return root.roots[root.r + R_RNODE];
  // Anything but a node's slot word would read a tag, link or count word, or undefined.
  if (!(Number.isInteger(slot) && slot >= STRIDE && slot < root.nodes.length && slot % STRIDE < MAP_SIZE)) {
    throw new RangeError(
      `slot: expected ${ROOT_SLOT} for the root or a node's slot offset from ${STRIDE} to ${root.nodes.length - 1} ` +
        `(offset % ${STRIDE} below ${MAP_SIZE}), as radix_tree_lookup_slot returns, got ${String(slot)}`,
    );
  }
  return root.nodes[slot];
}

/** Throws a RangeError unless slot is a live slot of this tree holding an entry. */
function checkEntrySlot(root: RadixTree, slot: number): void {
  if (slot === ROOT_SLOT) {
    if (root.roots[root.r + R_SHIFT] === 0 && root.roots[root.r + R_RNODE] !== 0) return;
  } else if (
    Number.isInteger(slot) &&
    slot >= STRIDE &&
    slot < root.nodes.length &&
    slot % STRIDE < MAP_SIZE &&
    root.nodes[slot - (slot % STRIDE) + N_SHIFT] === 0 &&
    root.nodes[slot] !== 0
  ) {
    return;
  }
  throw new RangeError(
    `slot: expected a slot holding an entry, as radix_tree_lookup_slot returns (${ROOT_SLOT} for the root, ` +
      `or a leaf slot offset from ${STRIDE} to ${root.nodes.length - 1}), got ${String(slot)}`,
  );
}

// ---- insert -----------------------------------------------------------------------------------

/** shift_maxindex(). */
function shift_maxindex(shift: number): number {
  return POW2[shift + MAP_SHIFT] - 1;
}

/**
 * How many nodes inserting at index needs (extension plus the missing path), or -1 when index
 * is occupied. When it needs none, leaves root.node/root.slot at the empty slot.
 */
function nodesNeeded(root: RadixTree, index: number): number {
  const shift = radix_tree_load_root(root);
  const rnode = root.roots[root.r + R_RNODE];
  if (index > POW2[shift] - 1) {
    let maxshift = shift;
    while (index > shift_maxindex(maxshift)) maxshift += MAP_SHIFT;
    // radix_tree_extend() adds a node per level from shift to maxshift (none on an empty
    // tree), then __radix_tree_create() builds index's path below the new top.
    const extend = rnode === 0 ? 0 : (maxshift - shift) / MAP_SHIFT + 1;
    return extend + maxshift / MAP_SHIFT + (rnode === 0 ? 1 : 0);
  }
  if (shift === 0) {
    // index is 0 here: rnode is the slot.
    if (rnode !== 0) return -1;
    root.node = 0;
    root.slot = ROOT_SLOT;
    return 0;
  }
  const nodes = root.nodes;
  let node = rnode;
  for (;;) {
    const base = node * STRIDE;
    const s = nodes[base + N_SHIFT];
    const slot = base + radix_tree_descend(root, base, index);
    const child = nodes[slot];
    if (s === 0) {
      if (child !== 0) return -1;
      root.node = node;
      root.slot = slot;
      return 0;
    }
    if (child === 0) return s / MAP_SHIFT;
    node = child;
  }
}

/**
 * radix_tree_extend(): adds levels above the root until index fits, pushing the old tree into
 * slot 0 of each new node and carrying the root's tags down; returns the new root shift.
 */
function radix_tree_extend(root: RadixTree, index: number, shift: number): number {
  const roots = root.roots;
  const nodes = root.nodes;
  const r = root.r;
  let maxshift = shift;
  while (index > shift_maxindex(maxshift)) maxshift += MAP_SHIFT;
  let entry = roots[r + R_RNODE];
  if (entry === 0) return maxshift + MAP_SHIFT;
  const rtags = roots[r + R_TAGS];
  do {
    const node = radix_tree_node_alloc(root, 0, shift, 0, 1);
    const base = node * STRIDE;
    for (let tag = 0; tag < MAX_TAGS; tag++) {
      if (((rtags >>> tag) & 1) !== 0) tag_set(nodes, base, tag, 0);
    }
    if (shift !== 0) {
      // entry is an internal node: it becomes node's child at offset 0.
      nodes[entry * STRIDE + N_PARENT] = node;
      nodes[entry * STRIDE + N_OFFSET] = 0;
    }
    nodes[base] = entry;
    entry = node;
    // Published with Atomics after its fields: a lockless reader that finds it sees them.
    set_root(root, node, shift + MAP_SHIFT);
    shift += MAP_SHIFT;
  } while (shift <= maxshift);
  return maxshift + MAP_SHIFT;
}

/** __radix_tree_create(): builds the path to index (extending first if needed); sets root.node and root.slot to its slot. */
function __radix_tree_create(root: RadixTree, index: number): void {
  const roots = root.roots;
  const nodes = root.nodes;
  const r = root.r;
  let node = 0;
  let slot = ROOT_SLOT;
  let offset = 0;
  let shift = radix_tree_load_root(root);
  let child = roots[r + R_RNODE];
  if (index > POW2[shift] - 1) {
    shift = radix_tree_extend(root, index, shift);
    child = roots[r + R_RNODE];
  }
  while (shift > 0) {
    shift -= MAP_SHIFT;
    if (child === 0) {
      // Have to add a child node.
      child = radix_tree_node_alloc(root, node, shift, offset, 0);
      if (node === 0) {
        set_root(root, child, shift + MAP_SHIFT);
      } else {
        Atomics.store(nodes, slot, child);
        nodes[node * STRIDE + N_COUNT]++;
      }
    }
    // Go a level down.
    node = child;
    const base = node * STRIDE;
    offset = radix_tree_descend(root, base, index);
    slot = base + offset;
    child = nodes[slot];
  }
  root.node = node;
  root.slot = slot;
}

/** insert_entries(): stores item in the empty slot and counts it. */
function insert_entries(root: RadixTree, node: number, slot: number, item: number): void {
  if (node === 0) {
    Atomics.store(root.roots, root.r + R_RNODE, item);
  } else {
    Atomics.store(root.nodes, slot, item);
    root.nodes[node * STRIDE + N_COUNT]++;
  }
  // mapping->nrexceptional: the kernel's callers count it; the index does it here.
  root.roots[root.r + R_NREXCEPTIONAL]++;
}

/** __radix_tree_insert() (order 0): 0, or -EEXIST when index is occupied. */
function __radix_tree_insert(root: RadixTree, index: number, item: number): number {
  const need = nodesNeeded(root, index);
  if (need < 0) return -EEXIST;
  if (need > 0) {
    preloadNodes(root, need);
    __radix_tree_create(root, index);
    if (root.preloadedCount !== 0) throw new Error(`__radix_tree_create: ${root.preloadedCount} preloaded nodes left over (a bug in radix_tree.ts)`);
  }
  insert_entries(root, root.node, root.slot, item);
  return 0;
}

/**
 * radix_tree_insert(): stores item (a DAX entry) at index with no tags. Returns 0, or -EEXIST
 * (and changes nothing) when index is occupied. Throws RadixTreeNoMemError (code ENOMEM),
 * with nothing changed, when the node pool cannot supply the nodes the insert needs.
 */
export function radix_tree_insert(root: RadixTree, index: number, item: number): number {
  checkIndexArg('index', index);
  checkDaxEntry('item', item);
  if ((item & RADIX_DAX_PMD) !== 0 && index % PG_PMD_NR !== 0) badPmdIndex(index);
  return __radix_tree_insert(root, index, item);
}

/** A PMD entry sits at the first page of its 2 MiB (see the header): lookups go to index & ~PG_PMD_COLOUR. */
function badPmdIndex(index: number): never {
  throw new RangeError(`index: expected a multiple of ${PG_PMD_NR} for a PMD entry, got ${index}`);
}

/**
 * Whether the entry slot (in the leaf at word base, or the root's) is at an index that is not
 * a multiple of PG_PMD_NR: only slot 0 of a leaf at a multiple-of-8 offset in its parent is
 * aligned (a top leaf's offset is 0). The index itself would take a walk up the tree.
 */
function slotMisalignedForPmd(root: RadixTree, base: number, slot: number): boolean {
  if (slot === ROOT_SLOT) return false;
  return slot !== base || (root.nodes[base + N_OFFSET] & (PG_PMD_NR / MAP_SIZE - 1)) !== 0;
}

function badPmdSlot(slot: number): never {
  throw new RangeError(`item: a PMD entry must sit at an index that is a multiple of ${PG_PMD_NR}; slot ${slot} is not at one`);
}

// ---- replace --------------------------------------------------------------------------------

/** replace_slot(): stores item in slot, adjusting node's count and the entry count by count. */
function replace_slot(root: RadixTree, node: number, slot: number, item: number, count: number): void {
  if (node !== 0 && count !== 0) root.nodes[node * STRIDE + N_COUNT] += count;
  if (count !== 0) root.roots[root.r + R_NREXCEPTIONAL] += count;
  if (slot === ROOT_SLOT) Atomics.store(root.roots, root.r + R_RNODE, item);
  else Atomics.store(root.nodes, slot, item);
}

/** radix_tree_replace_slot(): replaces the entry in slot (from radix_tree_lookup_slot) with item, keeping its tags. */
export function radix_tree_replace_slot(root: RadixTree, slot: number, item: number): void {
  checkDaxEntry('item', item);
  checkEntrySlot(root, slot);
  if ((item & RADIX_DAX_PMD) !== 0 && slotMisalignedForPmd(root, slot - (slot % STRIDE), slot)) badPmdSlot(slot);
  replace_slot(root, 0, slot, item, 0);
}

/**
 * Replaces the entry that this handle's last lookup found (radix_tree_replace_slot on the slot
 * __radix_tree_lookup returned, as lock_slot() uses it): one walk instead of two. The caller
 * held tree_lock since that lookup. Throws, changing nothing, when that lookup found no entry.
 */
export function radixTreeReplaceFound(root: RadixTree, item: number): void {
  checkDaxEntry('item', item);
  if (!lastLookupFound(root)) {
    throw new Error(
      `radixTreeReplaceFound: mapping ${root.mapping}: the last lookup through this handle found no entry ` +
        `(slot ${root.slot}); look the index up and check it holds an entry first`,
    );
  }
  if ((item & RADIX_DAX_PMD) !== 0 && slotMisalignedForPmd(root, root.node * STRIDE, root.slot)) badPmdSlot(root.slot);
  replace_slot(root, 0, root.slot, item, 0);
}

/**
 * Whether root.slot holds an entry: a miss leaves it at NO_SLOT (beyond the tree) or at an
 * empty slot of a leaf or of an interior node, and a store there would be an uncounted entry
 * or a corrupt node. Cheap enough for lock_slot's path: a few loads, no walk.
 */
function lastLookupFound(root: RadixTree): boolean {
  const slot = root.slot;
  if (slot === ROOT_SLOT) return root.roots[root.r + R_SHIFT] === 0 && root.roots[root.r + R_RNODE] !== 0;
  return slot !== NO_SLOT && root.nodes[slot] !== 0 && root.nodes[root.node * STRIDE + N_SHIFT] === 0;
}

/** Replaces the entry at index with item, keeping its tags; returns the old entry, or 0 (and changes nothing) if index is empty. */
export function radixTreeReplace(root: RadixTree, index: number, item: number): number {
  checkIndexArg('index', index);
  checkDaxEntry('item', item);
  if ((item & RADIX_DAX_PMD) !== 0 && index % PG_PMD_NR !== 0) badPmdIndex(index);
  const old = __radix_tree_lookup(root, index);
  if (old !== 0) replace_slot(root, 0, root.slot, item, 0);
  return old;
}

// ---- delete ---------------------------------------------------------------------------------

/**
 * radix_tree_shrink(): while the top node has only slot 0 in use, makes that child the root
 * (a leaf's lone index-0 entry goes into rnode itself) and frees the node.
 */
function radix_tree_shrink(root: RadixTree): boolean {
  const roots = root.roots;
  const nodes = root.nodes;
  const r = root.r;
  let shrunk = false;
  for (;;) {
    if (roots[r + R_SHIFT] === 0) break; // rnode is not an internal node
    const node = roots[r + R_RNODE];
    const base = node * STRIDE;
    if (nodes[base + N_COUNT] !== 1) break;
    const child = nodes[base];
    if (child === 0) break;
    const shift = nodes[base + N_SHIFT];
    if (shift !== 0) nodes[child * STRIDE + N_PARENT] = 0;
    set_root(root, child, shift); // the child's shift + RADIX_TREE_MAP_SHIFT, or 0 for an entry
    nodes[base + N_COUNT] = 0;
    // A lockless reader still in the old top node follows slot 0 to the child node, which is
    // in the tree yet; a lone entry moved to the root it must not report from here: RETRY.
    if (shift === 0) Atomics.store(nodes, base, RADIX_TREE_RETRY);
    radix_tree_node_free(root, node);
    shrunk = true;
  }
  return shrunk;
}

/** delete_node(): frees node and its ancestors while they are empty, then shrinks the tree at the root. */
function delete_node(root: RadixTree, node: number): boolean {
  const roots = root.roots;
  const nodes = root.nodes;
  const r = root.r;
  let deleted = false;
  do {
    const base = node * STRIDE;
    if (nodes[base + N_COUNT] !== 0) {
      if (roots[r + R_SHIFT] !== 0 && node === roots[r + R_RNODE]) deleted = radix_tree_shrink(root) || deleted;
      return deleted;
    }
    const parent = nodes[base + N_PARENT];
    if (parent !== 0) {
      const pbase = parent * STRIDE;
      Atomics.store(nodes, pbase + nodes[base + N_OFFSET], 0);
      nodes[pbase + N_COUNT]--;
    } else {
      root_tag_clear_all(root);
      set_root(root, 0, 0);
    }
    radix_tree_node_free(root, node);
    deleted = true;
    node = parent;
  } while (node !== 0);
  return deleted;
}

/** __radix_tree_delete(): clears the slot's tags, empties it, and frees nodes left empty. */
function __radix_tree_delete(root: RadixTree, node: number, slot: number): boolean {
  const offset = node === 0 ? 0 : slot - node * STRIDE; // get_slot_offset()
  for (let tag = 0; tag < MAX_TAGS; tag++) node_tag_clear(root, node, tag, offset);
  replace_slot(root, node, slot, 0, -1);
  return node !== 0 && delete_node(root, node);
}

/**
 * radix_tree_delete_item(): deletes the entry at index if it is item (any entry when item is
 * 0); returns the deleted entry, or 0 when nothing was deleted. Its tags go with it.
 */
export function radix_tree_delete_item(root: RadixTree, index: number, item: number): number {
  checkIndexArg('index', index);
  if (item !== 0) checkDaxEntry('item', item);
  const entry = __radix_tree_lookup(root, index);
  if (root.slot === NO_SLOT || entry === 0) return 0;
  if (item !== 0 && entry !== item) return 0;
  __radix_tree_delete(root, root.node, root.slot);
  if (root.rcuFreeCount !== 0) flushFreedNodes(root);
  return entry;
}

/** radix_tree_delete(): deletes the entry at index; returns it, or 0 if there was none. */
export function radix_tree_delete(root: RadixTree, index: number): number {
  return radix_tree_delete_item(root, index, 0);
}

// ---- tags by index ----------------------------------------------------------------------------

/**
 * radix_tree_tag_set(): sets tag on the entry at index and on its path up to the root;
 * returns the entry. Setting a tag on an absent index is a bug (the kernel BUG()s): throws,
 * with nothing changed.
 */
export function radix_tree_tag_set(root: RadixTree, index: number, tag: number): number {
  checkIndexArg('index', index);
  checkTagArg(tag);
  const entry = __radix_tree_lookup(root, index);
  if (entry === 0) throw new Error(`radix_tree_tag_set: no entry at index ${index} of mapping ${root.mapping} (setting a tag on a not-present item is a bug)`);
  const node = root.node;
  node_tag_set(root, node, tag, node === 0 ? 0 : root.slot - node * STRIDE);
  return entry;
}

/** radix_tree_tag_clear(): clears tag on the entry at index, and up the path where no sibling keeps it; returns the entry, or 0 if none. */
export function radix_tree_tag_clear(root: RadixTree, index: number, tag: number): number {
  checkIndexArg('index', index);
  checkTagArg(tag);
  const entry = __radix_tree_lookup(root, index);
  if (entry === 0) return 0;
  const node = root.node;
  node_tag_clear(root, node, tag, node === 0 ? 0 : root.slot - node * STRIDE);
  return entry;
}

/** radix_tree_tag_get(): whether the entry at index has tag (false when absent). */
export function radix_tree_tag_get(root: RadixTree, index: number, tag: number): boolean {
  checkIndexArg('index', index);
  checkTagArg(tag);
  if (!root_tag_get(root, tag)) return false;
  const shift = radix_tree_load_root(root);
  if (index > POW2[shift] - 1) return false;
  if (shift === 0) return root.roots[root.r + R_RNODE] !== 0;
  const nodes = root.nodes;
  let node = root.roots[root.r + R_RNODE];
  for (;;) {
    const base = node * STRIDE;
    const offset = radix_tree_descend(root, base, index);
    if (!tag_get(nodes, base, tag, offset)) return false;
    if (nodes[base + N_SHIFT] === 0) return nodes[base + offset] !== 0;
    node = nodes[base + offset];
  }
}

/** radix_tree_tagged(): whether any entry in the tree has tag (the root's tag bit). */
export function radix_tree_tagged(root: RadixTree, tag: number): boolean {
  checkTagArg(tag);
  return root_tag_get(root, tag);
}

// ---- iteration (struct radix_tree_iter) --------------------------------------------------------

/** radix_tree_iter_init(): starts a walk at start. */
export function radix_tree_iter_init(root: RadixTree, start: number): void {
  root.iterIndex = 0;
  root.iterNextIndex = start;
  root.iterNode = 0;
  root.iterOffset = 0;
}

/** radix_tree_iter_resume(): makes the next step start a fresh chunk after the current index (the tree may change meanwhile). */
export function radix_tree_iter_resume(root: RadixTree): void {
  root.iterNextIndex = root.iterIndex + 1;
  root.iterNode = 0;
}

/**
 * radix_tree_next_chunk(): from iter.next_index, descends to the first slot that holds an
 * entry (tag = ITER_ALL) or whose tag bit is set, skipping every subtree whose bit in its
 * parent is clear; restarts from the root when a node has nothing more. Sets the iterator to
 * that slot's index, leaf and offset; returns the slot or RADIX_TREE_NO_SLOT.
 *
 * Without tree_lock (under rcu_read_lock) a writer may change the tree under the walk: a
 * tagged slot found empty, or RADIX_TREE_RETRY, restarts from the root at the same index, as
 * the kernel's walk does. Under tree_lock a tagged empty slot is a corrupt tree.
 */
export function radix_tree_next_chunk(root: RadixTree, tag: number): number {
  if (tag !== ITER_ALL && !root_tag_get(root, tag)) return NO_SLOT;
  const nodes = root.nodes;
  const lockless = !root.holdsTreeLock;
  let index = root.iterNextIndex;
  let restarts = 0;
  restart: for (;;) {
    radix_tree_load_root_rcu(root);
    const shift = root.rootShift;
    const maxindex = POW2[shift] - 1;
    if (index > maxindex) return NO_SLOT;
    let child = root.rootNode;
    if (child === 0) return NO_SLOT;
    if (shift === 0) {
      // Single-slot tree.
      root.iterIndex = index;
      root.iterNextIndex = maxindex + 1;
      root.iterNode = 0;
      root.iterOffset = 0;
      root.iterRootEntry = child;
      return ROOT_SLOT;
    }
    let base = 0;
    let offset = 0;
    let nshift = 0;
    do {
      base = child * STRIDE;
      nshift = nodes[base + N_SHIFT];
      offset = radix_tree_descend(root, base, index);
      const hole = tag === ITER_ALL ? Atomics.load(nodes, base + offset) === 0 : !tag_get(nodes, base, tag, offset);
      if (hole) {
        if (tag === ITER_ALL) {
          while (++offset < MAP_SIZE && nodes[base + offset] === 0);
        } else {
          offset = radix_tree_find_next_bit(nodes, base, tag, offset + 1);
        }
        index = index - (index % POW2[nshift + MAP_SHIFT]) + offset * POW2[nshift];
        if (offset === MAP_SIZE) continue restart;
      }
      child = Atomics.load(nodes, base + offset);
      if (child === 0 || child === RADIX_TREE_RETRY) {
        if (!lockless) {
          throw new Error(`radix_tree_next_chunk: mapping ${root.mapping} node ${base / STRIDE} slot ${offset} is tagged but empty (corrupt tree)`);
        }
        if (++restarts > MAX_RESTARTS) throw new Error(`radix_tree_next_chunk: mapping ${root.mapping}: ${MAX_RESTARTS} restarts at index ${index} (corrupt tree)`);
        continue restart;
      }
    } while (nshift !== 0);
    root.iterIndex = index;
    root.iterNextIndex = index - (index % MAP_SIZE) + MAP_SIZE;
    root.iterNode = base / STRIDE;
    root.iterOffset = offset;
    return base + offset;
  }
}

/** radix_tree_next_slot(): the next matching slot in the current chunk (leaf), else the first of the next chunk. */
export function radix_tree_next_slot(root: RadixTree, tag: number): number {
  const node = root.iterNode;
  if (node !== 0) {
    const nodes = root.nodes;
    const base = node * STRIDE;
    let offset = root.iterOffset;
    if (tag === ITER_ALL) {
      while (++offset < MAP_SIZE && nodes[base + offset] === 0);
    } else {
      offset = radix_tree_find_next_bit(nodes, base, tag, offset + 1);
    }
    if (offset < MAP_SIZE) {
      root.iterIndex += offset - root.iterOffset;
      root.iterOffset = offset;
      return base + offset;
    }
  }
  return radix_tree_next_chunk(root, tag);
}

/** radix_tree_iter_tag_set(): sets tag on the iterator's current entry. */
export function radix_tree_iter_tag_set(root: RadixTree, tag: number): void {
  node_tag_set(root, root.iterNode, tag, root.iterOffset);
}

/**
 * Reads the walk's results into the caller's arrays (shared by both gang lookups). Without
 * tree_lock a slot may have been emptied since the walk found it (skipped, as the kernel's
 * find_get_entries skips a NULL slot) or hold RADIX_TREE_RETRY (the walk restarts there).
 */
function gangLookup(
  root: RadixTree,
  start: number,
  tag: number,
  nrEntries: number,
  indices: Int32Array | Float64Array,
  entries: Int32Array,
): number {
  if (nrEntries === 0) return 0;
  const int32 = indices instanceof Int32Array;
  const nodes = root.nodes;
  let ret = 0;
  radix_tree_iter_init(root, start);
  let slot = radix_tree_next_chunk(root, tag);
  while (slot !== NO_SLOT) {
    const index = root.iterIndex;
    const entry = slot === ROOT_SLOT ? root.iterRootEntry : Atomics.load(nodes, slot);
    if (entry === RADIX_TREE_RETRY) {
      // radix_tree_iter_retry(): the next chunk starts at this index again.
      root.iterNextIndex = index;
      root.iterNode = 0;
      slot = radix_tree_next_chunk(root, tag);
      continue;
    }
    if (entry !== 0) {
      if (int32 && index > 0x7fffffff) {
        throw new RangeError(`outIndices: an Int32Array cannot hold index ${index}; pass a Float64Array`);
      }
      indices[ret] = index;
      entries[ret] = entry;
      if (++ret === nrEntries) break;
    }
    slot = radix_tree_next_slot(root, tag);
  }
  return ret;
}

function checkGangArgs(start: number, maxItems: number, indices: Int32Array | Float64Array, entries: Int32Array): void {
  checkIndexArg('start', start);
  const room = Math.min(indices.length, entries.length);
  if (!(maxItems >= 0 && maxItems <= room && Number.isInteger(maxItems))) checkInt('maxItems', maxItems, 0, room);
}

/**
 * find_get_entries_tag() (mm/filemap.c): up to maxItems entries carrying tag, in index order
 * from start, into outIndices/outEntries; returns how many. Visits only subtrees whose tag bit
 * is set: O(height) nodes per tagged leaf found. As in 4.14 it walks under rcu_read_lock(),
 * without tree_lock: an entry it returns may have changed or gone by the time the caller
 * looks again, and the caller checks under tree_lock (dax_writeback_one). Called with
 * tree_lock held, it reads a stable tree. (The kernel orders the arrays entries, indices.)
 */
export function find_get_entries_tag(
  root: RadixTree,
  start: number,
  tag: number,
  maxItems: number,
  outIndices: Int32Array | Float64Array,
  outEntries: Int32Array,
): number {
  checkTagArg(tag);
  checkGangArgs(start, maxItems, outIndices, outEntries);
  rcu_read_lock(root.cpu);
  try {
    return gangLookup(root, start, tag, maxItems, outIndices, outEntries);
  } finally {
    rcu_read_unlock(root.cpu);
  }
}

/**
 * find_get_entries() (mm/filemap.c, pagevec_lookup_entries): up to maxItems present entries
 * in index order from start; returns how many. Under rcu_read_lock(), as find_get_entries_tag().
 */
export function find_get_entries(
  root: RadixTree,
  start: number,
  maxItems: number,
  outIndices: Int32Array | Float64Array,
  outEntries: Int32Array,
): number {
  checkGangArgs(start, maxItems, outIndices, outEntries);
  rcu_read_lock(root.cpu);
  try {
    return gangLookup(root, start, ITER_ALL, maxItems, outIndices, outEntries);
  } finally {
    rcu_read_unlock(root.cpu);
  }
}

/**
 * radix_tree_lookup() under rcu_read_lock(), without tree_lock: the entry at index when the
 * walk read it (it may change at once; look again under tree_lock before acting on it).
 */
export function radix_tree_lookup_rcu(root: RadixTree, index: number): number {
  checkIndexArg('index', index);
  rcu_read_lock(root.cpu);
  try {
    return __radix_tree_lookup(root, index);
  } finally {
    rcu_read_unlock(root.cpu);
  }
}
