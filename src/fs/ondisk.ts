// The filesystem's on-disk format, declared once. The same bytes live in two places: the
// metadata blocks [0, metaBlocks) of the PMEM device (what survives a crash) and their DRAM
// copy views.fsMeta (the buffer cache CPUs read and change), block for block. Every record
// is a table of 32-bit little-endian words (`struct`, offsets in words) read through an
// Int32Array over a 4 KiB-aligned buffer; nothing else in fs/ knows an offset.
//
//   block 0                       superblock (SUPERBLOCK)
//   bitmapStart ..                block bitmap: bit b of the bitmap (bit b & 31 of word
//                                 b >> 5) is set when device block b is in use; one bitmap
//                                 block covers one allocation group of 32768 blocks
//                                 (ext4's block group). Metadata and journal blocks and the
//                                 padding bits past the device's end are set at mkfs.
//   inodeTableStart ..            inode table: INODE records of INODE_SIZE bytes, 16 a block
//   extentStart ..                extent blocks, fsExtentBlocksPerInode per inode, fixed:
//                                 inode i owns blocks extentStart + i * per .. + per - 1.
//                                 Each block: EXTENT_HEADER, then up to 255 EXTENT records.
//                                 Together they hold the inode's extents as one array sorted
//                                 by ee_block, filled block by block (a block holds entries
//                                 only when every earlier block of the inode is full). The
//                                 lab's flat stand-in for ext4's extent tree leaves.
//   journalStart ..               the journal area (journal/ondisk.ts)
//   dataStart ..                  data blocks
//
// Sizes: i_size is 64-bit (two words). Logical block numbers are below FS_MAX_FILE_BLOCKS
// (2^31), so the largest file is 8 TiB (s_maxbytes = 2^31 blocks of 4 KiB) and every word
// stays a non-negative Int32.

import { BLOCK_SIZE, INODE_SIZE, struct, type FsGeometry } from '../machine/layout.js';

export const WORDS_PER_BLOCK = BLOCK_SIZE / 4;
export const BITS_PER_BITMAP_BLOCK = BLOCK_SIZE * 8;

/** "DAXF": the superblock's magic. */
export const FS_MAGIC = 0x44415846;
export const FS_REVISION = 1;

/** Personalities, as the superblock records them (s_personality). */
export const FS_PERSONALITIES = ['ext4', 'ext4-nojournal', 'xfs'] as const;
export type FsPersonality = (typeof FS_PERSONALITIES)[number];
export const PERSONALITY_CODE: Readonly<Record<FsPersonality, number>> = { ext4: 1, 'ext4-nojournal': 2, xfs: 3 };

// ---- what changed in an inode: XFS's inode log flags, also ext4's I_DIRTY_* ----------

/** The inode core (size, block count, mode): XFS_ILOG_CORE; ext4: I_DIRTY_DATASYNC. */
export const XFS_ILOG_CORE = 0x1;
/** The data fork's extents: XFS_ILOG_DEXT; ext4: the block mapping. */
export const XFS_ILOG_DEXT = 0x2;
/** Timestamps only: XFS_ILOG_TIMESTAMP; ext4: I_DIRTY_SYNC. Not needed by fdatasync. */
export const XFS_ILOG_TIMESTAMP = 0x4000;

/** The superblock (struct ext4_super_block, reduced): the geometry the filesystem was made with. */
export const SUPERBLOCK = struct(
  {
    s_magic: 0,
    s_rev_level: 1,
    s_personality: 2,
    s_block_size: 3,
    s_inode_size: 4,
    s_blocks_count: 5,
    s_inodes_count: 6,
    s_extent_blocks_per_inode: 7,
    s_bitmap_start: 8,
    s_bitmap_blocks: 9,
    s_inode_table: 10,
    s_inode_table_blocks: 11,
    s_extent_start: 12,
    s_journal_start: 13,
    s_journal_blocks: 14,
    s_first_data_block: 15,
    s_max_file_blocks: 16,
    s_extents_per_block: 17,
  },
  32,
);

/** An inode record (struct ext4_inode, reduced); i_mode 0 means the record is free. */
export const INODE = struct(
  {
    i_mode: 0,
    i_flags: 1,
    /** i_size, low and high 32 bits. */
    i_size_lo: 2,
    i_size_hi: 3,
    /** Blocks mapped by the inode's extents (written and unwritten), in 4 KiB blocks. */
    i_blocks: 4,
    /** Bumped each time the record is allocated. */
    i_generation: 5,
    /** Last modification, in jiffies (HZ 250: 4 ms ticks of the wall clock, low 31 bits). */
    i_mtime: 6,
  },
  INODE_SIZE / 4,
);
export const S_IFREG = 0x8000;
/** The file-type bits of i_mode (the rest are permissions, which chmod changes). */
export const S_IFMT = 0xf000;
/** i_flags: the inode maps its blocks with extents (EXT4_EXTENTS_FL). */
export const EXT4_EXTENTS_FL = 0x80000;

/** Header of an extent block (struct ext4_extent_header). */
export const EXTENT_HEADER = struct({ eh_magic: 0, eh_entries: 1, eh_max: 2, eh_depth: 3 }, 4);
export const EXT4_EXT_MAGIC = 0xf30a;

/** One extent (struct ext4_extent, widened): ee_len blocks from ee_block map to ee_start.. */
export const EXTENT = struct({ ee_block: 0, ee_start: 1, ee_len: 2, ee_flags: 3 }, 4);
/** ee_flags: the extent is allocated but unwritten: reads see zeroes (ext4's ee_len bit 15). */
export const EXT_UNWRITTEN = 1;
export const EXTENTS_PER_BLOCK = (WORDS_PER_BLOCK - EXTENT_HEADER.stride) / EXTENT.stride;
/** Longest written and unwritten extents (EXT_INIT_MAX_LEN, EXT_UNWRITTEN_MAX_LEN). */
export const EXT_INIT_MAX_LEN = 32768;
export const EXT_UNWRITTEN_MAX_LEN = 32767;

/** Logical blocks are below this; s_maxbytes is FS_MAX_FILE_BLOCKS * BLOCK_SIZE. */
export const FS_MAX_FILE_BLOCKS = 2 ** 31;
export const FS_MAX_BYTES = FS_MAX_FILE_BLOCKS * BLOCK_SIZE;

// ---- addresses: word indices into an Int32Array over a metadata image ------------------

/** Word index of the superblock's first word. */
export function sbWord(g: FsGeometry): number {
  return g.sbBlock * WORDS_PER_BLOCK;
}

/** Block of the inode table that holds inode `ino`. */
export function inodeBlock(g: FsGeometry, ino: number): number {
  return g.inodeTableStart + Math.floor((ino * INODE_SIZE) / BLOCK_SIZE);
}

/** Word index of inode `ino`'s record. */
export function inodeWord(g: FsGeometry, ino: number): number {
  return g.inodeTableStart * WORDS_PER_BLOCK + ino * INODE.stride;
}

/** Block holding inode `ino`'s k-th extent block (0 <= k < extentBlocksPerInode). */
export function extentBlock(g: FsGeometry, ino: number, k: number): number {
  return g.extentStart + ino * g.extentBlocksPerInode + k;
}

/** Word index of extent number `e` of inode `ino` (its record's ee_block word). */
export function extentWord(g: FsGeometry, ino: number, e: number): number {
  const k = Math.floor(e / EXTENTS_PER_BLOCK);
  return extentBlock(g, ino, k) * WORDS_PER_BLOCK + EXTENT_HEADER.stride + (e - k * EXTENTS_PER_BLOCK) * EXTENT.stride;
}

/** Bitmap block that holds device block b's bit. */
export function bitmapBlockOf(g: FsGeometry, b: number): number {
  return g.bitmapStart + Math.floor(b / BITS_PER_BITMAP_BLOCK);
}

/** Word index of the bitmap word holding device block b's bit (bit b & 31). */
export function bitmapWord(g: FsGeometry, b: number): number {
  return g.bitmapStart * WORDS_PER_BLOCK + (b >>> 5);
}

/** Whether device block b is marked in use in the bitmap of `words`. */
export function bitmapTest(words: Int32Array, g: FsGeometry, b: number): boolean {
  return (words[bitmapWord(g, b)] & (1 << (b & 31))) !== 0;
}

/** i_size from its two words. */
export function readSize(words: Int32Array, iw: number): number {
  return (words[iw + INODE.i_size_lo] >>> 0) + words[iw + INODE.i_size_hi] * 2 ** 32;
}

/** Stores i_size into its two words. */
export function writeSize(words: Int32Array, iw: number, size: number): void {
  words[iw + INODE.i_size_lo] = size % 2 ** 32 | 0;
  words[iw + INODE.i_size_hi] = Math.floor(size / 2 ** 32);
}

/** An Int32Array over a whole metadata image (fsMeta or a device image; 4-byte aligned). */
export function imageWords(image: Uint8Array): Int32Array {
  return new Int32Array(image.buffer, image.byteOffset, image.byteLength >>> 2);
}
