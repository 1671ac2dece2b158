// PMD (2 MiB) entries met from single pages: an fsync or msync of a range that starts inside
// one, a PMD fault at the end of the file, and PTE faults through a mapping without huge
// pages over a file that another mapping maps with PMDs. The kernel's radix tree finds a
// PMD entry from any of its 512 pages; the lab keeps it in one slot (dax/entry_index.ts).

import { describe, expect, it } from 'vitest';
import { MiB, PAGE_SIZE, PAGECACHE_TAG_DIRTY } from '../src/machine/layout.js';
import { vfs_create, vfs_fallocate, vfs_fsync, vfs_fsync_range, vfs_truncate, vfs_write, FALLOC_FL_KEEP_SIZE } from '../src/fs/inode.js';
import { radix_tree_lookup, radix_tree_tag_get } from '../src/dax/radix_tree.js';
import { checkIndex } from '../src/dax/radix_tree_check.js';
import { dax_is_pmd_entry } from '../src/dax/dax_entry.js';
import { checkEntryRanges } from '../src/dax/entry_index.js';
import { mmap } from '../src/mm/mmap.js';
import { MADV_NOHUGEPAGE, MAP_SHARED, MmFault, PROT_READ, PROT_WRITE } from '../src/mm/mman.js';
import { madvise } from '../src/mm/madvise.js';
import { checkMm, checkSyncedRange } from '../src/mm/check.js';
import { pte_huge, pte_present, pte_write } from '../src/mm/pte.js';
import { setupMm, type MmSetup } from './workers/mm_support.js';
import { runCpus } from './support/workers.js';
import type { PmdRaceResult } from './workers/pmd_race_scenarios.js';

const RW = PROT_READ | PROT_WRITE;

/** A file whose blocks start on a 2 MiB boundary of the device, so PMD faults can map it. */
function alignedFile(s: MmSetup, pages: number, state: 'fallocated' | 'written' | 'keep-size', size = pages * PAGE_SIZE): number {
  const pad = (512 - (s.fs.g.dataStart % 512)) % 512;
  if (pad > 0) vfs_fallocate(s.fs, vfs_create(s.fs), 0, 0, pad * PAGE_SIZE);
  const ino = vfs_create(s.fs);
  if (state === 'written') vfs_write(s.fs, ino, 0, new Uint8Array(pages * PAGE_SIZE).fill(0x11));
  else if (state === 'fallocated') vfs_fallocate(s.fs, ino, 0, 0, pages * PAGE_SIZE);
  else {
    vfs_truncate(s.fs, ino, size);
    vfs_fallocate(s.fs, ino, FALLOC_FL_KEEP_SIZE, 0, pages * PAGE_SIZE);
  }
  vfs_fsync(s.fs, ino, false);
  return ino;
}

function entryAt(s: MmSetup, ino: number, index: number): { entry: number; dirty: boolean } {
  const tree = s.mm.mappingOf(s.fs, ino).tree;
  tree.treeLock();
  try {
    return { entry: radix_tree_lookup(tree, index), dirty: radix_tree_tag_get(tree, index, PAGECACHE_TAG_DIRTY) };
  } finally {
    tree.treeUnlock();
  }
}

describe('a sync of a range that starts inside a dirty PMD entry', () => {
  for (const how of ['msync', 'fsync_range'] as const) {
    it(`${how} of page 7 writes back the PMD entry at page 0`, () => {
      const s = setupMm('ext4', { pmemBytes: 32 * MiB });
      const ino = alignedFile(s, 1024, 'fallocated');
      const vma = mmap(s.mm, ino, 1024 * PAGE_SIZE, RW, MAP_SHARED, 0);
      vma.store(7 * PAGE_SIZE, new Uint8Array(64).fill(7));
      expect(pte_huge(vma.pte(7))).toBe(true);
      expect(entryAt(s, ino, 0).dirty).toBe(true);
      expect(checkSyncedRange(s.mm, ino, 7 * PAGE_SIZE, 8 * PAGE_SIZE, { metadata: false })).not.toEqual([]);

      if (how === 'msync') vma.msync(7 * PAGE_SIZE, PAGE_SIZE);
      else vfs_fsync_range(s.fs, ino, 7 * PAGE_SIZE, 8 * PAGE_SIZE - 1, true);

      expect(checkSyncedRange(s.mm, ino, 7 * PAGE_SIZE, 8 * PAGE_SIZE, { metadata: how === 'fsync_range' })).toEqual([]);
      expect(entryAt(s, ino, 0).dirty).toBe(false);
      expect(pte_write(vma.pte(7))).toBe(false); // write-protected: the next store faults and re-dirties
      expect([...checkIndex(s.machine), ...checkMm(s.mm)]).toEqual([]);
    });
  }
});

describe('a PMD fault at the end of the file', () => {
  it('falls back to PTEs when the 2 MiB would extend beyond i_size, and pages past it raise SIGBUS', () => {
    const s = setupMm('ext4', { pmemBytes: 32 * MiB });
    // 1024 blocks fallocated with KEEP_SIZE, i_size 513 pages: blocks exist past EOF.
    const ino = alignedFile(s, 1024, 'keep-size', 513 * PAGE_SIZE);
    const vma = mmap(s.mm, ino, 1024 * PAGE_SIZE, RW, MAP_SHARED, 0);
    vma.store(512 * PAGE_SIZE, new Uint8Array([1]));
    expect(pte_huge(vma.pte(512))).toBe(false);
    expect(pte_present(vma.pte(513))).toBe(false);
    expect(dax_is_pmd_entry(entryAt(s, ino, 512).entry)).toBe(false);
    for (const page of [513, 700]) {
      expect(() => vma.store(page * PAGE_SIZE, new Uint8Array([1]))).toThrow(MmFault);
      expect(() => vma.load(page * PAGE_SIZE, 1)).toThrow(/SIGBUS/);
    }
    // The first 2 MiB lies inside the file: a PMD fault maps it.
    vma.store(3 * PAGE_SIZE, new Uint8Array([1]));
    expect(pte_huge(vma.pte(3))).toBe(true);
    expect([...checkIndex(s.machine), ...checkMm(s.mm), ...checkEntryRanges(s.mm.mappingOf(s.fs, ino).tree)]).toEqual([]);
  });
});

describe('PTE faults over a PMD entry', () => {
  it('map one page through a mapping without huge pages, and dirty the PMD entry on a write', () => {
    const s = setupMm('ext4', { pmemBytes: 32 * MiB });
    const ino = alignedFile(s, 512, 'written');
    const huge = mmap(s.mm, ino, 512 * PAGE_SIZE, RW, MAP_SHARED, 0);
    const small = mmap(s.mm, ino, 512 * PAGE_SIZE, RW, MAP_SHARED, 0);
    madvise(small, MADV_NOHUGEPAGE);
    huge.load(0, 1); // a read PMD fault: a clean PMD entry at 0
    expect(dax_is_pmd_entry(entryAt(s, ino, 0).entry)).toBe(true);
    expect(entryAt(s, ino, 0).dirty).toBe(false);

    small.store(7 * PAGE_SIZE, new Uint8Array([9]));
    expect(pte_huge(small.pte(7))).toBe(false);
    expect(pte_write(small.pte(7))).toBe(true);
    expect(pte_present(small.pte(6)) || pte_present(small.pte(8))).toBe(false);
    expect(entryAt(s, ino, 7).entry).toBe(0); // no PTE entry inside the PMD entry
    expect(entryAt(s, ino, 0).dirty).toBe(true);
    expect(huge.load(7 * PAGE_SIZE, 1)[0]).toBe(9);

    vfs_fsync(s.fs, ino, true);
    expect(pte_write(small.pte(7))).toBe(false);
    expect(checkSyncedRange(s.mm, ino, 0, 512 * PAGE_SIZE)).toEqual([]);
    expect([...checkIndex(s.machine), ...checkMm(s.mm), ...checkEntryRanges(s.mm.mappingOf(s.fs, ino).tree)]).toEqual([]);
  });

  it('never leave a PTE entry inside a PMD entry when PTE and PMD faults race (2 CPUs)', async () => {
    const PMDS = 6;
    const rounds = 300;
    const s = setupMm('ext4', { cpus: 3, pmemBytes: 32 * MiB, indexNodes: 512 });
    const ino = alignedFile(s, PMDS * 512, 'written');
    const huge = mmap(s.mm, ino, PMDS * 512 * PAGE_SIZE, RW, MAP_SHARED, 0);
    const small = mmap(s.mm, ino, PMDS * 512 * PAGE_SIZE, RW, MAP_SHARED, 0);
    madvise(small, MADV_NOHUGEPAGE);
    const sync = new SharedArrayBuffer(4);
    const common = { ino, sync, rounds, pmds: PMDS };
    const [pte, pmd] = await runCpus<PmdRaceResult>(
      s.machine,
      [
        { cpu: 1, module: 'pmd_race_scenarios', fn: 'faulter', args: { ...common, ref: small.ref, page: 7, checker: true } },
        { cpu: 2, module: 'pmd_race_scenarios', fn: 'faulter', args: { ...common, ref: huge.ref, page: 100, checker: false } },
      ],
      120_000,
    );
    expect(pte.violations).toEqual([]);
    // Both kinds of fault ran, and met: each round the PMD CPU mapped or fell back, the PTE CPU faulted every range.
    expect(pmd.counters.pmdFaults).toBeGreaterThanOrEqual(rounds * PMDS);
    expect(pte.counters.readFaults).toBeGreaterThanOrEqual(rounds * PMDS);
    expect([...checkIndex(s.machine), ...checkMm(s.mm)]).toEqual([]);
  }, 150_000);
});
