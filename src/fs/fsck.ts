// The checker (e2fsck's passes 1 and 5, reduced to the lab's format): reads a raw device
// image (a crash image after journal recovery) or a copy of fsMeta, never changes it, and
// lists every violation it finds:
//   - superblock: magic, revision and every geometry field as fsGeometry() computes it;
//   - inode records: free records are empty; allocated ones are regular files with sane
//     extent headers (magic, eh_max, depth 0, entries filled block by block);
//   - extents: positive lengths within EXT_INIT_MAX_LEN / EXT_UNWRITTEN_MAX_LEN, known flags,
//     sorted and not overlapping within the file, physical blocks inside the data area,
//     i_blocks equal to their sum, and every written extent inside i_size (unwritten extents
//     may lie past it: fallocate with FALLOC_FL_KEEP_SIZE, as ext4 allows);
//   - across inodes: no block mapped twice (e2fsck's multiply-claimed blocks: a crash of
//     ext4 without a journal can leave them, see FsckOptions.allowLeakedBlocks);
//   - bitmap: set exactly for metadata, journal and padding blocks and mapped blocks.
// A clean filesystem gives []. Tests corrupt a copy of an image with the ondisk.ts
// addresses (inodeWord, extentWord, bitmapWord) to show that the checker rejects it.
//
// It also provides the bitmap rebuild that ext4's fast-commit replay runs after restoring
// inodes (ext4_fc_set_bitmaps_and_counters), for journal recovery's afterFastCommitReplay.

import { BLOCK_SIZE, FS_ALLOC, INODE_SIZE, type FsGeometry } from '../machine/layout.js';
import {
  BITS_PER_BITMAP_BLOCK,
  EXT4_EXT_MAGIC,
  EXTENTS_PER_BLOCK,
  EXTENT,
  EXTENT_HEADER,
  EXT_INIT_MAX_LEN,
  EXT_UNWRITTEN,
  EXT_UNWRITTEN_MAX_LEN,
  FS_MAGIC,
  FS_MAX_FILE_BLOCKS,
  FS_REVISION,
  INODE,
  S_IFMT,
  S_IFREG,
  SUPERBLOCK,
  WORDS_PER_BLOCK,
  bitmapTest,
  bitmapWord,
  extentBlock,
  extentWord,
  imageWords,
  inodeWord,
  readSize,
  sbWord,
} from './ondisk.js';
import type { Fs } from './super.js';

export interface FsckOptions {
  /**
   * Accept blocks marked in use that no extent maps. ext4 without a journal leaves them
   * after a crash (one file's fsync writes a bitmap block holding another's unsynced
   * allocation); e2fsck frees them. A leak is harmless; a mapped block marked free is not.
   *
   * Leaks are not the only damage a crash leaves on ext4 without a journal, and this option
   * hides nothing else. A block freed by a punch or truncate that was never synced is free
   * at once (no transaction keeps it busy), so another file may be given it and fsync its
   * new mapping while the first file's extents on the device still map it: the image maps
   * the block from two files, which the checker reports as `block N: mapped by inode A and
   * again by inode B (multiply-claimed)`, as e2fsck's pass 1B reports multiply-claimed
   * blocks. That is how ext4 without a journal behaves, not a fault of the lab's model.
   */
  allowLeakedBlocks?: boolean;
  /** Violations listed before the rest are only counted (default 50). */
  maxReports?: number;
}

/** Checks a filesystem image; returns its violations ([] when clean). */
export function fsck(image: Uint8Array, g: FsGeometry, opts: FsckOptions = {}): string[] {
  const out: string[] = [];
  const max = opts.maxReports ?? 50;
  let more = 0;
  const report = (msg: string) => {
    if (out.length < max) out.push(msg);
    else more++;
  };
  if (image.byteLength < g.metaBlocks * BLOCK_SIZE) {
    return [`image: ${image.byteLength} bytes, smaller than the ${g.metaBlocks} metadata blocks`];
  }
  const w = imageWords(image.byteOffset % 4 === 0 ? image : image.slice());

  checkSuperblock(w, g, report);

  // Passes 1 and 2: inodes and their extents; who maps each block.
  const owner = new Int32Array(g.nblocks);
  for (let ino = 0; ino < g.inodes; ino++) checkInode(w, g, ino, owner, report);

  // Pass 5: the bitmap against what is mapped.
  for (let b = 0; b < g.bitmapBlocks * BITS_PER_BITMAP_BLOCK; b++) {
    const used = bitmapTest(w, g, b);
    if (b < g.dataStart || b >= g.nblocks) {
      if (!used) report(`bitmap: ${b < g.dataStart ? 'metadata or journal' : 'padding'} block ${b} is marked free`);
    } else if (owner[b] !== 0 && !used) {
      report(`bitmap: block ${b} is mapped by inode ${owner[b] - 1} but marked free`);
    } else if (owner[b] === 0 && used && !opts.allowLeakedBlocks) {
      report(`bitmap: block ${b} is marked in use but no inode maps it (leaked)`);
    }
  }
  if (more > 0) out.push(`... and ${more} more violations`);
  return out;
}

type Report = (msg: string) => void;

function checkSuperblock(w: Int32Array, g: FsGeometry, report: Report): void {
  const sb = sbWord(g);
  if (w[sb + SUPERBLOCK.s_magic] !== FS_MAGIC) {
    report(`superblock: bad magic 0x${(w[sb + SUPERBLOCK.s_magic] >>> 0).toString(16)}`);
    return;
  }
  const expect: [keyof typeof SUPERBLOCK, number][] = [
    ['s_rev_level', FS_REVISION],
    ['s_block_size', BLOCK_SIZE],
    ['s_inode_size', INODE_SIZE],
    ['s_blocks_count', g.nblocks],
    ['s_inodes_count', g.inodes],
    ['s_extent_blocks_per_inode', g.extentBlocksPerInode],
    ['s_bitmap_start', g.bitmapStart],
    ['s_bitmap_blocks', g.bitmapBlocks],
    ['s_inode_table', g.inodeTableStart],
    ['s_inode_table_blocks', g.inodeTableBlocks],
    ['s_extent_start', g.extentStart],
    ['s_journal_start', g.journalStart],
    ['s_journal_blocks', g.journalBlocks],
    ['s_first_data_block', g.dataStart],
    ['s_max_file_blocks', FS_MAX_FILE_BLOCKS - 1],
    ['s_extents_per_block', EXTENTS_PER_BLOCK],
  ];
  for (const [field, want] of expect) {
    const got = w[sb + SUPERBLOCK[field]];
    if (got !== want) report(`superblock: ${field} is ${got}, expected ${want}`);
  }
  const p = w[sb + SUPERBLOCK.s_personality];
  if (p < 1 || p > 3) report(`superblock: unknown personality code ${p}`);
}

function checkInode(w: Int32Array, g: FsGeometry, ino: number, owner: Int32Array, report: Report): void {
  const iw = inodeWord(g, ino);
  const mode = w[iw + INODE.i_mode];
  const size = readSize(w, iw);
  const what = `inode ${ino}`;

  // Extent headers and the count they give.
  let n = 0;
  let ended = false;
  let headersOk = true;
  for (let k = 0; k < g.extentBlocksPerInode; k++) {
    const h = extentBlock(g, ino, k) * WORDS_PER_BLOCK;
    const entries = w[h + EXTENT_HEADER.eh_entries];
    if (w[h + EXTENT_HEADER.eh_magic] !== EXT4_EXT_MAGIC || w[h + EXTENT_HEADER.eh_max] !== EXTENTS_PER_BLOCK || w[h + EXTENT_HEADER.eh_depth] !== 0) {
      report(`${what}: extent block ${k} has a bad header (magic, eh_max or depth)`);
      headersOk = false;
      continue;
    }
    if (entries < 0 || entries > EXTENTS_PER_BLOCK) {
      report(`${what}: extent block ${k} claims ${entries} entries`);
      headersOk = false;
      continue;
    }
    if (ended && entries > 0) {
      report(`${what}: extent block ${k} holds entries after a block that is not full`);
      headersOk = false;
    }
    n += entries;
    if (entries < EXTENTS_PER_BLOCK) ended = true;
  }

  if (mode === 0) {
    if (size !== 0 || w[iw + INODE.i_blocks] !== 0 || n !== 0) report(`${what}: free, but has a size, blocks or extents`);
    return;
  }
  if ((mode & S_IFMT) !== S_IFREG) report(`${what}: i_mode 0x${mode.toString(16)} is not a regular file`);
  if (size < 0 || size > FS_MAX_FILE_BLOCKS * BLOCK_SIZE) report(`${what}: i_size ${size} is out of range`);
  if (!headersOk) return;

  const sizeBlocks = Math.ceil(size / BLOCK_SIZE);
  let prevEnd = 0;
  let blocks = 0;
  for (let e = 0; e < n; e++) {
    const x = extentWord(g, ino, e);
    const lblk = w[x + EXTENT.ee_block];
    const pblk = w[x + EXTENT.ee_start];
    const len = w[x + EXTENT.ee_len];
    const flags = w[x + EXTENT.ee_flags];
    const ex = `${what} extent ${e} (${lblk}+${len} at ${pblk})`;
    const unwritten = (flags & EXT_UNWRITTEN) !== 0;
    if ((flags & ~EXT_UNWRITTEN) !== 0) report(`${ex}: unknown flags 0x${flags.toString(16)}`);
    if (len < 1 || len > (unwritten ? EXT_UNWRITTEN_MAX_LEN : EXT_INIT_MAX_LEN)) {
      report(`${ex}: bad length`);
      continue;
    }
    if (lblk < 0 || lblk + len > FS_MAX_FILE_BLOCKS) report(`${ex}: logical blocks out of range`);
    if (lblk < prevEnd) report(`${ex}: overlaps or precedes the extent before it`);
    prevEnd = Math.max(prevEnd, lblk + len);
    if (!unwritten && lblk + len > sizeBlocks) report(`${ex}: written past i_size ${size}`);
    blocks += len;
    if (pblk < g.dataStart || pblk + len > g.nblocks) {
      report(`${ex}: physical blocks outside the data area [${g.dataStart}, ${g.nblocks})`);
      continue;
    }
    for (let b = pblk; b < pblk + len; b++) {
      if (owner[b] !== 0) report(`block ${b}: mapped by inode ${owner[b] - 1} and again by ${what} (multiply-claimed)`);
      else owner[b] = ino + 1;
    }
  }
  if (blocks !== w[iw + INODE.i_blocks]) report(`${what}: i_blocks is ${w[iw + INODE.i_blocks]}, its extents map ${blocks}`);
}

/**
 * ext4_fc_set_bitmaps_and_counters(): rebuilds the block bitmap of an image from the
 * metadata layout and every allocated inode's extents, after fast-commit replay restored
 * inodes whose allocations the bitmap on the image does not show. Skips extents the
 * checker would reject. Changes the image in place.
 */
export function ext4_fc_set_bitmaps_and_counters(image: Uint8Array, g: FsGeometry): void {
  const w = imageWords(image);
  w.fill(0, bitmapWord(g, 0), bitmapWord(g, 0) + g.bitmapBlocks * WORDS_PER_BLOCK);
  const set = (b: number) => {
    w[bitmapWord(g, b)] |= 1 << (b & 31);
  };
  for (let b = 0; b < g.dataStart; b++) set(b);
  for (let b = g.nblocks; b < g.bitmapBlocks * BITS_PER_BITMAP_BLOCK; b++) set(b);
  for (let ino = 0; ino < g.inodes; ino++) {
    if (w[inodeWord(g, ino) + INODE.i_mode] === 0) continue;
    let n = 0;
    for (let k = 0; k < g.extentBlocksPerInode; k++) {
      const entries = w[extentBlock(g, ino, k) * WORDS_PER_BLOCK + EXTENT_HEADER.eh_entries];
      if (entries < 0 || entries > EXTENTS_PER_BLOCK) break;
      n += entries;
      if (entries < EXTENTS_PER_BLOCK) break;
    }
    for (let e = 0; e < n; e++) {
      const x = extentWord(g, ino, e);
      const pblk = w[x + EXTENT.ee_start];
      const len = w[x + EXTENT.ee_len];
      if (len < 1 || pblk < g.dataStart || pblk + len > g.nblocks) continue;
      for (let b = pblk; b < pblk + len; b++) set(b);
    }
  }
}

/**
 * Checks the live metadata of a quiet filesystem (no operation running): fsck of a copy of
 * fsMeta, plus the allocator's free count against the bitmap.
 */
export function fsckLive(fs: Fs, opts: FsckOptions = {}): string[] {
  const out = fsck(fs.meta.slice(), fs.g, opts);
  const w = fs.mw;
  let free = 0;
  for (let b = fs.g.dataStart; b < fs.g.nblocks; b++) if (!bitmapTest(w, fs.g, b)) free++;
  const counted = Atomics.load(fs.alloc, FS_ALLOC.freeBlocks);
  if (counted !== free) out.push(`allocator: freeBlocks is ${counted}, the bitmap has ${free} free blocks`);
  return out;
}
