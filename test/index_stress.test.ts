import { describe, expect, it } from 'vitest';
import { createMachine } from '../src/machine/machine.js';
import {
  INDEX_NODE,
  INDEX_POOL,
  INDEX_ROOT,
  LOCK_CLASS,
  LOCK_CLASSES,
  LOCK_STAT,
  MiB,
  PAGECACHE_TAG_DIRTY as DIRTY,
  PAGECACHE_TAG_TOWRITE as TOWRITE,
} from '../src/machine/layout.js';
import { attachCpu } from '../src/sync/cpu.js';
import { dax_radix_locked_entry } from '../src/dax/dax_entry.js';
import {
  RadixTree,
  find_get_entries,
  find_get_entries_tag,
  radixTreeEntries,
  radix_tree_insert,
  radix_tree_lookup,
  radix_tree_tag_get,
  radix_tree_tag_set,
} from '../src/dax/radix_tree.js';
import { checkIndex, checkRadixTree } from '../src/dax/radix_tree_check.js';
import { runCpus } from './support/workers.js';
import { SHARED_BASE, SHARED_COUNT, type IndexStressResult } from './workers/index_stress.js';
import { MAPPINGS, STABLE, entryOf, type RcuStressResult } from './workers/rcu_stress.js';
import { nodePoolPending } from '../src/dax/node_pool.js';
import { radix_tree_delete } from '../src/dax/radix_tree.js';

function stat(machine: ReturnType<typeof createMachine>, cpu: number, cls: number, field: number): number {
  return machine.views.lockStat[cpu * LOCK_CLASSES.length * LOCK_STAT.stride + cls * LOCK_STAT.stride + field];
}

/** Counts the tree's entries, or those with a tag, by gang lookups from index 0. */
function countAll(t: RadixTree, tag: number | null): number {
  const outI = new Float64Array(256);
  const outE = new Int32Array(256);
  let total = 0;
  for (let start = 0; ; ) {
    const n = tag === null ? find_get_entries(t, start, 256, outI, outE) : find_get_entries_tag(t, start, tag, 256, outI, outE);
    total += n;
    if (n < 256) return total;
    start = outI[255] + 1;
  }
}

describe('mapping index under 4 CPUs', () => {
  it('keeps every CPU\'s entries and every invariant, and lock_stat adds up', async () => {
    const CPUS = 4;
    const machine = createMachine({ cpus: CPUS + 1, pmemBytes: 2 * MiB, indexNodes: 60_000, mappings: 2 });
    const ops = 40_000;
    const results = await runCpus<IndexStressResult>(
      machine,
      Array.from({ length: CPUS }, (_, cpu) => ({
        cpu,
        module: 'index_stress',
        fn: 'run',
        args: { ops, seed: 12345, perRegion: 1500 },
      })),
      120_000,
    );
    for (const r of results) expect(r.mismatches).toEqual([]);

    // The whole index, every tree and the pool, is sound.
    expect(checkIndex(machine)).toEqual([]);

    const main = attachCpu(machine, CPUS);
    const t = new RadixTree(main, 0);
    let shared = 0;
    let sharedDirty = 0;
    let sharedTowrite = 0;
    for (let k = 0; k < SHARED_COUNT; k++) {
      if (radix_tree_lookup(t, SHARED_BASE + k) === 0) continue;
      shared++;
      sharedDirty += +radix_tree_tag_get(t, SHARED_BASE + k, DIRTY);
      sharedTowrite += +radix_tree_tag_get(t, SHARED_BASE + k, TOWRITE);
    }
    const own = results.reduce((a, r) => a + r.own, 0);
    expect(own).toBeGreaterThan(1000);
    expect(radixTreeEntries(t)).toBe(own + shared);
    expect(countAll(t, null)).toBe(own + shared);
    expect(countAll(t, DIRTY)).toBe(results.reduce((a, r) => a + r.ownDirty, 0) + sharedDirty);
    expect(countAll(t, TOWRITE)).toBe(results.reduce((a, r) => a + r.ownTowrite, 0) + sharedTowrite);
    expect(machine.views.indexPool[INDEX_POOL.used]).toBe(machine.views.indexRoots[INDEX_ROOT.nodes]);

    // lock_stat: each CPU's acquisitions are exactly the locks it took.
    let contentions = 0;
    for (const r of results) {
      expect(stat(machine, r.cpu, LOCK_CLASS.tree_lock, LOCK_STAT.acquisitions)).toBe(r.treeLocks);
      expect(stat(machine, r.cpu, LOCK_CLASS.radix_node_pool, LOCK_STAT.acquisitions)).toBe(r.poolLocks);
      expect(r.poolLocks).toBeGreaterThan(0);
      for (const cls of [LOCK_CLASS.tree_lock, LOCK_CLASS.radix_node_pool]) {
        expect(stat(machine, r.cpu, cls, LOCK_STAT.contentions)).toBeLessThanOrEqual(stat(machine, r.cpu, cls, LOCK_STAT.acquisitions));
      }
      contentions += stat(machine, r.cpu, LOCK_CLASS.tree_lock, LOCK_STAT.contentions);
      expect(r.counts.tagPages).toBeGreaterThan(0);
      expect(r.counts.sharedInsert).toBeGreaterThan(0);
    }
    expect(contentions).toBeGreaterThan(0); // the CPUs did meet on tree_lock
    expect(stat(machine, CPUS, LOCK_CLASS.tree_lock, LOCK_STAT.acquisitions)).toBe(0);
  });
});

describe('lockless readers (RCU) beside writers', () => {
  // 4.14 walks the index for writeback and truncate under rcu_read_lock(), not tree_lock; a
  // node a writer frees must not be reused while such a reader may be in it.
  it('2 readers without tree_lock never see a reused node, never miss an entry that stays, while 2 writers churn a 128-node pool', async () => {
    const machine = createMachine({ cpus: 5, pmemBytes: 2 * MiB, indexNodes: 128, mappings: MAPPINGS });
    const main = attachCpu(machine, 4);
    STABLE.forEach((stable, m) => {
      const t = new RadixTree(main, m);
      t.treeLock();
      for (const i of stable) {
        radix_tree_insert(t, i, entryOf(i));
        radix_tree_tag_set(t, i, DIRTY);
      }
      t.treeUnlock();
    });
    const running = new SharedArrayBuffer(4);
    new Int32Array(running)[0] = 2;
    const results = await runCpus<RcuStressResult>(
      machine,
      [0, 1, 2, 3].map((cpu) => ({
        cpu,
        module: 'rcu_stress',
        fn: 'run',
        args: { role: cpu < 2 ? 'writer' : 'reader', ops: 60_000, seed: 777, running },
      })),
      120_000,
    );
    for (const r of results) expect(r.problems).toEqual([]);
    // The readers checked a lot, and the writers freed nodes while readers were inside.
    for (const r of results.slice(2)) expect(r.seen).toBeGreaterThan(10_000);
    expect(results[0].pendingSeen + results[1].pendingSeen).toBeGreaterThan(0);
    expect(checkIndex(machine)).toEqual([]);
    // With no reader left, the next pool operation reclaims every pending node: empty mapping 2.
    const t1 = new RadixTree(main, 2);
    const idx = new Float64Array(64);
    const ent = new Int32Array(64);
    t1.treeLock();
    for (let n = find_get_entries(t1, 0, 64, idx, ent); n > 0; n = find_get_entries(t1, 0, 64, idx, ent)) {
      for (let k = 0; k < n; k++) radix_tree_delete(t1, idx[k]);
    }
    radix_tree_insert(t1, 2 ** 30, entryOf(2 ** 30));
    radix_tree_delete(t1, 2 ** 30);
    t1.treeUnlock();
    expect(nodePoolPending(machine.views.indexPool)).toBe(0);
    expect(checkIndex(machine)).toEqual([]);
  }, 150_000);
});

describe('the invariant checker on known-bad trees', () => {
  function built() {
    const machine = createMachine({ cpus: 1, pmemBytes: 2 * MiB, indexNodes: 64, mappings: 2 });
    const cpu = attachCpu(machine, 0);
    const t = new RadixTree(cpu, 0);
    for (const i of [1, 2, 70, 5000, 2 ** 20]) radix_tree_insert(t, i, dax_radix_locked_entry(i % 1000, 0));
    radix_tree_tag_set(t, 5000, DIRTY);
    expect(checkIndex(machine)).toEqual([]);
    const nodes = machine.views.indexNodes;
    const top = machine.views.indexRoots[INDEX_ROOT.rnode];
    return { machine, t, nodes, top };
  }
  const S = INDEX_NODE.stride;

  it('catches a parent tag bit cleared by hand', () => {
    const { machine, nodes, top } = built();
    // 5000 sits under the top node's slot 0 (top shift 18): clear that DIRTY bit.
    expect(nodes[top * S + INDEX_NODE.tags + DIRTY * 2] & 1).toBe(1);
    nodes[top * S + INDEX_NODE.tags + DIRTY * 2] &= ~1;
    const v = checkIndex(machine);
    expect(v.join('\n')).toMatch(/slot 0: tag DIRTY bit is clear but child node \d+ has some/);
    expect(v.join('\n')).toMatch(/root tag DIRTY is set but the tree has no tagged entries/);
    expect(checkRadixTree(machine, 0).length).toBeGreaterThan(0);
  });

  it('catches a stray tag bit on an empty slot, a wrong count, a broken parent link and nrexceptional drift', () => {
    const { machine, nodes, top } = built();
    nodes[top * S + INDEX_NODE.tags + TOWRITE * 2 + 1] |= 1 << 5; // slot 37 is empty
    nodes[top * S + INDEX_NODE.count] += 1;
    const child = nodes[top * S];
    nodes[child * S + INDEX_NODE.parent] = 7;
    machine.views.indexRoots[INDEX_ROOT.nrexceptional] -= 1;
    const v = checkIndex(machine).join('\n');
    expect(v).toMatch(/slot 37: tag TOWRITE set on an empty slot/);
    expect(v).toMatch(/count field is \d+, \d+ slots are in use/);
    expect(v).toMatch(/parent field is 7, reached from \d+/);
    expect(v).toMatch(/nrexceptional is 4, the tree holds 5 entries/);
  });

  it('catches a node lost from the pool and a node used by two trees', () => {
    const { machine, nodes, top } = built();
    const pool = machine.views.indexPool;
    // A leaf unlinked by hand: its entries vanish and the node is neither in a tree nor free.
    const child = nodes[top * S];
    nodes[top * S] = 0;
    let v = checkIndex(machine).join('\n');
    expect(v).toMatch(/nodes neither in a tree nor free \(lost\)/);
    expect(v).toMatch(/pool: used is \d+, \d+ nodes are in trees/);
    nodes[top * S] = child;
    expect(checkIndex(machine)).toEqual([]);
    // Mapping 1's root made to point at mapping 0's subtree.
    const r1 = INDEX_ROOT.stride;
    machine.views.indexRoots[r1 + INDEX_ROOT.rnode] = child;
    machine.views.indexRoots[r1 + INDEX_ROOT.shift] = nodes[child * S + INDEX_NODE.shift] + 6;
    v = checkIndex(machine).join('\n');
    expect(v).toMatch(/node \d+ reached twice/);
    // A node freed while still in the tree.
    machine.views.indexRoots.fill(0, r1, r1 + INDEX_ROOT.stride);
    const leaf = nodes[child * S];
    nodes[leaf * S + INDEX_NODE.shift] = -1;
    nodes[leaf * S + INDEX_NODE.parent] = pool[INDEX_POOL.freeHead];
    pool[INDEX_POOL.freeHead] = leaf;
    v = checkIndex(machine).join('\n');
    expect(v).toMatch(/on the free list .* but reachable/);
    expect(v).toMatch(/is on the free list and in a tree/);
  });

  it('catches a tree that was not shrunk and a bad root shift', () => {
    const machine = createMachine({ cpus: 1, pmemBytes: 2 * MiB, indexNodes: 8, mappings: 1 });
    const t = new RadixTree(attachCpu(machine, 0), 0);
    radix_tree_insert(t, 5, dax_radix_locked_entry(5, 0));
    radix_tree_insert(t, 70, dax_radix_locked_entry(70, 0));
    expect(checkIndex(machine)).toEqual([]);
    const nodes = machine.views.indexNodes;
    const roots = machine.views.indexRoots;
    const pool = machine.views.indexPool;
    // Unlink 70's leaf the way delete_node would, but skip radix_tree_shrink().
    const top = roots[INDEX_ROOT.rnode];
    const leaf = nodes[top * S + 1];
    nodes[top * S + 1] = 0;
    nodes[top * S + INDEX_NODE.count] = 1;
    roots[INDEX_ROOT.nodes] -= 1;
    roots[INDEX_ROOT.nrexceptional] -= 1;
    nodes[leaf * S + INDEX_NODE.shift] = -1;
    nodes[leaf * S + INDEX_NODE.parent] = pool[INDEX_POOL.freeHead];
    pool[INDEX_POOL.freeHead] = leaf;
    pool[INDEX_POOL.used] -= 1;
    expect(checkIndex(machine)).toEqual([`mapping 0: top node ${top} holds only slot 0 (not shrunk)`]);
    roots[INDEX_ROOT.shift] += 6;
    expect(checkIndex(machine).join('\n')).toMatch(/shift field is \d+, its depth says \d+/);
    roots[INDEX_ROOT.shift] = 5;
    expect(checkIndex(machine).join('\n')).toMatch(/root shift 5 is not a multiple of 6/);
  });
});
