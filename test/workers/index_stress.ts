// Scenario for test/index_stress.test.ts: one CPU's share of random mapping-index operations,
// all on mapping 0, run on a test CPU (test/support/workers.ts).
//
// Locking rules: every index call is made holding mapping 0's tree_lock (taken and dropped
// around each small batch of operations), except tag_pages_for_writeback(), which takes it
// itself; the node pool's lock nests inside tree_lock (radix_tree.ts takes it). Nothing sleeps
// while holding tree_lock.
//
// Each CPU owns disjoint index regions (a dense low one and a sparse one above 2^40), so it
// can check every result there against its own model; it also works on a few shared indices
// (above 2^32) where only the index's invariants apply.

import type { Cpu } from '../../src/sync/cpu.js';
import {
  RadixTree,
  EEXIST,
  find_get_entries_tag,
  radixTreeReplace,
  radix_tree_delete,
  radix_tree_insert,
  radix_tree_lookup,
  radix_tree_tag_clear,
  radix_tree_tag_get,
  radix_tree_tag_set,
} from '../../src/dax/radix_tree.js';
import { WRITEBACK_TAG_BATCH, tag_pages_for_writeback } from '../../src/mm/page_writeback.js';
import { dax_radix_locked_entry, daxEntryLock, daxEntryUnlock } from '../../src/dax/dax_entry.js';
import { PAGECACHE_TAG_DIRTY as DIRTY, PAGECACHE_TAG_TOWRITE as TOWRITE } from '../../src/machine/layout.js';

export interface IndexStressArgs {
  ops: number;
  seed: number;
  /** Candidate indices per region. */
  perRegion: number;
}

export interface IndexStressResult {
  cpu: number;
  ops: number;
  treeLocks: number;
  poolLocks: number;
  /** Entries this CPU owns at the end, and how many carry each tag. */
  own: number;
  ownDirty: number;
  ownTowrite: number;
  mismatches: string[];
  counts: Record<string, number>;
}

/** The shared indices every CPU works on. */
export const SHARED_BASE = 2 ** 32;
export const SHARED_COUNT = 32;

/** CPU c's regions: [lo, hi] inclusive. */
export function regionsOf(cpu: number): [number, number][] {
  const lowLo = cpu * 65_536;
  const highLo = 2 ** 40 + cpu * 2 ** 34;
  return [
    [lowLo, lowLo + 4095],
    [highLo, highLo + 2 ** 33 - 1],
  ];
}

interface Own {
  e: number;
  tags: number;
}

export function run(cpu: Cpu, args: IndexStressArgs): IndexStressResult {
  let s = (args.seed ^ (cpu.id * 0x9e3779b9)) | 0 || 1;
  const rnd = (n: number): number => {
    // xorshift32
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
  const t = new RadixTree(cpu, 0);
  const regions = regionsOf(cpu.id);
  const cand: number[] = [];
  for (let k = 0; k < args.perRegion; k++) cand.push(regions[0][0] + rnd(4096));
  for (let k = 0; k < args.perRegion; k++) cand.push(regions[1][0] + rnd(2 ** 21) * 4096 + rnd(4096));
  const model = new Map<number, Own>();
  const mismatches: string[] = [];
  const counts: Record<string, number> = {};
  const count = (k: string): void => {
    counts[k] = (counts[k] ?? 0) + 1;
  };
  const bad = (what: string): void => {
    if (mismatches.length < 20) mismatches.push(`cpu ${cpu.id}: ${what}`);
  };
  let treeLocks = 0;
  const outI = new Float64Array(16);
  const outE = new Int32Array(16);

  const ownOp = (): void => {
    const i = cand[rnd(cand.length)];
    const me = model.get(i);
    const kind = rnd(100);
    if (kind < 30) {
      count('insert');
      const e = daxEntryUnlock(dax_radix_locked_entry(rnd(1 << 26), 0));
      const r = radix_tree_insert(t, i, e);
      if (me) {
        if (r !== -EEXIST) bad(`insert ${i} over ${me.e} returned ${r}`);
      } else if (r !== 0) bad(`insert ${i} returned ${r}`);
      else model.set(i, { e, tags: 0 });
    } else if (kind < 45) {
      count('delete');
      const r = radix_tree_delete(t, i);
      if (r !== (me ? me.e : 0)) bad(`delete ${i} returned ${r}, model ${me?.e ?? 0}`);
      model.delete(i);
    } else if (kind < 60) {
      const tag = rnd(2);
      if (me && rnd(2) === 0) {
        count('tagSet');
        radix_tree_tag_set(t, i, tag);
        me.tags |= 1 << tag;
      } else {
        count('tagClear');
        const r = radix_tree_tag_clear(t, i, tag);
        if (r !== (me ? me.e : 0)) bad(`tag_clear ${i} returned ${r}`);
        if (me) me.tags &= ~(1 << tag);
      }
    } else if (kind < 80) {
      count('lookup');
      const r = radix_tree_lookup(t, i);
      if (r !== (me ? me.e : 0)) bad(`lookup ${i} returned ${r}, model ${me?.e ?? 0}`);
      for (let tag = 0; tag < 2; tag++) {
        const g = radix_tree_tag_get(t, i, tag);
        if (g !== (me !== undefined && ((me.tags >> tag) & 1) === 1)) bad(`tag_get ${i} ${tag} returned ${g}`);
      }
    } else if (kind < 88) {
      count('replace');
      const e = me ? (me.e & 2 ? daxEntryUnlock(me.e) : daxEntryLock(me.e)) : daxEntryLock(daxEntryUnlock(dax_radix_locked_entry(1, 0)));
      const r = radixTreeReplace(t, i, e);
      if (r !== (me ? me.e : 0)) bad(`replace ${i} returned ${r}`);
      if (me) me.e = e;
    } else {
      count('findTag');
      const tag = rnd(2);
      const reg = regions[rnd(2)];
      const start = reg[0] + rnd(reg[1] - reg[0] + 1);
      const max = 1 + rnd(16);
      const n = find_get_entries_tag(t, start, tag, max, outI, outE);
      const want = [...model.entries()]
        .filter(([k, v]) => k >= start && k <= reg[1] && (v.tags >> tag) & 1)
        .sort((a, b) => a[0] - b[0])
        .slice(0, max);
      if (n < want.length) bad(`find_get_entries_tag from ${start} found ${n}, model has ${want.length}`);
      for (let k = 0; k < want.length && k < n; k++) {
        if (outI[k] !== want[k][0] || outE[k] !== want[k][1].e) {
          bad(`find_get_entries_tag from ${start} item ${k}: ${outI[k]}/${outE[k]}, model ${want[k][0]}/${want[k][1].e}`);
          break;
        }
      }
      for (let k = want.length; k < n; k++) {
        if (outI[k] <= reg[1]) bad(`find_get_entries_tag from ${start} found ${outI[k]} that the model lacks`);
      }
    }
  };

  const sharedOp = (): void => {
    const i = SHARED_BASE + rnd(SHARED_COUNT);
    const kind = rnd(4);
    if (kind === 0) {
      count('sharedInsert');
      const r = radix_tree_insert(t, i, daxEntryUnlock(dax_radix_locked_entry(rnd(1 << 26), 0)));
      if (r !== 0 && r !== -EEXIST) bad(`shared insert returned ${r}`);
    } else if (kind === 1) {
      count('sharedDelete');
      radix_tree_delete(t, i);
    } else if (kind === 2) {
      count('sharedTag');
      // Present or not is decided under the same tree_lock hold, so the set cannot fail.
      if (radix_tree_lookup(t, i) !== 0) radix_tree_tag_set(t, i, rnd(2));
    } else {
      count('sharedUntag');
      radix_tree_tag_clear(t, i, rnd(2));
    }
  };

  for (let done = 0; done < args.ops; ) {
    if (rnd(100) < 2) {
      count('tagPages');
      const reg = regions[rnd(2)];
      const a = reg[0] + rnd(reg[1] - reg[0] + 1);
      const b = a + rnd(reg[1] - a + 1);
      const n = tag_pages_for_writeback(t, a, b);
      treeLocks += 1 + Math.floor(n / WRITEBACK_TAG_BATCH);
      let want = 0;
      for (const [k, v] of model) {
        if (k >= a && k <= b && (v.tags >> DIRTY) & 1) {
          want++;
          v.tags |= 1 << TOWRITE;
        }
      }
      if (n !== want) bad(`tag_pages_for_writeback [${a}, ${b}] tagged ${n}, model ${want}`);
      done++;
      continue;
    }
    const batch = 1 + rnd(4);
    t.treeLock();
    treeLocks++;
    for (let k = 0; k < batch; k++) {
      if (rnd(10) === 0) sharedOp();
      else ownOp();
    }
    t.treeUnlock();
    done += batch;
  }

  // Final check of every candidate against the model.
  t.treeLock();
  treeLocks++;
  for (const i of cand) {
    const me = model.get(i);
    if (radix_tree_lookup(t, i) !== (me ? me.e : 0)) bad(`final lookup ${i}`);
  }
  t.treeUnlock();
  let ownDirty = 0;
  let ownTowrite = 0;
  for (const v of model.values()) {
    ownDirty += v.tags & 1;
    ownTowrite += (v.tags >> 1) & 1;
  }
  return {
    cpu: cpu.id,
    ops: args.ops,
    treeLocks,
    poolLocks: t.pool.lockAcquisitions,
    own: model.size,
    ownDirty,
    ownTowrite,
    mismatches,
    counts,
  };
}
