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
//   blocks fcStart .. end        fast commits of the running transaction: per inode a header
//                                block (tid, inode, its inode record, the home blocks that
//                                follow, crc32) then copies of those extent blocks
//
// Words are little-endian 32-bit, read and written through Int32 views of 4 KiB blocks.

import { BLOCK_SIZE, struct, type FsGeometry } from '../machine/layout.js';

export const JBD2_MAGIC_NUMBER = 0xc03b3998 | 0;
export const JBD2_DESCRIPTOR_BLOCK = 1;
export const JBD2_COMMIT_BLOCK = 2;
export const JBD2_SUPERBLOCK_V2 = 4;
export const EXT4_FC_BLOCK = 0x4643; // "FC"

/** Journal superblock (journal_superblock_t). */
export const JSB = struct({ magic: 0, blocktype: 1, s_start: 2, s_sequence: 3, s_maxlen: 4, s_fc_start: 5 }, 8);

/** Descriptor block: header, then `count` home block numbers (journal_block_tag_t). */
export const JDESC = struct({ magic: 0, blocktype: 1, tid: 2, count: 3, tags: 4 }, 4);
export const JDESC_MAX_TAGS = BLOCK_SIZE / 4 - JDESC.tags;

/** Commit block (struct commit_header): crc32 over the transaction's metadata copies. */
export const JCOMMIT = struct({ magic: 0, blocktype: 1, tid: 2, count: 3, checksum: 4 }, 8);

/** Fast-commit header block: `count` extent blocks follow, their home blocks in the tags; the inode record is at byte FC_INODE_OFFSET. */
export const JFC = struct({ magic: 0, blocktype: 1, tid: 2, ino: 3, count: 4, checksum: 5, seq: 6, tags: 8 }, 8);
export const FC_INODE_OFFSET = 512;
export const JFC_MAX_TAGS = (FC_INODE_OFFSET >> 2) - JFC.tags;

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

/** Splits the journal area: an eighth (at least 4 blocks) for fast commits, as ext4 reserves j_fc_wbufsize. */
export function journalAreas(g: FsGeometry): JournalAreas {
  const fcBlocks = Math.max(4, Math.floor(g.journalBlocks / 8));
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
