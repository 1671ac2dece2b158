// Scenario for test/index_stress.test.ts: lockless readers (find_get_entries_tag,
// find_get_entries and radix_tree_lookup_rcu, under rcu_read_lock and no tree_lock) beside
// writers that insert, delete, tag and replace under tree_lock, on a small node pool, so that
// trees grow, shrink and hand nodes back while readers are inside them.
//
// Every entry any CPU stores at index i carries pfnOf(i), so a reader can tell a real entry of
// that index from what a node reused under it would show (another index's entry, a child node
// number, the free poison). Mappings 0 and 1 also hold STABLE entries, set up before and never
// touched, each tagged DIRTY: a reader must find every one in the range it walked (a walk may
// miss what changes under it, never what stays). Mapping 0's span the index space, so its
// tree stays tall; mapping 1's sit in its first leaf, so its tree shrinks down to that leaf
// under readers. Mapping 2 has none: it is emptied and refilled, down to a lone entry at
// index 0, so radix_tree_shrink() leaves RETRY behind.

import type { Cpu } from '../../src/sync/cpu.js';
import {
  RadixTree,
  find_get_entries,
  find_get_entries_tag,
  radixTreeReplace,
  radix_tree_delete,
  radix_tree_insert,
  radix_tree_lookup_rcu,
  radix_tree_tag_clear,
  radix_tree_tag_set,
} from '../../src/dax/radix_tree.js';
import { dax_radix_locked_entry, dax_radix_pfn, daxEntryLock, daxEntryUnlock, isDaxEntry } from '../../src/dax/dax_entry.js';
import { PAGECACHE_TAG_DIRTY as DIRTY } from '../../src/machine/layout.js';
import { RadixTreeNoMemError, nodePoolPending } from '../../src/dax/node_pool.js';

/** Indices of each mapping that stay, DIRTY, through the whole run. */
export const STABLE: readonly (readonly number[])[] = [[3, 4097, 2 ** 20 + 5, 2 ** 30 + 7, 2 ** 40 + 11], [3, 40], []];
export const MAPPINGS = STABLE.length;

/** The pfn every entry at index i carries. */
export function pfnOf(i: number): number {
  return (Math.floor(i / 2 ** 20) * 31 + (i % 2 ** 20)) % 2 ** 26;
}

export function entryOf(i: number): number {
  return daxEntryUnlock(dax_radix_locked_entry(pfnOf(i), 0));
}

export interface RcuStressArgs {
  role: 'writer' | 'reader';
  ops: number;
  seed: number;
  /** Int32 [writers still running]. */
  running: SharedArrayBuffer;
}

export interface RcuStressResult {
  cpu: number;
  problems: string[];
  /** Reader: entries returned and checked; writer: times it saw nodes pending a grace period. */
  seen: number;
  pendingSeen: number;
}

function rng(seed: number): (n: number) => number {
  let s = seed | 0 || 1;
  return (n) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

/**
 * An index to work on: mostly the first 4 slots of 16 leaves (so leaves empty and go back to
 * the pool all the time, and come back at another place), else spread up to 2^41 so the tree
 * grows tall and shrinks; mapping 2 often index 0, its lone entry when the rest is gone.
 */
function pick(rnd: (n: number) => number, mapping: number): number {
  const k = rnd(100);
  if (mapping === 2 && k < 25) return 0;
  if (k < 75) return 64 * rnd(16) + rnd(4);
  if (k < 88) return rnd(2 ** 20);
  return rnd(2 ** 21) * 2 ** 20 + rnd(64);
}

export function run(cpu: Cpu, a: RcuStressArgs): RcuStressResult {
  const rnd = rng(a.seed ^ (cpu.id * 0x9e3779b9));
  const trees = STABLE.map((_, m) => new RadixTree(cpu, m));
  const problems: string[] = [];
  const bad = (what: string): void => {
    if (problems.length < 20) problems.push(`cpu ${cpu.id}: ${what}`);
  };
  const running = new Int32Array(a.running);
  let seen = 0;
  let pendingSeen = 0;
  if (a.role === 'writer') {
    for (let op = 0; op < a.ops; op++) {
      const m = rnd(MAPPINGS);
      const t = trees[m];
      const i = pick(rnd, m);
      if (STABLE[m].includes(i)) continue;
      const kind = rnd(100);
      t.treeLock();
      try {
        if (kind < 40) {
          try {
            radix_tree_insert(t, i, entryOf(i));
          } catch (e) {
            // The small pool runs out now and then (nodes wait for readers): -ENOMEM, nothing changed.
            if (!(e instanceof RadixTreeNoMemError)) throw e;
          }
        }
        else if (kind < 75) radix_tree_delete(t, i);
        else if (kind < 85) radixTreeReplace(t, i, rnd(2) === 0 ? daxEntryLock(entryOf(i)) : entryOf(i));
        else if (kind < 95) {
          if (radix_tree_lookup_rcu(t, i) !== 0) radix_tree_tag_set(t, i, DIRTY);
        } else radix_tree_tag_clear(t, i, DIRTY);
      } finally {
        t.treeUnlock();
      }
      if (nodePoolPending(cpu.machine.views.indexPool) > 0) pendingSeen++;
    }
    Atomics.sub(running, 0, 1);
    return { cpu: cpu.id, problems, seen, pendingSeen };
  }

  const idx = new Float64Array(14);
  const ent = new Int32Array(14);
  const check = (m: number, n: number, start: number, what: string): void => {
    let prev = -1;
    for (let k = 0; k < n; k++) {
      const i = idx[k];
      const e = ent[k];
      if (i < start || i <= prev) bad(`${what} from ${start} on mapping ${m}: index ${i} after ${prev}`);
      if (!isDaxEntry(e) || dax_radix_pfn(e) !== pfnOf(i)) bad(`${what} from ${start} on mapping ${m}: index ${i} holds ${e}, not an entry of that index`);
      prev = i;
      seen++;
    }
    // Every stable entry in the range the walk covered is in it.
    const end = n === idx.length ? idx[n - 1] : Infinity;
    for (const s of STABLE[m]) {
      if (s < start || s > end) continue;
      let found = false;
      for (let k = 0; k < n && !found; k++) found = idx[k] === s;
      if (!found) bad(`${what} from ${start} on mapping ${m} missed the stable entry at ${s} (walk reached ${end})`);
    }
  };
  // Read until the writers are done, and at least `ops` times.
  for (let op = 0; op < a.ops || Atomics.load(running, 0) > 0; op++) {
    const m = rnd(MAPPINGS);
    const t = trees[m];
    const start = rnd(4) === 0 ? 0 : pick(rnd, m);
    const kind = rnd(3);
    if (kind === 0) check(m, find_get_entries_tag(t, start, DIRTY, idx.length, idx, ent), start, 'find_get_entries_tag');
    else if (kind === 1) check(m, find_get_entries(t, start, idx.length, idx, ent), start, 'find_get_entries');
    else {
      const i = STABLE[m].length > 0 && rnd(2) === 0 ? STABLE[m][rnd(STABLE[m].length)] : start;
      const e = radix_tree_lookup_rcu(t, i);
      if (STABLE[m].includes(i) && e !== entryOf(i)) bad(`radix_tree_lookup_rcu of stable ${i} on mapping ${m} returned ${e}`);
      if (e !== 0 && (!isDaxEntry(e) || dax_radix_pfn(e) !== pfnOf(i))) bad(`radix_tree_lookup_rcu of ${i} on mapping ${m} returned ${e}, not an entry of that index`);
      seen++;
    }
  }
  return { cpu: cpu.id, problems, seen, pendingSeen };
}
