// The reverse map: from an inode's pages to the PTEs that map them in every VMA (the i_mmap
// interval-tree walks of mm/rmap.c and mm/memory.c). DAX writeback write-protects through it
// (dax_mapping_entry_mkclean, plugged into DaxMapping.mkclean) and truncate and hole punch
// unmap through it (unmap_mapping_range / unmap_mapping_pages, plugged into DaxMapping.unmap).
//
// Locking rules: as mm.ts. A walk scans VMA slots [0, vmaHigh) (the lab has no per-inode
// i_mmap tree; with the default 64 slots a scan is a few dozen loads), pins each VMA of the
// inode with vma_start_read while it works on it, and changes PTE words only by clearing bits
// with Atomics. It takes no lock: mkclean runs with the DAX entry of the pages locked (the
// caller's), which keeps faults on those pages out, exactly as the entry lock does in
// fs/dax.c. A VMA mapped after a walk passed its slot has no PTE for a page whose entry the
// walker holds locked, so the walk cannot miss a writable PTE.

import { MM, PAGE_SIZE, VMA, VMA_FREE } from '../machine/layout.js';
import { PG_PMD_COLOUR } from '../dax/dax_entry.js';
import type { Mm } from './mm.js';
import { vma_end_read, vma_start_read } from './vma_lock.js';
import { charge } from '../sync/vclock.js';
import { _PAGE_RW, _PAGE_PSE } from './pte.js';
import { flush_tlb_mm_range } from './tlb.js';

/**
 * dax_mapping_entry_mkclean(): write-protects pages [index, index + pages) of inode ino in
 * every VMA that maps them (the entry's pages; called by dax_writeback_one with the entry
 * locked). Returns how many PTEs it write-protected.
 */
export function dax_mapping_entry_mkclean(mm: Mm, ino: number, index: number, pages: number): number {
  return rmap_walk(mm, ino, (at) => pfn_mkclean_range(mm, at, index, pages));
}

/**
 * rmap_walk() over the inode's i_mmap: calls visit(at) for every live VMA that maps inode
 * ino, with the VMA pinned so munmap waits; returns the sum of what visit returned.
 */
function rmap_walk(mm: Mm, ino: number, visit: (at: number) => number): number {
  const vmas = mm.vmas;
  const high = Atomics.load(mm.st, MM.vmaHigh);
  let sum = 0;
  for (let v = 0; v < high; v++) {
    const at = v * VMA.stride;
    if (Atomics.load(vmas, at + VMA.state) === VMA_FREE || vmas[at + VMA.ino] !== ino) continue;
    vma_start_read(vmas, at);
    try {
      if (Atomics.load(vmas, at + VMA.state) !== VMA_FREE && vmas[at + VMA.ino] === ino) sum += visit(at);
    } finally {
      vma_end_read(mm.cpu, vmas, at);
    }
  }
  return sum;
}

/**
 * pfn_mkclean_range(): clears _PAGE_RW of the VMA's PTEs for file pages [index, index + pages).
 * Each writable PTE, or PMD, is one ptep_clear_flush / pmdp_huge_clear_flush: a PTE write
 * (pteNs) and a TLB flush that interrupts the other CPUs running the process (tlb.ts).
 * Returns how many PTE words it write-protected.
 */
export function pfn_mkclean_range(mm: Mm, at: number, index: number, pages: number): number {
  const vmas = mm.vmas;
  const ptes = mm.ptes;
  const vpg = vmas[at + VMA.pgoff];
  const lo = Math.max(index, vpg);
  const hi = Math.min(index + pages, vpg + vmas[at + VMA.pages]);
  const base = vmas[at + VMA.pteBase] - vpg;
  let cleaned = 0;
  let flushes = 0;
  let pmdSeen = -1;
  for (let i = lo; i < hi; i++) {
    const w = base + i;
    for (;;) {
      const old = Atomics.load(ptes, w);
      if ((old & _PAGE_RW) === 0) break;
      if (Atomics.compareExchange(ptes, w, old, old & ~_PAGE_RW) === old) {
        cleaned++;
        // The 512 words of a PMD mapping are one pmd_t: one change, one flush.
        const head = (old & _PAGE_PSE) !== 0 ? i - (i & PG_PMD_COLOUR) : -1;
        if (head < 0 || head !== pmdSeen) flushes++;
        if (head >= 0) pmdSeen = head;
        break;
      }
    }
  }
  if (flushes > 0) {
    if (mm.pteNs > 0) charge(flushes * mm.pteNs);
    flush_tlb_mm_range(mm, flushes);
  }
  return cleaned;
}

/**
 * unmap_mapping_pages(): zaps the PTEs of inode ino's pages [start, start + nr) in every
 * VMA; a PMD mapping that the range touches is zapped whole (a DAX PMD cannot be split into
 * PTEs: __split_huge_pmd clears it). Returns how many PTEs it cleared.
 */
export function unmap_mapping_pages(mm: Mm, ino: number, start: number, nr: number): number {
  return rmap_walk(mm, ino, (at) => zap_page_range_single(mm, at, start, nr));
}

/**
 * unmap_mapping_range(): zaps every PTE of inode ino that maps a byte of [holebegin,
 * holebegin + holelen); holelen 0 means to the end of the file (truncate). Returns the PTEs cleared.
 */
export function unmap_mapping_range(mm: Mm, ino: number, holebegin: number, holelen: number): number {
  if (!(Number.isInteger(holebegin) && Number.isInteger(holelen) && holebegin >= 0 && holelen >= 0)) {
    throw new RangeError(`unmap_mapping_range: expected non-negative integers, got holebegin ${holebegin}, holelen ${holelen}`);
  }
  const first = Math.floor(holebegin / PAGE_SIZE);
  const nr = holelen === 0 ? Number.MAX_SAFE_INTEGER - first : Math.ceil(holelen / PAGE_SIZE);
  return unmap_mapping_pages(mm, ino, first, nr);
}

/**
 * zap_page_range_single(): clears the VMA's PTEs for file pages [start, start + nr), widened to
 * whole PMD mappings: pteNs per PTE or PMD cleared, and one TLB flush for the range.
 */
export function zap_page_range_single(mm: Mm, at: number, start: number, nr: number): number {
  const vmas = mm.vmas;
  const ptes = mm.ptes;
  const vpg = vmas[at + VMA.pgoff];
  let lo = Math.max(start, vpg);
  let hi = Math.min(start + nr, vpg + vmas[at + VMA.pages]);
  if (lo >= hi) return 0;
  const base = vmas[at + VMA.pteBase] - vpg;
  // A PMD mapping (its 512 PTEs carry _PAGE_PSE and lie inside the VMA) goes whole.
  if ((Atomics.load(ptes, base + lo) & _PAGE_PSE) !== 0) lo -= lo & PG_PMD_COLOUR;
  if ((Atomics.load(ptes, base + hi - 1) & _PAGE_PSE) !== 0) hi = ((hi - 1) | PG_PMD_COLOUR) + 1;
  let zapped = 0;
  let changes = 0;
  let pmdSeen = -1;
  for (let i = lo; i < hi; i++) {
    if (ptes[base + i] === 0) continue;
    const old = Atomics.exchange(ptes, base + i, 0);
    if (old === 0) continue;
    zapped++;
    // A PMD mapping's 512 words are one pmd_t (zap_huge_pmd): one change.
    const head = (old & _PAGE_PSE) !== 0 ? i - (i & PG_PMD_COLOUR) : -1;
    if (head < 0 || head !== pmdSeen) changes++;
    if (head >= 0) pmdSeen = head;
  }
  if (changes > 0) {
    if (mm.pteNs > 0) charge(changes * mm.pteNs);
    // The zap's mmu_gather flushes the range once (tlb_finish_mmu -> flush_tlb_mm_range).
    flush_tlb_mm_range(mm, 1);
  }
  return zapped;
}
