// What the crash checks need from the stopped world beyond the device: the pages writable
// through a MAP_SYNC mapping at the crash, read from the VMA table and the page tables.

import { VMA, VMA_MAPPED } from '../machine/layout.js';
import type { Machine } from '../machine/machine.js';
import { VM_SYNC } from '../mm/mman.js';
import { ZERO_PFN } from '../dax/fault.js';
import { pte_pfn, pte_present, pte_write } from '../mm/pte.js';
import type { SyncPage } from './checks.js';

/** Every page writable through a MAP_SYNC mapping now: its file page and the block it maps. */
export function syncWritablePages(machine: Machine): SyncPage[] {
  const vmas = machine.views.mmVmas;
  const ptes = machine.views.mmPtes;
  const out: SyncPage[] = [];
  for (let id = 0; id < machine.config.vmas; id++) {
    const at = id * VMA.stride;
    if (Atomics.load(vmas, at + VMA.state) !== VMA_MAPPED || (vmas[at + VMA.flags] & VM_SYNC) === 0) continue;
    const ino = vmas[at + VMA.ino];
    const pgoff = vmas[at + VMA.pgoff];
    const base = vmas[at + VMA.pteBase];
    const pages = vmas[at + VMA.pages];
    for (let i = 0; i < pages; i++) {
      const pte = Atomics.load(ptes, base + i);
      if (pte_present(pte) && pte_write(pte) && pte_pfn(pte) !== ZERO_PFN) out.push({ ino, page: pgoff + i, pfn: pte_pfn(pte) });
    }
  }
  return out;
}
