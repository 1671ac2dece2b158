import { describe, expect, it } from 'vitest';
import { createMachine } from '../src/machine/machine.js';
import { BLOCK_SIZE, FS_ALLOC, MiB } from '../src/machine/layout.js';
import { attachCpu } from '../src/sync/cpu.js';
import { FsError } from '../src/fs/errno.js';
import { FS_MAX_BYTES, FS_PERSONALITIES, type FsPersonality } from '../src/fs/ondisk.js';
import { mountFs, type Fs } from '../src/fs/super.js';
import { freeBlocks } from '../src/fs/balloc.js';
import { fsckLive } from '../src/fs/fsck.js';
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  IOMAP_F_DIRTY,
  IOMAP_F_NEW,
  IOMAP_HOLE,
  IOMAP_MAPPED,
  IOMAP_UNWRITTEN,
  IOMAP_WRITE,
  Iomap,
  inodeInfo,
  inode_datasync_dirty,
  iomap_begin,
  vfs_create,
  vfs_fallocate,
  vfs_fsync,
  vfs_fsync_range,
  vfs_read,
  vfs_truncate,
  vfs_write,
} from '../src/fs/inode.js';
import { jbd2_journal_start, jbd2_journal_stop } from '../src/journal/journal.js';
import { FS_INODE } from '../src/machine/layout.js';
import { commitNow, fsckImage, recoveredImage, setupFs } from './workers/fs_support.js';

const B = BLOCK_SIZE;
const PUNCH = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;

/** Makes the inode's metadata durable without a commit thread: an inline commit, or fsync without a journal. */
function settle(fs: Fs, ino: number): void {
  if (fs.journal) commitNow(fs);
  else vfs_fsync(fs, ino, false);
}

function fill(n: number, v: number): Uint8Array {
  return new Uint8Array(n).fill(v);
}

function errno(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof FsError) return e.code;
    throw e;
  }
  return 'no error';
}

/** The filesystem is consistent and no handle is left open. */
function expectConsistent(fs: Fs): void {
  expect(fsckLive(fs)).toEqual([]);
  expect(fs.journal?.handle.open ?? false).toBe(false);
  expect(fs.nested).toBe(0);
}

describe('mkfs and mount', () => {
  it.each(FS_PERSONALITIES)('%s: a crash image taken right after mkfs is a clean filesystem', (p) => {
    const { fs } = setupFs(p);
    expect(fs.personality).toBe(p);
    expect(fsckImage(fs, recoveredImage(fs))).toEqual([]);
    expect(freeBlocks(fs)).toBe(fs.g.dataBlocks);
    expectConsistent(fs);
  });

  it('refuses a journal too small for one handle\'s credits, naming the field that sets the limit', () => {
    // 64 extent blocks per inode: one operation may dirty 66 blocks; an 8 MiB device's 64-block
    // journal takes a quarter of itself less its fast-commit area, 15; 268 blocks would take 66.
    expect(() => setupFs('ext4', { fsExtentBlocksPerInode: 64 })).toThrow(
      /^journalBlocks: a journal of 64 blocks holds transactions of at most 15 metadata blocks .*may dirty 66 metadata blocks.*at least 268 blocks/,
    );
    expect(() => setupFs('xfs', { fsExtentBlocksPerInode: 64 })).toThrow(/^journalBlocks: a journal of 64 blocks/);
    expect(setupFs('ext4', { fsExtentBlocksPerInode: 64, journalBlocks: 268, pmemBytes: 16 * MiB }).fs.journal!.maxTransactionBlocks).toBe(66);
    // Without a journal there is no transaction to fit.
    expect(setupFs('ext4-nojournal', { fsExtentBlocksPerInode: 64 }).fs.journal).toBeNull();
  });

  it('refuses to mount a machine that was never formatted', () => {
    const machine = createMachine({ cpus: 1, pmemBytes: 8 * MiB, indexNodes: 2, mappings: 1 });
    expect(() => mountFs(attachCpu(machine, 0))).toThrow(/EINVAL: mount: no filesystem/);
  });
});

describe.each(FS_PERSONALITIES)('%s: iomap_begin', (p: FsPersonality) => {
  const map = new Iomap();

  it('reports a hole without IOMAP_WRITE and allocates zeroed written blocks with it', () => {
    const { fs, dev } = setupFs(p);
    // Stale bytes in the data area: a new block must not show them.
    dev.store(fs.g.dataStart * B, fill(64 * B, 0xaa));
    dev.flush(fs.g.dataStart * B, 64 * B);
    const ino = vfs_create(fs);
    vfs_truncate(fs, ino, 8 * B); // faults map inside i_size (mm/ refuses the rest with SIGBUS)
    iomap_begin(fs, ino, 3 * B, 2 * B, 0, map);
    expect([map.type, map.flags, map.offset, map.length, map.blockno]).toEqual([IOMAP_HOLE, 0, 3 * B, 2 * B, -1]);

    iomap_begin(fs, ino, 3 * B, 2 * B, IOMAP_WRITE, map);
    expect(map.type).toBe(IOMAP_MAPPED);
    expect(map.flags & IOMAP_F_NEW).toBe(IOMAP_F_NEW);
    expect(map.flags & IOMAP_F_DIRTY).toBe(IOMAP_F_DIRTY); // the allocation is not durable yet
    expect([map.offset, map.length]).toEqual([3 * B, 2 * B]);
    expect(dev.load(map.blockno * B, 2 * B)).toEqual(fill(2 * B, 0));
    expect(dev.dirtyLines(map.blockno * B, 2 * B)).toBe(0); // the zeroes are durable
    expect(inodeInfo(fs, ino).extents).toEqual([{ lblk: 3, pblk: map.blockno, len: 2, unwritten: false }]);
    expectConsistent(fs);
  });

  it('reports unwritten extents, and converts just the faulted block of one for a write', () => {
    const { fs, dev } = setupFs(p);
    const ino = vfs_create(fs);
    vfs_fallocate(fs, ino, 0, 0, 8 * B);
    const pblk = inodeInfo(fs, ino).extents[0].pblk;
    dev.store(pblk * B, fill(8 * B, 0x55)); // stale data under the unwritten extent
    iomap_begin(fs, ino, 2 * B, 4 * B, 0, map);
    expect([map.type, map.flags, map.offset, map.length, map.blockno]).toEqual([IOMAP_UNWRITTEN, 0, 2 * B, 4 * B, pblk + 2]);
    const r = new Uint8Array(8 * B);
    expect(vfs_read(fs, ino, 0, r)).toBe(8 * B);
    expect(r).toEqual(fill(8 * B, 0)); // reads of unwritten blocks see zeroes

    settle(fs, ino);
    expect(inode_datasync_dirty(fs, ino)).toBe(false);
    iomap_begin(fs, ino, 5 * B, B, IOMAP_WRITE, map);
    expect([map.type, map.flags & IOMAP_F_NEW, map.blockno, map.length]).toEqual([IOMAP_MAPPED, IOMAP_F_NEW, pblk + 5, B]);
    expect(map.flags & IOMAP_F_DIRTY).toBe(IOMAP_F_DIRTY); // conversion is a metadata change
    expect(dev.load((pblk + 5) * B, B)).toEqual(fill(B, 0));
    expect(inodeInfo(fs, ino).extents).toEqual([
      { lblk: 0, pblk, len: 5, unwritten: true },
      { lblk: 5, pblk: pblk + 5, len: 1, unwritten: false },
      { lblk: 6, pblk: pblk + 6, len: 2, unwritten: true },
    ]);
    expectConsistent(fs);
  });

  it('maps written blocks without changing anything, with or without IOMAP_WRITE', () => {
    const { fs } = setupFs(p);
    const ino = vfs_create(fs);
    vfs_write(fs, ino, 0, fill(4 * B, 7));
    settle(fs, ino);
    const before = inodeInfo(fs, ino);
    for (const flags of [0, IOMAP_WRITE]) {
      iomap_begin(fs, ino, B, 2 * B, flags, map);
      expect([map.type, map.flags, map.offset, map.length, map.blockno]).toEqual([IOMAP_MAPPED, 0, B, 2 * B, before.extents[0].pblk + 1]);
    }
    expect(inodeInfo(fs, ino)).toEqual(before);
    expect(inode_datasync_dirty(fs, ino)).toBe(false);
  });

  it('clips a hole at the next extent and a mapping at its extent end', () => {
    const { fs } = setupFs(p);
    const ino = vfs_create(fs);
    vfs_fallocate(fs, ino, 0, 4 * B, 2 * B);
    iomap_begin(fs, ino, 0, 16 * B, 0, map);
    expect([map.type, map.length]).toEqual([IOMAP_HOLE, 4 * B]);
    iomap_begin(fs, ino, 4 * B, 16 * B, 0, map);
    expect([map.type, map.length]).toEqual([IOMAP_UNWRITTEN, 2 * B]);
    iomap_begin(fs, ino, 5 * B + 100, 1, 0, map); // an unaligned byte maps its whole block
    expect([map.type, map.offset, map.length]).toEqual([IOMAP_UNWRITTEN, 5 * B, B]);
  });
});

describe('journal handles', () => {
  it('joins the handle a fault path opened instead of starting a nested one', () => {
    const { fs } = setupFs('ext4');
    const ino = vfs_create(fs);
    vfs_truncate(fs, ino, 4 * B);
    commitNow(fs);
    const h = jbd2_journal_start(fs.journal!, fs.transCredits); // as ext4_dax_huge_fault() opens one for a write fault
    const m = new Iomap();
    iomap_begin(fs, ino, 0, B, IOMAP_WRITE, m);
    expect(m.flags).toBe(IOMAP_F_NEW | IOMAP_F_DIRTY);
    expect(h.open).toBe(true);
    expect(fs.nested).toBe(0);
    expect(fs.inodes[ino * FS_INODE.stride + FS_INODE.i_datasync_tid]).toBe(h.tid);
    jbd2_journal_stop(h);
    commitNow(fs);
    expect(inode_datasync_dirty(fs, ino)).toBe(false);
    expectConsistent(fs);
  });
});

describe('allocation', () => {
  it('keeps a file that grows block by block in one contiguous extent', () => {
    const { fs } = setupFs('ext4');
    const ino = vfs_create(fs);
    for (let i = 0; i < 20; i++) vfs_write(fs, ino, i * B, fill(B, i + 1));
    const info = inodeInfo(fs, ino);
    expect(info.extents).toHaveLength(1);
    expect(info.extents[0]).toMatchObject({ lblk: 0, len: 20, unwritten: false });
    expect(info).toMatchObject({ size: 20 * B, blocks: 20 });
    const r = new Uint8Array(20 * B);
    vfs_read(fs, ino, 0, r);
    for (let i = 0; i < 20; i++) expect(r[i * B]).toBe(i + 1);
    expectConsistent(fs);
  });

  it('merges a preallocated file back into one written extent as it is written in order', () => {
    const { fs } = setupFs('xfs');
    const ino = vfs_create(fs);
    vfs_fallocate(fs, ino, FALLOC_FL_KEEP_SIZE, 0, 16 * B);
    expect(inodeInfo(fs, ino)).toMatchObject({ size: 0, blocks: 16 });
    for (let i = 0; i < 16; i++) {
      vfs_write(fs, ino, i * B, fill(B, 9));
      expect(inodeInfo(fs, ino).extents.length).toBeLessThanOrEqual(2);
    }
    const info = inodeInfo(fs, ino);
    expect(info.extents).toEqual([{ lblk: 0, pblk: info.extents[0].pblk, len: 16, unwritten: false }]);
    expect(info).toMatchObject({ size: 16 * B, blocks: 16 });
    expectConsistent(fs);
  });

  it('continues a file next to its last block, past blocks another file took', () => {
    const { fs } = setupFs('ext4');
    const a = vfs_create(fs);
    const b = vfs_create(fs);
    vfs_write(fs, a, 0, fill(4 * B, 1));
    vfs_write(fs, b, 0, fill(4 * B, 2));
    vfs_write(fs, a, 4 * B, fill(4 * B, 3));
    const ea = inodeInfo(fs, a).extents;
    const eb = inodeInfo(fs, b).extents;
    expect(eb).toHaveLength(1);
    expect(eb[0].pblk).toBe(ea[0].pblk + 4);
    expect(ea).toHaveLength(2); // its goal was taken, so the next-fit block after it
    expect(ea[1].pblk).toBe(eb[0].pblk + 4);
    expectConsistent(fs);
  });

  it('frees blocks on truncate and zeroes the tail of a partial last block', () => {
    const { fs, dev } = setupFs('ext4-nojournal');
    const ino = vfs_create(fs);
    const free0 = freeBlocks(fs);
    vfs_write(fs, ino, 0, fill(10 * B, 0xee));
    expect(freeBlocks(fs)).toBe(free0 - 10);
    vfs_truncate(fs, ino, 5 * B + 100);
    expect(freeBlocks(fs)).toBe(free0 - 6);
    const info = inodeInfo(fs, ino);
    expect(info).toMatchObject({ size: 5 * B + 100, blocks: 6 });
    const tail = dev.load((info.extents[0].pblk + 5) * B, B);
    expect(tail.subarray(0, 100)).toEqual(fill(100, 0xee));
    expect(tail.subarray(100)).toEqual(fill(B - 100, 0));
    vfs_truncate(fs, ino, 8 * B); // growing maps nothing: the new part reads as zeroes
    const r = new Uint8Array(8 * B);
    expect(vfs_read(fs, ino, 0, r)).toBe(8 * B);
    expect(r.subarray(5 * B + 100)).toEqual(fill(3 * B - 100, 0));
    vfs_truncate(fs, ino, 0);
    expect(freeBlocks(fs)).toBe(free0);
    expect(inodeInfo(fs, ino)).toEqual({ size: 0, blocks: 0, extents: [] });
    expectConsistent(fs);
  });

  it('punches a hole by splitting an extent and freeing its blocks', () => {
    const { fs } = setupFs('ext4');
    const ino = vfs_create(fs);
    vfs_write(fs, ino, 0, fill(10 * B, 4));
    const pblk = inodeInfo(fs, ino).extents[0].pblk;
    const free0 = freeBlocks(fs);
    vfs_fallocate(fs, ino, PUNCH, 3 * B, 2 * B);
    expect(freeBlocks(fs)).toBe(free0 + 2);
    expect(inodeInfo(fs, ino)).toEqual({
      size: 10 * B,
      blocks: 8,
      extents: [
        { lblk: 0, pblk, len: 3, unwritten: false },
        { lblk: 5, pblk: pblk + 5, len: 5, unwritten: false },
      ],
    });
    const r = new Uint8Array(10 * B);
    vfs_read(fs, ino, 0, r);
    expect(r.subarray(3 * B, 5 * B)).toEqual(fill(2 * B, 0));
    expect(r.subarray(5 * B)).toEqual(fill(5 * B, 4));
    // A punch across several extents and holes, past i_size too.
    vfs_fallocate(fs, ino, FALLOC_FL_KEEP_SIZE, 12 * B, 4 * B);
    vfs_fallocate(fs, ino, PUNCH, 2 * B, 12 * B);
    expect(inodeInfo(fs, ino).extents).toEqual([
      { lblk: 0, pblk, len: 2, unwritten: false },
      { lblk: 14, pblk: inodeInfo(fs, ino).extents[1].pblk, len: 2, unwritten: true },
    ]);
    expectConsistent(fs);
  });
});

describe('bad input', () => {
  it.each(FS_PERSONALITIES)('%s: rejects bad arguments with errno codes and stays consistent', (p) => {
    const { fs } = setupFs(p);
    const ino = vfs_create(fs);
    vfs_write(fs, ino, 0, fill(3 * B, 1));
    const cases: [string, () => unknown][] = [
      ['EINVAL', () => vfs_fallocate(fs, ino, 0, 100, B)],
      ['EINVAL', () => vfs_fallocate(fs, ino, 0, 0, B + 1)],
      ['EINVAL', () => vfs_fallocate(fs, ino, PUNCH, B, 0)],
      ['EINVAL', () => vfs_fallocate(fs, ino, PUNCH, B / 2, B)],
      ['EINVAL', () => vfs_write(fs, ino, -1, fill(1, 1))],
      ['EINVAL', () => vfs_write(fs, ino, 0.5, fill(1, 1))],
      ['EINVAL', () => vfs_truncate(fs, ino, -B)],
      ['EINVAL', () => vfs_fsync_range(fs, ino, 2 * B, B, true)],
      ['EINVAL', () => iomap_begin(fs, ino, 0, 0, 0, new Iomap())],
      ['EINVAL', () => vfs_read(fs, 1.5, 0, new Uint8Array(1))],
      ['ENOENT', () => vfs_write(fs, ino + 1, 0, fill(1, 1))],
      ['ENOENT', () => vfs_fsync(fs, 16, false)],
      ['ENOENT', () => iomap_begin(fs, 5, 0, B, IOMAP_WRITE, new Iomap())],
      ['ENOENT', () => inode_datasync_dirty(fs, 9)],
      ['EFBIG', () => vfs_write(fs, ino, FS_MAX_BYTES - 1, fill(2, 1))],
      ['EFBIG', () => vfs_truncate(fs, ino, FS_MAX_BYTES + B)],
      ['EFBIG', () => vfs_fallocate(fs, ino, 0, FS_MAX_BYTES - B, 2 * B)],
      ['EFBIG', () => iomap_begin(fs, ino, FS_MAX_BYTES, B, IOMAP_WRITE, new Iomap())],
      ['EOPNOTSUPP', () => vfs_fallocate(fs, ino, FALLOC_FL_PUNCH_HOLE, 0, B)],
      ['EOPNOTSUPP', () => vfs_fallocate(fs, ino, 0x10, 0, B)],
    ];
    for (const [code, call] of cases) {
      expect([code, errno(call)]).toEqual([code, code]);
      expectConsistent(fs);
    }
    // The largest file size itself is fine.
    vfs_truncate(fs, ino, FS_MAX_BYTES);
    vfs_write(fs, ino, FS_MAX_BYTES - 1, fill(1, 5));
    vfs_truncate(fs, ino, 3 * B);
    expect(inodeInfo(fs, ino)).toMatchObject({ size: 3 * B, blocks: 3 });
    expectConsistent(fs);
  });

  it('gives ENOSPC when the inode table is full', () => {
    const { fs } = setupFs('ext4');
    for (let i = 0; i < 16; i++) expect(vfs_create(fs)).toBe(i);
    expect(errno(() => vfs_create(fs))).toBe('ENOSPC');
    expectConsistent(fs);
  });

  it.each(FS_PERSONALITIES)('%s: gives ENOSPC on a full device after a short write, and stays consistent', (p) => {
    const { fs } = setupFs(p);
    const a = vfs_create(fs);
    const total = fs.g.dataBlocks * B;
    const wrote = vfs_write(fs, a, 0, fill(total + 5 * B, 3));
    expect(wrote).toBe(total);
    expect(freeBlocks(fs)).toBe(0);
    expectConsistent(fs);
    const b = vfs_create(fs);
    expect(errno(() => vfs_write(fs, b, 0, fill(10, 1)))).toBe('ENOSPC');
    expect(errno(() => vfs_fallocate(fs, b, 0, 0, B))).toBe('ENOSPC');
    expect(errno(() => iomap_begin(fs, b, 0, B, IOMAP_WRITE, new Iomap()))).toBe('ENOSPC');
    expect(inodeInfo(fs, b)).toEqual({ size: 0, blocks: 0, extents: [] });
    expectConsistent(fs);
    // Freeing space makes room again.
    vfs_fallocate(fs, a, PUNCH, 0, 4 * B);
    expect(vfs_write(fs, b, 0, fill(2 * B, 1))).toBe(2 * B);
    expectConsistent(fs);
    settle(fs, a);
    settle(fs, b);
    expect(fsckImage(fs, recoveredImage(fs))).toEqual([]);
  });

  it('gives ENOSPC when an inode\'s extent map is full, with nothing changed', () => {
    const { fs } = setupFs('ext4', { fsExtentBlocksPerInode: 1 });
    const ino = vfs_create(fs);
    const other = vfs_create(fs);
    // Every other block, alternating files, so no two extents of `ino` can merge.
    for (let i = 0; i < 255; i++) {
      vfs_fallocate(fs, ino, FALLOC_FL_KEEP_SIZE, 2 * i * B, B);
      vfs_fallocate(fs, other, FALLOC_FL_KEEP_SIZE, i * B, B);
    }
    expect(inodeInfo(fs, ino).extents).toHaveLength(255);
    const before = inodeInfo(fs, ino);
    const free0 = freeBlocks(fs);
    expect(errno(() => vfs_fallocate(fs, ino, 0, 600 * B, B))).toBe('ENOSPC');
    expect(errno(() => vfs_write(fs, ino, 601 * B, fill(1, 1)))).toBe('ENOSPC');
    expect(inodeInfo(fs, ino)).toEqual(before);
    expect(freeBlocks(fs)).toBe(free0);
    expectConsistent(fs);
  });

  it('converts a whole unwritten extent when the map is too full to split it (ext4_ext_zeroout)', () => {
    const { fs, dev } = setupFs('ext4', { fsExtentBlocksPerInode: 1 });
    const ino = vfs_create(fs);
    vfs_fallocate(fs, ino, 0, 0, 10 * B);
    const pblk = inodeInfo(fs, ino).extents[0].pblk;
    dev.store(pblk * B, fill(10 * B, 0x77));
    for (let i = 0; i < 254; i++) vfs_fallocate(fs, ino, FALLOC_FL_KEEP_SIZE, (20 + 2 * i) * B, B);
    expect(inodeInfo(fs, ino).extents).toHaveLength(255);
    const m = new Iomap();
    iomap_begin(fs, ino, 5 * B, B, IOMAP_WRITE, m);
    expect([m.type, m.flags & IOMAP_F_NEW, m.offset, m.length, m.blockno]).toEqual([IOMAP_MAPPED, IOMAP_F_NEW, 5 * B, B, pblk + 5]);
    const info = inodeInfo(fs, ino);
    expect(info.extents).toHaveLength(255);
    expect(info.extents[0]).toEqual({ lblk: 0, pblk, len: 10, unwritten: false });
    expect(dev.load(pblk * B, 10 * B)).toEqual(fill(10 * B, 0)); // no stale byte became visible
    expectConsistent(fs);
  });
});

describe('allocator state', () => {
  it('counts free blocks in the shared allocator record', () => {
    const { fs, machine } = setupFs('ext4');
    expect(machine.views.fsAlloc[FS_ALLOC.freeBlocks]).toBe(fs.g.dataBlocks);
    expect(machine.views.fsAlloc[FS_ALLOC.goal]).toBe(fs.g.dataStart);
  });
});
