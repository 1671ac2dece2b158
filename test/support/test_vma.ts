// A page table for dax tests that run without mm/: per page, 0 when not present, else
// pfn + 2 (the zero page: 1), negated when writable.
import { ZERO_PFN, type DaxVma } from '../../src/dax/fault.js';

export class TestVma implements DaxVma {
  readonly ptes: Float64Array;
  constructor(readonly sync: boolean, pages: number) {
    this.ptes = new Float64Array(pages);
  }
  insertPfn(pgoff: number, pfn: number, pages: number, writable: boolean): void {
    for (let i = 0; i < pages; i++) this.ptes[pgoff + i] = (pfn === ZERO_PFN ? 1 : pfn + i + 2) * (writable ? -1 : 1);
  }
  pfnAt(page: number): number {
    const v = Math.abs(this.ptes[page]);
    return v === 0 ? NaN : v === 1 ? ZERO_PFN : v - 2;
  }
  writable(page: number): boolean {
    return this.ptes[page] < 0;
  }

  /** unmap_mapping_range() / mkclean() of this VMA alone, as DaxMapping hooks. */
  unmap = (index: number, pages: number): void => {
    this.ptes.fill(0, index, Math.min(this.ptes.length, index + pages));
  };
  mkclean = (index: number, pages: number): void => {
    for (let p = index; p < Math.min(this.ptes.length, index + pages); p++) this.ptes[p] = Math.abs(this.ptes[p]);
  };
}
