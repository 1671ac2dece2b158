import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createMachine, type Machine } from '../src/machine/machine.js';
import {
  INDEX_NODE,
  INDEX_POOL,
  INDEX_ROOT,
  LOCK_CLASSES,
  LOCK_CLASS,
  LOCK_STAT,
  MiB,
  PAGECACHE_TAG_DIRTY as DIRTY,
  PAGECACHE_TAG_TOWRITE as TOWRITE,
} from '../src/machine/layout.js';
import { attachCpu, type Cpu } from '../src/sync/cpu.js';
import {
  DAX_MAX_PFN,
  RADIX_DAX_EMPTY,
  RADIX_DAX_ENTRY_LOCK,
  RADIX_DAX_PMD,
  RADIX_DAX_SHIFT,
  RADIX_DAX_ZERO_PAGE,
  dax_is_empty_entry,
  dax_is_pmd_entry,
  dax_is_pte_entry,
  dax_is_zero_entry,
  dax_radix_locked_entry,
  dax_radix_order,
  dax_radix_pfn,
  daxEntryIsLocked,
  daxEntryLock,
  daxEntryUnlock,
  isDaxEntry,
} from '../src/dax/dax_entry.js';
import {
  EEXIST,
  RADIX_TREE_MAX_INDEX as MAX,
  RADIX_TREE_RETRY,
  RADIX_TREE_NO_SLOT,
  RADIX_TREE_ROOT_SLOT,
  RadixTree,
  find_get_entries,
  find_get_entries_tag,
  radixTreeEntries,
  radixTreeHeight,
  radixTreeNodes,
  radixTreeReplace,
  radixTreeReplaceFound,
  radix_tree_delete,
  radix_tree_delete_item,
  radix_tree_deref_slot_protected,
  radix_tree_insert,
  radix_tree_lookup,
  radix_tree_lookup_rcu,
  radix_tree_lookup_slot,
  radix_tree_replace_slot,
  radix_tree_tag_clear,
  radix_tree_tag_get,
  radix_tree_tag_set,
  radix_tree_tagged,
} from '../src/dax/radix_tree.js';
import { WRITEBACK_TAG_BATCH, tag_pages_for_writeback } from '../src/mm/page_writeback.js';
import { checkIndex, checkRadixTree } from '../src/dax/radix_tree_check.js';
import * as radixTreeModule from '../src/dax/radix_tree.js';
import { NODE_FREE_POISON, NODE_PENDING, NodePool, RadixTreeNoMemError, nodePoolPending } from '../src/dax/node_pool.js';
import { rcu_read_lock, rcu_read_unlock } from '../src/sync/rcu.js';

function machineWith(indexNodes: number, mappings = 2): Machine {
  return createMachine({ cpus: 2, pmemBytes: 2 * MiB, indexNodes, mappings });
}

function resetIndex(m: Machine): void {
  m.views.indexNodes.fill(0);
  m.views.indexRoots.fill(0);
  m.views.indexPool.fill(0);
}

function poolUsed(m: Machine): number {
  return m.views.indexPool[INDEX_POOL.used];
}

function snapshot(m: Machine): Int32Array[] {
  return [m.views.indexNodes.slice(), m.views.indexRoots.slice(), m.views.indexPool.slice()];
}

function bytes(a: Int32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Whether the index is as snapshotted; the pool lock's owner word (who took it last) may differ. */
function sameAs(m: Machine, snap: Int32Array[]): boolean {
  const pool = m.views.indexPool.slice();
  pool[INDEX_POOL.lockOwner] = snap[2][INDEX_POOL.lockOwner];
  const now = [m.views.indexNodes, m.views.indexRoots, pool];
  return now.every((v, i) => bytes(v).equals(bytes(snap[i])));
}

function entry(pfn: number, flags = 0): number {
  return daxEntryUnlock(dax_radix_locked_entry(pfn, flags));
}

function treeLockAcquisitions(m: Machine, cpu: number): number {
  return m.views.lockStat[cpu * LOCK_CLASSES.length * LOCK_STAT.stride + LOCK_CLASS.tree_lock * LOCK_STAT.stride + LOCK_STAT.acquisitions];
}

describe('DAX entries', () => {
  it('packs pfn and flags as fs/dax.c does, never 0', () => {
    const e = dax_radix_locked_entry(12345, RADIX_DAX_PMD);
    expect(e & 1).toBe(1);
    expect(dax_radix_pfn(e)).toBe(12345);
    expect(daxEntryIsLocked(e)).toBe(true);
    expect(dax_is_pmd_entry(e)).toBe(true);
    expect(dax_is_pte_entry(e)).toBe(false);
    expect(dax_radix_order(e)).toBe(9);
    expect(dax_is_zero_entry(e)).toBe(false);
    expect(dax_is_empty_entry(e)).toBe(false);
    const u = daxEntryUnlock(e);
    expect(daxEntryIsLocked(u)).toBe(false);
    expect(daxEntryLock(u)).toBe(e);
    expect(dax_radix_pfn(u)).toBe(12345);
    const z = dax_radix_locked_entry(0, RADIX_DAX_ZERO_PAGE);
    expect(z).not.toBe(0);
    expect(dax_is_zero_entry(z) && dax_is_pte_entry(z)).toBe(true);
    expect(dax_is_empty_entry(dax_radix_locked_entry(0, RADIX_DAX_EMPTY))).toBe(true);
    expect(RADIX_DAX_SHIFT).toBe(5);
  });

  it('holds every pfn up to 2^26 - 1 as a positive Int32', () => {
    expect(DAX_MAX_PFN).toBe(2 ** 26 - 1);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: DAX_MAX_PFN }),
        fc.constantFrom(0, RADIX_DAX_PMD, RADIX_DAX_ZERO_PAGE, RADIX_DAX_EMPTY, RADIX_DAX_PMD | RADIX_DAX_ZERO_PAGE),
        (pfn, flags) => {
          const e = dax_radix_locked_entry(pfn, flags);
          expect(isDaxEntry(e)).toBe(true);
          expect(new Int32Array([e])[0]).toBe(e);
          expect(dax_radix_pfn(e)).toBe(pfn);
          expect(dax_is_pmd_entry(e)).toBe((flags & RADIX_DAX_PMD) !== 0);
          expect(dax_is_zero_entry(e)).toBe((flags & RADIX_DAX_ZERO_PAGE) !== 0);
          expect(dax_is_empty_entry(e)).toBe((flags & RADIX_DAX_EMPTY) !== 0);
          expect(dax_radix_pfn(daxEntryUnlock(e))).toBe(pfn);
        },
      ),
    );
  });

  it('rejects an out-of-range pfn or unknown flags with a RangeError naming the argument', () => {
    expect(() => dax_radix_locked_entry(-1, 0)).toThrow(/^pfn: expected an integer from 0 to 67108863/);
    expect(() => dax_radix_locked_entry(2 ** 26, 0)).toThrow(RangeError);
    expect(() => dax_radix_locked_entry(2 ** 26, 0)).toThrow(/pfn/);
    expect(() => dax_radix_locked_entry(1.5, 0)).toThrow(/pfn/);
    expect(() => dax_radix_locked_entry(1, 1)).toThrow(/flags/);
    expect(() => dax_radix_locked_entry(1, 64)).toThrow(RangeError);
    expect(dax_radix_locked_entry(1, RADIX_DAX_ENTRY_LOCK)).toBe(dax_radix_locked_entry(1, 0));
  });
});

describe('radix tree basics', () => {
  let m: Machine;
  let cpu: Cpu;
  beforeAll(() => {
    m = machineWith(64);
    cpu = attachCpu(m, 0);
  });

  it('keeps a lone index-0 entry in rnode, grows and shrinks the height as the kernel does', () => {
    resetIndex(m);
    const t = new RadixTree(cpu, 0);
    t.treeLock();
    expect(radix_tree_insert(t, 0, entry(1))).toBe(0);
    expect(radixTreeHeight(t)).toBe(0);
    expect(radixTreeNodes(t)).toBe(0);
    expect(radix_tree_lookup(t, 0)).toBe(entry(1));
    expect(radix_tree_insert(t, 0, entry(2))).toBe(-EEXIST);
    expect(radix_tree_insert(t, 5, entry(5))).toBe(0);
    expect(radixTreeHeight(t)).toBe(1);
    expect(radixTreeNodes(t)).toBe(1);
    expect(radix_tree_insert(t, 2 ** 32 + 7, entry(7))).toBe(0);
    expect(radixTreeHeight(t)).toBe(6); // 2^32 + 7 < 2^36
    expect(radix_tree_lookup(t, 2 ** 32 + 7)).toBe(entry(7));
    expect(radix_tree_lookup(t, 7)).toBe(0);
    expect(radix_tree_lookup(t, 2 ** 32 + 8)).toBe(0);
    expect(radix_tree_insert(t, MAX, entry(9))).toBe(0);
    expect(radixTreeHeight(t)).toBe(8);
    expect(checkIndex(m)).toEqual([`mapping 0: tree_lock is held`]);
    expect(checkRadixTree(m, 0)).toEqual([]);
    radix_tree_tag_set(t, MAX, DIRTY);
    expect(radix_tree_tagged(t, DIRTY)).toBe(true);
    expect(radix_tree_delete(t, MAX)).toBe(entry(9));
    expect(radix_tree_tagged(t, DIRTY)).toBe(false);
    expect(radixTreeHeight(t)).toBe(6);
    expect(radix_tree_delete(t, 2 ** 32 + 7)).toBe(entry(7));
    expect(radixTreeHeight(t)).toBe(1);
    radix_tree_tag_set(t, 0, TOWRITE);
    expect(radix_tree_delete(t, 5)).toBe(entry(5));
    // Only index 0 is left: the leaf shrinks away and rnode holds the entry, tags kept.
    expect(radixTreeHeight(t)).toBe(0);
    expect(radixTreeNodes(t)).toBe(0);
    expect(radix_tree_tag_get(t, 0, TOWRITE)).toBe(true);
    expect(radix_tree_tagged(t, TOWRITE)).toBe(true);
    expect(radix_tree_delete(t, 0)).toBe(entry(1));
    expect(radix_tree_tagged(t, TOWRITE)).toBe(false);
    expect(radix_tree_delete(t, 0)).toBe(0);
    t.treeUnlock();
    expect(checkIndex(m)).toEqual([]);
    expect(poolUsed(m)).toBe(0);
  });

  it('reads the first index past each height as empty', () => {
    resetIndex(m);
    const t = new RadixTree(cpu, 0);
    radix_tree_insert(t, 0, entry(1));
    radix_tree_tag_set(t, 0, DIRTY);
    for (let h = 1; h <= 8; h++) {
      const top = 2 ** (6 * h);
      radix_tree_insert(t, top - 1, entry(h));
      expect(radixTreeHeight(t)).toBe(h);
      if (top > MAX) break;
      expect(radix_tree_lookup(t, top)).toBe(0);
      expect(radix_tree_lookup_slot(t, top)).toBe(RADIX_TREE_NO_SLOT);
      expect(radix_tree_tag_get(t, top, DIRTY)).toBe(false);
      expect(radix_tree_delete(t, top)).toBe(0);
      expect(radix_tree_tag_clear(t, top, DIRTY)).toBe(0);
      expect(radix_tree_lookup(t, top - 1)).toBe(entry(h));
    }
    expect(checkRadixTree(m, 0)).toEqual([]);
    for (let h = 8; h >= 1; h--) radix_tree_delete(t, 2 ** (6 * h) - 1);
    expect(radixTreeHeight(t)).toBe(0);
    expect(radix_tree_delete(t, 0)).toBe(entry(1));
    expect(checkIndex(m)).toEqual([]);
  });

  it('propagates tags to the root and clears them only when no sibling keeps them', () => {
    resetIndex(m);
    const t = new RadixTree(cpu, 1);
    for (const i of [100, 101, 5000, 300_000]) radix_tree_insert(t, i, entry(i));
    radix_tree_tag_set(t, 100, DIRTY);
    radix_tree_tag_set(t, 101, DIRTY);
    radix_tree_tag_set(t, 300_000, TOWRITE);
    expect(checkRadixTree(m, 1)).toEqual([]);
    expect(radix_tree_tag_clear(t, 100, DIRTY)).toBe(entry(100));
    expect(radix_tree_tagged(t, DIRTY)).toBe(true);
    expect(radix_tree_tag_get(t, 101, DIRTY)).toBe(true);
    expect(radix_tree_tag_get(t, 100, DIRTY)).toBe(false);
    expect(radix_tree_tag_clear(t, 101, DIRTY)).toBe(entry(101));
    expect(radix_tree_tagged(t, DIRTY)).toBe(false);
    expect(radix_tree_tag_clear(t, 7, DIRTY)).toBe(0);
    expect(checkRadixTree(m, 1)).toEqual([]);
    // replace keeps tags; lookup_slot / deref / replace_slot as fs/dax.c's lock_slot uses them.
    const slot = radix_tree_lookup_slot(t, 300_000);
    expect(slot).toBeGreaterThanOrEqual(INDEX_NODE.stride);
    const old = radix_tree_deref_slot_protected(t, slot);
    radix_tree_replace_slot(t, slot, daxEntryLock(old));
    expect(radix_tree_lookup(t, 300_000)).toBe(daxEntryLock(entry(300_000)));
    expect(radix_tree_tag_get(t, 300_000, TOWRITE)).toBe(true);
    expect(radixTreeReplace(t, 300_000, entry(1))).toBe(daxEntryLock(entry(300_000)));
    expect(radix_tree_tag_get(t, 300_000, TOWRITE)).toBe(true);
    expect(radixTreeReplace(t, 300_001, entry(1))).toBe(0);
    expect(radix_tree_lookup_slot(t, 300_001)).toBe(RADIX_TREE_NO_SLOT);
    expect(radix_tree_delete_item(t, 300_000, entry(2))).toBe(0);
    expect(radix_tree_delete_item(t, 300_000, entry(1))).toBe(entry(1));
    for (const i of [100, 101, 5000]) radix_tree_delete(t, i);
    expect(checkIndex(m)).toEqual([]);
    expect(poolUsed(m)).toBe(0);
    // The root slot: a lone index-0 entry.
    radix_tree_insert(t, 0, entry(3));
    expect(radix_tree_lookup_slot(t, 0)).toBe(RADIX_TREE_ROOT_SLOT);
    radix_tree_replace_slot(t, RADIX_TREE_ROOT_SLOT, entry(4));
    expect(radix_tree_lookup(t, 0)).toBe(entry(4));
    radix_tree_delete(t, 0);
    expect(checkIndex(m)).toEqual([]);
  });

  it('find_get_entries_tag pages through tagged entries in index order, into Int32 or Float64 indices', () => {
    resetIndex(m);
    const t = new RadixTree(cpu, 0);
    const idx = [0, 3, 64, 65, 4096, 2 ** 31 - 1, 2 ** 31, 2 ** 40];
    for (const i of idx) {
      radix_tree_insert(t, i, entry(i % 1000));
      if (i !== 64) radix_tree_tag_set(t, i, DIRTY);
    }
    const outI = new Float64Array(3);
    const outE = new Int32Array(3);
    const got: number[] = [];
    let start = 0;
    for (;;) {
      const n = find_get_entries_tag(t, start, DIRTY, 3, outI, outE);
      for (let k = 0; k < n; k++) {
        got.push(outI[k]);
        expect(outE[k]).toBe(entry(outI[k] % 1000));
      }
      if (n < 3) break;
      start = outI[n - 1] + 1;
    }
    expect(got).toEqual(idx.filter((i) => i !== 64));
    const i32 = new Int32Array(8);
    expect(find_get_entries_tag(t, 0, DIRTY, 5, i32, new Int32Array(8))).toBe(5);
    expect(Array.from(i32.subarray(0, 5))).toEqual([0, 3, 65, 4096, 2 ** 31 - 1]);
    expect(() => find_get_entries_tag(t, 0, DIRTY, 8, i32, new Int32Array(8))).toThrow(/outIndices/);
    expect(find_get_entries(t, 1, 8, new Float64Array(8), new Int32Array(8))).toBe(7);
    expect(find_get_entries_tag(t, 0, TOWRITE, 8, new Float64Array(8), new Int32Array(8))).toBe(0);
    for (const i of idx) radix_tree_delete(t, i);
    expect(checkIndex(m)).toEqual([]);
  });
});

// ---- property tests against a Map model ---------------------------------------------------------

type Op =
  | { k: 'insert'; m: number; i: number; e: number }
  | { k: 'replace'; m: number; i: number; e: number }
  | { k: 'replaceSlot'; m: number; i: number; e: number }
  | { k: 'delete'; m: number; i: number }
  | { k: 'deleteItem'; m: number; i: number; match: boolean }
  | { k: 'tagSet'; m: number; i: number; t: number }
  | { k: 'tagClear'; m: number; i: number; t: number }
  | { k: 'tagGet'; m: number; i: number; t: number }
  | { k: 'lookup'; m: number; i: number }
  | { k: 'gang'; m: number; i: number; t: number; max: number }
  | { k: 'gangAll'; m: number; i: number; max: number }
  | { k: 'tagPages'; m: number; i: number; j: number };

interface ModelEntry {
  e: number;
  tags: number;
}
type Model = Map<number, ModelEntry>;

const indexArb = fc.oneof(
  fc.integer({ min: 0, max: 130 }),
  fc.integer({ min: 0, max: 300_000 }),
  fc.constantFrom(0, 1, 63, 64, 65, 4095, 4096, 262_143, 262_144, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 36, 2 ** 42 - 1, 2 ** 42, MAX - 1, MAX),
  fc.maxSafeNat().map((x) => x % (MAX + 1)),
);
const entryArb = fc
  .tuple(fc.integer({ min: 0, max: DAX_MAX_PFN }), fc.constantFrom(0, RADIX_DAX_PMD, RADIX_DAX_ZERO_PAGE, RADIX_DAX_EMPTY), fc.boolean())
  .map(([pfn, flags, locked]) => (locked ? dax_radix_locked_entry(pfn, flags) : entry(pfn, flags)));

function opArb(pool: number): fc.Arbitrary<Op> {
  const m = fc.integer({ min: 0, max: 1 });
  const i = fc.integer({ min: 0, max: pool - 1 });
  const t = fc.integer({ min: 0, max: 1 });
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ k: fc.constant('insert' as const), m, i, e: entryArb }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('replace' as const), m, i, e: entryArb }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('replaceSlot' as const), m, i, e: entryArb }) },
    { weight: 3, arbitrary: fc.record({ k: fc.constant('delete' as const), m, i }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('deleteItem' as const), m, i, match: fc.boolean() }) },
    { weight: 4, arbitrary: fc.record({ k: fc.constant('tagSet' as const), m, i, t }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('tagClear' as const), m, i, t }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('tagGet' as const), m, i, t }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('lookup' as const), m, i }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('gang' as const), m, i, t, max: fc.integer({ min: 0, max: 6 }) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('gangAll' as const), m, i, max: fc.integer({ min: 0, max: 6 }) }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('tagPages' as const), m, i, j: fc.integer({ min: 0, max: pool - 1 }) }) },
  );
}

const scenarioArb = fc
  .array(indexArb, { minLength: 1, maxLength: 24 })
  .chain((pool) => fc.tuple(fc.constant(pool), fc.array(opArb(pool.length), { maxLength: 120 })));

function sortedKeys(model: Model): number[] {
  return [...model.keys()].sort((a, b) => a - b);
}

/** Compares everything observable about one tree with its model. */
function compareAll(t: RadixTree, model: Model): void {
  expect(radixTreeEntries(t)).toBe(model.size);
  for (const [i, me] of model) {
    expect(radix_tree_lookup(t, i)).toBe(me.e);
    for (const tag of [DIRTY, TOWRITE]) expect(radix_tree_tag_get(t, i, tag)).toBe(((me.tags >> tag) & 1) === 1);
  }
  // Absent neighbours and the first index past each height must read as empty.
  const probes = [...model.keys()].flatMap((k) => [k - 1, k + 1]);
  for (let j = 0; j <= 8; j++) probes.push(2 ** (6 * j), 2 ** (6 * j) - 1);
  for (const p of probes) {
    if (p < 0 || p > MAX) continue;
    expect(radix_tree_lookup(t, p)).toBe(model.get(p)?.e ?? 0);
    for (const tag of [DIRTY, TOWRITE]) expect(radix_tree_tag_get(t, p, tag)).toBe((((model.get(p)?.tags ?? 0) >> tag) & 1) === 1);
  }
  const keys = sortedKeys(model);
  const outI = new Float64Array(keys.length + 1);
  const outE = new Int32Array(keys.length + 1);
  const n = find_get_entries(t, 0, outI.length, outI, outE);
  expect(Array.from(outI.subarray(0, n))).toEqual(keys);
  for (const tag of [DIRTY, TOWRITE]) {
    const tagged = keys.filter((k) => (model.get(k)!.tags >> tag) & 1);
    expect(radix_tree_tagged(t, tag)).toBe(tagged.length > 0);
    const c = find_get_entries_tag(t, 0, tag, outI.length, outI, outE);
    expect(Array.from(outI.subarray(0, c))).toEqual(tagged);
  }
}

function runOp(op: Op, trees: RadixTree[], models: Model[], pool: number[], machine: Machine): void {
  const t = trees[op.m];
  const model = models[op.m];
  const i = pool[op.i];
  const me = model.get(i);
  // A PMD entry may sit only at a multiple of 512: anything else is refused, changing nothing.
  if ((op.k === 'insert' || op.k === 'replace' || (op.k === 'replaceSlot' && me)) && dax_is_pmd_entry(op.e) && i % 512 !== 0) {
    const snap = snapshot(machine);
    const call =
      op.k === 'insert'
        ? () => radix_tree_insert(t, i, op.e)
        : op.k === 'replace'
          ? () => radixTreeReplace(t, i, op.e)
          : () => radix_tree_replace_slot(t, radix_tree_lookup_slot(t, i), op.e);
    expect(call).toThrow(op.k === 'replaceSlot' ? /^item: a PMD entry must sit/ : /^index: expected a multiple of 512 for a PMD entry/);
    expect(sameAs(machine, snap)).toBe(true);
    return;
  }
  switch (op.k) {
    case 'insert': {
      const snap = snapshot(machine);
      let r: number;
      try {
        r = radix_tree_insert(t, i, op.e);
      } catch (err) {
        expect(err).toBeInstanceOf(RadixTreeNoMemError);
        expect((err as RadixTreeNoMemError).code).toBe('ENOMEM');
        expect((err as Error).message).toMatch(/indexNodes/);
        expect(me).toBeUndefined();
        // ENOMEM changed nothing (the pool lock's lock_stat figures live elsewhere).
        expect(sameAs(machine, snap)).toBe(true);
        return;
      }
      if (me) {
        expect(r).toBe(-EEXIST);
        expect(sameAs(machine, snap)).toBe(true);
      } else {
        expect(r).toBe(0);
        model.set(i, { e: op.e, tags: 0 });
      }
      return;
    }
    case 'replace':
      expect(radixTreeReplace(t, i, op.e)).toBe(me ? me.e : 0);
      if (me) me.e = op.e;
      return;
    case 'replaceSlot': {
      const slot = radix_tree_lookup_slot(t, i);
      if (!me) {
        expect(slot).toBe(RADIX_TREE_NO_SLOT);
        return;
      }
      expect(radix_tree_deref_slot_protected(t, slot)).toBe(me.e);
      radix_tree_replace_slot(t, slot, op.e);
      me.e = op.e;
      return;
    }
    case 'delete':
      expect(radix_tree_delete(t, i)).toBe(me ? me.e : 0);
      model.delete(i);
      return;
    case 'deleteItem': {
      const item = me ? (op.match ? me.e : me.e === entry(0) ? entry(1) : entry(0)) : entry(5);
      const r = radix_tree_delete_item(t, i, item);
      if (me && op.match) {
        expect(r).toBe(me.e);
        model.delete(i);
      } else {
        expect(r).toBe(0);
      }
      return;
    }
    case 'tagSet':
      if (me) {
        expect(radix_tree_tag_set(t, i, op.t)).toBe(me.e);
        me.tags |= 1 << op.t;
      } else {
        const snap = snapshot(machine);
        expect(() => radix_tree_tag_set(t, i, op.t)).toThrow(/no entry/);
        expect(sameAs(machine, snap)).toBe(true);
      }
      return;
    case 'tagClear':
      expect(radix_tree_tag_clear(t, i, op.t)).toBe(me ? me.e : 0);
      if (me) me.tags &= ~(1 << op.t);
      return;
    case 'tagGet':
      expect(radix_tree_tag_get(t, i, op.t)).toBe(me ? ((me.tags >> op.t) & 1) === 1 : false);
      return;
    case 'lookup':
      expect(radix_tree_lookup(t, i)).toBe(me ? me.e : 0);
      return;
    case 'gang':
    case 'gangAll': {
      const outI = new Float64Array(8);
      const outE = new Int32Array(8);
      const tag = op.k === 'gang' ? op.t : -1;
      const n = tag < 0 ? find_get_entries(t, i, op.max, outI, outE) : find_get_entries_tag(t, i, tag, op.max, outI, outE);
      const want = sortedKeys(model)
        .filter((k) => k >= i && (tag < 0 || (model.get(k)!.tags >> tag) & 1))
        .slice(0, op.max);
      expect(Array.from(outI.subarray(0, n))).toEqual(want);
      expect(Array.from(outE.subarray(0, n))).toEqual(want.map((k) => model.get(k)!.e));
      return;
    }
    case 'tagPages': {
      const end = pool[op.j];
      t.treeUnlock();
      const n = tag_pages_for_writeback(t, i, end);
      t.treeLock();
      let want = 0;
      for (const [k, v] of model) {
        if (k >= i && k <= end && v.tags & (1 << DIRTY)) {
          want++;
          v.tags |= 1 << TOWRITE;
        }
      }
      expect(n).toBe(want);
      return;
    }
  }
}

describe('nodes freed under RCU readers', () => {
  // 4.14 frees radix-tree nodes through call_rcu(): a reader inside rcu_read_lock() (a
  // writeback's or truncate's pagevec lookup) may still be in a node the tree let go.
  const S = INDEX_NODE.stride;

  it('a node freed while a reader is inside waits, keeps what the reader needs, and goes back once the reader leaves', () => {
    const m = machineWith(64);
    const writer = new RadixTree(attachCpu(m, 0), 0);
    const readerCpu = attachCpu(m, 1);
    const reader = new RadixTree(readerCpu, 0);
    writer.treeLock();
    radix_tree_insert(writer, 5, entry(5));
    radix_tree_insert(writer, 70, entry(70));
    const top = m.views.indexRoots[INDEX_ROOT.rnode];
    const leaf0 = m.views.indexNodes[top * S];
    const leaf1 = m.views.indexNodes[top * S + 1];
    rcu_read_lock(readerCpu);
    // 70's leaf empties and goes; the top node is left with slot 0 only and the tree shrinks to leaf 0.
    radix_tree_delete(writer, 70);
    expect(m.views.indexRoots[INDEX_ROOT.rnode]).toBe(leaf0);
    expect(nodePoolPending(m.views.indexPool)).toBe(2);
    expect(poolUsed(m)).toBe(3);
    // A reader still in the old top node finds its way on through slot 0; nothing is poisoned.
    expect(m.views.indexNodes[top * S]).toBe(leaf0);
    for (const n of [top, leaf1]) {
      expect(m.views.indexNodes[n * S + INDEX_NODE.count]).toBe(NODE_PENDING);
      expect(m.views.indexNodes[n * S + INDEX_NODE.shift]).not.toBe(NODE_FREE_POISON);
    }
    expect(checkIndex(m)).toEqual([`mapping 0: tree_lock is held`]);
    // New nodes come from elsewhere meanwhile.
    radix_tree_insert(writer, 2 ** 20, entry(9));
    const inTree = new Set<number>();
    for (let n = 1; n <= m.views.indexPool[INDEX_POOL.highWater]; n++) if (m.views.indexNodes[n * S + INDEX_NODE.count] > 0) inTree.add(n);
    expect(inTree.has(top) || inTree.has(leaf1)).toBe(false);
    expect(radix_tree_lookup_rcu(reader, 5)).toBe(entry(5));
    rcu_read_unlock(readerCpu);
    // The next pool operation after the reader left reclaims them.
    radix_tree_delete(writer, 2 ** 20);
    writer.treeUnlock();
    expect(nodePoolPending(m.views.indexPool)).toBe(0);
    for (const n of [top, leaf1]) expect(m.views.indexNodes[n * S + INDEX_NODE.shift]).toBe(NODE_FREE_POISON);
    expect(checkIndex(m)).toEqual([]);
  });

  it('a tree shrunk to a lone entry at the root leaves RADIX_TREE_RETRY in the leaf a reader may be in', () => {
    const m = machineWith(64);
    const writer = new RadixTree(attachCpu(m, 0), 0);
    const readerCpu = attachCpu(m, 1);
    writer.treeLock();
    radix_tree_insert(writer, 0, entry(1));
    radix_tree_insert(writer, 5, entry(5));
    const leaf = m.views.indexRoots[INDEX_ROOT.rnode];
    rcu_read_lock(readerCpu);
    radix_tree_delete(writer, 5);
    expect(radixTreeHeight(writer)).toBe(0);
    expect(m.views.indexRoots[INDEX_ROOT.rnode]).toBe(entry(1));
    expect(m.views.indexNodes[leaf * S]).toBe(RADIX_TREE_RETRY);
    expect(nodePoolPending(m.views.indexPool)).toBe(1);
    rcu_read_unlock(readerCpu);
    writer.treeUnlock();
    expect(checkIndex(m)).toEqual([]);
  });

  it('without a reader inside, a freed node goes straight back to the pool', () => {
    const m = machineWith(64);
    const writer = new RadixTree(attachCpu(m, 0), 0);
    writer.treeLock();
    radix_tree_insert(writer, 5, entry(5));
    radix_tree_insert(writer, 70, entry(70));
    radix_tree_delete(writer, 70);
    writer.treeUnlock();
    expect(nodePoolPending(m.views.indexPool)).toBe(0);
    expect(poolUsed(m)).toBe(1);
    expect(checkIndex(m)).toEqual([]);
  });

  it('refuses an unbalanced rcu_read_unlock', () => {
    const m = machineWith(8);
    expect(() => rcu_read_unlock(attachCpu(m, 1))).toThrow(/rcu_read_unlock: cpu 1 is not inside rcu_read_lock\(\)/);
  });
});

describe('radix tree against a Map model (fast-check)', () => {
  for (const indexNodes of [600, 12]) {
    it(`matches the model, keeps every invariant, and gives every node back (pool of ${indexNodes} nodes)`, () => {
      const machine = machineWith(indexNodes, 2);
      const cpu = attachCpu(machine, 0);
      fc.assert(
        fc.property(scenarioArb, ([pool, ops]) => {
          resetIndex(machine);
          const trees = [new RadixTree(cpu, 0), new RadixTree(cpu, 1)];
          const models: Model[] = [new Map(), new Map()];
          for (const t of trees) t.treeLock();
          for (const op of ops) {
            runOp(op, trees, models, pool, machine);
            expect(checkRadixTree(machine, op.m)).toEqual([]);
          }
          for (const t of trees) t.treeUnlock();
          expect(checkIndex(machine)).toEqual([]);
          compareAll(trees[0], models[0]);
          compareAll(trees[1], models[1]);
          // Delete everything: every node goes back to the pool.
          for (let m = 0; m < 2; m++) {
            for (const k of [...models[m].keys()].reverse()) expect(radix_tree_delete(trees[m], k)).toBe(models[m].get(k)!.e);
            expect(radixTreeEntries(trees[m])).toBe(0);
            expect(radixTreeNodes(trees[m])).toBe(0);
            expect(radix_tree_tagged(trees[m], DIRTY) || radix_tree_tagged(trees[m], TOWRITE)).toBe(false);
          }
          expect(poolUsed(machine)).toBe(0);
          expect(checkIndex(machine)).toEqual([]);
        }),
        { numRuns: indexNodes > 100 ? 1000 : 400 },
      );
    });
  }

  it('fails an insert that needs more nodes than the pool has with ENOMEM and changes nothing', () => {
    const machine = machineWith(5, 1);
    const cpu = attachCpu(machine, 0);
    const t = new RadixTree(cpu, 0);
    expect(radix_tree_insert(t, 0, entry(1))).toBe(0);
    // rnode's entry moves into a leaf, two levels go on top, and 4096's path needs two more.
    expect(radix_tree_insert(t, 64 * 64, entry(2))).toBe(0);
    expect(poolUsed(machine)).toBe(5);
    const snap = snapshot(machine);
    expect(() => radix_tree_insert(t, 2 ** 20, entry(3))).toThrow(RadixTreeNoMemError);
    expect(() => radix_tree_insert(t, 70, entry(3))).toThrow(/^indexNodes: .*exhausted \(capacity 5 nodes, 5 in use, 1 more needed\)/);
    expect(sameAs(machine, snap)).toBe(true);
    expect(radix_tree_insert(t, 1, entry(4))).toBe(0); // needs no node
    // Deleting 4096 frees its path, then the tree shrinks down to the leaf holding 0 and 1.
    expect(radix_tree_delete(t, 64 * 64)).toBe(entry(2));
    expect(poolUsed(machine)).toBe(1);
    expect(radixTreeHeight(t)).toBe(1);
    expect(radix_tree_insert(t, 70, entry(3))).toBe(0);
    expect(poolUsed(machine)).toBe(3);
    expect(checkIndex(machine)).toEqual([]);
  });
});

describe('node pool bad input', () => {
  it('rejects a bad count, a node never handed out and a double free before taking the pool lock', () => {
    const machine = machineWith(8, 1);
    const pool = new NodePool(attachCpu(machine, 0));
    const got = new Int32Array(3);
    pool.allocNodes(3, got);
    pool.freeNodes(got.subarray(2), 1); // node 3 is free again, below highWater 3
    const snap = snapshot(machine);
    const locks = pool.lockAcquisitions;
    const cases: [() => unknown, ErrorConstructor, RegExp][] = [
      [() => pool.allocNodes(5, new Int32Array(2)), RangeError, /^count: expected an integer from 0 to 2, got 5$/],
      [() => pool.allocNodes(-1, new Int32Array(2)), RangeError, /^count: .*got -1$/],
      [() => pool.allocNodes(1.5, new Int32Array(2)), RangeError, /^count: .*got 1.5$/],
      [() => pool.allocNodes(NaN, new Int32Array(2)), RangeError, /^count: .*got NaN$/],
      [() => pool.freeNodes(new Int32Array([1]), 2), RangeError, /^count: expected an integer from 0 to 1, got 2$/],
      [() => pool.freeNodes(got, -1), RangeError, /^count: /],
      [() => pool.freeNodes(new Int32Array([0]), 1), RangeError, /^list\[0\]: expected a node number from 1 to 3 \(the nodes handed out so far\), got 0$/],
      [() => pool.freeNodes(new Int32Array([1, 7]), 2), RangeError, /^list\[1\]: .*got 7$/],
      [() => pool.freeNodes(new Int32Array([1, 3]), 2), Error, /^freeNodes: list\[1\]: node 3 is already free \(double free\)$/],
      [() => pool.freeNodes(new Int32Array([2, 1, 2]), 3), Error, /^freeNodes: list\[2\]: node 2 is also list\[0\] \(double free\)$/],
    ];
    for (const [call, type, message] of cases) {
      expect(call).toThrow(type);
      expect(call).toThrow(message);
      expect(sameAs(machine, snap)).toBe(true);
    }
    expect(pool.lockAcquisitions).toBe(locks);
    pool.allocNodes(0, got);
    pool.freeNodes(got, 0);
    pool.freeNodes(got, 2);
    expect(checkIndex(machine)).toEqual([]);
  });
});

describe('a 1M-entry tree', () => {
  it('finds one tagged entry among 1M untagged visiting O(height) nodes, and retags in batches', () => {
    const N = 1 << 20;
    const machine = createMachine({ cpus: 1, pmemBytes: 2 * MiB, indexNodes: 17_000, mappings: 1 });
    const cpu = attachCpu(machine, 0);
    const t = new RadixTree(cpu, 0);
    t.treeLock();
    for (let i = 0; i < N; i++) radix_tree_insert(t, i, entry(i & 0xffff));
    expect(radixTreeEntries(t)).toBe(N);
    expect(radixTreeNodes(t)).toBe(16_384 + 256 + 4 + 1);
    const h = radixTreeHeight(t);
    expect(h).toBe(4);
    const lone = 777_777;
    radix_tree_tag_set(t, lone, DIRTY);
    const outI = new Float64Array(16);
    const outE = new Int32Array(16);

    t.nodesVisited = 0;
    expect(find_get_entries_tag(t, 0, DIRTY, 16, outI, outE)).toBe(1);
    expect(outI[0]).toBe(lone);
    // Down to the tagged leaf (h nodes), then restarts from the root climb out of each level.
    expect(t.nodesVisited).toBeLessThanOrEqual(h * (h + 3) / 2);
    t.nodesVisited = 0;
    expect(find_get_entries_tag(t, lone + 1, DIRTY, 16, outI, outE)).toBe(0);
    expect(t.nodesVisited).toBeLessThanOrEqual(h * (h + 1) / 2);
    t.nodesVisited = 0;
    expect(find_get_entries_tag(t, 0, TOWRITE, 16, outI, outE)).toBe(0);
    expect(t.nodesVisited).toBe(0); // the root's tag bit says there is nothing
    t.treeUnlock();

    t.nodesVisited = 0;
    const before = treeLockAcquisitions(machine, 0);
    expect(tag_pages_for_writeback(t, 0, N - 1)).toBe(1);
    expect(t.nodesVisited).toBeLessThanOrEqual(h * (h + 3) / 2);
    expect(treeLockAcquisitions(machine, 0) - before).toBe(1);
    t.treeLock();
    expect(radix_tree_tag_get(t, lone, TOWRITE)).toBe(true);
    expect(radix_tree_tag_get(t, lone, DIRTY)).toBe(true); // DIRTY stays until written back
    // An untagged walk of the whole tree for comparison: it reads every node.
    t.nodesVisited = 0;
    let seen = 0;
    for (let start = 0; ; ) {
      const n = find_get_entries(t, start, 16, outI, outE);
      seen += n;
      if (n < 16) break;
      start = outI[15] + 1;
    }
    expect(seen).toBe(N);
    expect(t.nodesVisited).toBeGreaterThan(16_384);

    // Many dirty entries: tag_pages_for_writeback drops tree_lock every WRITEBACK_TAG_BATCH.
    let dirty = 0;
    for (let i = 0; i < N; i += 97) {
      radix_tree_tag_set(t, i, DIRTY);
      dirty++;
    }
    if (lone % 97 !== 0) dirty++;
    t.treeUnlock();
    const before2 = treeLockAcquisitions(machine, 0);
    expect(tag_pages_for_writeback(t, 0, N - 1)).toBe(dirty);
    expect(treeLockAcquisitions(machine, 0) - before2).toBe(1 + Math.floor(dirty / WRITEBACK_TAG_BATCH));
    expect(tag_pages_for_writeback(t, 1000, 1000 + 97 * 10)).toBe(10);
    expect(checkIndex(machine)).toEqual([]);
    t.treeLock();
    expect(find_get_entries_tag(t, 0, TOWRITE, 16, outI, outE)).toBe(16);
    expect(Array.from(outI)).toEqual(Array.from({ length: 16 }, (_, k) => k * 97));

    for (let i = 0; i < N; i++) radix_tree_delete(t, i);
    t.treeUnlock();
    expect(radixTreeEntries(t)).toBe(0);
    expect(poolUsed(machine)).toBe(0);
    expect(checkIndex(machine)).toEqual([]);
  });
});

describe('bad input', () => {
  const machine = machineWith(64, 2);
  const cpu = attachCpu(machine, 0);
  const t = new RadixTree(cpu, 0);
  radix_tree_insert(t, 10, entry(10));
  radix_tree_insert(t, 2 ** 33, entry(33));
  radix_tree_tag_set(t, 10, DIRTY);
  const snap = snapshot(machine);
  const outI = new Float64Array(4);
  const outE = new Int32Array(4);

  const cases: [string, () => unknown, RegExp][] = [
    ['negative index', () => radix_tree_lookup(t, -1), /^index: expected an integer from 0 to 281474976710655, got -1/],
    ['fractional index', () => radix_tree_insert(t, 1.5, entry(1)), /^index: .*got 1.5/],
    ['NaN index', () => radix_tree_delete(t, NaN), /^index: .*got NaN/],
    ['index beyond 2^48 - 1', () => radix_tree_insert(t, MAX + 1, entry(1)), /^index: .*got 281474976710656/],
    ['infinite index', () => radix_tree_tag_get(t, Infinity, DIRTY), /^index:/],
    ['tag 2', () => radix_tree_tag_set(t, 10, 2), /^tag: expected an integer from 0 to 1, got 2/],
    ['tag -1', () => radix_tree_tag_clear(t, 10, -1), /^tag: /],
    ['tag 0.5', () => radix_tree_tagged(t, 0.5), /^tag: /],
    ['item 0', () => radix_tree_insert(t, 11, 0), /^item: expected a DAX entry/],
    ['even item', () => radix_tree_insert(t, 11, 2), /^item: /],
    ['item beyond Int32', () => radix_tree_insert(t, 11, 2 ** 31 + 1), /^item: /],
    ['negative item', () => radixTreeReplace(t, 10, -1), /^item: /],
    ['bad delete_item item', () => radix_tree_delete_item(t, 10, 4), /^item: /],
    ['bad slot', () => radix_tree_replace_slot(t, 5, entry(1)), /^slot: expected a slot holding an entry/],
    ['empty root slot', () => radix_tree_replace_slot(t, RADIX_TREE_ROOT_SLOT, entry(1)), /^slot: /],
    ['deref of slot -7', () => radix_tree_deref_slot_protected(t, -7), /^slot: expected 0 for the root or a node's slot offset from 72 to \d+ \(offset % 72 below 64\), as radix_tree_lookup_slot returns, got -7$/],
    ['deref of a word inside node 0', () => radix_tree_deref_slot_protected(t, 5), /^slot: .*got 5$/],
    ['deref of a tag word', () => radix_tree_deref_slot_protected(t, 72 + 64), /^slot: .*got 136$/],
    ['deref of a fractional slot', () => radix_tree_deref_slot_protected(t, 72.5), /^slot: .*got 72.5$/],
    ['deref beyond the pool', () => radix_tree_deref_slot_protected(t, 65 * 72), /^slot: .*got 4680$/],
    ['negative start', () => find_get_entries_tag(t, -5, DIRTY, 4, outI, outE), /^start: /],
    ['maxItems beyond the arrays', () => find_get_entries_tag(t, 0, DIRTY, 5, outI, outE), /^maxItems: expected an integer from 0 to 4, got 5/],
    ['negative maxItems', () => find_get_entries(t, 0, -1, outI, outE), /^maxItems: /],
    ['tag_pages end', () => tag_pages_for_writeback(t, 0, -1), /^end: /],
    ['tag_pages start', () => tag_pages_for_writeback(t, 2 ** 49, 0), /^start: /],
    ['mapping', () => new RadixTree(cpu, 2), /^mapping: expected an integer from 0 to 1, got 2/],
    ['a PMD entry at index 7', () => radix_tree_insert(t, 7, entry(7, RADIX_DAX_PMD)), /^index: expected a multiple of 512 for a PMD entry, got 7$/],
    ['a PMD entry at index 2^33 + 64', () => radix_tree_insert(t, 2 ** 33 + 64, entry(7, RADIX_DAX_PMD)), /^index: .*got 8589934656$/],
    ['a PMD entry replacing index 10', () => radixTreeReplace(t, 10, entry(7, RADIX_DAX_PMD)), /^index: expected a multiple of 512 for a PMD entry, got 10$/],
    [
      "a PMD entry in index 10's slot",
      () => radix_tree_replace_slot(t, radix_tree_lookup_slot(t, 10), entry(7, RADIX_DAX_PMD)),
      /^item: a PMD entry must sit at an index that is a multiple of 512; slot \d+ is not at one$/,
    ],
    [
      'a PMD entry where the lookup of index 10 found its entry',
      () => (radix_tree_lookup(t, 10), radixTreeReplaceFound(t, entry(7, RADIX_DAX_PMD))),
      /^item: a PMD entry must sit/,
    ],
  ];
  for (const [what, call, message] of cases) {
    it(`rejects ${what} with a RangeError naming the argument and changes nothing`, () => {
      expect(call).toThrow(RangeError);
      expect(call).toThrow(message);
      expect(sameAs(machine, snap)).toBe(true);
    });
  }

  it('takes PMD entries at multiples of 512 only, and the checker reports one elsewhere', () => {
    const m = machineWith(64, 1);
    const pt = new RadixTree(attachCpu(m, 0), 0);
    for (const index of [0, 512, 2 ** 33, 2 ** 33 + 512]) expect(radix_tree_insert(pt, index, entry(1, RADIX_DAX_PMD))).toBe(0);
    // PTE entries where a PMD entry may not go: slot 0 of a leaf at offset 1 of its parent, and slot 1.
    expect(radix_tree_insert(pt, 2 ** 33 + 64, entry(2))).toBe(0);
    expect(radix_tree_insert(pt, 2 ** 33 + 513, entry(3))).toBe(0);
    const before = snapshot(m);
    for (const index of [2 ** 33 + 64, 2 ** 33 + 513]) {
      expect(() => radix_tree_replace_slot(pt, radix_tree_lookup_slot(pt, index), entry(4, RADIX_DAX_PMD))).toThrow(/^item: a PMD entry must sit/);
    }
    expect(sameAs(m, before)).toBe(true);
    for (const index of [0, 512, 2 ** 33 + 512]) {
      radix_tree_replace_slot(pt, radix_tree_lookup_slot(pt, index), entry(5, RADIX_DAX_PMD));
      radix_tree_lookup(pt, index);
      radixTreeReplaceFound(pt, daxEntryLock(entry(5, RADIX_DAX_PMD)));
    }
    expect(checkIndex(m)).toEqual([]);
    // A PMD entry written past the checks, at index 2^33 + 513.
    const slot = radix_tree_lookup_slot(pt, 2 ** 33 + 513);
    m.views.indexNodes[slot] = entry(3, RADIX_DAX_PMD);
    const found = checkRadixTree(m, 0);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^mapping 0: node \d+ \(shift 0\) slot 1: PMD entry at index 8589935105, not a multiple of 512$/);
  });

  it('refuses radixTreeReplaceFound after a lookup that found nothing, and changes nothing', () => {
    const fresh = new RadixTree(cpu, 0);
    expect(() => radixTreeReplaceFound(fresh, entry(1))).toThrow(/^radixTreeReplaceFound: mapping 0: the last lookup .* found no entry/);
    // A miss in a leaf (10's neighbour), in an interior node, and beyond the tree's height.
    for (const index of [11, 2 ** 20, 2 ** 40]) {
      expect(radix_tree_lookup(t, index)).toBe(0);
      expect(() => radixTreeReplaceFound(t, entry(1))).toThrow(/found no entry/);
      expect(sameAs(machine, snap)).toBe(true);
    }
    expect(checkIndex(machine)).toEqual([]);
  });

  it('keeps __radix_tree_lookup (no argument checks, it serves the checked lookups) inside the module', () => {
    expect('__radix_tree_lookup' in radixTreeModule).toBe(false);
  });

  it('refuses to tag an absent index (the kernel BUG()s) and changes nothing', () => {
    expect(() => radix_tree_tag_set(t, 11, DIRTY)).toThrow(/no entry at index 11/);
    expect(() => radix_tree_tag_set(t, 2 ** 40, DIRTY)).toThrow(/no entry/);
    expect(sameAs(machine, snap)).toBe(true);
  });

  it('refuses tag_pages_for_writeback under tree_lock (it takes the lock itself)', () => {
    t.treeLock();
    expect(() => tag_pages_for_writeback(t, 0, 100)).toThrow(/takes mapping 0's tree_lock itself/);
    t.treeUnlock();
    const now = snapshot(machine);
    expect(now[0]).toEqual(snap[0]);
  });

  it('the whole index is still sound', () => {
    expect(checkIndex(machine)).toEqual([]);
    expect(machine.views.indexRoots[INDEX_ROOT.nrexceptional]).toBe(2);
  });
});
