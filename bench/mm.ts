// Suite `mm`: the simulator's speed through the user's view (issue 9's first targets, measured
// here ahead of it): stores to pages already writable, and read-then-write faults on fresh
// pages of a written (preallocated) file, one CPU, no injected cost.

import { PAGE_SIZE } from '../src/machine/layout.js';
import { faultRig, map4k } from './fault_rig.js';
import { munmap } from '../src/mm/mmap.js';
import { formatRows, runBatched, type BenchRow } from './support.js';

export async function runMmSuite(log: (s: string) => void): Promise<BenchRow[]> {
  const pages = 16384; // 64 MiB file
  const { mm, ino } = faultRig(pages);
  const line = new Uint8Array(8).fill(7);
  // Stores: one mapping faulted writable up front.
  const hot = map4k(mm, ino, 256);
  for (let p = 0; p < 256; p++) hot.store(p * PAGE_SIZE, line);
  let off = 0;
  // Faults: a fresh mapping per pass over the file, so every page faults twice (read, then write).
  let cold = map4k(mm, ino, pages);
  let page = 0;
  const B = 1000;
  const rows = await runBatched([
    {
      name: 'store 8 bytes to a writable page (Vma.store)',
      batch: B,
      fn: () => {
        for (let i = 0; i < B; i++) {
          hot.store(off, line);
          off = (off + 4104) % (256 * PAGE_SIZE - 8);
        }
      },
    },
    {
      name: 'read fault + write fault on a fresh page of a written file',
      batch: 100,
      fn: () => {
        for (let i = 0; i < 100; i++) {
          if (page === pages) {
            munmap(cold);
            cold = map4k(mm, ino, pages);
            page = 0;
          }
          cold.load(page * PAGE_SIZE, 8);
          cold.store(page * PAGE_SIZE, line);
          page++;
        }
      },
    },
  ]);
  log(formatRows(rows));
  return rows;
}
