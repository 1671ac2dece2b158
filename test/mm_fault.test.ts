import { describe, expect, it } from 'vitest';
import { FS_ALLOC, FS_INODE, JOURNAL, MiB, PAGECACHE_TAG_DIRTY, PAGE_SIZE, VMA } from '../src/machine/layout.js';
import { attachCpu } from '../src/sync/cpu.js';
import { mountFs } from '../src/fs/super.js';
import { jbd2_transaction_committed } from '../src/journal/journal.js';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, inodeInfo, inode_datasync_dirty, vfs_create, vfs_fallocate, vfs_fsync, vfs_truncate } from '../src/fs/inode.js';
import { radix_tree_lookup, radix_tree_tag_get } from '../src/dax/radix_tree.js';
import { checkIndex } from '../src/dax/radix_tree_check.js';
import { dax_is_pmd_entry, dax_is_zero_entry, dax_radix_pfn } from '../src/dax/dax_entry.js';
import { ZERO_PFN } from '../src/dax/fault.js';
import { attachMm, type Mm } from '../src/mm/mm.js';
import { attachVma, mmap, munmap } from '../src/mm/mmap.js';
import { MADV_HUGEPAGE, MADV_NOHUGEPAGE, MAP_SHARED, MAP_SHARED_VALIDATE, MAP_SYNC, PROT_READ, PROT_WRITE, MmFault } from '../src/mm/mman.js';
import { madvise } from '../src/mm/madvise.js';
import { _PAGE_RW, pte_huge, pte_pfn, pte_present, pte_write } from '../src/mm/pte.js';
import { checkMm, checkSyncMappings, checkSyncedRange } from '../src/mm/check.js';
import { unmap_mapping_range } from '../src/mm/rmap.js';
import { fsckImage, recoveredImage } from './workers/fs_support.js';
import { makeFile, setupMm, type FileState, type MmSetup } from './workers/mm_support.js';
import { FsError } from '../src/fs/errno.js';

const RW = PROT_READ | PROT_WRITE;

function env(state: FileState, pages = 16, personality: 'ext4' | 'xfs' | 'ext4-nojournal' = 'ext4', extra = {}) {
  const s = setupMm(personality, extra);
  const ino = makeFile(s.fs, pages, state);
  return { ...s, ino };
}

const commits = (s: MmSetup) => Atomics.load(s.machine.views.journalState, JOURNAL.commitSequence);

function entryAt(mm: Mm, ino: number, index: number) {
  const tree = mm.mappingOf(mm.fs, ino).tree;
  tree.treeLock();
  try {
    const entry = radix_tree_lookup(tree, index);
    return { entry, dirty: entry !== 0 && radix_tree_tag_get(tree, index, PAGECACHE_TAG_DIRTY) };
  } finally {
    tree.treeUnlock();
  }
}

/** Every whole-machine check that must hold while nothing runs. */
function sound(s: MmSetup): string[] {
  return [...checkIndex(s.machine), ...checkMm(s.mm), ...checkSyncMappings(s.mm)];
}

function caught(f: () => unknown): MmFault {
  try {
    f();
  } catch (e) {
    if (e instanceof MmFault) return e;
    throw e;
  }
  throw new Error('expected an MmFault');
}

describe('faults through a mapping', () => {
  it('a read then a write turn the PTE from none to read-only to writable, and the entry DIRTY', () => {
    const s = env('written');
    const vma = mmap(s.mm, s.ino, 16 * PAGE_SIZE, RW, MAP_SHARED, 0);
    expect(vma.pte(5)).toBe(0);
    expect(vma.load(5 * PAGE_SIZE + 10, 4)).toEqual(new Uint8Array(4).fill(0x11));
    const ro = vma.pte(5);
    expect(pte_present(ro) && !pte_write(ro)).toBe(true);
    expect(entryAt(s.mm, s.ino, 5)).toMatchObject({ dirty: false });
    expect(dax_radix_pfn(entryAt(s.mm, s.ino, 5).entry)).toBe(pte_pfn(ro));
    vma.store(5 * PAGE_SIZE + 100, new Uint8Array([1, 2, 3]));
    const rw = vma.pte(5);
    expect(pte_write(rw) && pte_pfn(rw) === pte_pfn(ro)).toBe(true);
    expect(entryAt(s.mm, s.ino, 5).dirty).toBe(true);
    expect(s.mm.counters).toMatchObject({ readFaults: 1, wpFaults: 1, writeFaults: 0 });
    expect(vma.load(5 * PAGE_SIZE + 99, 5)).toEqual(new Uint8Array([0x11, 1, 2, 3, 0x11]));
    expect(sound(s)).toEqual([]);
  });

  it('reads a hole as the zero page, then a store allocates the block', () => {
    const s = env('empty');
    const vma = mmap(s.mm, s.ino, 16 * PAGE_SIZE, RW, MAP_SHARED, 0);
    expect(vma.load(3 * PAGE_SIZE, 8)).toEqual(new Uint8Array(8));
    expect(pte_pfn(vma.pte(3))).toBe(ZERO_PFN);
    expect(dax_is_zero_entry(entryAt(s.mm, s.ino, 3).entry)).toBe(true);
    vma.store(3 * PAGE_SIZE + 8, new Uint8Array([9]));
    expect(pte_pfn(vma.pte(3))).not.toBe(ZERO_PFN);
    expect(pte_write(vma.pte(3))).toBe(true);
    expect(vma.load(3 * PAGE_SIZE + 7, 3)).toEqual(new Uint8Array([0, 9, 0]));
    expect(sound(s)).toEqual([]);
  });

  it('stores and loads that span pages fault each page', () => {
    const s = env('fallocated');
    const vma = mmap(s.mm, s.ino, 16 * PAGE_SIZE, RW, MAP_SHARED, 0);
    const data = new Uint8Array(3 * PAGE_SIZE).map((_, i) => (i % 251) + 1);
    vma.store(PAGE_SIZE - 100, data);
    expect(vma.load(PAGE_SIZE - 100, data.length)).toEqual(data);
    for (const p of [0, 1, 2, 3]) expect(pte_write(vma.pte(p))).toBe(true);
    expect(sound(s)).toEqual([]);
  });

  it('a mapping from a file offset maps the file pages from there', () => {
    const s = env('written', 16);
    const vma = mmap(s.mm, s.ino, 4 * PAGE_SIZE, RW, MAP_SHARED, 8 * PAGE_SIZE);
    vma.store(0, new Uint8Array([0x42]));
    expect(entryAt(s.mm, s.ino, 8).dirty).toBe(true);
    expect(entryAt(s.mm, s.ino, 0).entry).toBe(0);
    const pfn = inodeInfo(s.fs, s.ino).extents[0].pblk + 8;
    expect(pte_pfn(vma.pte(0))).toBe(pfn);
    expect(sound(s)).toEqual([]);
  });
});

describe('bad accesses give typed signals and leave the index consistent', () => {
  it('a store to a read-only mapping is SIGSEGV (SEGV_ACCERR)', () => {
    const s = env('written');
    const vma = mmap(s.mm, s.ino, 16 * PAGE_SIZE, PROT_READ, MAP_SHARED, 0);
    vma.load(0, 1);
    const e = caught(() => vma.store(0, new Uint8Array([1])));
    expect(e).toMatchObject({ signal: 'SIGSEGV', siCode: 'SEGV_ACCERR', offset: 0 });
    expect(pte_write(vma.pte(0))).toBe(false);
    expect(entryAt(s.mm, s.ino, 0).dirty).toBe(false);
    expect(sound(s)).toEqual([]);
  });

  it('an access past the end of the mapping is SIGSEGV (SEGV_MAPERR)', () => {
    const s = env('written');
    const vma = mmap(s.mm, s.ino, 4 * PAGE_SIZE, RW, MAP_SHARED, 0);
    expect(caught(() => vma.store(4 * PAGE_SIZE, new Uint8Array(1)))).toMatchObject({ signal: 'SIGSEGV', siCode: 'SEGV_MAPERR' });
    expect(caught(() => vma.store(4 * PAGE_SIZE - 1, new Uint8Array(2)))).toMatchObject({ signal: 'SIGSEGV' });
    expect(caught(() => vma.load(-1, 1))).toMatchObject({ signal: 'SIGSEGV' });
    expect(caught(() => vma.flushUser(0, 5 * PAGE_SIZE))).toMatchObject({ signal: 'SIGSEGV' });
    expect(s.mm.counters.sigsegv).toBe(4);
    expect(sound(s)).toEqual([]);
  });

  it('an access inside the mapping but past the end of the file is SIGBUS and maps nothing', () => {
    const s = env('written', 4);
    const vma = mmap(s.mm, s.ino, 8 * PAGE_SIZE, RW, MAP_SHARED, 0);
    expect(caught(() => vma.load(5 * PAGE_SIZE, 1))).toMatchObject({ signal: 'SIGBUS', siCode: 'BUS_ADRERR', offset: 5 * PAGE_SIZE });
    expect(caught(() => vma.store(4 * PAGE_SIZE, new Uint8Array(1)))).toMatchObject({ signal: 'SIGBUS' });
    expect(vma.pte(4)).toBe(0);
    expect(entryAt(s.mm, s.ino, 4).entry).toBe(0);
    expect(s.mm.counters.sigbus).toBe(2);
    expect(sound(s)).toEqual([]);
  });

  it('a write fault with no free block is SIGBUS carrying ENOSPC', () => {
    const s = env('empty', 16, 'ext4', { pmemBytes: 8 * MiB });
    const filler = vfs_create(s.fs);
    vfs_fallocate(s.fs, filler, 0, 0, inodeFree(s) * PAGE_SIZE);
    const vma = mmap(s.mm, s.ino, 16 * PAGE_SIZE, RW, MAP_SHARED, 0);
    const e = caught(() => vma.store(0, new Uint8Array(1)));
    expect(e.signal).toBe('SIGBUS');
    expect((e.cause as { code?: string }).code).toBe('ENOSPC');
    expect(sound(s)).toEqual([]);
  });

  it('a length that is not a non-negative integer is EINVAL, a bad offset SIGSEGV, a bad VMA reference SIGSEGV', () => {
    const s = env('written');
    const vma = mmap(s.mm, s.ino, 16 * PAGE_SIZE, RW, MAP_SHARED, 0);
    vma.store(PAGE_SIZE, new Uint8Array(64).fill(1));
    const ops: [string, () => unknown][] = [
      ['load, negative length', () => vma.load(0, -1)],
      ['load, fractional length', () => vma.load(0, 1.5)],
      ['load, NaN length', () => vma.load(0, NaN)],
      ['flushUser, negative length', () => vma.flushUser(0, -64)],
      ['flushUser, fractional length', () => vma.flushUser(0, 0.5)],
    ];
    for (const [what, f] of ops) {
      let got: unknown;
      try {
        f();
      } catch (e) {
        got = e;
      }
      expect(got instanceof FsError && got.code === 'EINVAL', `${what}: ${String(got)}`).toBe(true);
      expect(sound(s)).toEqual([]);
    }
    const segv: (() => unknown)[] = [
      () => vma.load(0.5, 1),
      () => vma.load(0, 2 ** 40), // checked before the array is made
      () => vma.store(1.5, new Uint8Array(1)),
      () => vma.flushUser(-64, 64),
      () => attachVma(s.mm, { id: 99, gen: 1 }),
      () => attachVma(s.mm, { id: -1, gen: 1 }),
      () => attachVma(s.mm, { id: 0.5, gen: 1 }),
    ];
    for (const f of segv) {
      expect(caught(f)).toMatchObject({ signal: 'SIGSEGV', siCode: 'SEGV_MAPERR' });
      expect(sound(s)).toEqual([]);
    }
    expect(s.mm.counters.sigsegv).toBe(4); // the accesses; a bad reference is no access of this VMA
    // pte() is an internal helper: a RangeError naming its argument and range.
    expect(() => vma.pte(99)).toThrow(new RangeError('pte: expected a page from 0 to 15, got 99'));
    expect(vma.load(PAGE_SIZE, 2)).toEqual(new Uint8Array([1, 1]));
    expect(sound(s)).toEqual([]);
  });

  it('after munmap every access on every CPU is SIGSEGV, and munmap again is a no-op', () => {
    const s = env('written');
    const vma = mmap(s.mm, s.ino, 16 * PAGE_SIZE, RW, MAP_SHARED, 0);
    const cpu1 = attachCpu(s.machine, 1);
    const mm1 = attachMm(cpu1, mountFs(cpu1, { dev: s.dev }));
    const other = attachVma(mm1, vma.ref);
    vma.store(0, new Uint8Array([1]));
    other.store(PAGE_SIZE, new Uint8Array([2]));
    expect(pte_write(other.pte(0))).toBe(true); // threads of one process share the page table
    munmap(other);
    for (const v of [vma, other]) {
      expect(v.mapped).toBe(false);
      expect(caught(() => v.store(0, new Uint8Array([1])))).toMatchObject({ signal: 'SIGSEGV', siCode: 'SEGV_MAPERR' });
      expect(caught(() => v.load(PAGE_SIZE, 1))).toMatchObject({ signal: 'SIGSEGV' });
      expect(caught(() => v.flushUser(0, 64))).toMatchObject({ signal: 'SIGSEGV' });
    }
    expect(caught(() => attachVma(s.mm, vma.ref)).signal).toBe('SIGSEGV');
    munmap(vma);
    // The slot is reused by the next mapping; the stale handles still fault.
    const again = mmap(s.mm, s.ino, 16 * PAGE_SIZE, RW, MAP_SHARED, 0);
    expect(again.id).toBe(vma.id);
    again.store(0, new Uint8Array([3]));
    expect(caught(() => vma.store(0, new Uint8Array([1]))).signal).toBe('SIGSEGV');
    expect(sound(s)).toEqual([]);
  });
});

describe('MAP_SYNC', () => {
  it.each(['ext4', 'xfs'] as const)('%s: a write fault on an empty file returns only once its allocation is committed', (p) => {
    const s = env('empty', 16, p);
    const vma = mmap(s.mm, s.ino, 16 * PAGE_SIZE, RW, MAP_SHARED_VALIDATE | MAP_SYNC, 0);
    expect(vma.sync).toBe(true);
    const before = commits(s);
    vma.store(2 * PAGE_SIZE, new Uint8Array(64).fill(0x7e));
    expect(s.mm.vmf.needDsync).toBe(1); // the fault went the synchronous way
    expect(commits(s)).toBeGreaterThan(before);
    const tid = s.fs.inodes[s.ino * FS_INODE.stride + (p === 'xfs' ? FS_INODE.lastLsn : FS_INODE.i_datasync_tid)];
    expect(jbd2_transaction_committed(s.fs.journal!, tid)).toBe(true);
    expect(inode_datasync_dirty(s.fs, s.ino)).toBe(false);
    expect(checkSyncMappings(s.mm)).toEqual([]);
    // Userspace flush, no syscall: a crash now keeps both the block and the data.
    vma.flushUser(2 * PAGE_SIZE, 64);
    const image = recoveredImage(s.fs);
    expect(fsckImage(s.fs, image)).toEqual([]);
    expect(image[pte_pfn(vma.pte(2)) * PAGE_SIZE + 63]).toBe(0x7e);
    expect(sound(s)).toEqual([]);
  });

  it('a write fault on a written file does not wait for the journal', () => {
    const s = env('written');
    const vma = mmap(s.mm, s.ino, 16 * PAGE_SIZE, RW, MAP_SHARED_VALIDATE | MAP_SYNC, 0);
    const before = commits(s);
    vma.store(7 * PAGE_SIZE, new Uint8Array(8).fill(1));
    expect(s.mm.counters.writeFaults).toBe(1);
    expect(s.mm.vmf.needDsync).toBe(0); // iomap_begin reported nothing to sync: no VM_FAULT_NEEDDSYNC
    expect(commits(s)).toBe(before);
    expect(pte_write(vma.pte(7))).toBe(true);
    expect(sound(s)).toEqual([]);
  });

  it('plain MAP_SHARED ignores MAP_SYNC: the allocation stays uncommitted', () => {
    const s = env('empty');
    const vma = mmap(s.mm, s.ino, 16 * PAGE_SIZE, RW, MAP_SHARED | MAP_SYNC, 0);
    expect(vma.sync).toBe(false);
    vma.store(2 * PAGE_SIZE, new Uint8Array(1));
    expect(inode_datasync_dirty(s.fs, s.ino)).toBe(true);
    expect(sound(s)).toEqual([]);
  });

  it('the checker catches the mapsync-no-sync variant: a writable MAP_SYNC page whose block a crash loses', () => {
    const s = setupMm('ext4', {}, {}, { variant: 'mapsync-no-sync' });
    const ino = makeFile(s.fs, 16, 'empty');
    const vma = mmap(s.mm, ino, 16 * PAGE_SIZE, RW, MAP_SHARED_VALIDATE | MAP_SYNC, 0);
    vma.store(2 * PAGE_SIZE, new Uint8Array(1));
    const v = checkSyncMappings(s.mm);
    expect(v).toHaveLength(1);
    expect(v[0]).toMatch(/vma \d+ \(inode \d+, MAP_SYNC\) page 2: writable at block \d+, but after a crash the block map has a hole there/);
  });
});

describe('msync and the rmap', () => {
  it('msync makes the stored lines durable, write-protects the pages, and the next store re-dirties', () => {
    const s = env('fallocated');
    const vma = mmap(s.mm, s.ino, 16 * PAGE_SIZE, RW, MAP_SHARED, 0);
    for (const p of [1, 4, 9]) vma.store(p * PAGE_SIZE + 64 * p, new Uint8Array(64).fill(p));
    expect(checkSyncedRange(s.mm, s.ino, 0, 16 * PAGE_SIZE).length).toBeGreaterThan(0);
    vma.msync(0, 16 * PAGE_SIZE);
    expect(checkSyncedRange(s.mm, s.ino, 0, 16 * PAGE_SIZE)).toEqual([]);
    const image = recoveredImage(s.fs);
    expect(fsckImage(s.fs, image)).toEqual([]);
    for (const p of [1, 4, 9]) {
      expect(pte_write(vma.pte(p))).toBe(false);
      expect(entryAt(s.mm, s.ino, p).dirty).toBe(false);
      expect(image[pte_pfn(vma.pte(p)) * PAGE_SIZE + 64 * p]).toBe(p);
    }
    vma.store(4 * PAGE_SIZE, new Uint8Array([44]));
    expect(s.mm.counters.wpFaults).toBe(1);
    expect(entryAt(s.mm, s.ino, 4).dirty).toBe(true);
    expect(checkSyncedRange(s.mm, s.ino, 4 * PAGE_SIZE, 5 * PAGE_SIZE)).toHaveLength(1);
    expect(sound(s)).toEqual([]);
  });

  it('writeback write-protects the page in every VMA that maps it', () => {
    const s = env('written');
    const a = mmap(s.mm, s.ino, 16 * PAGE_SIZE, RW, MAP_SHARED, 0);
    const b = mmap(s.mm, s.ino, 8 * PAGE_SIZE, RW, MAP_SHARED, 4 * PAGE_SIZE);
    a.store(6 * PAGE_SIZE, new Uint8Array([1]));
    b.store(2 * PAGE_SIZE + 1, new Uint8Array([2])); // the same file page 6
    expect(pte_write(a.pte(6)) && pte_write(b.pte(2))).toBe(true);
    b.msync(0, PAGE_SIZE * 8);
    expect(pte_write(a.pte(6)) || pte_write(b.pte(2))).toBe(false);
    expect(a.load(6 * PAGE_SIZE, 2)).toEqual(new Uint8Array([1, 2]));
    expect(sound(s)).toEqual([]);
  });

  it('truncate and hole punch zap the PTEs of every mapping, and the pages fault again', () => {
    const s = env('written');
    const a = mmap(s.mm, s.ino, 16 * PAGE_SIZE, RW, MAP_SHARED, 0);
    for (let p = 0; p < 16; p++) a.store(p * PAGE_SIZE, new Uint8Array([p + 1]));
    vfs_fallocate(s.fs, s.ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4 * PAGE_SIZE, 2 * PAGE_SIZE);
    expect([a.pte(4), a.pte(5)]).toEqual([0, 0]);
    expect(pte_write(a.pte(6))).toBe(true);
    expect(a.load(4 * PAGE_SIZE, 1)).toEqual(new Uint8Array([0]));
    vfs_truncate(s.fs, s.ino, 10 * PAGE_SIZE);
    for (let p = 10; p < 16; p++) expect(a.pte(p)).toBe(0);
    expect(caught(() => a.load(12 * PAGE_SIZE, 1)).signal).toBe('SIGBUS');
    expect(a.load(9 * PAGE_SIZE, 1)).toEqual(new Uint8Array([10]));
    expect(sound(s)).toEqual([]);
  });

  it('unmap_mapping_range takes byte ranges; 0 length means to the end', () => {
    const s = env('written');
    const a = mmap(s.mm, s.ino, 16 * PAGE_SIZE, RW, MAP_SHARED, 0);
    for (let p = 0; p < 16; p++) a.load(p * PAGE_SIZE, 1);
    expect(unmap_mapping_range(s.mm, s.ino, 3 * PAGE_SIZE + 5, 10)).toBe(1);
    expect(unmap_mapping_range(s.mm, s.ino, 12 * PAGE_SIZE, 0)).toBe(4);
    expect(unmap_mapping_range(s.mm, s.ino + 1, 0, 0)).toBe(0);
    expect([a.pte(2) !== 0, a.pte(3), a.pte(11) !== 0, a.pte(12)]).toEqual([true, 0, true, 0]);
  });
});

describe('PMD mappings', () => {
  function hugeEnv(skew: number, state: FileState = 'fallocated', pmemMode: 'adr' | 'ramdisk' = 'adr') {
    const s = setupMm('ext4', { pmemBytes: 32 * MiB, pmemMode });
    // A filler file takes the blocks up to the next 2 MiB boundary (plus skew).
    const filler = vfs_create(s.fs);
    const pad = ((512 - (s.fs.g.dataStart % 512)) % 512) + skew;
    if (pad > 0) vfs_fallocate(s.fs, filler, 0, 0, pad * PAGE_SIZE);
    if (skew === 0) return { ...s, ino: makeFile(s.fs, 1024, state) };
    // Misaligned: 1000 blocks (not a power of two, so mballoc takes the next free run, where
    // the filler ended), then the rest after them.
    const ino = vfs_create(s.fs);
    vfs_fallocate(s.fs, ino, 0, 0, 1000 * PAGE_SIZE);
    vfs_fallocate(s.fs, ino, 0, 1000 * PAGE_SIZE, 24 * PAGE_SIZE);
    vfs_fsync(s.fs, ino, false);
    return { ...s, ino };
  }

  it('a huge mapping maps 2 MiB at once; writeback write-protects all of it; a store re-faults it whole', () => {
    const s = hugeEnv(0);
    const vma = mmap(s.mm, s.ino, 1024 * PAGE_SIZE, RW, MAP_SHARED, 0);
    vma.store(7 * PAGE_SIZE, new Uint8Array([7]));
    expect(dax_is_pmd_entry(entryAt(s.mm, s.ino, 0).entry)).toBe(true);
    for (const p of [0, 7, 511]) expect(pte_write(vma.pte(p)) && pte_huge(vma.pte(p))).toBe(true);
    expect(vma.pte(512)).toBe(0);
    expect(sound(s)).toEqual([]);
    vma.msync(0, PAGE_SIZE);
    for (const p of [0, 300, 511]) expect(pte_write(vma.pte(p))).toBe(false);
    vma.store(300 * PAGE_SIZE, new Uint8Array([3]));
    for (const p of [0, 511]) expect(pte_write(vma.pte(p))).toBe(true);
    expect(s.mm.counters.pmdFaults).toBe(2);
    expect(sound(s)).toEqual([]);
  });

  it('falls back to PTEs where the extent is not aligned, or the PMD does not fit the mapping', () => {
    const s = hugeEnv(1);
    const vma = mmap(s.mm, s.ino, 1024 * PAGE_SIZE, RW, MAP_SHARED, 0);
    vma.store(7 * PAGE_SIZE, new Uint8Array([7]));
    expect(pte_write(vma.pte(7)) && !pte_huge(vma.pte(7))).toBe(true);
    expect(vma.pte(8)).toBe(0);
    const s2 = hugeEnv(0);
    const small = mmap(s2.mm, s2.ino, 256 * PAGE_SIZE, RW, MAP_SHARED, 0);
    small.store(0, new Uint8Array([1]));
    expect(pte_huge(small.pte(0))).toBe(false);
    expect(s2.mm.counters.pmdFaults).toBe(0);
    expect([...sound(s), ...sound(s2)]).toEqual([]);
  });

  it('a DAX mapping tries PMDs without being asked (ext4_file_mmap sets VM_HUGEPAGE); MADV_NOHUGEPAGE and a non-DAX file do not', () => {
    for (const how of ['default', 'MADV_NOHUGEPAGE', 'MADV_NOHUGEPAGE then MADV_HUGEPAGE', 'not DAX'] as const) {
      const s = hugeEnv(0);
      const vma = mmap(s.mm, s.ino, 1024 * PAGE_SIZE, RW, MAP_SHARED, 0, { dax: how !== 'not DAX' });
      if (how !== 'default' && how !== 'not DAX') madvise(vma, MADV_NOHUGEPAGE);
      if (how === 'MADV_NOHUGEPAGE then MADV_HUGEPAGE') madvise(vma, MADV_HUGEPAGE);
      vma.store(7 * PAGE_SIZE, new Uint8Array([7]));
      const pmd = how === 'default' || how === 'MADV_NOHUGEPAGE then MADV_HUGEPAGE';
      expect([how, s.mm.counters.pmdFaults, pte_huge(vma.pte(7)), pte_present(vma.pte(8))]).toEqual([how, pmd ? 1 : 0, pmd, pmd]);
      expect(sound(s)).toEqual([]);
    }
  });

  it('madvise refuses other advice (EINVAL) and an unmapped mapping (ENOMEM)', () => {
    const s = hugeEnv(0);
    const vma = mmap(s.mm, s.ino, 1024 * PAGE_SIZE, RW, MAP_SHARED, 0);
    expect(() => madvise(vma, 4)).toThrow(/^EINVAL: madvise: advice 4: the lab takes MADV_HUGEPAGE \(14\) and MADV_NOHUGEPAGE \(15\)$/);
    munmap(vma);
    expect(() => madvise(vma, MADV_NOHUGEPAGE)).toThrow(FsError);
  });

  it('a read of 2 MiB of hole maps the huge zero page; a store then maps a writable PMD, unmapping the zero page everywhere', () => {
    const s = hugeEnv(0, 'empty');
    const a = mmap(s.mm, s.ino, 1024 * PAGE_SIZE, RW, MAP_SHARED, 0);
    const b = mmap(s.mm, s.ino, 1024 * PAGE_SIZE, RW, MAP_SHARED, 0);
    expect(a.load(9 * PAGE_SIZE, 4)).toEqual(new Uint8Array(4));
    for (const p of [0, 9, 511]) expect([pte_pfn(a.pte(p)), pte_huge(a.pte(p)), pte_write(a.pte(p))]).toEqual([ZERO_PFN, true, false]);
    expect(dax_is_zero_entry(entryAt(s.mm, s.ino, 0).entry) && dax_is_pmd_entry(entryAt(s.mm, s.ino, 0).entry)).toBe(true);
    expect(b.load(300 * PAGE_SIZE, 1)).toEqual(new Uint8Array(1)); // b maps the same huge zero page
    expect(sound(s)).toEqual([]);
    // A write on the huge zero page is a PMD fault: the hole gets an aligned 2 MiB extent.
    b.store(300 * PAGE_SIZE, new Uint8Array([3]));
    const e = entryAt(s.mm, s.ino, 0);
    expect(dax_is_pmd_entry(e.entry) && !dax_is_zero_entry(e.entry) && e.dirty).toBe(true);
    for (const p of [0, 300, 511]) expect(pte_write(b.pte(p)) && pte_huge(b.pte(p))).toBe(true);
    expect(a.pte(9)).toBe(0); // a's huge zero page was zapped
    expect(a.load(300 * PAGE_SIZE, 1)).toEqual(new Uint8Array([3]));
    expect(s.mm.counters.pmdFaults).toBe(4);
    expect(s.mm.counters.pmdFallbacks).toBe(0);
    expect(sound(s)).toEqual([]);
  });

  it('a store on the huge zero page where the device cannot map a PMD (brd) splits it and maps the page by PTE; later faults there are PTE faults', () => {
    const s = hugeEnv(0, 'empty', 'ramdisk');
    const a = mmap(s.mm, s.ino, 1024 * PAGE_SIZE, RW, MAP_SHARED, 0);
    a.load(0, 1);
    expect(pte_huge(a.pte(5))).toBe(true);
    a.store(5 * PAGE_SIZE, new Uint8Array([5]));
    expect(pte_write(a.pte(5)) && !pte_huge(a.pte(5))).toBe(true);
    expect([a.pte(0), a.pte(6)]).toEqual([0, 0]); // the zero PMD went whole
    expect(dax_is_pmd_entry(entryAt(s.mm, s.ino, 5).entry)).toBe(false);
    expect(entryAt(s.mm, s.ino, 5).dirty).toBe(true);
    expect(entryAt(s.mm, s.ino, 0).entry).toBe(0); // pmd_downgrade deleted the zero PMD entry
    expect(s.mm.counters).toMatchObject({ pmdFaults: 2, pmdFallbacks: 1 });
    // The range has a page table now (pmd_none is false): the next fault there is a PTE fault.
    a.store(6 * PAGE_SIZE, new Uint8Array([6]));
    expect(pte_huge(a.pte(6))).toBe(false);
    expect(s.mm.counters).toMatchObject({ pmdFaults: 2, pmdFallbacks: 1 });
    expect(a.load(0, 1)).toEqual(new Uint8Array(1));
    expect(sound(s)).toEqual([]);
  });

  it('a punch inside a PMD mapping zaps all 512 PTEs', () => {
    const s = hugeEnv(0);
    const vma = mmap(s.mm, s.ino, 1024 * PAGE_SIZE, RW, MAP_SHARED, 0);
    vma.store(0, new Uint8Array([1]));
    vfs_fallocate(s.fs, s.ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 10 * PAGE_SIZE, PAGE_SIZE);
    for (const p of [0, 10, 511]) expect(vma.pte(p)).toBe(0);
    expect(vma.load(0, 1)).toEqual(new Uint8Array([1]));
    expect(sound(s)).toEqual([]);
  });
});

describe('a block replacing a hole another VMA mapped as the zero page', () => {
  // dax_insert_mapping_entry() unmaps the zero page (unmap_mapping_range) when a block
  // replaces a zero-page entry, so every VMA that read the hole faults again and sees the store.
  it('a store through one VMA is seen through another that mapped the hole as the zero page', () => {
    const s = env('empty');
    const a = mmap(s.mm, s.ino, 16 * PAGE_SIZE, RW, MAP_SHARED, 0);
    const b = mmap(s.mm, s.ino, 16 * PAGE_SIZE, RW, MAP_SHARED, 0);
    expect(a.load(3 * PAGE_SIZE, 1)).toEqual(new Uint8Array([0]));
    expect(pte_pfn(a.pte(3))).toBe(ZERO_PFN);
    b.store(3 * PAGE_SIZE, new Uint8Array([5]));
    expect(a.pte(3)).toBe(0); // a's zero-page PTE was zapped
    expect(checkMm(s.mm)).toEqual([]);
    expect(a.load(3 * PAGE_SIZE, 1)).toEqual(new Uint8Array([5]));
    expect(pte_pfn(a.pte(3))).toBe(pte_pfn(b.pte(3)));
  });
});

describe('the checker', () => {
  it('reports a writable PTE over a clean entry, a PTE with no entry, and a stray PTE', () => {
    const s = env('written');
    const vma = mmap(s.mm, s.ino, 16 * PAGE_SIZE, RW, MAP_SHARED, 0);
    vma.load(1 * PAGE_SIZE, 1);
    vma.store(2 * PAGE_SIZE, new Uint8Array(1));
    expect(checkMm(s.mm)).toEqual([]);
    const ptes = s.machine.views.mmPtes;
    const base = s.machine.views.mmVmas[vma.id * VMA.stride + VMA.pteBase];
    ptes[base + 1] |= _PAGE_RW; // writable without a write fault
    ptes[base + 3] = ptes[base + 2]; // a page with no entry
    ptes[s.machine.config.ptePages - 1] = ptes[base + 2];
    const v = checkMm(s.mm);
    expect(v.some((x) => /page 1: writable PTE .* not tagged DIRTY/.test(x))).toBe(true);
    expect(v.some((x) => /page 3: writable PTE .* no index entry/.test(x))).toBe(true);
    expect(v.some((x) => /word \d+ belongs to no VMA/.test(x))).toBe(true);
  });

  it('checkSyncedRange sees dirty lines and a datasync-dirty inode', () => {
    const s = env('empty');
    const vma = mmap(s.mm, s.ino, 16 * PAGE_SIZE, RW, MAP_SHARED, 0);
    vma.store(0, new Uint8Array(200));
    const v = checkSyncedRange(s.mm, s.ino, 0, PAGE_SIZE);
    expect(v).toContain(`inode ${s.ino} page 0 (block ${pte_pfn(vma.pte(0))}): 4 dirty cache lines after the sync`);
    expect(v).toContain(`inode ${s.ino}: still datasync-dirty after the sync`);
    // `only` skips the pages stored to since the sync (here: all of them); metadata: false the inode.
    expect(checkSyncedRange(s.mm, s.ino, 0, PAGE_SIZE, { only: (lblk) => lblk !== 0 })).toEqual([`inode ${s.ino}: still datasync-dirty after the sync`]);
    expect(checkSyncedRange(s.mm, s.ino, 0, PAGE_SIZE, { only: (lblk) => lblk !== 0, metadata: false })).toEqual([]);
    vma.msync(0, PAGE_SIZE);
    expect(checkSyncedRange(s.mm, s.ino, 0, 16 * PAGE_SIZE)).toEqual([]);
  });
});

function inodeFree(s: MmSetup): number {
  return Atomics.load(s.fs.alloc, FS_ALLOC.freeBlocks);
}
