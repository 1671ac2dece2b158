// The radix-tree node pool: every mapping index takes its nodes from one array of INDEX_NODE
// records (views.indexNodes), as every radix tree in the kernel takes them from one slab
// cache (radix_tree_node_cachep). Node 0 is NULL and never handed out.
//
// Locking rules:
//   - The pool header (views.indexPool: freeHead, used, highWater, pendingHead, pending) and
//     the free and pending lists are guarded by the pool's own spinlock, lock_stat class
//     radix_node_pool, whose words are the header's lockState/lockOwner.
//   - It nests inside tree_lock (radix_tree.ts allocates and frees nodes while it holds the
//     mapping's tree_lock) and nothing nests inside it: never take tree_lock, or any other
//     lock, while holding it.
//   - It is held only for a few list operations. Nothing sleeps while holding it; a CPU that
//     finds it held spins and, past machine.config.lockSpinNs, sleeps briefly in Atomics.wait
//     (the spinlock's rule), which may happen while that CPU holds a tree_lock.
//
// Ownership: a node belongs to exactly one of the free list (linked through its parent word,
// its shift word set to NODE_FREE_POISON), the pending list (unlinked from its tree while a
// lockless reader may still be in it; linked through its parent word, its count word set to
// NODE_PENDING, its offset word holding its RCU stamp, its slots, tags and shift untouched
// for the readers), one tree (reached from one mapping root), or one CPU between allocNodes
// and its link into a tree within a single tree_lock hold. Nodes above the highWater
// watermark have never been handed out, so an all-zero pool needs no setup.
//
// RCU (sync/rcu.ts): 4.14 frees radix-tree nodes through call_rcu(), so that lookups and
// find_get_entries_tag() walking without tree_lock never read a node that was reused under
// them. freeNodes() does the same: with no reader inside rcu_read_lock() the nodes go back at
// once, else they wait on the pending list until the readers that may have seen them have
// left; every later pool operation reclaims what has waited long enough. Today's kernel keeps
// XArray nodes (struct xa_node) in the same slab and frees them through RCU too.

import { INDEX_NODE, INDEX_POOL, LOCK_CLASS } from '../machine/layout.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { rcu_oldest_reader, rcu_readers_active, rcu_stamp } from '../sync/rcu.js';
import type { Cpu } from '../sync/cpu.js';
import { checkInt } from '../util/check.js';

const STRIDE = INDEX_NODE.stride;
const N_PARENT = INDEX_NODE.parent;
const N_SHIFT = INDEX_NODE.shift;
const N_COUNT = INDEX_NODE.count;
const P_LOCK = INDEX_POOL.lockState;
const P_FREE = INDEX_POOL.freeHead;
const P_USED = INDEX_POOL.used;
const P_HIGH = INDEX_POOL.highWater;
const P_PENDING_HEAD = INDEX_POOL.pendingHead;
const P_PENDING = INDEX_POOL.pending;
const N_OFFSET = INDEX_NODE.offset;
const CLS = LOCK_CLASS.radix_node_pool;

/** What a free node's shift word holds, so a checker (or a stale reader) can tell it is free. */
export const NODE_FREE_POISON = -1;
/** What a pending node's count word holds (waiting for an RCU grace period; its other words are a reader's to read). */
export const NODE_PENDING = -2;

/** ENOMEM: the node pool cannot supply the nodes an operation needs; nothing was changed. */
export class RadixTreeNoMemError extends RangeError {
  readonly code = 'ENOMEM';
  constructor(message: string) {
    super(message);
    this.name = 'RadixTreeNoMemError';
  }
}

/** One CPU's handle on the shared node pool (make one per worker, or one per RadixTree). */
export class NodePool {
  readonly cpu: Cpu;
  /** views.indexPool: the pool header. */
  readonly header: Int32Array;
  /** views.indexNodes: every node record. */
  readonly nodes: Int32Array;
  /** machine.config.indexNodes: nodes 1..capacity exist. */
  readonly capacity: number;
  /** How many times this handle took the pool lock (tests compare it with lock_stat). */
  lockAcquisitions = 0;

  constructor(cpu: Cpu) {
    this.cpu = cpu;
    this.header = cpu.machine.views.indexPool;
    this.nodes = cpu.machine.views.indexNodes;
    this.capacity = cpu.machine.config.indexNodes;
  }

  /**
   * Takes `count` nodes into out[0..count), each zeroed (slots, tags, links, count), under one
   * hold of the pool lock. Throws RadixTreeNoMemError, with the pool unchanged, when fewer
   * than `count` nodes are free.
   */
  allocNodes(count: number, out: Int32Array): void {
    if (!((count >>> 0) === count && count <= out.length)) checkInt('count', count, 0, out.length);
    if (count === 0) return;
    const h = this.header;
    const nodes = this.nodes;
    spin_lock(this.cpu, h, P_LOCK, CLS);
    this.lockAcquisitions++;
    if (h[P_PENDING] > 0) this.reclaimLocked();
    const used = h[P_USED];
    if (this.capacity - used < count) {
      spin_unlock(this.cpu, h, P_LOCK, CLS);
      throw new RadixTreeNoMemError(
        `indexNodes: the radix-tree node pool is exhausted (capacity ${this.capacity} nodes, ${used} in use, ` +
          `${count} more needed): ENOMEM; raise the machine's indexNodes`,
      );
    }
    let head = h[P_FREE];
    let high = h[P_HIGH];
    for (let i = 0; i < count; i++) {
      let n: number;
      if (head !== 0) {
        n = head;
        head = nodes[n * STRIDE + N_PARENT];
      } else {
        n = ++high;
      }
      out[i] = n;
    }
    h[P_FREE] = head;
    h[P_HIGH] = high;
    h[P_USED] = used + count;
    spin_unlock(this.cpu, h, P_LOCK, CLS);
    // Zero outside the lock: the nodes are ours now.
    for (let i = 0; i < count; i++) {
      const base = out[i] * STRIDE;
      nodes.fill(0, base, base + STRIDE);
    }
  }

  /**
   * Frees list[0..count), unlinked from their tree, under one hold of the pool lock: to the
   * free list at once when no CPU is inside rcu_read_lock(), else to the pending list until a
   * grace period has passed (call_rcu). Refuses, with nothing changed, a node that was never
   * handed out or is already free or pending (a double free would link a list into a cycle
   * and hand one node to two trees).
   */
  freeNodes(list: Int32Array, count: number): void {
    if (!((count >>> 0) === count && count <= list.length)) checkInt('count', count, 0, list.length);
    if (count === 0) return;
    const h = this.header;
    const nodes = this.nodes;
    this.checkFreeList(list, count);
    // Read after the caller's unlinking stores (Atomics): a reader counted later cannot reach these nodes.
    const readers = rcu_readers_active(this.cpu.machine);
    if (readers === 0) {
      // Poison outside the lock: once linked, another CPU may take the node at any moment.
      for (let i = 0; i < count; i++) {
        const base = list[i] * STRIDE;
        nodes[base + N_SHIFT] = NODE_FREE_POISON;
        nodes[base + N_COUNT] = 0;
      }
    } else {
      const stamp = rcu_stamp(this.cpu.machine);
      for (let i = 0; i < count; i++) {
        const base = list[i] * STRIDE;
        nodes[base + N_COUNT] = NODE_PENDING;
        nodes[base + N_OFFSET] = stamp;
      }
    }
    for (let i = 0; i < count - 1; i++) nodes[list[i] * STRIDE + N_PARENT] = list[i + 1];
    spin_lock(this.cpu, h, P_LOCK, CLS);
    this.lockAcquisitions++;
    if (readers === 0) {
      nodes[list[count - 1] * STRIDE + N_PARENT] = h[P_FREE];
      h[P_FREE] = list[0];
      h[P_USED] -= count;
    } else {
      nodes[list[count - 1] * STRIDE + N_PARENT] = h[P_PENDING_HEAD];
      h[P_PENDING_HEAD] = list[0];
      h[P_PENDING] += count;
    }
    if (h[P_PENDING] > 0) this.reclaimLocked();
    spin_unlock(this.cpu, h, P_LOCK, CLS);
  }

  /** Moves the pending nodes whose grace period is over to the free list (the RCU callbacks running). Pool lock held. */
  private reclaimLocked(): void {
    const h = this.header;
    const nodes = this.nodes;
    const oldest = rcu_oldest_reader(this.cpu.machine);
    let prev = 0;
    let n = h[P_PENDING_HEAD];
    while (n !== 0) {
      const base = n * STRIDE;
      const next = nodes[base + N_PARENT];
      if (nodes[base + N_OFFSET] < oldest) {
        if (prev === 0) h[P_PENDING_HEAD] = next;
        else nodes[prev * STRIDE + N_PARENT] = next;
        nodes[base + N_SHIFT] = NODE_FREE_POISON;
        nodes[base + N_COUNT] = 0;
        nodes[base + N_PARENT] = h[P_FREE];
        h[P_FREE] = n;
        h[P_PENDING]--;
        h[P_USED]--;
      } else {
        prev = n;
      }
      n = next;
    }
  }

  /** Throws unless list[0..count) are distinct nodes handed out by the pool and not free now. */
  private checkFreeList(list: Int32Array, count: number): void {
    const nodes = this.nodes;
    // highWater only grows, and the caller's own nodes are below it: read without the lock.
    const high = Math.min(Atomics.load(this.header, P_HIGH), this.capacity);
    for (let i = 0; i < count; i++) {
      const n = list[i];
      if (!(n >= 1 && n <= high)) {
        throw new RangeError(`list[${i}]: expected a node number from 1 to ${high} (the nodes handed out so far), got ${n}`);
      }
      // A free node's shift word holds the poison, a pending one's count word its mark; a node in a tree or in a CPU's hands has neither.
      if (nodes[n * STRIDE + N_SHIFT] === NODE_FREE_POISON) throw new Error(`freeNodes: list[${i}]: node ${n} is already free (double free)`);
      if (nodes[n * STRIDE + N_COUNT] === NODE_PENDING) throw new Error(`freeNodes: list[${i}]: node ${n} is already freed, waiting for an RCU grace period (double free)`);
    }
    // Duplicates within the list: pairwise while that is cheap (an operation frees at most
    // a few dozen nodes), through a set beyond.
    if (count <= 64) {
      for (let i = 1; i < count; i++) {
        for (let j = 0; j < i; j++) if (list[j] === list[i]) throw new Error(`freeNodes: list[${i}]: node ${list[i]} is also list[${j}] (double free)`);
      }
    } else {
      const seen = new Set<number>();
      for (let i = 0; i < count; i++) {
        if (seen.has(list[i])) throw new Error(`freeNodes: list[${i}]: node ${list[i]} appears twice in the list (double free)`);
        seen.add(list[i]);
      }
    }
  }
}

/** Nodes in use, as the pool header says (read without the lock: a snapshot); pending nodes count. */
export function nodePoolUsed(header: Int32Array): number {
  return Atomics.load(header, P_USED);
}

/** Nodes waiting for an RCU grace period (a snapshot). */
export function nodePoolPending(header: Int32Array): number {
  return Atomics.load(header, P_PENDING);
}
