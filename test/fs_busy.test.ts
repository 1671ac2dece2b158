import { describe, expect, it } from 'vitest';
import { BLOCK_SIZE, FS_INODE } from '../src/machine/layout.js';
import { jbd2_transaction_committed } from '../src/journal/journal.js';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, inodeInfo, vfs_create, vfs_fallocate, vfs_fsync, vfs_write } from '../src/fs/inode.js';
import { fsckImage, recoveredImage, setupFs } from './workers/fs_support.js';

const PUNCH = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
const blocksOf = (info: ReturnType<typeof inodeInfo>) => {
  const out = new Set<number>();
  for (const e of info.extents) for (let i = 0; i < e.len; i++) out.add(e.pblk + i);
  return out;
};

describe('blocks freed by an uncommitted transaction (ext4_mb_free_metadata)', () => {
  it.each(['ext4', 'xfs'] as const)('%s: are handed to another file only after the free commits', (p) => {
    const { fs } = setupFs(p);
    const a = vfs_create(fs);
    const total = fs.g.dataBlocks * BLOCK_SIZE;
    expect(vfs_write(fs, a, 0, new Uint8Array(total).fill(0xaa))).toBe(total);
    vfs_fsync(fs, a, false);
    const before = blocksOf(inodeInfo(fs, a));
    vfs_fallocate(fs, a, PUNCH, 0, 4 * BLOCK_SIZE);
    const freed = [...before].filter((blk) => !blocksOf(inodeInfo(fs, a)).has(blk));
    expect(freed).toHaveLength(4);
    const punchTid = fs.inodes[a * FS_INODE.stride + FS_INODE.lastTid];
    expect(jbd2_transaction_committed(fs.journal!, punchTid)).toBe(false);
    const b = vfs_create(fs);
    vfs_write(fs, b, 0, new Uint8Array(4 * BLOCK_SIZE).fill(0xbb));
    // b got the only free blocks, a's, and only after the punch was committed.
    expect([...blocksOf(inodeInfo(fs, b))].sort()).toEqual(freed.sort());
    expect(jbd2_transaction_committed(fs.journal!, punchTid)).toBe(true);
    expect(fsckImage(fs, recoveredImage(fs))).toEqual([]);
  });

  it('a crash after an uncommitted punch leaves the punched file with its own data, never another file\'s', () => {
    const { fs } = setupFs('ext4');
    const a = vfs_create(fs);
    // Fill the device so the next allocation has nowhere to go but the punched blocks.
    const total = fs.g.dataBlocks * BLOCK_SIZE;
    expect(vfs_write(fs, a, 0, new Uint8Array(total).fill(0xaa))).toBe(total);
    vfs_fsync(fs, a, false);
    vfs_fallocate(fs, a, PUNCH, 0, 4 * BLOCK_SIZE);
    const b = vfs_create(fs);
    vfs_write(fs, b, 0, new Uint8Array(4 * BLOCK_SIZE).fill(0xbb)); // not synced
    const image = recoveredImage(fs);
    expect(fsckImage(fs, image)).toEqual([]);
    // Whatever the crash kept, no block a file maps holds the other file's bytes.
    const aBlocks = blocksOfImage(fs, image, a);
    expect(aBlocks.length === fs.g.dataBlocks || aBlocks.length === fs.g.dataBlocks - 4).toBe(true);
    for (const blk of aBlocks) expect(image[blk * BLOCK_SIZE]).toBe(0xaa);
  });

  it('retries an allocation that found only busy blocks, after committing their free', () => {
    const { fs } = setupFs('ext4');
    const a = vfs_create(fs);
    const total = fs.g.dataBlocks * BLOCK_SIZE;
    expect(vfs_write(fs, a, 0, new Uint8Array(total).fill(1))).toBe(total);
    vfs_fallocate(fs, a, PUNCH, 0, 4 * BLOCK_SIZE);
    const b = vfs_create(fs);
    // Only a's four busy blocks are free: the write commits the punch and then succeeds.
    expect(vfs_write(fs, b, 0, new Uint8Array(2 * BLOCK_SIZE).fill(2))).toBe(2 * BLOCK_SIZE);
    vfs_fallocate(fs, b, FALLOC_FL_KEEP_SIZE, 2 * BLOCK_SIZE, 2 * BLOCK_SIZE);
    expect(fsckImage(fs, recoveredImage(fs))).toEqual([]);
  });
});

/** The blocks inode `ino` maps in a raw image: the live metadata swapped for the image's for one read. */
function blocksOfImage(fs: ReturnType<typeof setupFs>['fs'], image: Uint8Array, ino: number): number[] {
  const saved = fs.meta.slice();
  fs.meta.set(image.subarray(0, fs.meta.length));
  try {
    return [...blocksOf(inodeInfo(fs, ino))];
  } finally {
    fs.meta.set(saved);
  }
}
