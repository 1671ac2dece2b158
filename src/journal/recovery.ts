// Journal recovery (fs/jbd2/recovery.c, and ext4's fast-commit replay): after a crash,
// replay every transaction whose commit block is durable and whose checksum matches,
// ignore the rest, then replay the fast commits of the transaction that followed.
// Works on a raw device image (a crash image) and changes it in place.

import { crc32 } from 'node:zlib';
import { BLOCK_SIZE, INODE_SIZE, type FsGeometry } from '../machine/layout.js';
import {
  EXT4_FC_BLOCK,
  FC_INODE_OFFSET,
  JBD2_COMMIT_BLOCK,
  JBD2_DESCRIPTOR_BLOCK,
  JBD2_MAGIC_NUMBER,
  JCOMMIT,
  JDESC,
  JFC,
  JSB,
  journalAreas,
} from './ondisk.js';
import { fcChecksum } from './commit.js';

export interface RecoveryReport {
  /** Tids of the full transactions replayed. */
  replayed: number[];
  /** Tid of a transaction whose blocks were found but not its valid commit block (0: none). */
  discarded: number;
  /** Inodes restored from fast commits. */
  fastCommits: number;
  /** The tid the journal expects next. */
  nextTid: number;
}

export interface RecoveryHooks {
  /** Called after fast commits were replayed: ext4 rebuilds the block bitmap from the extents then. */
  afterFastCommitReplay?: (image: Uint8Array) => void;
}

function words(image: Uint8Array, block: number): Int32Array {
  return new Int32Array(image.buffer, image.byteOffset + block * BLOCK_SIZE, BLOCK_SIZE / 4);
}

/** jbd2_journal_recover(): replays the journal of a device image; returns what it did. */
export function jbd2_journal_recover(image: Uint8Array, g: FsGeometry, hooks: RecoveryHooks = {}): RecoveryReport {
  const a = journalAreas(g);
  const sb = words(image, a.sb);
  if (sb[JSB.magic] !== JBD2_MAGIC_NUMBER) throw new Error('jbd2_journal_recover: no journal superblock (bad magic)');
  let tid = sb[JSB.s_sequence];
  const report: RecoveryReport = { replayed: [], discarded: 0, fastCommits: 0, nextTid: tid };

  // PASS_SCAN + PASS_REPLAY of the one full transaction the journal can hold.
  let at = a.first;
  const homes: number[] = [];
  const copies: number[] = [];
  let committed = false;
  while (at < a.fcFirst) {
    const w = words(image, at);
    if (w[JDESC.magic] !== JBD2_MAGIC_NUMBER || w[JDESC.tid] !== tid) break;
    if (w[JDESC.blocktype] === JBD2_DESCRIPTOR_BLOCK) {
      const count = w[JDESC.count];
      for (let i = 0; i < count && at + 1 + i < a.fcFirst; i++) {
        homes.push(w[JDESC.tags + i]);
        copies.push(at + 1 + i);
      }
      at += 1 + count;
      continue;
    }
    if (w[JDESC.blocktype] === JBD2_COMMIT_BLOCK) {
      let c = 0;
      for (const b of copies) c = crc32(image.subarray(b * BLOCK_SIZE, (b + 1) * BLOCK_SIZE), c);
      committed = w[JCOMMIT.count] === copies.length && (c | 0) === w[JCOMMIT.checksum];
    }
    break;
  }
  if (committed) {
    for (let i = 0; i < homes.length; i++) image.copyWithin(homes[i] * BLOCK_SIZE, copies[i] * BLOCK_SIZE, (copies[i] + 1) * BLOCK_SIZE);
    report.replayed.push(tid);
    tid++;
  } else if (homes.length > 0) {
    report.discarded = tid;
  }

  // Fast commits of the transaction after the last full one, in order, up to the first bad record.
  const per = g.extentBlocksPerInode;
  at = a.fcFirst;
  while (at < a.fcFirst + a.fcBlocks) {
    const w = words(image, at);
    if (w[JFC.magic] !== JBD2_MAGIC_NUMBER || w[JFC.blocktype] !== EXT4_FC_BLOCK || w[JFC.tid] !== tid) break;
    const count = w[JFC.count];
    if (count !== per || at + count >= a.fcFirst + a.fcBlocks) break;
    if (fcChecksum(image, at, count) !== w[JFC.checksum]) break;
    const ino = w[JFC.ino];
    const rec = g.inodeTableStart * BLOCK_SIZE + ino * INODE_SIZE;
    image.copyWithin(rec, at * BLOCK_SIZE + FC_INODE_OFFSET, at * BLOCK_SIZE + FC_INODE_OFFSET + INODE_SIZE);
    for (let k = 0; k < count; k++) {
      const home = w[JFC.tags + k];
      image.copyWithin(home * BLOCK_SIZE, (at + 1 + k) * BLOCK_SIZE, (at + 2 + k) * BLOCK_SIZE);
    }
    report.fastCommits++;
    at += 1 + count;
  }
  if (report.fastCommits > 0) hooks.afterFastCommitReplay?.(image);

  // The journal is clean again: it expects the next tid.
  sb[JSB.s_sequence] = tid;
  report.nextTid = tid;
  return report;
}

