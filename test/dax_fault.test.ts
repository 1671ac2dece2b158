import { describe, expect, it } from 'vitest';
import { FS_INODE, JOURNAL, PAGECACHE_TAG_DIRTY, PAGE_SIZE, MiB } from '../src/machine/layout.js';
import { jbd2_transaction_committed } from '../src/journal/journal.js';
import { FALLOC_FL_KEEP_SIZE, inodeInfo, inode_datasync_dirty, vfs_create, vfs_fallocate, vfs_fsync, vfs_truncate, vfs_write } from '../src/fs/inode.js';
import type { FsPersonality } from '../src/fs/ondisk.js';
import { radix_tree_lookup, radix_tree_tag_get } from '../src/dax/radix_tree.js';
import { dax_is_empty_entry, dax_is_pmd_entry, dax_is_zero_entry, dax_radix_pfn, daxEntryIsLocked } from '../src/dax/dax_entry.js';
import { DaxMapping, daxWritebackHook } from '../src/dax/writeback.js';
import { ext4_journal_stop } from '../src/fs/super.js';
import {
  PE_SIZE_PMD,
  PE_SIZE_PTE,
  VM_FAULT_FALLBACK,
  VM_FAULT_MAJOR,
  VM_FAULT_NEEDDSYNC,
  VM_FAULT_NOPAGE,
  VM_FAULT_SIGBUS,
  VmFault,
  ZERO_PFN,
  dax_finish_sync_fault,
  dax_iomap_fault,
  ext4_dax_huge_fault,
  type PeSize,
} from '../src/dax/fault.js';
import type { DaxVariant } from '../src/dax/variant.js';
import { fsckImage, recoveredImage, setupFs } from './workers/fs_support.js';
import { TestVma } from './support/test_vma.js';

function fileSetup(p: FsPersonality, state: 'empty' | 'fallocated' | 'written', pages = 16, extra = {}) {
  const { fs, dev, machine } = setupFs(p, { mappings: 16, pmemBytes: 16 * MiB, ...extra });
  fs.hooks.writeback = daxWritebackHook();
  const ino = vfs_create(fs);
  const size = pages * PAGE_SIZE;
  if (state === 'empty') vfs_truncate(fs, ino, size);
  else if (state === 'fallocated') vfs_fallocate(fs, ino, 0, 0, size);
  else vfs_write(fs, ino, 0, new Uint8Array(size).fill(0x11));
  vfs_fsync(fs, ino, false);
  return { fs, dev, machine, ino };
}

function fault(env: ReturnType<typeof fileSetup>, vma: TestVma, page: number, write: boolean, pe: PeSize = PE_SIZE_PTE, variant: DaxVariant = 'none') {
  const vmf = new VmFault();
  vmf.vma = vma;
  vmf.mapping = new DaxMapping(env.fs.cpu, env.dev, env.ino, 'tracked', variant);
  vmf.fs = env.fs;
  vmf.ino = env.ino;
  vmf.pgoff = page;
  vmf.write = write;
  const r = ext4_dax_huge_fault(vmf, pe);
  return { r, vmf, tree: vmf.mapping.tree };
}

/** Whether inode `ino` maps device block `pfn` as written in a raw image (swapping the image's metadata in for one read). */
function imageMapsBlock(fs: ReturnType<typeof fileSetup>['fs'], image: Uint8Array, ino: number, pfn: number): boolean {
  const saved = fs.meta.slice();
  fs.meta.set(image.subarray(0, fs.meta.length));
  try {
    return inodeInfo(fs, ino).extents.some((e) => !e.unwritten && e.pblk <= pfn && pfn < e.pblk + e.len);
  } finally {
    fs.meta.set(saved);
  }
}

/** A userspace store + clwb + fence to the page (no syscall), then a crash and recovery. */
function storeFlushCrash(env: ReturnType<typeof fileSetup>, vma: TestVma, page: number) {
  const pfn = vma.pfnAt(page);
  env.dev.store(pfn * PAGE_SIZE, new Uint8Array(64).fill(0x7e));
  env.dev.flush(pfn * PAGE_SIZE, 64);
  env.dev.fence();
  const image = recoveredImage(env.fs);
  expect(fsckImage(env.fs, image)).toEqual([]);
  expect(image[pfn * PAGE_SIZE]).toBe(0x7e); // the data reached the media either way
  return imageMapsBlock(env.fs, image, env.ino, pfn);
}

const commits = (env: ReturnType<typeof fileSetup>) => Atomics.load(env.machine.views.journalState, JOURNAL.commitSequence);

describe('DAX faults', () => {
  it('maps the zero page for a read of a hole, then allocates on the write', () => {
    const env = fileSetup('ext4', 'empty');
    const vma = new TestVma(false, 16);
    const read = fault(env, vma, 3, false);
    expect(read.r).toBe(VM_FAULT_NOPAGE);
    expect(vma.pfnAt(3)).toBe(ZERO_PFN);
    expect(vma.writable(3)).toBe(false);
    read.tree.treeLock();
    expect(dax_is_zero_entry(radix_tree_lookup(read.tree, 3))).toBe(true);
    read.tree.treeUnlock();
    const write = fault(env, vma, 3, true);
    expect(write.r).toBe(VM_FAULT_NOPAGE | VM_FAULT_MAJOR); // a block was allocated and zeroed
    expect(vma.writable(3)).toBe(true);
    write.tree.treeLock();
    const entry = radix_tree_lookup(write.tree, 3);
    expect(dax_is_zero_entry(entry)).toBe(false);
    expect(dax_radix_pfn(entry)).toBe(vma.pfnAt(3));
    expect(radix_tree_tag_get(write.tree, 3, PAGECACHE_TAG_DIRTY)).toBe(true);
    write.tree.treeUnlock();
  });

  // The write-protect fault goes through ext4_dax_huge_fault -> dax_iomap_fault, as 4.15's
  // ->pfn_mkwrite does (ext4_dax_fault, xfs_filemap_pfn_mkwrite): no separate dax_pfn_mkwrite.
  it('inserts a clean entry on a read fault; the write fault on the present read-only page tags it DIRTY and maps it writable', () => {
    const env = fileSetup('ext4', 'written');
    const vma = new TestVma(false, 16);
    const { tree } = fault(env, vma, 5, false);
    tree.treeLock();
    expect(radix_tree_tag_get(tree, 5, PAGECACHE_TAG_DIRTY)).toBe(false);
    tree.treeUnlock();
    expect(vma.writable(5)).toBe(false);
    expect(fault(env, vma, 5, true).r).toBe(VM_FAULT_NOPAGE);
    tree.treeLock();
    expect(radix_tree_tag_get(tree, 5, PAGECACHE_TAG_DIRTY)).toBe(true);
    tree.treeUnlock();
    expect(vma.writable(5)).toBe(true);
  });

  it('gives SIGBUS past the end of the file', () => {
    const env = fileSetup('ext4', 'written', 4);
    expect(fault(env, new TestVma(false, 16), 4, false).r).toBe(VM_FAULT_SIGBUS);
  });

  describe.each(['ext4', 'xfs'] as const)('MAP_SYNC on %s', (p) => {
    it('a write fault into an empty file returns only after its allocation is committed', () => {
      const env = fileSetup(p, 'empty');
      const vma = new TestVma(true, 16);
      const before = commits(env);
      const { r, vmf } = fault(env, vma, 2, true);
      expect(r & VM_FAULT_NOPAGE).toBeTruthy();
      expect(vmf.needDsync).toBe(1); // dax_iomap_fault returned NEEDDSYNC, dax_finish_sync_fault mapped it
      expect(commits(env)).toBeGreaterThan(before);
      expect(inode_datasync_dirty(env.fs, env.ino)).toBe(false);
      expect(vma.writable(2)).toBe(true);
      // A crash now keeps the block mapped, so the flushed store is in the file.
      expect(storeFlushCrash(env, vma, 2)).toBe(true);
    });

    it('a NEEDDSYNC return leaves the page unmapped and its entry clean until dax_finish_sync_fault', () => {
      const env = fileSetup(p, 'empty');
      const vma = new TestVma(true, 16);
      const vmf = new VmFault();
      vmf.vma = vma;
      vmf.mapping = new DaxMapping(env.fs.cpu, env.dev, env.ino);
      vmf.fs = env.fs;
      vmf.ino = env.ino;
      vmf.pgoff = 2;
      vmf.write = true;
      const tree = vmf.mapping.tree;
      const entryState = () => {
        tree.treeLock();
        try {
          const entry = radix_tree_lookup(tree, 2);
          return { entry, dirty: radix_tree_tag_get(tree, 2, PAGECACHE_TAG_DIRTY) };
        } finally {
          tree.treeUnlock();
        }
      };
      const before = commits(env);
      // The first half of ext4_dax_huge_fault: dax_iomap_fault inside the handle the personality opens (xfs: none).
      const h = env.fs.ops.journal_start_for_fault(env.fs);
      const r = dax_iomap_fault(vmf, PE_SIZE_PTE);
      ext4_journal_stop(env.fs, h);
      expect(r & VM_FAULT_NEEDDSYNC).toBe(VM_FAULT_NEEDDSYNC);
      expect(vmf.needDsync).toBe(1);
      // Nothing is mapped yet, and the entry for the new block is in the index but clean and unlocked.
      expect(vma.ptes[2]).toBe(0);
      const mid = entryState();
      expect(mid.entry).not.toBe(0);
      expect(dax_is_empty_entry(mid.entry) || dax_is_zero_entry(mid.entry) || daxEntryIsLocked(mid.entry)).toBe(false);
      expect(dax_radix_pfn(mid.entry)).toBe(vmf.pfn);
      expect(mid.dirty).toBe(false);
      // The allocation is not durable yet: nothing was committed for it.
      expect(inode_datasync_dirty(env.fs, env.ino)).toBe(true);
      expect(commits(env)).toBe(before);
      // The second half: sync the range, then dirty the entry and map the page writable.
      expect(dax_finish_sync_fault(vmf, PE_SIZE_PTE)).toBe(VM_FAULT_NOPAGE);
      expect(commits(env)).toBeGreaterThan(before);
      expect(inode_datasync_dirty(env.fs, env.ino)).toBe(false);
      expect(vma.writable(2)).toBe(true);
      expect(vma.pfnAt(2)).toBe(vmf.pfn);
      expect(entryState().dirty).toBe(true);
    });

    it('the mapsync-no-sync variant returns with the block map still volatile, and a crash loses the store', () => {
      const env = fileSetup(p, 'empty');
      const vma = new TestVma(true, 16);
      fault(env, vma, 2, true, PE_SIZE_PTE, 'mapsync-no-sync');
      expect(vma.writable(2)).toBe(true);
      expect(inode_datasync_dirty(env.fs, env.ino)).toBe(true); // the MAP_SYNC guarantee is broken
      // The data reaches the media, but after the crash no file maps that block.
      expect(storeFlushCrash(env, vma, 2)).toBe(false);
    });

    it('a write fault into a fallocated file waits for the unwritten-to-written conversion to commit', () => {
      const env = fileSetup(p, 'fallocated');
      const before = commits(env);
      const { vmf } = fault(env, new TestVma(true, 16), 7, true);
      expect(vmf.needDsync).toBe(1);
      expect(commits(env)).toBeGreaterThan(before);
      expect(inode_datasync_dirty(env.fs, env.ino)).toBe(false);
    });

    it('a write fault into a written file does not wait for the journal', () => {
      const env = fileSetup(p, 'written');
      const before = commits(env);
      const vma = new TestVma(true, 16);
      const { vmf } = fault(env, vma, 7, true);
      expect(vmf.needDsync).toBe(0); // no IOMAP_F_DIRTY: no VM_FAULT_NEEDDSYNC, nothing to sync
      expect(commits(env)).toBe(before);
      expect(vma.writable(7)).toBe(true);
    });

    it('without MAP_SYNC the same fault leaves the allocation uncommitted', () => {
      const env = fileSetup(p, 'empty');
      const vma = new TestVma(false, 16);
      fault(env, vma, 2, true);
      expect(inode_datasync_dirty(env.fs, env.ino)).toBe(true);
      const tid = env.fs.inodes[env.ino * FS_INODE.stride + (p === 'xfs' ? FS_INODE.lastLsn : FS_INODE.i_datasync_tid)];
      expect(jbd2_transaction_committed(env.fs.journal!, tid)).toBe(false);
    });
  });

  it.each([0, 1])('maps 2 MiB at once where the extent is aligned and contiguous, and falls back to PTEs where not (misaligned by %d)', (skew) => {
    const { fs, dev, machine } = setupFs('ext4', { mappings: 16, pmemBytes: 32 * MiB });
    fs.hooks.writeback = daxWritebackHook();
    // A filler file takes the blocks up to the next 2 MiB boundary (plus `skew`), so the file lands aligned or not.
    const filler = vfs_create(fs);
    const pad = ((512 - (fs.g.dataStart % 512)) % 512) + skew;
    if (pad > 0) vfs_fallocate(fs, filler, 0, 0, pad * PAGE_SIZE);
    const ino = vfs_create(fs);
    // 1000 blocks first (not a power of two: mballoc takes the next free run, where the filler ended), then the rest.
    vfs_fallocate(fs, ino, 0, 0, 1000 * PAGE_SIZE);
    vfs_fallocate(fs, ino, 0, 1000 * PAGE_SIZE, 24 * PAGE_SIZE);
    const env = { fs, dev, machine, ino };
    const vma = new TestVma(false, 1024);
    const { r, vmf } = fault(env, vma, 7, true, PE_SIZE_PMD);
    const tree = vmf.mapping.tree;
    const entries = () => {
      tree.treeLock();
      try {
        return [radix_tree_lookup(tree, 0), radix_tree_lookup(tree, 7)];
      } finally {
        tree.treeUnlock();
      }
    };
    if (skew === 0) {
      expect(r).toBe(VM_FAULT_NOPAGE | VM_FAULT_MAJOR); // the unwritten 2 MiB converted and zeroed
      expect(dax_is_pmd_entry(entries()[0])).toBe(true);
      for (let p = 0; p < 512; p++) expect(vma.writable(p)).toBe(true);
    } else {
      // The PMD fault maps nothing and leaves no entry; handle_mm_fault retries at PTE size.
      expect(r).toBe(VM_FAULT_FALLBACK);
      expect(entries()).toEqual([0, 0]);
      expect(vma.pfnAt(7)).toBeNaN();
      // The PMD attempt's iomap_begin already converted its 2 MiB (as ext4's does): not new now.
      expect(fault(env, vma, 7, true, PE_SIZE_PTE).r).toBe(VM_FAULT_NOPAGE);
      const [at0, at7] = entries();
      expect(at0).toBe(0);
      expect(dax_is_pmd_entry(at7)).toBe(false);
      expect(vma.writable(7)).toBe(true);
      expect(vma.writable(8)).toBe(false);
    }
  });

  // dax_pmd_load_hole(): a PMD read fault over 2 MiB of hole maps the huge zero page, where
  // the lab used to fall back to 512 PTE faults.
  it.each(['empty', 'fallocated'] as const)('a PMD read fault on 2 MiB of %s file maps the huge zero page behind a zero PMD entry', (state) => {
    const env = fileSetup('ext4', state, 1024, { pmemBytes: 32 * MiB });
    const vma = new TestVma(false, 1024);
    const { r, tree } = fault(env, vma, 700, false, PE_SIZE_PMD);
    expect(r).toBe(VM_FAULT_NOPAGE);
    for (const p of [512, 700, 1023]) expect([vma.pfnAt(p), vma.writable(p)]).toEqual([ZERO_PFN, false]);
    expect(vma.pfnAt(511)).toBeNaN();
    tree.treeLock();
    const entry = radix_tree_lookup(tree, 512);
    const inside = radix_tree_lookup(tree, 700);
    tree.treeUnlock();
    expect(dax_is_pmd_entry(entry) && dax_is_zero_entry(entry) && !daxEntryIsLocked(entry)).toBe(true);
    expect(inside).toBe(0);
  });

  it('a PMD read fault falls back where the hole is shorter than 2 MiB, leaving no entry', () => {
    const env = fileSetup('ext4', 'empty', 1024, { pmemBytes: 32 * MiB });
    vfs_write(env.fs, env.ino, 100 * PAGE_SIZE, new Uint8Array(1)); // a block inside the first 2 MiB
    const { r, tree } = fault(env, new TestVma(false, 1024), 0, false, PE_SIZE_PMD);
    expect(r).toBe(VM_FAULT_FALLBACK);
    tree.treeLock();
    expect(radix_tree_lookup(tree, 0)).toBe(0); // the abandoned empty PMD entry is gone
    tree.treeUnlock();
  });

  // brd (the ramdisk device) hands dax_direct_access one page at a time, without
  // PFN_DEV|PFN_MAP: dax_iomap_pfn refuses a PMD there, whatever the extent.
  it.each(['adr', 'ramdisk'] as const)('a PMD fault over an aligned written extent on a %s device', (mode) => {
    const { fs, dev, machine } = setupFs('ext4', { mappings: 16, pmemBytes: 32 * MiB, pmemMode: mode });
    fs.hooks.writeback = daxWritebackHook();
    const pad = (512 - (fs.g.dataStart % 512)) % 512;
    if (pad > 0) vfs_fallocate(fs, vfs_create(fs), 0, 0, pad * PAGE_SIZE);
    const ino = vfs_create(fs);
    vfs_write(fs, ino, 0, new Uint8Array(512 * PAGE_SIZE).fill(1));
    expect(inodeInfo(fs, ino).extents[0].pblk % 512).toBe(0);
    const vma = new TestVma(false, 512);
    const { r } = fault({ fs, dev, machine, ino }, vma, 3, false, PE_SIZE_PMD);
    expect(r).toBe(mode === 'adr' ? VM_FAULT_NOPAGE : VM_FAULT_FALLBACK);
    expect(vma.pfnAt(0)).toBe(mode === 'adr' ? inodeInfo(fs, ino).extents[0].pblk : NaN);
  });

  it('a write fault beyond free space gives SIGBUS with ENOSPC, leaving the filesystem consistent', () => {
    const env = fileSetup('ext4', 'empty', 16, { pmemBytes: 8 * MiB });
    const filler = vfs_create(env.fs);
    const room = env.fs.g.dataBlocks * PAGE_SIZE;
    vfs_write(env.fs, filler, 0, new Uint8Array(room));
    vfs_fallocate(env.fs, filler, FALLOC_FL_KEEP_SIZE, 0, PAGE_SIZE); // no-op, already mapped
    const { r, vmf } = fault(env, new TestVma(false, 16), 1, true);
    expect(r).toBe(VM_FAULT_SIGBUS);
    expect((vmf.error as { code?: string }).code).toBe('ENOSPC');
    expect(fsckImage(env.fs, recoveredImage(env.fs))).toEqual([]);
    vmf.mapping.tree.treeLock();
    const left = radix_tree_lookup(vmf.mapping.tree, 1);
    vmf.mapping.tree.treeUnlock();
    // As in 4.14, at most an unlocked empty entry stays behind (truncate reclaims it).
    expect(left === 0 || (dax_is_empty_entry(left) && !daxEntryIsLocked(left))).toBe(true);
  });
});
