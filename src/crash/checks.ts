// Recovery and the invariants a recovered crash image must hold. Recovery is what a reboot
// does: journal replay (jbd2_journal_recover, with ext4's fast-commit bitmap rebuild), then
// the filesystem's own checks (fsck). Then, against the ledger of what the run promised
// (content.ts) and the MAP_SYNC pages writable at the crash:
//   1. sync-lost            a line whose fsync, fdatasync or msync returned holds an older
//                           version than the one written before the call (or is gone);
//   2. mapsync-unreachable  a page writable through a MAP_SYNC mapping is not reached by the
//                           recovered file's written extents at the block it was mapped to;
//      mapsync-lost         a line flushed from userspace (flushUser) through such a mapping
//                           holds an older version than the one flushed;
//   3. fsck                 the recovered filesystem fails the checker (overlapping or
//                           multiply-claimed extents, a bitmap that does not match them, ...);
//   4. foreign-content      a line of a tracked file shows what was never written there:
//                           another file's or another line's stamp (stale data in a newly
//                           allocated block), a version never issued, or bytes that are no stamp;
//      torn-line            a line whose stamp is half one store and half another, where a
//                           64-byte line is all-or-nothing in the model.
// Violations are counted per page (a page's first bad line is its example), per image.

import { BLOCK_SIZE, CACHELINE, PAGE_SIZE, type FsGeometry } from '../machine/layout.js';
import { jbd2_journal_recover } from '../journal/recovery.js';
import { ext4_fc_set_bitmaps_and_counters, fsck } from '../fs/fsck.js';
import {
  EXT4_EXT_MAGIC,
  EXTENT,
  EXTENTS_PER_BLOCK,
  bitmapWord,
  EXTENT_HEADER,
  EXT_UNWRITTEN,
  INODE,
  WORDS_PER_BLOCK,
  extentBlock,
  extentWord,
  imageWords,
  inodeWord,
  readSize,
  type FsPersonality,
} from '../fs/ondisk.js';
import { PROMISE_FLUSH, STAMP_WORDS, readLine, type Ledger, type LedgerFile, type LineRead } from './content.js';
import { personalityOps } from '../fs/personality_ops.js';

export const VIOLATION_KINDS = ['sync-lost', 'mapsync-unreachable', 'mapsync-lost', 'fsck', 'foreign-content', 'torn-line'] as const;
export type ViolationKind = (typeof VIOLATION_KINDS)[number];

export interface Violation {
  kind: ViolationKind;
  detail: string;
}

/** A page writable through a MAP_SYNC mapping at the crash: file page `page` of `ino`, mapped to block `pfn`. */
export interface SyncPage {
  ino: number;
  page: number;
  pfn: number;
}

export interface Expectations {
  ledger: Ledger;
  syncPages: readonly SyncPage[];
  /** A lazily built image (image.ts SparseImage) makes each data block readable before it is read. */
  ensureBlock?: (block: number) => void;
}

/**
 * A reboot's recovery of an image, in place: journal replay when the personality has a
 * journal, then the orphan cleanup of mount (orphanCleanup). Returns a failure, or null.
 */
export function recoverImage(image: Uint8Array, g: FsGeometry, personality: FsPersonality): string | null {
  if (personalityOps(personality).makesJournal) {
    try {
      jbd2_journal_recover(image, g, { afterFastCommitReplay: (img) => ext4_fc_set_bitmaps_and_counters(img, g) });
    } catch (e) {
      return `journal recovery failed: ${(e as Error).message}`;
    }
  }
  orphanCleanup(image, g);
  return null;
}

/**
 * ext4_orphan_cleanup() at mount: an extending write allocates its blocks in one handle and
 * sets i_size in another (ext4_iomap_begin / ext4_dax_write_iter's size update), and ext4
 * puts the inode on the orphan list in between, so that a crash there has the blocks past
 * i_size truncated at the next mount. The lab keeps no orphan list; nothing but an
 * extending write in flight leaves written blocks past i_size, so every such inode is one
 * the list would hold: its written extents are cut at i_size and the blocks freed. (XFS
 * frees post-EOF blocks of such an inode the same way: xfs_inactive's xfs_free_eofblocks.)
 * Unwritten extents past i_size stay: fallocate with KEEP_SIZE makes them.
 */
export function orphanCleanup(image: Uint8Array, g: FsGeometry): number {
  const w = imageWords(image);
  let freed = 0;
  for (let ino = 0; ino < g.inodes; ino++) {
    const iw = inodeWord(g, ino);
    if (w[iw + INODE.i_mode] === 0) continue;
    const sizeBlocks = Math.ceil(readSize(w, iw) / BLOCK_SIZE);
    const n = extentCount(w, g, ino);
    if (n < 0) continue; // a bad header: the checker reports it
    const keep: number[][] = [];
    let cut = 0;
    for (let e = 0; e < n; e++) {
      const x = extentWord(g, ino, e);
      const [lblk, pblk, len, flags] = [w[x + EXTENT.ee_block], w[x + EXTENT.ee_start], w[x + EXTENT.ee_len], w[x + EXTENT.ee_flags]];
      const over = (flags & EXT_UNWRITTEN) === 0 && len >= 1 ? lblk + len - Math.max(lblk, sizeBlocks) : 0;
      if (over <= 0 || pblk < g.dataStart || pblk + len > g.nblocks) {
        keep.push([lblk, pblk, len, flags]);
        continue;
      }
      for (let b = pblk + len - over; b < pblk + len; b++) w[bitmapWord(g, b)] &= ~(1 << (b & 31));
      cut += over;
      if (len > over) keep.push([lblk, pblk, len - over, flags]);
    }
    if (cut === 0) continue;
    freed += cut;
    for (let e = 0; e < keep.length; e++) {
      const x = extentWord(g, ino, e);
      [w[x + EXTENT.ee_block], w[x + EXTENT.ee_start], w[x + EXTENT.ee_len], w[x + EXTENT.ee_flags]] = keep[e];
    }
    for (let k = 0; k < g.extentBlocksPerInode; k++) {
      w[extentBlock(g, ino, k) * WORDS_PER_BLOCK + EXTENT_HEADER.eh_entries] = Math.max(0, Math.min(EXTENTS_PER_BLOCK, keep.length - k * EXTENTS_PER_BLOCK));
    }
    w[iw + INODE.i_blocks] -= cut;
  }
  return freed;
}

/** Extents an inode's headers count (-1 when a header is bad). */
function extentCount(w: Int32Array, g: FsGeometry, ino: number): number {
  let n = 0;
  for (let k = 0; k < g.extentBlocksPerInode; k++) {
    const h = extentBlock(g, ino, k) * WORDS_PER_BLOCK;
    const entries = w[h + EXTENT_HEADER.eh_entries];
    if (w[h + EXTENT_HEADER.eh_magic] !== EXT4_EXT_MAGIC || !(entries >= 0 && entries <= EXTENTS_PER_BLOCK)) return -1;
    n += entries;
    if (entries < EXTENTS_PER_BLOCK) break;
  }
  return n;
}

/** Recovers a crash image (in place) and checks every invariant; [] when it holds them all. */
export function recoverAndCheck(image: Uint8Array, g: FsGeometry, personality: FsPersonality, exp: Expectations): Violation[] {
  const failed = recoverImage(image, g, personality);
  if (failed !== null) return [{ kind: 'fsck', detail: failed }];
  return checkRecovered(image, g, personality, exp);
}

/** The invariants on an image already recovered. */
export function checkRecovered(image: Uint8Array, g: FsGeometry, personality: FsPersonality, exp: Expectations): Violation[] {
  const out: Violation[] = [];
  // ext4 without a journal leaks blocks at a crash by design; e2fsck frees them (fsck.ts).
  for (const m of fsck(image, g, { allowLeakedBlocks: personalityOps(personality).allowsLeakedBlocks, maxReports: 20 })) out.push({ kind: 'fsck', detail: m });
  const w = imageWords(image);
  const files = new Map<number, FileMap>();
  const mapOf = (ino: number) => {
    let m = files.get(ino);
    if (m === undefined) files.set(ino, (m = fileMap(w, g, ino)));
    return m;
  };
  for (const p of exp.syncPages) {
    const m = mapOf(p.ino);
    const at = m.lookup(p.page);
    const why =
      !m.allocated ? 'the inode is free' :
      p.page >= Math.ceil(m.size / PAGE_SIZE) ? `it is past i_size ${m.size}` :
      at === null ? 'no extent maps it' :
      at.unwritten ? `its extent is unwritten (block ${at.pblk})` :
      at.pblk !== p.pfn ? `its extent maps block ${at.pblk}, not ${p.pfn}` : null;
    if (why !== null) out.push({ kind: 'mapsync-unreachable', detail: `inode ${p.ino} page ${p.page} (writable through MAP_SYNC at block ${p.pfn}): ${why}` });
  }
  const r: LineRead = { kind: 'zero', ino: 0, line: 0, version: 0 };
  for (const f of exp.ledger.files) checkFile(w, mapOf(f.ino), f, exp.ledger, r, out, exp.ensureBlock);
  return out;
}

const LINES_PER_PAGE = PAGE_SIZE / CACHELINE;

function checkFile(w: Int32Array, m: FileMap, f: LedgerFile, ledger: Ledger, r: LineRead, out: Violation[], ensureBlock?: (b: number) => void): void {
  const fillWord = f.fill === null ? null : (f.fill * 0x01010101) | 0;
  const pages = Math.ceil(f.lines / LINES_PER_PAGE);
  const sizePages = m.allocated ? Math.ceil(m.size / PAGE_SIZE) : 0;
  for (let page = 0; page < pages; page++) {
    const at = page < sizePages ? m.lookup(page) : null;
    const block = at !== null && !at.unwritten && at.pblk >= 0 && (at.pblk + 1) * (BLOCK_SIZE / 4) <= w.length ? at.pblk : -1;
    if (block >= 0) ensureBlock?.(block);
    let promiseBad: Violation | null = null;
    let contentBad: Violation | null = null;
    for (let k = 0; k < LINES_PER_PAGE; k++) {
      const line = page * LINES_PER_PAGE + k;
      if (line >= f.lines) break;
      const i = f.base + line;
      const promised = ledger.promised[i];
      let version = 0;
      if (block >= 0) {
        const kind = readLine(w, block * (BLOCK_SIZE / 4) + k * STAMP_WORDS, fillWord, r);
        if (kind === 'stamp' && r.ino === f.ino && r.line === line && r.version <= ledger.issued[i]) version = r.version;
        else if (kind !== 'zero' && kind !== 'fill' && contentBad === null) {
          const what =
            kind === 'torn' ? 'a torn stamp' :
            kind === 'foreign' ? 'bytes that are no stamp' :
            r.ino !== f.ino ? `inode ${r.ino}'s line ${r.line} (version ${r.version})` :
            r.line !== line ? `its own line ${r.line} (version ${r.version})` : `version ${r.version}, never issued (last ${ledger.issued[i]})`;
          contentBad = { kind: kind === 'torn' ? 'torn-line' : 'foreign-content', detail: `${f.name} (inode ${f.ino}) page ${page} line ${k} at block ${block}: holds ${what}` };
        }
      }
      if (promised > version && promiseBad === null) {
        const flushed = ledger.how[i] === PROMISE_FLUSH;
        const where = block >= 0 ? `holds version ${version}` : !m.allocated ? 'the inode is free' : page >= sizePages ? `past i_size ${m.size}` : at === null ? 'a hole' : 'an unwritten extent';
        promiseBad = {
          kind: flushed ? 'mapsync-lost' : 'sync-lost',
          detail: `${f.name} (inode ${f.ino}) page ${page} line ${k}: ${flushed ? 'flushed from userspace' : 'synced'} at version ${promised}, ${where}`,
        };
      }
    }
    if (promiseBad !== null) out.push(promiseBad);
    if (contentBad !== null) out.push(contentBad);
  }
}

interface Extent {
  lblk: number;
  pblk: number;
  len: number;
  unwritten: boolean;
}

interface FileMap {
  allocated: boolean;
  size: number;
  lookup(page: number): { pblk: number; unwritten: boolean } | null;
}

/** An inode's extents as the image holds them (extent blocks the checker rejects end the list). */
export function fileMap(w: Int32Array, g: FsGeometry, ino: number): FileMap {
  const iw = inodeWord(g, ino);
  const allocated = w[iw + INODE.i_mode] !== 0;
  const size = readSize(w, iw);
  const list: Extent[] = [];
  if (allocated) {
    let n = 0;
    for (let k = 0; k < g.extentBlocksPerInode; k++) {
      const entries = w[extentBlock(g, ino, k) * WORDS_PER_BLOCK + EXTENT_HEADER.eh_entries];
      if (!(entries >= 0 && entries <= EXTENTS_PER_BLOCK)) break;
      n += entries;
      if (entries < EXTENTS_PER_BLOCK) break;
    }
    for (let e = 0; e < n; e++) {
      const x = extentWord(g, ino, e);
      const len = w[x + EXTENT.ee_len];
      if (len < 1) continue;
      list.push({ lblk: w[x + EXTENT.ee_block], pblk: w[x + EXTENT.ee_start], len, unwritten: (w[x + EXTENT.ee_flags] & EXT_UNWRITTEN) !== 0 });
    }
  }
  return {
    allocated,
    size,
    lookup(page) {
      for (const e of list) if (page >= e.lblk && page < e.lblk + e.len) return { pblk: e.pblk + page - e.lblk, unwritten: e.unwritten };
      return null;
    },
  };
}

/** Violations counted by kind (every kind present, 0 when none). */
export function countByKind(vs: readonly Violation[]): Record<ViolationKind, number> {
  const out = Object.fromEntries(VIOLATION_KINDS.map((k) => [k, 0])) as Record<ViolationKind, number>;
  for (const v of vs) out[v.kind]++;
  return out;
}
