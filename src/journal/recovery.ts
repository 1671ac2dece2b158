// Journal recovery (fs/jbd2/recovery.c, and ext4's fast-commit replay): after a crash,
// replay every transaction from the log's tail (the superblock's s_start and s_sequence) on
// around the ring whose commit block is durable and whose checksum matches, in order, and
// stop at the first that is not; then replay the fast commits of the transaction that
// followed the last one replayed. Works on a raw device image (a crash image) and changes it
// in place.

import { crc32 } from 'node:zlib';
import { BLOCK_SIZE, INODE_SIZE, type FsGeometry } from '../machine/layout.js';
import { FC_TAG, JBD2_COMMIT_BLOCK, JBD2_DESCRIPTOR_BLOCK, JBD2_MAGIC_NUMBER, JCOMMIT, JDESC, JSB, journalAreas, logBlock } from './ondisk.js';
import { readFastCommits } from './fc_records.js';

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
  const start = sb[JSB.s_start] - a.first;
  if (!(start >= 0 && start < a.fullBlocks)) throw new Error(`jbd2_journal_recover: s_start ${sb[JSB.s_start]} is outside the log`);
  const report: RecoveryReport = { replayed: [], discarded: 0, fastCommits: 0, nextTid: tid };

  // PASS_SCAN: the committed transactions from the tail on, each a run of descriptors and
  // copies closed by its commit block, never more than the log holds in all.
  const found: { homes: number[]; copies: number[] }[] = [];
  let rel = start;
  let scanned = 0;
  scan: while (scanned < a.fullBlocks) {
    const homes: number[] = [];
    const copies: number[] = [];
    for (;;) {
      if (scanned >= a.fullBlocks) break scan;
      const at = logBlock(a, rel);
      const w = words(image, at);
      if (w[JDESC.magic] !== JBD2_MAGIC_NUMBER || w[JDESC.tid] !== tid) {
        if (homes.length > 0) report.discarded = tid;
        break scan;
      }
      if (w[JDESC.blocktype] === JBD2_DESCRIPTOR_BLOCK) {
        const count = w[JDESC.count];
        for (let i = 0; i < count; i++) {
          homes.push(w[JDESC.tags + i]);
          copies.push(logBlock(a, rel + 1 + i));
        }
        rel += 1 + count;
        scanned += 1 + count;
        continue;
      }
      if (w[JDESC.blocktype] !== JBD2_COMMIT_BLOCK) break scan;
      let c = 0;
      for (const b of copies) c = crc32(image.subarray(b * BLOCK_SIZE, (b + 1) * BLOCK_SIZE), c);
      if (w[JCOMMIT.count] !== copies.length || (c | 0) !== w[JCOMMIT.checksum]) {
        report.discarded = tid;
        break scan;
      }
      found.push({ homes, copies });
      rel += 1;
      scanned += 1;
      tid++;
      break;
    }
  }
  // PASS_REPLAY: in log order, so a block logged again later ends with its later copy.
  for (const [i, t] of found.entries()) {
    for (let k = 0; k < t.homes.length; k++) {
      image.copyWithin(t.homes[k] * BLOCK_SIZE, t.copies[k] * BLOCK_SIZE, (t.copies[k] + 1) * BLOCK_SIZE);
    }
    report.replayed.push(sb[JSB.s_sequence] + i);
  }

  // Fast commits of the transaction after the last full one, in order, up to the first bad one.
  const area = image.subarray(a.fcFirst * BLOCK_SIZE, (a.fcFirst + a.fcBlocks) * BLOCK_SIZE);
  for (const records of readFastCommits(area, a.fcBlocks, tid)) {
    for (const r of records) {
      if (r.tag === FC_TAG.INODE) {
        image.set(r.record.subarray(0, INODE_SIZE), g.inodeTableStart * BLOCK_SIZE + r.ino * INODE_SIZE);
        report.fastCommits++;
      } else {
        // An extent block's chunks come in order: the first clears what the block held.
        const home = new Int32Array(image.buffer, image.byteOffset + r.home * BLOCK_SIZE, BLOCK_SIZE / 4);
        if (r.first === 0) home.fill(0);
        home.set(r.words, r.first);
      }
    }
  }
  if (report.fastCommits > 0) hooks.afterFastCommitReplay?.(image);

  // The journal is clean again: it expects the next tid, from the log's first block.
  sb[JSB.s_start] = a.first;
  sb[JSB.s_sequence] = tid;
  report.nextTid = tid;
  return report;
}
