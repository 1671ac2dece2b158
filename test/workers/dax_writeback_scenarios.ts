// Test CPUs for DAX writeback: storers that fault pages writable and store to them, and a
// CPU that writes the mapping back over and over. The page tables are a shared array of
// writable bits (what mm/ will own): writeback's mkclean clears them, and a store that finds
// its page write-protected, or that was write-protected while it stored, faults again
// (dax_pfn_mkwrite), as a real store would after the TLB shootdown.
//
// After each of its writebacks the writeback CPU stops the storers between two stores
// (pause.ts) and checks, while nothing is in flight:
//  - checkIndex: the radix tree and node pool are sound;
//  - every writable page has an index entry tagged DIRTY (what mm/'s checkMm asks of a PTE):
//    otherwise a store could change a page the next writeback skips (seed 000);
//  - no dirty cache line in a page that no store finished on since the writeback began (the
//    after-fsync invariant, checkSyncedRange's): each storer marks a page in `touched` after
//    its store to it lands, and the writeback CPU clears the marks before it starts. A page
//    left unmarked had its last store land before the writeback began, so the writeback must
//    have flushed it; a marked page may be dirty again legitimately and is skipped. The
//    writeback itself runs under the storers, so remove-on-writeback's race stays possible.
import { PAGECACHE_TAG_DIRTY, PAGE_SIZE } from '../../src/machine/layout.js';
import type { Cpu } from '../../src/sync/cpu.js';
import { PmemDevice } from '../../src/pmem/device.js';
import { DaxMapping, dax_writeback_mapping_range } from '../../src/dax/writeback.js';
import { radix_tree_insert, radix_tree_tag_set } from '../../src/dax/radix_tree.js';
import { dax_radix_locked_entry, daxEntryUnlock } from '../../src/dax/dax_entry.js';
import { get_unlocked_mapping_entry, put_unlocked_mapping_entry } from '../../src/dax/entry_lock.js';
import type { DaxVariant } from '../../src/dax/variant.js';
import { radix_tree_lookup, radix_tree_tag_get } from '../../src/dax/radix_tree.js';
import { checkIndex } from '../../src/dax/radix_tree_check.js';
import { pausePoint, pauseStorers, resumeStorers } from './pause.js';

interface Args {
  mapping: number;
  pages: number;
  firstPfn: number;
  writable: SharedArrayBuffer;
  /** Int32 [storers done, writeback passes]. */
  stop: SharedArrayBuffer;
  rounds: number;
  variant?: DaxVariant;
  /** Storer number (0 or 1), set per job. */
  k?: number;
  /** Int32 [pauseWords(2)] (pause.ts): the writeback CPU stops the storers to check. */
  pause: SharedArrayBuffer;
  /** Int32 per page: set after each store to the page lands; the writeback CPU clears them. */
  touched: SharedArrayBuffer;
}

export interface WritebackerResult {
  passes: number;
  written: number;
  /** Pages the dirty-line check looked at over all passes (untouched since the pass began). */
  pagesChecked: number;
  /** What the checks after each writeback found (first few), each with its pass. */
  violations: string[];
}

/** dax_pfn_mkwrite()-like write fault: waits for the entry, inserts it if absent, tags it DIRTY, maps the page writable. */
function writeFault(m: DaxMapping, page: number, pfn: number, writable: Int32Array): void {
  const tree = m.tree;
  tree.treeLock();
  let entry = get_unlocked_mapping_entry(tree, page);
  if (entry === 0) {
    entry = daxEntryUnlock(dax_radix_locked_entry(pfn, 0));
    radix_tree_insert(tree, page, entry);
  }
  radix_tree_tag_set(tree, page, PAGECACHE_TAG_DIRTY);
  Atomics.store(writable, page, 1);
  tree.treeUnlock();
  put_unlocked_mapping_entry(tree, page, entry);
}

export function storer(cpu: Cpu, a: Args): number {
  const dev = new PmemDevice(cpu);
  const m = new DaxMapping(cpu, dev, a.mapping);
  const writable = new Int32Array(a.writable);
  const data = new Uint8Array(64).fill(cpu.id);
  let x = cpu.id * 7777 + 1;
  let faults = 0;
  const passes = new Int32Array(a.stop);
  const pause = new Int32Array(a.pause);
  const touched = new Int32Array(a.touched);
  // At least `rounds` stores, and on until the writeback CPU has made 5 passes under them.
  for (let r = 0; r < a.rounds || Atomics.load(passes, 1) < 5; r++) {
    pausePoint(pause, a.k ?? 0);
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const page = (x >>> 4) % a.pages;
    const at = (a.firstPfn + page) * PAGE_SIZE + ((x >>> 20) % 64) * 64;
    for (;;) {
      if (Atomics.load(writable, page) === 0) {
        writeFault(m, page, a.firstPfn + page, writable);
        faults++;
      }
      dev.store(at, data);
      if (Atomics.load(writable, page) === 1) break; // the store landed while the page was writable
    }
    Atomics.store(touched, page, 1);
  }
  return faults;
}

export function writebacker(cpu: Cpu, a: Args): WritebackerResult {
  const dev = new PmemDevice(cpu);
  const m = new DaxMapping(cpu, dev, a.mapping, 'tracked', a.variant ?? 'none');
  const writable = new Int32Array(a.writable);
  m.mkclean = (index, pages) => {
    for (let p = index; p < index + pages; p++) Atomics.store(writable, p, 0);
  };
  const stop = new Int32Array(a.stop);
  const pause = new Int32Array(a.pause);
  const touched = new Int32Array(a.touched);
  const out: WritebackerResult = { passes: 0, written: 0, pagesChecked: 0, violations: [] };
  while (Atomics.load(stop, 0) < 2) {
    for (let p = 0; p < a.pages; p++) Atomics.store(touched, p, 0);
    dax_writeback_mapping_range(m, 0, a.pages * PAGE_SIZE - 1);
    out.passes++;
    pauseStorers(pause, stop, 2, out.passes);
    const found = checkIndex(cpu.machine);
    m.tree.treeLock();
    for (let p = 0; p < a.pages; p++) {
      if (Atomics.load(writable, p) === 0) continue;
      if (radix_tree_lookup(m.tree, p) === 0) found.push(`page ${p}: writable but no entry`);
      else if (!radix_tree_tag_get(m.tree, p, PAGECACHE_TAG_DIRTY)) found.push(`page ${p}: writable but its entry is not DIRTY`);
    }
    m.tree.treeUnlock();
    for (let p = 0; p < a.pages; p++) {
      if (Atomics.load(touched, p) !== 0) continue;
      out.pagesChecked++;
      const dirty = dev.dirtyLines((a.firstPfn + p) * PAGE_SIZE, PAGE_SIZE);
      if (dirty !== 0) found.push(`page ${p}: ${dirty} dirty lines after the writeback, nothing stored since it began`);
    }
    resumeStorers(pause, stop, 2, out.passes);
    Atomics.store(stop, 1, out.passes);
    for (const v of found) if (out.violations.length < 10) out.violations.push(`after writeback ${out.passes}: ${v}`);
  }
  out.written = m.written;
  return out;
}

/** Runs `fn` and counts itself done on `stop` (the writebacker stops when both storers are done). */
export function storerThenDone(cpu: Cpu, a: Args): number {
  const faults = storer(cpu, a);
  Atomics.add(new Int32Array(a.stop), 0, 1);
  return faults;
}
