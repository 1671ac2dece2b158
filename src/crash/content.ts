// Self-describing content for crashtest: every store a crashtest run makes writes whole
// 64-byte lines, each a stamp naming the file (inode), the line's index in the file, the
// version of that line and a checksum over all of it. A recovered image can then be read
// line by line without knowing the run: a zero line is a hole or a block never written, a
// stamp of this file and line is data the run wrote (its version says how recent), and
// anything else is content that was never written to that place: stale data of another
// file, or a line whose bytes come from two different stores (torn).
//
// The ledger beside the stamps (a SharedArrayBuffer every CPU of the run maps) records,
// per line of each tracked file, the version last issued to a store (`issued`), the latest
// whose store returned (`written`), the version a completed fsync, fdatasync, msync or
// userspace flush promised durable (`promised`, with `how` naming the promise), and how many
// truncates or punches took the line away (`revoked`): a sync that began before one promises
// nothing for the line, since it may have passed the line before it was written again. A line's
// versions only grow: one CPU writes each line (the crash workloads give every writer its
// own file or its own lines), so a promise of version v is kept by any stamp >= v.

import { CACHELINE } from '../machine/layout.js';

export const STAMP_MAGIC = 0x5da7a11c;
/** Words of a stamp (one cache line). */
export const STAMP_WORDS = CACHELINE / 4;
const W_MAGIC = 0;
const W_INO = 1;
const W_LINE = 2;
const W_VERSION = 3;
const W_SUM = 4;

/** How a line's promise was made: a sync call returned, or a userspace flush (MAP_SYNC) did. */
export const PROMISE_SYNC = 1;
export const PROMISE_FLUSH = 2;

/** The checksum of a stamp's identity; the words after it are derived from it, so a line mixing two stamps fails. */
function stampSum(ino: number, line: number, version: number): number {
  let h = Math.imul(STAMP_MAGIC ^ ino, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15) ^ line, 0x85ebca77);
  h = Math.imul(h ^ (h >>> 13) ^ version, 0xc2b2ae3d);
  return (h ^ (h >>> 16)) | 0;
}

/** Writes the stamp of (ino, line, version) into words [at, at + 16) of w. */
export function writeStamp(w: Int32Array, at: number, ino: number, line: number, version: number): void {
  const sum = stampSum(ino, line, version);
  w[at + W_MAGIC] = STAMP_MAGIC;
  w[at + W_INO] = ino;
  w[at + W_LINE] = line;
  w[at + W_VERSION] = version;
  w[at + W_SUM] = sum;
  for (let i = W_SUM + 1; i < STAMP_WORDS; i++) w[at + i] = Math.imul(sum ^ i, 0x27d4eb2d) | 0;
}

/** A fresh line of content: the stamp as bytes (a store's source). */
export function stampLine(ino: number, line: number, version: number): Uint8Array {
  const b = new Uint8Array(CACHELINE);
  writeStamp(new Int32Array(b.buffer), 0, ino, line, version);
  return b;
}

export type LineKind = 'zero' | 'stamp' | 'torn' | 'foreign' | 'fill';

export interface LineRead {
  kind: LineKind;
  ino: number;
  line: number;
  version: number;
}

/**
 * What the line at words [at, at + 16) of w holds. `fill`: a byte the setup wrote over a
 * 'written' file (its whole line that byte), accepted as version 0 of such a file.
 */
export function readLine(w: Int32Array, at: number, fillWord: number | null, out: LineRead): LineKind {
  out.ino = -1;
  out.line = -1;
  out.version = 0;
  const m = w[at + W_MAGIC];
  if (m === STAMP_MAGIC) {
    const ino = w[at + W_INO];
    const line = w[at + W_LINE];
    const version = w[at + W_VERSION];
    out.ino = ino;
    out.line = line;
    out.version = version;
    let ok = w[at + W_SUM] === stampSum(ino, line, version);
    for (let i = W_SUM + 1; ok && i < STAMP_WORDS; i++) ok = w[at + i] === (Math.imul(w[at + W_SUM] ^ i, 0x27d4eb2d) | 0);
    return (out.kind = ok ? 'stamp' : 'torn');
  }
  let zero = true;
  let fill = fillWord !== null;
  for (let i = 0; i < STAMP_WORDS; i++) {
    const x = w[at + i];
    if (x !== 0) zero = false;
    if (x !== fillWord) fill = false;
  }
  return (out.kind = zero ? 'zero' : fill ? 'fill' : 'foreign');
}

/** The tracked files of a run: each one's inode, its lines, and where its lines start in the ledger. */
export interface LedgerFile {
  name: string;
  ino: number;
  lines: number;
  base: number;
  /** The byte setup filled a 'written' file with (its lines may show it, as version 0), or null. */
  fill: number | null;
}

/** Per-line versions of every tracked file, in shared memory (see the header). */
export class Ledger {
  readonly issued: Int32Array;
  readonly written: Int32Array;
  readonly promised: Int32Array;
  readonly how: Int32Array;
  readonly revoked: Int32Array;
  readonly files: readonly LedgerFile[];
  private readonly byIno = new Map<number, LedgerFile>();

  constructor(
    readonly buffer: SharedArrayBuffer,
    files: readonly LedgerFile[],
  ) {
    const n = totalLines(files);
    if (buffer.byteLength !== n * 20) throw new RangeError(`ledger: buffer of ${buffer.byteLength} bytes, expected ${n * 20} for ${n} lines`);
    this.issued = new Int32Array(buffer, 0, n);
    this.written = new Int32Array(buffer, n * 4, n);
    this.promised = new Int32Array(buffer, n * 8, n);
    this.how = new Int32Array(buffer, n * 12, n);
    this.revoked = new Int32Array(buffer, n * 16, n);
    this.files = files;
    for (const f of files) this.byIno.set(f.ino, f);
  }

  static create(files: readonly Omit<LedgerFile, 'base'>[]): Ledger {
    let base = 0;
    const placed = files.map((f) => {
      const p = { ...f, base };
      base += f.lines;
      return p;
    });
    return new Ledger(new SharedArrayBuffer(base * 20), placed);
  }

  file(ino: number): LedgerFile | undefined {
    return this.byIno.get(ino);
  }

  /** The next version of a line (before its store). */
  issue(f: LedgerFile, line: number): number {
    return Atomics.add(this.issued, f.base + line, 1) + 1;
  }

  /** A store of `version` returned. */
  wrote(f: LedgerFile, line: number, version: number): void {
    const i = f.base + line;
    if (version > this.written[i]) Atomics.store(this.written, i, version);
  }

  /** What a sync starting now promises: the versions written so far over lines [from, to), then each line's revocation count. */
  snapshot(f: LedgerFile, from = 0, to = f.lines): Int32Array {
    const a = f.base + from;
    const b = f.base + Math.min(to, f.lines);
    const out = new Int32Array(2 * (b - a));
    out.set(this.revoked.subarray(a, b), b - a);
    out.set(this.written.subarray(a, b), 0);
    return out;
  }

  /**
   * A sync that began with `snap` (taken at line `from`) returned: its versions are promised,
   * except on lines a truncate or punch revoked meanwhile.
   */
  promise(f: LedgerFile, snap: Int32Array, from = 0, how = PROMISE_SYNC): void {
    const n = snap.length / 2;
    for (let k = 0; k < n; k++) {
      const i = f.base + from + k;
      if (snap[k] > this.promised[i] && Atomics.load(this.revoked, i) === snap[n + k]) {
        Atomics.store(this.promised, i, snap[k]);
        Atomics.store(this.how, i, how);
      }
    }
  }

  /**
   * A truncate or punch of lines [from, to) begins: what was written there is gone, and what
   * was promised may go, as the operation may be durable at a crash. Versions issued stay:
   * a line's versions only grow.
   */
  revoke(f: LedgerFile, from: number, to: number): void {
    const a = f.base + Math.max(0, from);
    const b = f.base + Math.min(f.lines, to);
    if (b > a) {
      for (let i = a; i < b; i++) Atomics.add(this.revoked, i, 1);
      this.written.fill(0, a, b);
      this.promised.fill(0, a, b);
      this.how.fill(0, a, b);
    }
  }
}

export function totalLines(files: readonly { lines: number }[]): number {
  return files.reduce((n, f) => n + f.lines, 0);
}
