// Test CPUs for DAX writeback: storers that fault pages writable and store to them, and a
// CPU that writes the mapping back over and over. The page tables are a shared array of
// writable bits (what mm/ will own): writeback's mkclean clears them, and a store that finds
// its page write-protected, or that was write-protected while it stored, faults again
// (dax_pfn_mkwrite), as a real store would after the TLB shootdown.
import { PAGECACHE_TAG_DIRTY, PAGE_SIZE } from '../../src/machine/layout.js';
import type { Cpu } from '../../src/sync/cpu.js';
import { PmemDevice } from '../../src/pmem/device.js';
import { DaxMapping, dax_writeback_mapping_range } from '../../src/dax/writeback.js';
import { radix_tree_insert, radix_tree_tag_set } from '../../src/dax/radix_tree.js';
import { dax_radix_locked_entry, daxEntryUnlock } from '../../src/dax/dax_entry.js';
import { get_unlocked_mapping_entry, put_unlocked_mapping_entry } from '../../src/dax/entry_lock.js';
import type { DaxVariant } from '../../src/dax/variant.js';

interface Args {
  mapping: number;
  pages: number;
  firstPfn: number;
  writable: SharedArrayBuffer;
  /** Int32 [storers done, writeback passes]. */
  stop: SharedArrayBuffer;
  rounds: number;
  variant?: DaxVariant;
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
  // At least `rounds` stores, and on until the writeback CPU has made 5 passes under them.
  for (let r = 0; r < a.rounds || Atomics.load(passes, 1) < 5; r++) {
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
  }
  return faults;
}

export function writebacker(cpu: Cpu, a: Args): { passes: number; written: number } {
  const dev = new PmemDevice(cpu);
  const m = new DaxMapping(cpu, dev, a.mapping, 'tracked', a.variant ?? 'none');
  const writable = new Int32Array(a.writable);
  m.mkclean = (index, pages) => {
    for (let p = index; p < index + pages; p++) Atomics.store(writable, p, 0);
  };
  const stop = new Int32Array(a.stop);
  let passes = 0;
  while (Atomics.load(stop, 0) < 2) {
    dax_writeback_mapping_range(m, 0, a.pages * PAGE_SIZE - 1);
    passes++;
    Atomics.store(stop, 1, passes);
  }
  return { passes, written: m.written };
}

/** Runs `fn` and counts itself done on `stop` (the writebacker stops when both storers are done). */
export function storerThenDone(cpu: Cpu, a: Args): number {
  const faults = storer(cpu, a);
  Atomics.add(new Int32Array(a.stop), 0, 1);
  return faults;
}
