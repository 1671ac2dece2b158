// The fast-commit area's records (ondisk.ts FC_TAG): packing them into blocks as a fast
// commit writes them (ext4_fc_add_tlv / ext4_fc_write_tail) and reading them back at
// recovery (ext4_fc_replay_scan). A record never crosses a block; a fast commit starts on a
// fresh block and its TAIL's crc covers every byte of it before the crc.

import { crc32 } from 'node:zlib';
import { BLOCK_SIZE } from '../machine/layout.js';
import { FC_TAG, FC_TLV_WORDS, JBD2_MAGIC_NUMBER } from './ondisk.js';

const BLOCK_WORDS = BLOCK_SIZE / 4;

/** Builds one fast commit's blocks in `buf` (whole blocks, from its start); full() once it would pass `capacity` blocks. */
export class FcWriter {
  private readonly words: Int32Array;
  /** Next free word. */
  private at = 0;
  private overflow = false;

  constructor(buf: Uint8Array, capacity: number) {
    this.words = new Int32Array(buf.buffer, buf.byteOffset, Math.min(buf.length, capacity * BLOCK_SIZE) >> 2);
  }

  /** Whether a record did not fit the blocks allowed: the fast commit cannot be written (ext4's -ENOSPC). */
  get full(): boolean {
    return this.overflow;
  }

  /** Blocks used so far (a started block counts). */
  get blocks(): number {
    return Math.ceil(this.at / BLOCK_WORDS);
  }

  /** Room for a value of `n` words in the current block, padding to the next one if needed; false when out of blocks. */
  private reserve(n: number): boolean {
    if (this.overflow) return false;
    const need = FC_TLV_WORDS + n;
    if (need > BLOCK_WORDS) throw new RangeError(`fast commit: a record of ${n} words cannot fit a block`);
    const left = BLOCK_WORDS - (this.at % BLOCK_WORDS);
    if (need > left) {
      if (this.at + left > this.words.length) {
        this.overflow = true;
        return false;
      }
      // EXT4_FC_TAG_PAD: the rest of this block (a lone word left over is zero).
      if (left >= FC_TLV_WORDS) this.put(FC_TAG.PAD, left - FC_TLV_WORDS);
      else {
        this.words.fill(0, this.at, this.at + left);
        this.at += left;
      }
    }
    if (this.at + need > this.words.length) {
      this.overflow = true;
      return false;
    }
    return true;
  }

  /** Writes a record header; the caller writes its n value words at the returned index. */
  private put(tag: number, n: number): number {
    this.words[this.at] = tag;
    this.words[this.at + 1] = n;
    const value = this.at + FC_TLV_WORDS;
    if (tag === FC_TAG.PAD) this.words.fill(0, value, value + n);
    this.at = value + n;
    return value;
  }

  head(tid: number): void {
    if (!this.reserve(2)) return;
    const v = this.put(FC_TAG.HEAD, 2);
    this.words[v] = JBD2_MAGIC_NUMBER;
    this.words[v + 1] = tid;
  }

  /** INODE: the inode's number, the fcSeq it commits and its on-disk record (`record`, 4-byte aligned). */
  inode(ino: number, seq: number, record: Uint8Array): void {
    const n = 2 + (record.length >> 2);
    if (!this.reserve(n)) return;
    const v = this.put(FC_TAG.INODE, n);
    this.words[v] = ino;
    this.words[v + 1] = seq;
    new Uint8Array(this.words.buffer, this.words.byteOffset + (v + 2) * 4, record.length).set(record);
  }

  /** EXT chunks: words `src` of home block `home` (its header and used entries), split where a block ends. */
  ext(home: number, src: Int32Array): void {
    let first = 0;
    while (first < src.length && !this.overflow) {
      const left = BLOCK_WORDS - (this.at % BLOCK_WORDS) - FC_TLV_WORDS - 2;
      // Start on a fresh block rather than split off a sliver.
      const n = Math.min(src.length - first, left >= 8 ? left : BLOCK_WORDS - FC_TLV_WORDS - 2);
      if (!this.reserve(2 + n)) return;
      const v = this.put(FC_TAG.EXT, 2 + n);
      this.words[v] = home;
      this.words[v + 1] = first;
      this.words.set(src.subarray(first, first + n), v + 2);
      first += n;
    }
  }

  /** TAIL: the tid and a crc32 of every byte before the crc; the rest of its block is zeroed. Returns the blocks the fast commit takes. */
  tail(tid: number): number {
    if (!this.reserve(2)) return 0;
    const v = this.put(FC_TAG.TAIL, 2);
    this.words[v] = tid;
    this.words[v + 1] = crc32(new Uint8Array(this.words.buffer, this.words.byteOffset, (v + 1) * 4)) | 0;
    const end = this.blocks * BLOCK_WORDS;
    this.words.fill(0, this.at, end);
    this.at = end;
    return this.blocks;
  }
}

/** One replayable record of a fast commit. */
export type FcRecord = { tag: typeof FC_TAG.INODE; ino: number; seq: number; record: Uint8Array } | { tag: typeof FC_TAG.EXT; home: number; first: number; words: Int32Array };

/**
 * Reads the fast commits of transaction `tid` from the area's `blocks` blocks (a view of the
 * image), in order, up to the first that is not whole and valid (ext4_fc_replay_scan): each
 * one's records, for replay.
 */
export function readFastCommits(area: Uint8Array, blocks: number, tid: number): FcRecord[][] {
  const words = new Int32Array(area.buffer, area.byteOffset, (blocks * BLOCK_SIZE) >> 2);
  const out: FcRecord[][] = [];
  let start = 0;
  while (start + FC_TLV_WORDS <= words.length) {
    if (words[start] !== FC_TAG.HEAD || words[start + 1] !== 2 || words[start + 2] !== JBD2_MAGIC_NUMBER || words[start + 3] !== tid) break;
    const records: FcRecord[] = [];
    let at = start + FC_TLV_WORDS + 2;
    let end = -1;
    while (at + FC_TLV_WORDS <= words.length) {
      const tag = words[at];
      const n = words[at + 1];
      const v = at + FC_TLV_WORDS;
      // A record that runs past the area or across a block is no record: the fast commit is torn.
      if (n < 0 || v + n > words.length || (n > 0 && Math.floor(at / BLOCK_WORDS) !== Math.floor((v + n - 1) / BLOCK_WORDS))) break;
      if (tag === FC_TAG.TAIL) {
        const ok = n === 2 && words[v] === tid && (crc32(new Uint8Array(words.buffer, words.byteOffset + start * 4, (v + 1 - start) * 4)) | 0) === words[v + 1];
        if (ok) end = Math.ceil((v + n) / BLOCK_WORDS) * BLOCK_WORDS;
        break;
      }
      if (tag === FC_TAG.INODE && n >= 2) {
        records.push({ tag, ino: words[v], seq: words[v + 1], record: new Uint8Array(words.buffer, words.byteOffset + (v + 2) * 4, (n - 2) * 4) });
      } else if (tag === FC_TAG.EXT && n >= 2) {
        records.push({ tag, home: words[v], first: words[v + 1], words: words.subarray(v + 2, v + n) });
      } else if (tag === FC_TAG.PAD) {
        // the rest of the block
      } else {
        break;
      }
      at = v + n;
      // A record ends where its block ends: the next starts at the following block.
      if (at % BLOCK_WORDS !== 0 && BLOCK_WORDS - (at % BLOCK_WORDS) < FC_TLV_WORDS) at = Math.ceil(at / BLOCK_WORDS) * BLOCK_WORDS;
    }
    if (end < 0) break;
    out.push(records);
    start = end;
  }
  return out;
}
