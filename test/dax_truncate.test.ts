import { describe, expect, it } from 'vitest';
import { MiB, PAGE_SIZE } from '../src/machine/layout.js';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, vfs_create, vfs_fallocate, vfs_fsync, vfs_truncate } from '../src/fs/inode.js';
import { radix_tree_lookup } from '../src/dax/radix_tree.js';
import { dax_is_pmd_entry } from '../src/dax/dax_entry.js';
import { DaxMapping, daxWritebackHook } from '../src/dax/writeback.js';
import { daxInvalidateHook } from '../src/dax/truncate.js';
import { PE_SIZE_PMD, PE_SIZE_PTE, VmFault, ext4_dax_huge_fault, type PeSize } from '../src/dax/fault.js';
import type { DaxVariant } from '../src/dax/variant.js';
import { fsckImage, recoveredImage, setupFs } from './workers/fs_support.js';
import { TestVma } from './support/test_vma.js';
import { checkIndex } from '../src/dax/radix_tree_check.js';
import { mmap } from '../src/mm/mmap.js';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from '../src/mm/mman.js';
import { checkMm } from '../src/mm/check.js';
import { runCpus } from './support/workers.js';
import { makeFile, setupMm } from './workers/mm_support.js';
import type { HolderResult, TruncaterResult } from './workers/dax_truncate_scenarios.js';

const PUNCH = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;

/** An ext4 file of `pages` fallocated pages starting on a 2 MiB boundary, mapped through one TestVma. */
function mappedFile(pages: number, variant: DaxVariant = 'none') {
  const { fs, dev } = setupFs('ext4', { mappings: 16, pmemBytes: 32 * MiB });
  const filler = vfs_create(fs);
  const pad = (512 - (fs.g.dataStart % 512)) % 512;
  if (pad > 0) vfs_fallocate(fs, filler, 0, 0, pad * PAGE_SIZE);
  const ino = vfs_create(fs);
  vfs_fallocate(fs, ino, 0, 0, pages * PAGE_SIZE);
  const vma = new TestVma(false, pages);
  const m = new DaxMapping(fs.cpu, dev, ino, 'tracked', variant);
  m.mkclean = vma.mkclean;
  m.unmap = vma.unmap;
  const mappingOf = () => m;
  fs.hooks.writeback = daxWritebackHook(mappingOf);
  fs.hooks.invalidate = daxInvalidateHook(mappingOf);
  const vmf = new VmFault();
  vmf.vma = vma;
  vmf.mapping = m;
  vmf.fs = fs;
  vmf.ino = ino;
  /** A store through the mapping: write fault if the page is not writable, then the CPU's store. */
  const store = (page: number, value: number, pe: PeSize = PE_SIZE_PTE) => {
    if (!vma.writable(page)) {
      vmf.pgoff = page;
      vmf.write = true;
      ext4_dax_huge_fault(vmf, pe);
    }
    dev.store(vma.pfnAt(page) * PAGE_SIZE + 64, new Uint8Array(64).fill(value));
  };
  return { fs, dev, ino, vma, m, store };
}

describe('truncate and hole punch on a mapped DAX file', () => {
  it('unmaps and deletes the entries of the punched pages and keeps the others', () => {
    const f = mappedFile(16);
    for (let p = 0; p < 8; p++) f.store(p, p + 1);
    vfs_fallocate(f.fs, f.ino, PUNCH, 2 * PAGE_SIZE, 3 * PAGE_SIZE);
    f.m.tree.treeLock();
    for (let p = 0; p < 8; p++) expect(radix_tree_lookup(f.m.tree, p) !== 0).toBe(p < 2 || p > 4);
    f.m.tree.treeUnlock();
    for (let p = 2; p <= 4; p++) expect(Number.isNaN(f.vma.pfnAt(p))).toBe(true);
    expect(f.vma.writable(1)).toBe(true);
    vfs_truncate(f.fs, f.ino, 6 * PAGE_SIZE);
    f.m.tree.treeLock();
    expect(radix_tree_lookup(f.m.tree, 7)).toBe(0);
    expect(radix_tree_lookup(f.m.tree, 5)).not.toBe(0);
    f.m.tree.treeUnlock();
    vfs_fsync(f.fs, f.ino, false);
    expect(fsckImage(f.fs, recoveredImage(f.fs))).toEqual([]);
  });

  it.each([
    ['none', 0],
    ['punch-drops-dirty-pmd', 1],
  ] as const)('seed 003: a hole inside a dirty PMD keeps the rest durable after fsync (variant %s)', (variant, lost) => {
    const f = mappedFile(512, variant);
    f.store(10, 0xa1, PE_SIZE_PMD);
    f.m.tree.treeLock();
    expect(dax_is_pmd_entry(radix_tree_lookup(f.m.tree, 0))).toBe(true);
    f.m.tree.treeUnlock();
    const pfn10 = f.vma.pfnAt(10);
    f.store(300, 0xa2); // still through the writable PMD mapping
    vfs_fallocate(f.fs, f.ino, PUNCH, 300 * PAGE_SIZE, PAGE_SIZE);
    vfs_fsync(f.fs, f.ino, false);
    // Page 10 stayed in the file: after fsync its store must be durable. The bad variant dropped it.
    expect(f.dev.dirtyLines(pfn10 * PAGE_SIZE, PAGE_SIZE)).toBe(lost);
    const image = recoveredImage(f.fs);
    expect(image[pfn10 * PAGE_SIZE + 64]).toBe(lost ? 0 : 0xa1);
  });
});

describe('truncate and hole punch wait for a locked entry', () => {
  it.each(['truncate', 'punch'] as const)('%s: returns only after the holder unlocks the entry, and the entry is gone', async (op) => {
    const s = setupMm('ext4');
    const ino = makeFile(s.fs, 16, 'written');
    const vma = mmap(s.mm, ino, 16 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
    for (let p = 3; p < 9; p++) vma.store(p * PAGE_SIZE, new Uint8Array([p]));
    const page = 5;
    const args = { ino, page, op, truncaterCpu: 2, sync: new SharedArrayBuffer(8) };
    const [holder, truncater] = await runCpus<HolderResult | TruncaterResult>(s.machine, [
      { cpu: 1, module: 'dax_truncate_scenarios', fn: 'holdEntry', args },
      { cpu: 2, module: 'dax_truncate_scenarios', fn: 'truncateLocked', args },
    ]);
    // The truncating CPU slept on the entry's wait queue while the entry was still there...
    expect(holder).toEqual({ sawSleeper: true, presentAtUnlock: true });
    // ...and returned only after the unlock, with the entry deleted.
    expect(truncater).toEqual({ returnedAfterUnlock: true, entryGone: true });
    const tree = s.mm.mappingOf(s.fs, ino).tree;
    tree.treeLock();
    const left = Array.from({ length: 16 }, (_, p) => radix_tree_lookup(tree, p) !== 0);
    tree.treeUnlock();
    const kept = (p: number) => p >= 3 && p < 9 && (op === 'truncate' ? p < page : p !== page);
    expect(left).toEqual(Array.from({ length: 16 }, (_, p) => kept(p)));
    expect(vma.pte(page)).toBe(0);
    expect([...checkIndex(s.machine), ...checkMm(s.mm)]).toEqual([]);
    vfs_fsync(s.fs, ino, false);
    expect(fsckImage(s.fs, recoveredImage(s.fs))).toEqual([]);
  });
});
