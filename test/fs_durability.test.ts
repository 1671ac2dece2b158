import { monoNs } from '../src/util/clock.js';
import { afterEach, describe, expect, it } from 'vitest';
import { BLOCK_SIZE, type FsGeometry } from '../src/machine/layout.js';
import type { Machine } from '../src/machine/machine.js';
import type { KjournaldSummary } from '../src/journal/kjournald.js';
import type { JournalPolicy } from '../src/journal/policy.js';
import {
  EXTENT,
  EXTENT_HEADER,
  FS_PERSONALITIES,
  INODE,
  SUPERBLOCK,
  WORDS_PER_BLOCK,
  bitmapWord,
  extentBlock,
  extentWord,
  imageWords,
  inodeWord,
  readSize,
  sbWord,
  writeSize,
  type FsPersonality,
} from '../src/fs/ondisk.js';
import type { Fs } from '../src/fs/super.js';
import { fsck } from '../src/fs/fsck.js';
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  IOMAP_F_DIRTY,
  IOMAP_WRITE,
  Iomap,
  file_update_time,
  inodeInfo,
  inode_datasync_dirty,
  iomap_begin,
  vfs_create,
  vfs_fallocate,
  vfs_fsync,
  vfs_read,
  vfs_truncate,
  vfs_write,
} from '../src/fs/inode.js';
import { readCommitRecords } from '../src/journal/stats.js';
import { journalAreas } from '../src/journal/ondisk.js';
import { startCommitThread as startThread } from './support/commit_thread.js';
import { commitNow, recoveredImage, setupFs } from './workers/fs_support.js';

const B = BLOCK_SIZE;

/** The extents of inode ino as a device image holds them. */
function imageExtents(image: Uint8Array, g: FsGeometry, ino: number): { lblk: number; pblk: number; len: number; unwritten: boolean }[] {
  const w = imageWords(image);
  const n = w[extentBlock(g, ino, 0) * WORDS_PER_BLOCK + EXTENT_HEADER.eh_entries];
  const out = [];
  for (let e = 0; e < n; e++) {
    const x = extentWord(g, ino, e);
    out.push({ lblk: w[x + EXTENT.ee_block], pblk: w[x + EXTENT.ee_start], len: w[x + EXTENT.ee_len], unwritten: w[x + EXTENT.ee_flags] !== 0 });
  }
  return out;
}

function imageSize(image: Uint8Array, g: FsGeometry, ino: number): number {
  return readSize(imageWords(image), inodeWord(g, ino));
}

/** Makes metadata durable the personality's way, with no commit thread: an inline commit, or fsync without a journal. */
function settle(fs: Fs, ino: number): void {
  if (fs.journal) commitNow(fs);
  else vfs_fsync(fs, ino, true);
}

/** datasync-dirty must agree with what a crash right now would keep. */
function expectDirtyIff(fs: Fs, ino: number, want: { lblk: number; pblk: number; len: number; unwritten: boolean }[], dirty: boolean): void {
  expect(inode_datasync_dirty(fs, ino)).toBe(dirty);
  const image = recoveredImage(fs);
  const durable = JSON.stringify(imageExtents(image, fs.g, ino)) === JSON.stringify(want);
  expect(durable).toBe(!dirty);
  expect(fsck(image, fs.g, { allowLeakedBlocks: fs.journal === null })).toEqual([]);
}

describe.each(FS_PERSONALITIES)('%s: datasync state', (p: FsPersonality) => {
  it('turns false exactly when the inode\'s allocation is durable', () => {
    const { fs } = setupFs(p);
    const ino = vfs_create(fs);
    expect(inode_datasync_dirty(fs, ino)).toBe(true); // a new inode is itself a change
    vfs_truncate(fs, ino, 8 * B);
    settle(fs, ino);
    expect(inode_datasync_dirty(fs, ino)).toBe(false);

    const m = new Iomap();
    iomap_begin(fs, ino, 2 * B, B, IOMAP_WRITE, m);
    expect(m.flags & IOMAP_F_DIRTY).toBe(IOMAP_F_DIRTY);
    const want = inodeInfo(fs, ino).extents;
    expectDirtyIff(fs, ino, want, true);
    settle(fs, ino);
    expectDirtyIff(fs, ino, want, false);
    iomap_begin(fs, ino, 2 * B, B, IOMAP_WRITE, m);
    expect(m.flags).toBe(0);

    // A timestamp alone does not make the inode datasync-dirty.
    const before = fs.mw[inodeWord(fs.g, ino) + INODE.i_mtime];
    while ((Math.floor(monoNs() / 4e6) & 0x7fffffff) === before) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    file_update_time(fs, ino);
    expect(fs.mw[inodeWord(fs.g, ino) + INODE.i_mtime]).not.toBe(before);
    expect(inode_datasync_dirty(fs, ino)).toBe(false);

    // A size change does.
    vfs_truncate(fs, ino, 9 * B);
    expect(inode_datasync_dirty(fs, ino)).toBe(true);
    expect(imageSize(recoveredImage(fs), fs.g, ino)).toBe(8 * B);
    settle(fs, ino);
    expect(inode_datasync_dirty(fs, ino)).toBe(false);
    expect(imageSize(recoveredImage(fs), fs.g, ino)).toBe(9 * B);
  });

  it('is set by a write into an unwritten extent, not by one into a written extent', () => {
    const { fs } = setupFs(p);
    const ino = vfs_create(fs);
    vfs_fallocate(fs, ino, 0, 0, 4 * B);
    settle(fs, ino);
    expect(inode_datasync_dirty(fs, ino)).toBe(false);
    vfs_write(fs, ino, B, new Uint8Array(100).fill(1));
    expect(inode_datasync_dirty(fs, ino)).toBe(true); // the conversion
    expectDirtyIff(fs, ino, inodeInfo(fs, ino).extents, true);
    settle(fs, ino);
    expectDirtyIff(fs, ino, inodeInfo(fs, ino).extents, false);
    vfs_write(fs, ino, B + 50, new Uint8Array(3000).fill(2));
    expect(inode_datasync_dirty(fs, ino)).toBe(false); // written already, inside i_size
    vfs_write(fs, ino, 3 * B, new Uint8Array(10).fill(3));
    expect(inode_datasync_dirty(fs, ino)).toBe(true); // block 3 was still unwritten
  });

  it('is set by a write that extends i_size inside an allocated block', () => {
    const { fs } = setupFs(p);
    const ino = vfs_create(fs);
    vfs_write(fs, ino, 0, new Uint8Array(100).fill(1));
    settle(fs, ino);
    expect(inode_datasync_dirty(fs, ino)).toBe(false);
    vfs_write(fs, ino, 100, new Uint8Array(100).fill(2));
    expect(inode_datasync_dirty(fs, ino)).toBe(true);
    settle(fs, ino);
    const r = new Uint8Array(300);
    expect(vfs_read(fs, ino, 0, r)).toBe(200);
  });
});

describe('fsck', () => {
  function cleanImage() {
    const { fs } = setupFs('ext4');
    const a = vfs_create(fs);
    const b = vfs_create(fs);
    vfs_write(fs, a, 0, new Uint8Array(6 * B).fill(1));
    vfs_write(fs, b, 0, new Uint8Array(3 * B).fill(2));
    vfs_fallocate(fs, b, FALLOC_FL_KEEP_SIZE, 10 * B, 2 * B); // unwritten past i_size is fine
    commitNow(fs);
    const image = recoveredImage(fs);
    expect(fsck(image, fs.g)).toEqual([]);
    return { fs, g: fs.g, image, a, b };
  }

  /** Corrupts a copy of the clean image with `f` and returns fsck's findings. */
  function corrupt(f: (w: Int32Array, g: FsGeometry, a: number, b: number) => void, opts = {}): string[] {
    const { g, image, a, b } = cleanImage();
    const copy = image.slice();
    f(imageWords(copy), g, a, b);
    return fsck(copy, g, opts);
  }

  const pblkOf = (w: Int32Array, g: FsGeometry, ino: number) => w[extentWord(g, ino, 0) + EXTENT.ee_start];
  const clearBit = (w: Int32Array, g: FsGeometry, blk: number) => (w[bitmapWord(g, blk)] &= ~(1 << (blk & 31)));
  const setBit = (w: Int32Array, g: FsGeometry, blk: number) => (w[bitmapWord(g, blk)] |= 1 << (blk & 31));

  it('rejects a mapped block marked free in the bitmap', () => {
    const v = corrupt((w, g, a) => clearBit(w, g, pblkOf(w, g, a) + 2));
    expect(v).toHaveLength(1);
    expect(v[0]).toMatch(/bitmap: block \d+ is mapped by inode 0 but marked free/);
  });

  it('rejects a leaked block unless leaks are allowed', () => {
    const leak = (w: Int32Array, g: FsGeometry) => setBit(w, g, g.nblocks - 1);
    expect(corrupt(leak)).toEqual([expect.stringMatching(/marked in use but no inode maps it/)]);
    expect(corrupt(leak, { allowLeakedBlocks: true })).toEqual([]);
  });

  it('rejects a block mapped by two inodes', () => {
    const v = corrupt((w, g, a, b) => {
      w[extentWord(g, b, 0) + EXTENT.ee_start] = pblkOf(w, g, a) + 1;
    });
    expect(v.some((m) => /mapped by inode 0 and again by inode 1/.test(m))).toBe(true);
  });

  it('rejects overlapping extents within a file, written extents past i_size and a wrong i_blocks', () => {
    expect(corrupt((w, g, _a, b) => (w[extentWord(g, b, 1) + EXTENT.ee_block] = 1)).join('\n')).toMatch(/overlaps or precedes/);
    expect(corrupt((w, g, a) => writeSize(w, inodeWord(g, a), 2 * B)).join('\n')).toMatch(/written past i_size/);
    expect(corrupt((w, g, a) => (w[inodeWord(g, a) + INODE.i_blocks] += 1)).join('\n')).toMatch(/i_blocks is 7, its extents map 6/);
    expect(corrupt((w, g, a) => (w[extentWord(g, a, 0) + EXTENT.ee_flags] = 4)).join('\n')).toMatch(/unknown flags/);
  });

  it('rejects a bad superblock and bad extent headers', () => {
    expect(corrupt((w, g) => (w[sbWord(g) + SUPERBLOCK.s_magic] = 0))).toEqual([expect.stringMatching(/superblock: bad magic/)]);
    expect(corrupt((w, g) => (w[sbWord(g) + SUPERBLOCK.s_first_data_block] += 1))).toEqual([
      expect.stringMatching(/s_first_data_block is \d+, expected \d+/),
    ]);
    expect(corrupt((w, g, a) => (w[extentBlock(g, a, 0) * WORDS_PER_BLOCK + EXTENT_HEADER.eh_entries] = 300)).join('\n')).toMatch(
      /claims 300 entries/,
    );
    expect(corrupt((w, g) => clearBit(w, g, g.journalStart))).toEqual([expect.stringMatching(/metadata or journal block \d+ is marked free/)]);
  });

  it('rejects a free inode that still maps blocks', () => {
    const v = corrupt((w, g, a) => (w[inodeWord(g, a) + INODE.i_mode] = 0));
    expect(v[0]).toMatch(/inode 0: free, but has a size, blocks or extents/);
  });
});

describe('a punch never synced, then another file\'s fsync', () => {
  it.each(['ext4-nojournal', 'ext4'] as const)('%s: a crash leaves the freed blocks mapped twice only without a journal', (p) => {
    const { fs } = setupFs(p);
    const [a, b] = [vfs_create(fs), vfs_create(fs)];
    // a fills the device, so the only blocks b can get are those a's punch frees.
    vfs_write(fs, a, 0, new Uint8Array(fs.g.dataBlocks * B).fill(0xaa));
    vfs_fsync(fs, a, false);
    vfs_fallocate(fs, a, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4 * B);
    vfs_write(fs, b, 0, new Uint8Array(4 * B).fill(0xbb));
    vfs_fsync(fs, b, false);
    const image = recoveredImage(fs);
    const bBlocks = imageExtents(image, fs.g, b).flatMap((e) => Array.from({ length: e.len }, (_, i) => e.pblk + i));
    expect(bBlocks).toHaveLength(4);
    if (p === 'ext4') {
      // b's allocation had to wait for the punch's commit (busy blocks), which it then carried.
      expect(fsck(image, fs.g)).toEqual([]);
      expect(imageExtents(image, fs.g, a)[0].lblk).toBe(4);
      return;
    }
    // Without a journal b's fsync wrote its mapping and the bitmap, but a's record on the
    // device still maps the punched blocks: e2fsck would find them multiply-claimed.
    expect(imageExtents(image, fs.g, a)[0]).toMatchObject({ lblk: 0 });
    expect(fsck(image, fs.g, { allowLeakedBlocks: true })).toEqual(bBlocks.map((blk) => `block ${blk}: mapped by inode ${a} and again by inode ${b} (multiply-claimed)`));
    for (const blk of bBlocks) expect(image[blk * B]).toBe(0xbb);
  });
});

describe('fsync with the commit thread', () => {
  let stop: (() => Promise<KjournaldSummary>) | undefined;
  afterEach(async () => {
    await stop?.();
    stop = undefined;
  });

  async function startCommitThread(machine: Machine, cpu: number, policy: Partial<JournalPolicy>) {
    stop = await startThread(machine, cpu, policy);
    return stop;
  }

  const cases: [FsPersonality, Partial<JournalPolicy>][] = [
    ['ext4', {}],
    ['ext4', { fastCommit: true }],
    ['xfs', {}],
    ['ext4-nojournal', {}],
  ];

  it.each(cases)('%s %j: after fsync a crash keeps the data and a clean filesystem', async (p, policy) => {
    const { fs, machine } = setupFs(p, {}, policy);
    const halt = p === 'ext4-nojournal' ? undefined : await startCommitThread(machine, 5, policy);
    const ino = vfs_create(fs);
    const other = vfs_create(fs);
    // The first commit since mount is a full one (jbd2_fc_begin_commit's -EINVAL); the next can be fast.
    vfs_fsync(fs, other, false);
    const data = new Uint8Array(5 * B + 123).map((_, i) => (i * 7 + 1) & 0xff);
    vfs_fallocate(fs, ino, 0, 0, 2 * B);
    vfs_write(fs, ino, 0, data);
    vfs_write(fs, other, 0, new Uint8Array(B).fill(9)); // another file's change, never synced
    vfs_fsync(fs, ino, true);
    expect(inode_datasync_dirty(fs, ino)).toBe(false);
    const image = recoveredImage(fs);
    expect(fsck(image, fs.g, { allowLeakedBlocks: p === 'ext4-nojournal' })).toEqual([]);
    expect(imageSize(image, fs.g, ino)).toBe(data.length);
    const ext = imageExtents(image, fs.g, ino);
    expect(ext).toEqual(inodeInfo(fs, ino).extents);
    const got = new Uint8Array(data.length);
    for (let at = 0; at < data.length; at += B) {
      const lblk = at / B;
      const e = ext.find((x) => x.lblk <= lblk && lblk < x.lblk + x.len)!;
      got.set(image.subarray((e.pblk + lblk - e.lblk) * B, (e.pblk + lblk - e.lblk) * B + Math.min(B, data.length - at)), at);
    }
    expect(got).toEqual(data);

    // A punch, then fsync again: with fast commit the freeing transaction falls back to a full commit.
    vfs_fallocate(fs, ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, B, 2 * B);
    vfs_fsync(fs, ino, false);
    const after = recoveredImage(fs);
    expect(imageExtents(after, fs.g, ino)).toEqual(inodeInfo(fs, ino).extents);
    expect(fsck(after, fs.g, { allowLeakedBlocks: p === 'ext4-nojournal' })).toEqual([]);
    await halt?.();
    if (policy.fastCommit) expect(readCommitRecords(machine).filter((r) => r.kind === 'fast').length).toBeGreaterThan(0);
  });

  it('commits a transaction that reaches its size limit in pieces the journal holds; fsync after many files keeps them all', async () => {
    // The audit's reproducer: 62 files created and written in one transaction would file more
    // metadata blocks (inode-table, extent and bitmap blocks) than the 15 this journal takes.
    const { fs, machine } = setupFs('ext4', { fsInodes: 64, fsExtentBlocksPerInode: 1 });
    const halt = await startCommitThread(machine, 5, {});
    const inos: number[] = [];
    for (let i = 0; i < 62; i++) {
      const ino = vfs_create(fs);
      vfs_write(fs, ino, 0, new Uint8Array(100).fill(i + 1));
      inos.push(ino);
    }
    for (const ino of inos) vfs_fsync(fs, ino, false);
    const image = recoveredImage(fs);
    expect(fsck(image, fs.g)).toEqual([]);
    for (const [i, ino] of inos.entries()) {
      expect(imageSize(image, fs.g, ino)).toBe(100);
      expect(image[imageExtents(image, fs.g, ino)[0].pblk * B]).toBe(i + 1);
    }
    const summary = await halt();
    expect(summary.triggers.size).toBeGreaterThan(0);
    for (const r of readCommitRecords(machine)) expect(r.blocks).toBeLessThanOrEqual(journalAreas(fs.g).fullBlocks);
  });

  it.each(FS_PERSONALITIES)('%s: fdatasync leaves a timestamp-only change alone, fsync makes it durable', async (p) => {
    const { fs, machine } = setupFs(p);
    const halt = p === 'ext4-nojournal' ? undefined : await startCommitThread(machine, 5, {});
    const ino = vfs_create(fs);
    vfs_write(fs, ino, 0, new Uint8Array(B).fill(1));
    vfs_fsync(fs, ino, false);
    const mtime = () => fs.mw[inodeWord(fs.g, ino) + INODE.i_mtime];
    const durableMtime = () => imageWords(recoveredImage(fs))[inodeWord(fs.g, ino) + INODE.i_mtime];
    const before = mtime();
    while ((Math.floor(monoNs() / 4e6) & 0x7fffffff) === before) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    vfs_write(fs, ino, 0, new Uint8Array(B).fill(2)); // an overwrite: only the timestamp changes
    expect(mtime()).not.toBe(before);
    expect(inode_datasync_dirty(fs, ino)).toBe(false);
    vfs_fsync(fs, ino, true);
    expect(durableMtime()).toBe(before);
    vfs_fsync(fs, ino, false);
    expect(durableMtime()).toBe(mtime());
    await halt?.();
  });
});
