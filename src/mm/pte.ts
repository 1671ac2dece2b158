// A page-table entry: one Int32 of the PTE pool (views.mmPtes) per mapped page, packed the
// way x86 packs a pte_t, reduced to what DAX needs:
//
//   bit 0       _PAGE_PRESENT: the page is mapped (a word of 0 is pte_none)
//   bit 1       _PAGE_RW: writable; clear, a store takes a write-protect fault
//   bit 2       _PAGE_PSE: one of the 512 entries of a PMD mapping (the kernel has one pmd_t
//               there; the lab keeps per-page words so a store finds its page in one read)
//   bits 3..30  pfn + 1 (the device block; 0 stands for the zero page, ZERO_PFN)
//
// Pure functions of a value; who may change a word, and how, is in mm.ts's header.

import { ZERO_PFN } from '../dax/fault.js';

export const _PAGE_PRESENT = 0x1;
export const _PAGE_RW = 0x2;
export const _PAGE_PSE = 0x4;
export const PTE_PFN_SHIFT = 3;
/** Largest pfn a PTE holds (the device is at most 4 GiB: 2^20 blocks). */
export const PTE_MAX_PFN = 2 ** (31 - PTE_PFN_SHIFT) - 2;

/** pfn_pte() + pte_mkwrite() + pte_mkhuge(): the PTE mapping pfn (ZERO_PFN: the zero page). */
export function mk_pte(pfn: number, writable: boolean, pmd: boolean): number {
  return ((pfn + 1) << PTE_PFN_SHIFT) | _PAGE_PRESENT | (writable ? _PAGE_RW : 0) | (pmd ? _PAGE_PSE : 0);
}

/** pte_present(). */
export function pte_present(pte: number): boolean {
  return (pte & _PAGE_PRESENT) !== 0;
}

/** pte_write(). */
export function pte_write(pte: number): boolean {
  return (pte & _PAGE_RW) !== 0;
}

/** pte_huge() (pmd_trans_huge for the PMD the entry belongs to). */
export function pte_huge(pte: number): boolean {
  return (pte & _PAGE_PSE) !== 0;
}

/** pte_pfn(): the block the entry maps, ZERO_PFN for the zero page (meaningless unless present). */
export function pte_pfn(pte: number): number {
  return (pte >>> PTE_PFN_SHIFT) - 1;
}

/** pte_wrprotect(). */
export function pte_wrprotect(pte: number): number {
  return pte & ~_PAGE_RW;
}

/** A readable form of a PTE, for checker messages and test failures. */
export function describePte(pte: number): string {
  if (!pte_present(pte)) return pte === 0 ? 'none' : `bad pte ${pte}`;
  const pfn = pte_pfn(pte);
  return `${pfn === ZERO_PFN ? 'zero page' : `pfn ${pfn}`} ${pte_write(pte) ? 'rw' : 'ro'}${pte_huge(pte) ? ' pmd' : ''}`;
}
