// The journal's on-device format, inside the journal area fsGeometry() places on the
// PMEM device (fs/jbd2: journal superblock, descriptor, commit and fast-commit blocks).
//
//   block 0                      journal superblock: where replay starts (s_start: the
//                                device block of the oldest transaction still in the log)
//                                and the tid it expects there (s_sequence)
//   blocks 1 .. fcStart-1        the log, a ring (j_first .. j_last): full commits one after
//                                another, each a descriptor (magic, tid, home block numbers),
//                                the metadata blocks' copies and a commit block (tid, crc32);
//                                a transaction may wrap from the last block to the first
//   blocks fcStart .. end        fast commits of the running transaction, one after another,
//                                each a run of packed records (FC_TAG below) ending in a
//                                checksummed tail
//
// Words are little-endian 32-bit, read and written through Int32 views of 4 KiB blocks.

import { BLOCK_SIZE, struct, type FsGeometry } from '../machine/layout.js';

export const JBD2_MAGIC_NUMBER = 0xc03b3998 | 0;
export const JBD2_DESCRIPTOR_BLOCK = 1;
export const JBD2_COMMIT_BLOCK = 2;
export const JBD2_SUPERBLOCK_V2 = 4;

/** Journal superblock (journal_superblock_t). */
export const JSB = struct({ magic: 0, blocktype: 1, s_start: 2, s_sequence: 3, s_maxlen: 4, s_fc_start: 5 }, 8);

/** Descriptor block: header, then `count` home block numbers (journal_block_tag_t). */
export const JDESC = struct({ magic: 0, blocktype: 1, tid: 2, count: 3, tags: 4 }, 4);
export const JDESC_MAX_TAGS = BLOCK_SIZE / 4 - JDESC.tags;

/** Commit block (struct commit_header): crc32 over the transaction's metadata copies. */
export const JCOMMIT = struct({ magic: 0, blocktype: 1, tid: 2, count: 3, checksum: 4 }, 8);

/**
 * Fast-commit records (ext4's EXT4_FC_TAG_* tag-length-value records, in the lab's words):
 * [tag, length of the value in words, value...], packed into the area's blocks, never one
 * across two blocks (PAD fills the rest of a block). A fast commit is HEAD (magic, tid), then
 * per inode INODE (ino, fcSeq, its 256-byte record) and EXT chunks (home block, first word,
 * the words: an extent block's header and used entries), then TAIL (tid, crc32 of every byte
 * of the fast commit before the crc), which ends its block; the next starts on a fresh one.
 */
export const FC_TAG = { HEAD: 1, INODE: 2, EXT: 3, PAD: 4, TAIL: 5 } as const;
/** Words of a record's tag and length. */
export const FC_TLV_WORDS = 2;

export interface JournalAreas {
  /** Device block of the journal superblock. */
  sb: number;
  /** First block of the full-commit area. */
  first: number;
  /** Blocks in the full-commit area. */
  fullBlocks: number;
  /** First block of the fast-commit area. */
  fcFirst: number;
  fcBlocks: number;
}

/**
 * Splits the journal area: the journal proper, then its fast-commit area (j_fc_first ..
 * j_fc_last), 1/64 of the journal proper as mke2fs -O fast_commit adds it
 * (EXT2_JOURNAL_TO_FC_BLKS_RATIO), at least 4 blocks.
 */
export function journalAreas(g: FsGeometry): JournalAreas {
  const fcBlocks = Math.max(4, Math.floor(g.journalBlocks / 65));
  const first = g.journalStart + 1;
  const fcFirst = g.journalStart + g.journalBlocks - fcBlocks;
  return { sb: g.journalStart, first, fullBlocks: fcFirst - first, fcFirst, fcBlocks };
}

/** Journal blocks a full commit of n metadata blocks writes: its descriptors, the n copies and the commit block. */
export function fullCommitBlocks(n: number): number {
  return n + Math.ceil(n / JDESC_MAX_TAGS) + 1;
}

/**
 * j_max_transaction_buffers: the most metadata blocks a transaction may hold, a quarter of
 * the journal less its fast-commit area (jbd2_journal_get_max_txn_bufs(); 4.14 had no
 * fast-commit area and took j_maxlen / 4), so that the log holds several transactions.
 */
export function maxTransactionBuffers(a: JournalAreas): number {
  return Math.floor((a.fullBlocks + 1) / 4);
}

/** The device block of log block `rel` (relative to the log's first block; wraps, as jbd2_journal_next_log_block() does at j_last). */
export function logBlock(a: JournalAreas, rel: number): number {
  return a.first + (rel % a.fullBlocks);
}
