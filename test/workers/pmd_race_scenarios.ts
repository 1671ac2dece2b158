// Test CPUs for test/pmd_entries.test.ts: one CPU faults single pages through a mapping
// without huge pages while another faults the same file through a huge mapping, so PTE and
// PMD faults meet in grab_mapping_entry(). Between rounds the first CPU checks that no PTE
// entry sits inside a PMD entry and drops every entry (a truncate of the page cache).

import type { Cpu } from '../../src/sync/cpu.js';
import { PAGE_SIZE } from '../../src/machine/layout.js';
import { mountFs } from '../../src/fs/super.js';
import { down_write_i_mmap_sem, up_write_i_mmap_sem } from '../../src/fs/inode.js';
import { attachMm, type MmCounters } from '../../src/mm/mm.js';
import { attachVma } from '../../src/mm/mmap.js';
import type { VmaRef } from '../../src/mm/memory.js';
import { checkEntryRanges } from '../../src/dax/entry_index.js';

export interface PmdRaceArgs {
  ref: VmaRef;
  ino: number;
  /** Int32 [arrivals]: both CPUs meet twice a round. */
  sync: SharedArrayBuffer;
  rounds: number;
  /** 2 MiB ranges of the file. */
  pmds: number;
  /** The page of each 2 MiB range this CPU reads first. */
  page: number;
  /** This CPU checks and drops the entries between rounds. */
  checker: boolean;
}

export interface PmdRaceResult {
  violations: string[];
  counters: MmCounters;
}

function meet(sync: Int32Array, arrivals: number): void {
  Atomics.add(sync, 0, 1);
  Atomics.notify(sync, 0);
  for (let v = Atomics.load(sync, 0); v < arrivals; v = Atomics.load(sync, 0)) Atomics.wait(sync, 0, v, 50);
}

export function faulter(cpu: Cpu, a: PmdRaceArgs): PmdRaceResult {
  const fs = mountFs(cpu, {});
  const mm = attachMm(cpu, fs);
  const vma = attachVma(mm, a.ref);
  const sync = new Int32Array(a.sync);
  const one = new Uint8Array(1);
  const violations: string[] = [];
  const invalidate = fs.hooks.invalidate;
  if (invalidate === null) throw new Error('pmd race: the mount has no DAX invalidate hook');
  for (let r = 0; r < a.rounds; r++) {
    for (let k = 0; k < a.pmds; k++) vma.loadInto((k * 512 + a.page) * PAGE_SIZE, one);
    meet(sync, 2 * (2 * r + 1));
    if (a.checker) {
      if (violations.length < 5) violations.push(...checkEntryRanges(mm.mappingOf(fs, a.ino).tree).map((v) => `round ${r}: ${v}`));
      down_write_i_mmap_sem(fs, a.ino);
      try {
        invalidate(fs, a.ino, 0, Number.MAX_SAFE_INTEGER);
      } finally {
        up_write_i_mmap_sem(fs, a.ino);
      }
    }
    meet(sync, 2 * (2 * r + 2));
  }
  return { violations, counters: mm.counters };
}
