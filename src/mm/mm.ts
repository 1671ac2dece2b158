// The address space as one CPU sees it (struct mm_struct): the shared VMA table and PTE pool,
// this CPU's scratch (one reusable struct vm_fault), and one DaxMapping per inode wired to
// the rmap, so that DAX writeback write-protects and truncate unmaps the pages every VMA maps.
//
// Locking rules (all of mm/):
//  - All CPUs are threads of one process: the VMA table (views.mmVmas), its header
//    (views.mmState) and the PTE pool (views.mmPtes) are shared, and a VMA made on one CPU
//    is used by any other through attachVma().
//  - mmap_sem (the lock words of MM in mmState, lock_stat class mmap_sem) is taken only by
//    mmap and munmap, for write in the kernel's terms: it guards allocation of VMA slots and
//    PTE ranges, map_count, vmaHigh and pteHigh. Faults, loads, stores, msync and rmap walks
//    never take it.
//  - Instead, a fault or rmap walk pins the VMA it works on with VMA.users (vma_start_read /
//    vma_end_read, like the per-VMA locks of Linux 6.4): it increments users, then checks the
//    VMA's state. munmap (holding mmap_sem) bumps gen and marks the VMA DYING, waits for users
//    to drain, zaps the PTEs, marks it FREE and waits for users to drain again before it
//    drops mmap_sem, so no CPU works on a slot while it is handed to another mapping. munmap
//    sleeps in that wait (Atomics.wait, woken by the last user of a DYING VMA); a pinned
//    fault may itself sleep on an entry lock or a journal commit, but never on mmap_sem, so
//    the wait ends.
//  - Page-table lock: none. The kernel takes the PTE lock of the page-table page (or the PMD
//    lock) around each PTE change; here every PTE word changes with one Atomics operation:
//    a fault's insert (Atomics.store, vm_insert_mixed / vmf_insert_pfn_pmd), a write-protect
//    (compareExchange clearing _PAGE_RW, pfn_mkclean_range) and a zap (Atomics.store of 0,
//    zap_page_range_single). What the PTE lock serializes in the kernel, the DAX entry lock
//    serializes here: a fault holds the entry of its page locked while it inserts the PTE,
//    and writeback holds it while it write-protects, so the two never interleave on a page.
//    Inserts only ever happen through the faulting VMA while it is pinned and MAPPED;
//    write-protects and zaps only clear bits, so a stale rmap walker can never make a PTE
//    more permissive.
//  - A store that finds its PTE writable stores without any lock, then reads the PTE again;
//    if it changed (write-protected by writeback, zapped), the store takes the fault path and
//    stores again: that stands for the TLB shootdown's effect; its cost, an IPI to every
//    other CPU running the process, is charged to the CPU that changed the PTE (tlb.ts). A store racing a zap can still land on
//    the old block before it sees the change (the kernel's IPI waits it out); truncate frees
//    blocks only after the zap and reuses them only after a commit, so this window is not
//    modelled further.
//  - Lock order: mmap_sem -> (nothing: munmap takes no other lock while holding it, and the
//    fault path below it follows fs/dax.c and fs/: entry lock -> journal handle -> i_data_sem
//    -> ext4_group_lock -> j_state_lock, tree_lock innermost).

import type { Cpu } from '../sync/cpu.js';
import type { Fs } from '../fs/super.js';
import type { PmemDevice } from '../pmem/device.js';
import { VmFault } from '../dax/fault.js';
import { DaxMapping, daxWritebackHook, type MappingOf, type WritebackMode } from '../dax/writeback.js';
import { daxInvalidateHook } from '../dax/truncate.js';
import type { DaxVariant } from '../dax/variant.js';
import { dax_mapping_entry_mkclean, unmap_mapping_pages } from './rmap.js';

/** Fault and signal counters of one CPU. */
export interface MmCounters {
  /** Read faults (a load or flushUser of a page not present). */
  readFaults: number;
  /** Write faults on a page not present. */
  writeFaults: number;
  /** Write-protect faults (a store to a present read-only page: dax_pfn_mkwrite). */
  wpFaults: number;
  /** Faults tried at PE_SIZE_PMD. */
  pmdFaults: number;
  /** PMD faults that fell back to PE_SIZE_PTE (VM_FAULT_FALLBACK: no aligned 2 MiB extent, a PTE entry in the range, ...). */
  pmdFallbacks: number;
  /** Remote TLB flush IPIs this CPU sent: one per target CPU per flush (tlb.ts). */
  tlbShootdowns: number;
  /** Stores that found their PTE changed after storing and went through the fault path again. */
  storeRetries: number;
  sigbus: number;
  sigsegv: number;
}

export interface AttachMmOptions {
  /** Writeback mode of the DaxMappings this CPU makes (default tracked). */
  mode?: WritebackMode;
  /** A known-bad DAX variant for the DaxMappings this CPU makes (default none). */
  variant?: DaxVariant;
}

/** One CPU's view of the shared address space. Make it once per CPU and file system with attachMm(). */
export class Mm {
  readonly cpu: Cpu;
  readonly fs: Fs;
  readonly dev: PmemDevice;
  /** views.mmState, views.mmVmas, views.mmPtes. */
  readonly st: Int32Array;
  readonly vmas: Int32Array;
  readonly ptes: Int32Array;
  /** Writing one page-table entry (costs.pteNs). */
  readonly pteNs: number;
  /** A remote TLB flush's round trip, and its sending per target CPU (costs.tlbShootdownNs, tlbShootdownTargetNs). */
  readonly tlbShootdownNs: number;
  readonly tlbShootdownTargetNs: number;
  /** A remote TLB flush taken in an interrupt, by the CPU it was sent to (costs.tlbFlushIrqNs). */
  readonly tlbFlushIrqNs: number;
  /** The struct vm_fault every fault of this CPU reuses. */
  readonly vmf = new VmFault();
  /** This CPU's DaxMapping of an inode, with mkclean and unmap wired to the rmap. */
  readonly mappingOf: MappingOf;
  readonly counters: MmCounters = { readFaults: 0, writeFaults: 0, wpFaults: 0, pmdFaults: 0, pmdFallbacks: 0, tlbShootdowns: 0, storeRetries: 0, sigbus: 0, sigsegv: 0 };
  private readonly maps = new Map<number, DaxMapping>();

  /** The DaxMappings this CPU has made (for their writeback counters). */
  mappings(): IterableIterator<DaxMapping> {
    return this.maps.values();
  }

  constructor(cpu: Cpu, fs: Fs, opts: AttachMmOptions = {}) {
    if (fs.cpu !== cpu) throw new RangeError(`attachMm: the file system is mounted on cpu ${fs.cpu.id}, not cpu ${cpu.id}`);
    const v = cpu.machine.views;
    this.cpu = cpu;
    this.fs = fs;
    this.dev = fs.dev;
    this.st = v.mmState;
    this.pteNs = cpu.machine.config.costs.pteNs;
    this.tlbShootdownNs = cpu.machine.config.costs.tlbShootdownNs;
    this.tlbShootdownTargetNs = cpu.machine.config.costs.tlbShootdownTargetNs;
    this.tlbFlushIrqNs = cpu.machine.config.costs.tlbFlushIrqNs;
    this.vmas = v.mmVmas;
    this.ptes = v.mmPtes;
    const mode = opts.mode ?? 'tracked';
    const variant = opts.variant ?? 'none';
    this.mappingOf = (f, ino) => {
      let m = this.maps.get(ino);
      if (m === undefined) {
        m = new DaxMapping(f.cpu, f.dev, ino, mode, variant);
        m.mkclean = (index, pages) => dax_mapping_entry_mkclean(this, ino, index, pages);
        m.unmap = (index, pages) => unmap_mapping_pages(this, ino, index, pages);
        this.maps.set(ino, m);
      }
      return m;
    };
  }
}

/**
 * Attaches this CPU to the shared address space for file system `fs` (mounted on this CPU),
 * and plugs DAX writeback (fsync, msync) and truncate invalidation into the file system
 * unless hooks are already set. A hook set by someone else must write-protect through
 * mm.mappingOf's mappings, or writeback leaves writable pages on clean entries.
 */
export function attachMm(cpu: Cpu, fs: Fs, opts: AttachMmOptions = {}): Mm {
  const mm = new Mm(cpu, fs, opts);
  if (fs.hooks.writeback === null) fs.hooks.writeback = daxWritebackHook(mm.mappingOf);
  if (fs.hooks.invalidate === null) fs.hooks.invalidate = daxInvalidateHook(mm.mappingOf);
  return mm;
}
