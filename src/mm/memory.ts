// What a CPU does through a mapping (mm/memory.c, arch/x86/mm/fault.c, mm/msync.c): loads
// and stores that take read, write and write-protect faults as the page table requires;
// flushUser, the userspace clwb + sfence of a MAP_SYNC program; msync. A Vma is one CPU's
// handle on a shared VMA: it implements the DaxVma the DAX fault code maps pages through.
//
// Locking rules: as mm.ts. The hot paths (a load from a present page, a store to a writable
// one) take no lock and pin nothing: two typed-array reads (the PTE and the VMA's gen), the
// device access, and for a store one Atomics.load of the PTE again. Faults pin the VMA
// (vma_start_read) for the whole of ext4_dax_huge_fault(), which takes the DAX entry lock,
// the journal handle and i_data_sem in fs/dax.c's order and may sleep on a commit (MAP_SYNC);
// nothing else is held across it. insertPfn runs inside a fault, with the page's entry
// locked; it writes PTE words with Atomics.store.
//
// Injected costs (MachineConfig.costs, copied into each Vma): a fault first pays its trap
// (exc_page_fault: trapNs, holding nothing, the `trap` step of an attributed operation), then
// the remote TLB flushes this CPU took since it last entered the kernel (tlb.ts); a
// store pays storeLineNs per 64-byte line it writes (nothing is tested on the store path but
// `storeLineNs > 0`); msync pays a system call's entry (syscallNs).

import { CACHELINE_SHIFT, PAGE_SHIFT, PAGE_SIZE, VMA, VMA_MAPPED } from '../machine/layout.js';
import type { PmemDevice } from '../pmem/device.js';
import { FsError } from '../fs/errno.js';
import { entry_SYSCALL_64, vfs_fsync_range } from '../fs/inode.js';
import { charge } from '../sync/vclock.js';
import { STEP, stepEnter, stepLeave } from '../measure/steps.js';
import { PG_PMD_COLOUR, PG_PMD_NR } from '../dax/dax_entry.js';
import { PE_SIZE_PMD, PE_SIZE_PTE, VM_FAULT_ERROR, VM_FAULT_FALLBACK, ZERO_PFN, ext4_dax_huge_fault, type DaxVma, type PeSize } from '../dax/fault.js';
import type { DaxMapping } from '../dax/writeback.js';
import type { Mm } from './mm.js';
import { vma_end_read, vma_start_read } from './vma_lock.js';
import { zap_page_range_single } from './rmap.js';
import { mm_cpumask_join, tlb_flush_received } from './tlb.js';
import {
  FAULT_FLAG_WRITE,
  MS_ASYNC,
  MS_INVALIDATE,
  MS_SYNC,
  MmFault,
  VM_HUGEPAGE,
  VM_MIXEDMAP,
  VM_NOHUGEPAGE,
  VM_READ,
  VM_SHARED,
  VM_SYNC,
  VM_WRITE,
  type MmSiCode,
} from './mman.js';
import { PTE_MAX_PFN, PTE_PFN_SHIFT, _PAGE_PRESENT, _PAGE_RW, mk_pte, pte_huge, pte_pfn, pte_present } from './pte.js';

const PAGE_MASK_LOW = PAGE_SIZE - 1;

/** What another CPU needs to attach the same mapping (plain data: it survives postMessage). */
export interface VmaRef {
  readonly id: number;
  readonly gen: number;
}

/** One CPU's handle on a mapping: made by mmap() or attachVma() (mmap.ts). */
export class Vma implements DaxVma {
  readonly mm: Mm;
  /** The VMA's slot in the shared table, and the incarnation of it this handle belongs to. */
  readonly id: number;
  readonly gen: number;
  readonly ino: number;
  /** vm_pgoff: the file page the mapping starts at; it spans `pages` pages, `length` bytes. */
  readonly pgoff: number;
  readonly pages: number;
  readonly length: number;
  /** vm_flags (VM_READ, VM_WRITE, VM_SHARED, VM_SYNC, ...). */
  readonly flags: number;
  /** VM_SYNC: the mapping was made with MAP_SYNC through MAP_SHARED_VALIDATE (DaxVma.sync). */
  readonly sync: boolean;
  private readonly at: number;
  private readonly genAt: number;
  private readonly base: number;
  private readonly ptes: Int32Array;
  private readonly vmaWords: Int32Array;
  private readonly dev: PmemDevice;
  /** This CPU's DaxMapping of the inode, looked up at the first fault. */
  private mapping: DaxMapping | null = null;
  /** Injected costs (MachineConfig.costs), ns: per 64-byte line stored, per fault's trap. */
  private readonly storeLineNs: number;
  private readonly trapNs: number;

  constructor(mm: Mm, id: number, gen: number, ino: number, pgoff: number, pages: number, flags: number, pteBase: number) {
    this.mm = mm;
    this.id = id;
    this.gen = gen;
    this.ino = ino;
    this.pgoff = pgoff;
    this.pages = pages;
    this.length = pages * PAGE_SIZE;
    this.flags = flags;
    this.sync = (flags & VM_SYNC) !== 0;
    this.at = id * VMA.stride;
    this.genAt = this.at + VMA.gen;
    this.base = pteBase;
    this.ptes = mm.ptes;
    this.vmaWords = mm.vmas;
    this.dev = mm.dev;
    const costs = mm.cpu.machine.config.costs;
    this.storeLineNs = costs.storeLineNs;
    this.trapNs = costs.trapNs;
    // This CPU now runs a thread that uses the mapping: flushes of the process's PTEs interrupt it.
    mm_cpumask_join(mm);
  }

  /** The reference another CPU attaches with (attachVma). */
  get ref(): VmaRef {
    return { id: this.id, gen: this.gen };
  }

  /**
   * transparent_hugepage_enabled() for this VMA now: a DAX VMA (VM_MIXEDMAP) with VM_HUGEPAGE
   * and without VM_NOHUGEPAGE. madvise() may change the word after mmap, so it is read here.
   */
  get huge(): boolean {
    return (Atomics.load(this.vmaWords, this.at + VMA.flags) & (VM_MIXEDMAP | VM_HUGEPAGE | VM_NOHUGEPAGE)) === (VM_MIXEDMAP | VM_HUGEPAGE);
  }

  /** Whether the mapping is still there (false once munmap has begun, on any CPU). */
  get mapped(): boolean {
    return Atomics.load(this.vmaWords, this.genAt) === this.gen;
  }

  /** The PTE word of the mapping's page `page` (pte.ts decodes it); 0 once unmapped. */
  pte(page: number): number {
    if (!Number.isInteger(page) || page < 0 || page >= this.pages) {
      throw new RangeError(`pte: expected a page from 0 to ${this.pages - 1}, got ${String(page)}`);
    }
    return this.mapped ? Atomics.load(this.ptes, this.base + page) : 0;
  }

  // ---- DaxVma ------------------------------------------------------------------------------

  /**
   * vm_insert_mixed() / vmf_insert_pfn_pmd() (insert_pfn): maps file pages [pgoff, pgoff +
   * pages) to pfn.. (ZERO_PFN: the zero page), clipped to this VMA. A PMD insert that fits
   * whole marks its 512 PTEs _PAGE_PSE. A read-only insert leaves a present PTE of the same
   * pfn alone (insert_pfn returns -EBUSY there), so a read fault never write-protects a page
   * another CPU just made writable. Called by the DAX fault code with the entry locked.
   */
  insertPfn(pgoff: number, pfn: number, pages: number, writable: boolean): void {
    if (writable && (pfn === ZERO_PFN || (this.flags & VM_WRITE) === 0)) {
      throw new Error(`insertPfn: vma ${this.id} page ${pgoff}: a writable ${pfn === ZERO_PFN ? 'zero page' : 'page in a mapping without VM_WRITE'}`);
    }
    if (!(pfn === ZERO_PFN || (Number.isInteger(pfn) && pfn >= 0 && pfn + pages - 1 <= PTE_MAX_PFN))) {
      throw new RangeError(`insertPfn: pfn ${pfn} (+${pages} pages) outside 0..${PTE_MAX_PFN}`);
    }
    const lo = Math.max(pgoff, this.pgoff);
    const hi = Math.min(pgoff + pages, this.pgoff + this.pages);
    const pmd = pages > 1 && lo === pgoff && hi === pgoff + pages;
    const ptes = this.ptes;
    const base = this.base - this.pgoff;
    // One set_pte_at (or set_pmd_at for a whole PMD) whatever the words the model writes.
    if (this.mm.pteNs > 0) charge(this.mm.pteNs);
    for (let i = lo; i < hi; i++) {
      const p = pfn === ZERO_PFN ? ZERO_PFN : pfn + (i - pgoff);
      if (!writable) {
        const old = Atomics.load(ptes, base + i);
        if (pte_present(old) && pte_pfn(old) === p) continue;
      }
      Atomics.store(ptes, base + i, mk_pte(p, writable, pmd));
    }
  }

  // ---- stores ------------------------------------------------------------------------------

  /**
   * A CPU store of `src` at byte `offset` of the mapping. A store within one page whose PTE
   * is writable goes straight to the device; anything else takes the fault path (write fault,
   * write-protect fault, or SIGSEGV / SIGBUS as an MmFault).
   */
  store(offset: number, src: Uint8Array): void {
    const len = src.length;
    if (offset >>> 0 === offset && len !== 0 && (offset & PAGE_MASK_LOW) + len <= PAGE_SIZE && offset + len <= this.length) {
      const w = this.base + (offset >>> PAGE_SHIFT);
      const pte = this.ptes[w];
      if ((pte & _PAGE_RW) !== 0 && this.vmaWords[this.genAt] === this.gen) {
        this.dev.store(((pte >>> PTE_PFN_SHIFT) - 1) * PAGE_SIZE + (offset & PAGE_MASK_LOW), src);
        if (this.storeLineNs > 0) this.storeLines(offset, len);
        // Write-protected (writeback) or zapped while we stored: fault and store again.
        if (Atomics.load(this.ptes, w) === pte) return;
        this.mm.counters.storeRetries++;
      }
    }
    this.storeSlow(offset, src);
  }

  private storeSlow(offset: number, src: Uint8Array): void {
    const len = src.length;
    this.checkRange(offset, len, 'store');
    let done = 0;
    while (done < len) {
      const off = offset + done;
      const n = Math.min(len - done, PAGE_SIZE - (off % PAGE_SIZE));
      this.storePage(Math.floor(off / PAGE_SIZE), off, n === len ? src : src.subarray(done, done + n));
      done += n;
    }
  }

  /** A store within page `page`: fault until the PTE is writable, store, and check the PTE held. */
  private storePage(page: number, off: number, chunk: Uint8Array): void {
    const w = this.base + page;
    for (;;) {
      if (this.vmaWords[this.genAt] !== this.gen) throw this.segv(off, 'SEGV_MAPERR', 'the mapping was unmapped (use after munmap)');
      const pte = Atomics.load(this.ptes, w);
      if ((pte & _PAGE_RW) !== 0) {
        this.dev.store(pte_pfn(pte) * PAGE_SIZE + (off % PAGE_SIZE), chunk);
        if (this.storeLineNs > 0) this.storeLines(off, chunk.length);
        if (Atomics.load(this.ptes, w) === pte) return;
        this.mm.counters.storeRetries++;
        continue;
      }
      if ((this.flags & VM_WRITE) === 0) throw this.segv(off, 'SEGV_ACCERR', 'store to a mapping without PROT_WRITE');
      this.handle_mm_fault(page, off, FAULT_FLAG_WRITE, pte);
    }
  }

  /** The stored lines' trip to the device's write-pending queue: storeLineNs per 64-byte line of [offset, offset + len). */
  private storeLines(offset: number, len: number): void {
    charge((((offset + len - 1) >>> CACHELINE_SHIFT) - (offset >>> CACHELINE_SHIFT) + 1) * this.storeLineNs);
  }

  // ---- loads -------------------------------------------------------------------------------

  /**
   * A CPU load of `length` bytes at `offset`, into a new array. A length that is not a
   * non-negative integer is EINVAL (an FsError); a range outside the mapping is SIGSEGV,
   * checked before the array is made.
   */
  load(offset: number, length: number): Uint8Array {
    this.checkRange(offset, length, 'load');
    const out = new Uint8Array(length);
    this.loadInto(offset, out);
    return out;
  }

  /** A CPU load of dst.length bytes at `offset` into dst (read faults as needed). */
  loadInto(offset: number, dst: Uint8Array): void {
    const len = dst.length;
    if (offset >>> 0 === offset && len !== 0 && (offset & PAGE_MASK_LOW) + len <= PAGE_SIZE && offset + len <= this.length) {
      const pte = this.ptes[this.base + (offset >>> PAGE_SHIFT)];
      if ((pte & _PAGE_PRESENT) !== 0 && this.vmaWords[this.genAt] === this.gen) {
        const pfn = (pte >>> PTE_PFN_SHIFT) - 1;
        if (pfn === ZERO_PFN) dst.fill(0);
        else this.dev.loadInto(pfn * PAGE_SIZE + (offset & PAGE_MASK_LOW), dst, 0, len);
        return;
      }
    }
    this.loadSlow(offset, dst);
  }

  private loadSlow(offset: number, dst: Uint8Array): void {
    const len = dst.length;
    this.checkRange(offset, len, 'load');
    let done = 0;
    while (done < len) {
      const off = offset + done;
      const n = Math.min(len - done, PAGE_SIZE - (off % PAGE_SIZE));
      const pfn = this.presentPfn(Math.floor(off / PAGE_SIZE), off);
      if (pfn === ZERO_PFN) dst.fill(0, done, done + n);
      else this.dev.loadInto(pfn * PAGE_SIZE + (off % PAGE_SIZE), dst, done, n);
      done += n;
    }
  }

  /** The pfn of page `page`, read-faulting it in when not present (a load's or a clwb's access). */
  private presentPfn(page: number, off: number): number {
    const w = this.base + page;
    for (;;) {
      if (this.vmaWords[this.genAt] !== this.gen) throw this.segv(off, 'SEGV_MAPERR', 'the mapping was unmapped (use after munmap)');
      const pte = Atomics.load(this.ptes, w);
      if (pte_present(pte)) return pte_pfn(pte);
      if ((this.flags & (VM_READ | VM_WRITE)) === 0) throw this.segv(off, 'SEGV_ACCERR', 'load from a PROT_NONE mapping');
      this.handle_mm_fault(page, off, 0, pte);
    }
  }

  // ---- flushes -----------------------------------------------------------------------------

  /**
   * Userspace clwb of every cache line of [offset, offset + length), then sfence: no system
   * call (a MAP_SYNC program's way to make its stores durable, PMDK's pmem_persist). A line
   * of a page not present is faulted in first, as the clwb's access would be.
   */
  flushUser(offset: number, length: number): void {
    this.checkRange(offset, length, 'flushUser');
    let done = 0;
    while (done < length) {
      const off = offset + done;
      const n = Math.min(length - done, PAGE_SIZE - (off % PAGE_SIZE));
      const pfn = this.presentPfn(Math.floor(off / PAGE_SIZE), off);
      if (pfn !== ZERO_PFN) this.dev.flush(pfn * PAGE_SIZE + (off % PAGE_SIZE), n);
      done += n;
    }
    this.dev.fence();
  }

  /**
   * msync(2) of [offset, offset + length) (sys_msync): with MS_SYNC on a shared mapping,
   * vfs_fsync_range(datasync) over the file range the pages map, which writes back the dirty
   * entries (write-protecting their pages) and makes the block map durable. MS_ASYNC does
   * nothing (as since 2.6.19). Errors are FsErrors: EINVAL for unknown flags, MS_ASYNC with
   * MS_SYNC, an offset that is not page-aligned or a length that is not a non-negative
   * integer; ENOMEM when part of the range is not mapped (after syncing the part that is,
   * as the kernel does) or the mapping is gone.
   */
  msync(offset: number, length: number, flags: number = MS_SYNC): void {
    entry_SYSCALL_64(this.mm.fs);
    tlb_flush_received(this.mm);
    if (!Number.isInteger(flags) || (flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC)) !== 0) {
      throw new FsError('EINVAL', `msync: unknown flags ${String(flags)} (MS_ASYNC, MS_INVALIDATE, MS_SYNC)`);
    }
    if (!Number.isInteger(offset) || offset < 0 || offset % PAGE_SIZE !== 0) {
      throw new FsError('EINVAL', `msync: offset ${String(offset)} is not a page-aligned offset in the mapping`);
    }
    if ((flags & MS_ASYNC) !== 0 && (flags & MS_SYNC) !== 0) throw new FsError('EINVAL', 'msync: MS_ASYNC and MS_SYNC together');
    if (!Number.isInteger(length) || length < 0) throw new FsError('EINVAL', `msync: length: expected a non-negative integer, got ${String(length)}`);
    const end = offset + Math.ceil(length / PAGE_SIZE) * PAGE_SIZE;
    if (end === offset) return;
    if (!this.mapped) throw new FsError('ENOMEM', `msync: vma ${this.id} is not mapped (munmap)`);
    if (offset >= this.length) throw new FsError('ENOMEM', `msync: offset ${offset} is past the mapping (${this.length} bytes)`);
    if ((flags & MS_SYNC) !== 0 && (this.flags & VM_SHARED) !== 0) {
      const fstart = this.pgoff * PAGE_SIZE + offset;
      vfs_fsync_range(this.mm.fs, this.ino, fstart, fstart + Math.min(end, this.length) - offset - 1, true);
    }
    if (end > this.length) throw new FsError('ENOMEM', `msync: [${offset}, ${end}) runs past the mapping (${this.length} bytes)`);
  }

  // ---- the fault -----------------------------------------------------------------------------

  /**
   * handle_mm_fault() for DAX (__handle_mm_fault -> create_huge_pmd / wp_huge_pmd /
   * do_shared_fault / wp_pfn_shared -> vm_ops->huge_fault): pins the VMA, fills this CPU's
   * vm_fault and calls ext4_dax_huge_fault at PE_SIZE_PMD where the PMD is tried (a
   * write-protect fault on a PMD mapping, or a page of a huge-page VMA whose 2 MiB fits the VMA
   * and has no page table yet), else at PE_SIZE_PTE; a PMD fault that falls back is retried at
   * PE_SIZE_PTE, in a second ext4_dax_huge_fault as the kernel's handle_pte_fault makes it.
   * VM_FAULT_SIGBUS becomes an MmFault.
   */
  private handle_mm_fault(page: number, off: number, flags: number, pte: number): void {
    if (this.trapNs > 0) exc_page_fault(this.trapNs);
    const mm = this.mm;
    tlb_flush_received(mm);
    const vmas = this.vmaWords;
    const write = (flags & FAULT_FLAG_WRITE) !== 0;
    const index = this.pgoff + page;
    const vmf = mm.vmf;
    let r: number;
    vma_start_read(vmas, this.at);
    try {
      if (Atomics.load(vmas, this.at + VMA.state) !== VMA_MAPPED || Atomics.load(vmas, this.genAt) !== this.gen) {
        throw this.segv(off, 'SEGV_MAPERR', 'the mapping was unmapped (use after munmap)');
      }
      const present = pte_present(pte);
      const hugePte = present && pte_huge(pte);
      const pe: PeSize = (present ? hugePte : this.huge && this.pmdFits(index) && this.pmd_none(index)) ? PE_SIZE_PMD : PE_SIZE_PTE;
      const c = mm.counters;
      if (!write) c.readFaults++;
      else if (present) c.wpFaults++;
      else c.writeFaults++;
      vmf.vma = this;
      vmf.mapping = this.mapping ??= mm.mappingOf(mm.fs, this.ino);
      vmf.fs = mm.fs;
      vmf.ino = this.ino;
      vmf.pgoff = index;
      vmf.write = write;
      vmf.error = null;
      if (pe === PE_SIZE_PMD) {
        c.pmdFaults++;
        r = ext4_dax_huge_fault(vmf, PE_SIZE_PMD);
        if ((r & VM_FAULT_FALLBACK) !== 0) {
          c.pmdFallbacks++;
          // wp_huge_pmd's fallback: __split_huge_pmd clears a DAX PMD (there is no page table
          // under it to split into), so the PTE fault finds pmd_none.
          if (hugePte) zap_page_range_single(mm, this.at, index - (index & PG_PMD_COLOUR), PG_PMD_NR);
          r = ext4_dax_huge_fault(vmf, PE_SIZE_PTE);
        }
      } else {
        r = ext4_dax_huge_fault(vmf, PE_SIZE_PTE);
      }
    } finally {
      vma_end_read(mm.cpu, vmas, this.at);
    }
    if ((r & VM_FAULT_ERROR) !== 0) {
      mm.counters.sigbus++;
      const why = vmf.error === null ? 'past the end of the file' : vmf.error instanceof Error ? vmf.error.message : String(vmf.error);
      throw new MmFault('SIGBUS', 'BUS_ADRERR', off, `${write ? 'write' : 'read'} fault on page ${index} of inode ${this.ino}: ${why}`, vmf.error ?? undefined);
    }
  }

  /** Whether the PMD around file page `index` lies inside the VMA (dax_iomap_pmd_fault's vm_start/vm_end test). */
  private pmdFits(index: number): boolean {
    const start = index - (index & PG_PMD_COLOUR);
    return start >= this.pgoff && start + PG_PMD_NR <= this.pgoff + this.pages;
  }

  /**
   * pmd_none() for the PMD around file page `index` (inside the VMA): no page table under it
   * yet. The lab has no page-table pages: a PMD has one while any of its 512 PTE words is set.
   * (The kernel keeps an emptied page table until munmap, so after a zap of every page of a
   * PTE-mapped 2 MiB the next fault there tries a PMD here and a PTE in the kernel.)
   */
  private pmd_none(index: number): boolean {
    const from = this.base + (index - (index & PG_PMD_COLOUR)) - this.pgoff;
    const ptes = this.ptes;
    for (let w = from; w < from + PG_PMD_NR; w++) if (ptes[w] !== 0) return false;
    return true;
  }

  /** The checks of an access of `length` bytes at `offset`: EINVAL for a bad length (no CPU access has one), SIGSEGV outside the mapping. */
  private checkRange(offset: number, length: number, op: string): void {
    if (!Number.isInteger(length) || length < 0) throw new FsError('EINVAL', `${op}: length: expected a non-negative integer, got ${String(length)}`);
    if (!Number.isInteger(offset) || offset < 0 || offset + length > this.length) {
      throw this.segv(Number.isInteger(offset) && offset >= 0 ? Math.max(offset, this.length) : offset, 'SEGV_MAPERR', `${op} of [${offset}, ${offset + length}) outside the mapping (${this.length} bytes)`);
    }
  }

  private segv(off: number, code: MmSiCode, message: string): MmFault {
    this.mm.counters.sigsegv++;
    return new MmFault('SIGSEGV', code, off, `vma ${this.id} (inode ${this.ino}): ${message}`);
  }
}

/**
 * exc_page_fault(): the trap, its exception entry and exit and handle_mm_fault()'s page-table
 * walk (trapNs), paid before the fault takes anything; the `trap` step of an attributed operation.
 */
function exc_page_fault(trapNs: number): void {
  stepEnter(STEP.trap);
  charge(trapNs);
  stepLeave();
}
