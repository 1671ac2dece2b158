// A CPU of the scaling benchmark: read-then-write faults over a written file's pages, one
// mapping pass after another (munmap + mmap between passes), for a fixed time after an
// untimed pass that warms the JIT. Returns how many faults it took and in how long.

import type { Cpu } from '../../src/sync/cpu.js';
import { PAGE_SIZE } from '../../src/machine/layout.js';
import { mountFs } from '../../src/fs/super.js';
import { attachMm } from '../../src/mm/mm.js';
import { mmap, munmap } from '../../src/mm/mmap.js';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/mm/mman.js';

export interface FaultArgs {
  ino: number;
  pages: number;
  ms: number;
  /** Int32 [ready]: every CPU counts itself in after warming up and starts when all have. */
  start: SharedArrayBuffer;
  cpus: number;
}

export function faultLoop(cpu: Cpu, a: FaultArgs): { faults: number; ns: number } {
  const fs = mountFs(cpu, {});
  const mm = attachMm(cpu, fs);
  const word = new Uint8Array(8).fill(cpu.id + 1);
  const buf = new Uint8Array(8);
  const pass = () => {
    const vma = mmap(mm, a.ino, a.pages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
    for (let p = 0; p < a.pages; p++) {
      vma.loadInto(p * PAGE_SIZE, buf);
      vma.store(p * PAGE_SIZE, word);
    }
    munmap(vma);
  };
  pass();
  pass();
  const start = new Int32Array(a.start);
  Atomics.add(start, 0, 1);
  while (Atomics.load(start, 0) < a.cpus) Atomics.wait(start, 0, Atomics.load(start, 0), 1);
  let faults = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < a.ms) {
    pass();
    faults += 2 * a.pages;
  }
  return { faults, ns: (performance.now() - t0) * 1e6 };
}
