// DAX writeback (fs/dax.c of Linux 4.14): fsync and msync make the dirty pages of a mapped
// file durable by walking the mapping index for DIRTY entries, not by flushing everything.
//
// Locking rules (as fs/dax.c):
//  - tag_pages_for_writeback() takes and drops tree_lock itself, in batches.
//  - find_get_entries_tag() runs under rcu_read_lock() without tree_lock, one pagevec at a
//    time (as 4.14's pagevec lookup), and so does the look for a PMD entry the range starts in;
//    what they return is a snapshot, checked again under tree_lock by dax_writeback_one().
//  - dax_writeback_one() locks the entry under tree_lock, drops tree_lock, write-protects the
//    entry's pages and flushes its cache lines holding only the entry lock, then clears the
//    DIRTY tag under tree_lock and unlocks the entry. A fault on that page waits for the
//    entry lock, so no store lands between the write-protect and the flush unseen: the next
//    store faults again and re-dirties the entry (dax_pfn_mkwrite).
//  - Entries stay in the index after writeback (seed 000): removing them races with faults.
//
// Today's kernel: dax_writeback_mapping_range() walks with xas_for_each_marked() over
// PAGECACHE_TAG_TOWRITE and dax_writeback_one() uses dax_lock_entry(); the steps are the same.

import { PAGECACHE_TAG_DIRTY, PAGECACHE_TAG_TOWRITE, PAGE_SIZE, PAGE_SHIFT } from '../machine/layout.js';
import type { Cpu } from '../sync/cpu.js';
import type { PmemDevice } from '../pmem/device.js';
import type { Fs, WritebackHook } from '../fs/super.js';
import { checkInt, checkOneOf } from '../util/check.js';
import {
  RadixTree,
  find_get_entries_tag,
  radix_tree_delete,
  radix_tree_lookup,
  radix_tree_tag_clear,
  radix_tree_tag_get,
} from './radix_tree.js';
import { tag_pages_for_writeback } from '../mm/page_writeback.js';
import { checkVariant, type DaxVariant } from './variant.js';
import { dax_entry_index_rcu } from './entry_index.js';
import { dax_is_empty_entry, dax_is_zero_entry, dax_radix_order, dax_radix_pfn, daxEntryIsLocked } from './dax_entry.js';
import { get_unlocked_mapping_entry, lock_slot, put_locked_mapping_entry, put_unlocked_mapping_entry } from './entry_lock.js';

/** Entries fetched per gang lookup (PAGEVEC_SIZE in 4.14). */
export const PAGEVEC_SIZE = 14;

/** tracked: walk the index (the merged design); big-hammer: flush the whole namespace (seed 004). */
export const WRITEBACK_MODES = ['tracked', 'big-hammer'] as const;
export type WritebackMode = (typeof WRITEBACK_MODES)[number];

/** Write-protects the pages an entry maps in every VMA (the rmap walk of dax_mapping_entry_mkclean). */
export type MkcleanHook = (index: number, pages: number) => void;

/** One CPU's handle on one file's DAX mapping (struct address_space of a DAX inode). */
export class DaxMapping {
  readonly tree: RadixTree;
  readonly dev: PmemDevice;
  /** Set by mm/ once pages can be mapped; null while nothing maps the file. */
  mkclean: MkcleanHook | null = null;
  /** Set by mm/: unmap_mapping_range() of pages [index, index + pages) in every VMA. */
  unmap: MkcleanHook | null = null;
  readonly mode: WritebackMode;
  readonly variant: DaxVariant;
  /** Counters for this CPU: entries written back, and TOWRITE entries looked at. */
  written = 0;
  walked = 0;
  /** The pagevec a gang lookup fills. */
  readonly indices = new Float64Array(PAGEVEC_SIZE);
  readonly entries = new Int32Array(PAGEVEC_SIZE);

  constructor(cpu: Cpu, dev: PmemDevice, mapping: number, mode: WritebackMode = 'tracked', variant: DaxVariant = 'none') {
    checkInt('mapping', mapping, 0, cpu.machine.config.mappings - 1);
    this.tree = new RadixTree(cpu, mapping);
    this.dev = dev;
    this.mode = checkOneOf('mode', mode, WRITEBACK_MODES);
    this.variant = checkVariant(variant);
  }
}

/**
 * dax_writeback_mapping_range(): makes every page of [start, end] (bytes, inclusive) that
 * was dirty when it was called durable; one fence at the end. Returns the entries written back.
 */
export function dax_writeback_mapping_range(m: DaxMapping, start: number, end: number): number {
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && end >= start)) {
    throw new RangeError(`writeback range: expected integers 0 <= start <= end, got ${start}..${end}`);
  }
  if (m.mode === 'big-hammer') return dax_flush_namespace(m);
  const tree = m.tree;
  // A range that starts inside a PMD entry starts at that entry (the kernel's multiorder
  // slot is found from any of its pages).
  const startIndex = dax_entry_index_rcu(tree, Math.floor(start / PAGE_SIZE));
  const endIndex = Math.floor(end / PAGE_SIZE);
  tag_pages_for_writeback(tree, startIndex, endIndex);
  const { indices, entries } = m;
  let index = startIndex;
  let written = 0;
  for (;;) {
    // pagevec_lookup_tag(): under rcu_read_lock, no tree_lock; dax_writeback_one looks again under it.
    const nr = find_get_entries_tag(tree, index, PAGECACHE_TAG_TOWRITE, PAGEVEC_SIZE, indices, entries);
    if (nr === 0) break;
    let done = false;
    for (let i = 0; i < nr; i++) {
      if (indices[i] > endIndex) {
        done = true;
        break;
      }
      m.walked++;
      if (dax_writeback_one(m, indices[i], entries[i])) written++;
    }
    // A short pagevec means the walk reached the last TOWRITE entry: stop without the
    // extra empty lookup the kernel's loop makes (entries tagged TOWRITE later belong to
    // the fsync that tagged them).
    if (done || nr < PAGEVEC_SIZE) break;
    index = indices[nr - 1] + 1;
  }
  m.dev.fence();
  m.written += written;
  return written;
}

/**
 * dax_writeback_one(): writes back one TOWRITE entry unless it changed or another CPU got
 * there first; true when this CPU flushed it.
 */
export function dax_writeback_one(m: DaxMapping, index: number, entry: number): boolean {
  const tree = m.tree;
  tree.treeLock();
  const entry2 = get_unlocked_mapping_entry(tree, index);
  // Punched out, reallocated, or already written back by another fsync: nothing to do.
  if (
    entry2 === 0 ||
    dax_radix_pfn(entry2) !== dax_radix_pfn(entry) ||
    dax_is_empty_entry(entry2) ||
    dax_is_zero_entry(entry2) ||
    !radix_tree_tag_get(tree, index, PAGECACHE_TAG_TOWRITE)
  ) {
    tree.treeUnlock();
    put_unlocked_mapping_entry(tree, index, entry2);
    return false;
  }
  if (m.variant === 'remove-on-writeback') return dax_writeback_one_v2(m, index, entry2);
  const locked = lock_slot(tree, index);
  // Clearing TOWRITE now is safe: other writers see the entry locked until the flush is done.
  radix_tree_tag_clear(tree, index, PAGECACHE_TAG_TOWRITE);
  tree.treeUnlock();
  dax_mkclean_and_flush(m, index, locked);
  // The pages are write-protected and flushed: new stores fault and re-dirty the entry.
  tree.treeLock();
  radix_tree_tag_clear(tree, index, PAGECACHE_TAG_DIRTY);
  tree.treeUnlock();
  put_locked_mapping_entry(tree, index);
  return true;
}

/** dax_mapping_entry_mkclean() then dax_flush(): write-protect the entry's pages everywhere, flush its lines. */
function dax_mkclean_and_flush(m: DaxMapping, index: number, entry: number): void {
  const pages = 1 << dax_radix_order(entry);
  m.mkclean?.(index, pages);
  m.dev.flush(dax_radix_pfn(entry) * PAGE_SIZE, pages << PAGE_SHIFT);
}

/**
 * Known bad (seed 000, v2 of the series): write back without locking the entry, then remove
 * it. A fault between the write-protect and the removal re-dirties the page and maps it
 * writable, and the removal leaves that writable page with no entry: later fsyncs skip it.
 * Called with tree_lock held; returns with it dropped.
 */
function dax_writeback_one_v2(m: DaxMapping, index: number, entry: number): boolean {
  const tree = m.tree;
  radix_tree_tag_clear(tree, index, PAGECACHE_TAG_TOWRITE);
  tree.treeUnlock();
  dax_mkclean_and_flush(m, index, entry);
  tree.treeLock();
  // v2 had no entry locks; here a fault may hold one, and its holder owns the entry.
  if (!daxEntryIsLocked(radix_tree_lookup(tree, index))) radix_tree_delete(tree, index);
  tree.treeUnlock();
  return true;
}

/** The big hammer (seed 004): flush every line of the namespace, whatever is dirty. */
export function dax_flush_namespace(m: DaxMapping): number {
  m.dev.flush(0, m.dev.size);
  m.dev.fence();
  return 0;
}

/** A CPU's DaxMapping of each inode, made on first use (mapping number = inode number). */
export type MappingOf = (fs: Fs, ino: number) => DaxMapping;

export function daxMappings(mode: WritebackMode = 'tracked', variant: DaxVariant = 'none'): MappingOf {
  const maps = new Map<number, DaxMapping>();
  return (fs, ino) => {
    let m = maps.get(ino);
    if (m === undefined) {
      m = new DaxMapping(fs.cpu, fs.dev, ino, mode, variant);
      maps.set(ino, m);
    }
    return m;
  };
}

/** The filesystem's fsync data step for DAX files (filemap_write_and_wait_range -> dax_writeback_mapping_range). */
export function daxWritebackHook(mappingOf: MappingOf = daxMappings()): WritebackHook {
  return (fs, ino, start, end) => {
    dax_writeback_mapping_range(mappingOf(fs, ino), start, end);
  };
}
