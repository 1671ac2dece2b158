import { afterEach, describe, expect, it } from 'vitest';
import { BLOCK_SIZE, CACHELINE, PAGE_SIZE } from '../src/machine/layout.js';
import { EXTENT, EXT_UNWRITTEN, bitmapWord, extentWord, imageWords } from '../src/fs/ondisk.js';
import { inodeInfo, vfs_create, vfs_write } from '../src/fs/inode.js';
import { setWritebackHook } from '../src/pmem/device.js';
import { seededRng } from '../src/util/rng.js';
import { Ledger, PROMISE_FLUSH, stampLine, writeStamp, readLine, type LineRead } from '../src/crash/content.js';
import { SparseImage, buildImage, deviceState } from '../src/crash/image.js';
import { PersistLog } from '../src/crash/persist_log.js';
import { countByKind, recoverAndCheck, recoverImage, checkRecovered, type Expectations } from '../src/crash/checks.js';
import { commitNow, setupFs } from './workers/fs_support.js';

const LINES = PAGE_SIZE / CACHELINE;

afterEach(() => setWritebackHook(null));

/** A stamped page: every line of file page `page` at `version`. */
function stampedPage(ino: number, page: number, version: number): Uint8Array {
  const out = new Uint8Array(PAGE_SIZE);
  for (let k = 0; k < LINES; k++) out.set(stampLine(ino, page * LINES + k, version), k * CACHELINE);
  return out;
}

/** ext4 with two stamped files of 4 pages each, committed, all promised; the clean image and how to corrupt it. */
function cleanRun() {
  const { fs, machine } = setupFs('ext4');
  const a = vfs_create(fs);
  const b = vfs_create(fs);
  const ledger = Ledger.create([
    { name: 'a', ino: a, lines: 4 * LINES, fill: null },
    { name: 'b', ino: b, lines: 4 * LINES, fill: null },
  ]);
  for (const f of ledger.files) {
    for (let p = 0; p < 4; p++) {
      for (let k = 0; k < LINES; k++) ledger.wrote(f, p * LINES + k, ledger.issue(f, p * LINES + k));
      vfs_write(fs, f.ino, p * PAGE_SIZE, stampedPage(f.ino, p, 1));
    }
    fs.dev.flushcache(0, fs.dev.size);
    ledger.promise(f, ledger.snapshot(f));
  }
  commitNow(fs);
  const image = buildImage(deviceState(machine), null, seededRng(1));
  expect(recoverImage(image, fs.g, 'ext4')).toBeNull();
  const exp: Expectations = { ledger, syncPages: [] };
  expect(checkRecovered(image, fs.g, 'ext4', exp)).toEqual([]);
  const blockOf = (ino: number, page: number) => {
    const e = inodeInfo(fs, ino).extents.find((x) => page >= x.lblk && page < x.lblk + x.len)!;
    return e.pblk + page - e.lblk;
  };
  return { fs, a, b, ledger, image, exp, blockOf };
}

describe('crash checks: each invariant has an image that breaks it', () => {
  const kinds = (vs: { kind: string }[]) => vs.map((v) => v.kind);

  it('a clean recovered image passes, and content reads back as stamps', () => {
    const { image, a, blockOf } = cleanRun();
    const r: LineRead = { kind: 'zero', ino: 0, line: 0, version: 0 };
    expect(readLine(imageWords(image), (blockOf(a, 2) * BLOCK_SIZE + 3 * CACHELINE) / 4, null, r)).toBe('stamp');
    expect(r).toMatchObject({ ino: a, line: 2 * LINES + 3, version: 1 });
  });

  it('1. sync-lost: a synced line holding an older version', () => {
    const { fs, a, image, exp } = cleanRun();
    const ledger = exp.ledger;
    const f = ledger.file(a)!;
    // Version 2 was written and synced; the image still holds version 1.
    ledger.wrote(f, LINES + 5, ledger.issue(f, LINES + 5));
    ledger.promise(f, ledger.snapshot(f));
    const v = checkRecovered(image, fs.g, 'ext4', exp);
    expect(kinds(v)).toEqual(['sync-lost']);
    expect(v[0].detail).toMatch(/page 1 line 5: synced at version 2, holds version 1/);
  });

  it('2. mapsync-unreachable: a MAP_SYNC-writable page the recovered extents map elsewhere, or as unwritten', () => {
    const { fs, a, image, exp, blockOf } = cleanRun();
    const at = blockOf(a, 3);
    expect(checkRecovered(image, fs.g, 'ext4', { ...exp, syncPages: [{ ino: a, page: 3, pfn: at }] })).toEqual([]);
    expect(kinds(checkRecovered(image, fs.g, 'ext4', { ...exp, syncPages: [{ ino: a, page: 3, pfn: at + 100 }] }))).toEqual(['mapsync-unreachable']);
    expect(kinds(checkRecovered(image, fs.g, 'ext4', { ...exp, syncPages: [{ ino: a, page: 9, pfn: at }] }))).toEqual(['mapsync-unreachable']);
  });

  it('2. mapsync-lost: a line flushed from userspace that the image lost', () => {
    const { fs, a, image, exp } = cleanRun();
    const f = exp.ledger.file(a)!;
    exp.ledger.wrote(f, 7, exp.ledger.issue(f, 7));
    exp.ledger.promise(f, exp.ledger.snapshot(f, 7, 8), 7, PROMISE_FLUSH);
    expect(kinds(checkRecovered(image, fs.g, 'ext4', exp))).toEqual(['mapsync-lost']);
  });

  it('3. fsck: a mapped block marked free, and a block claimed by both files', () => {
    const { fs, a, b, image, exp, blockOf } = cleanRun();
    const bad = image.slice();
    const w = imageWords(bad);
    const blk = blockOf(a, 0);
    w[bitmapWord(fs.g, blk)] &= ~(1 << (blk & 31));
    const v = checkRecovered(bad, fs.g, 'ext4', exp);
    expect(kinds(v)).toEqual(['fsck']);
    expect(v[0].detail).toMatch(/mapped by inode \d+ but marked free/);
    const twice = image.slice();
    imageWords(twice)[extentWord(fs.g, b, 0) + EXTENT.ee_start] = blockOf(a, 0);
    const v2 = checkRecovered(twice, fs.g, 'ext4', exp);
    expect(v2.some((x) => x.kind === 'fsck' && /multiply-claimed/.test(x.detail))).toBe(true);
  });

  it('4. foreign-content: another file\'s stamp in a page; torn-line: a stamp of two stores', () => {
    const { fs, a, b, image, exp, blockOf } = cleanRun();
    // Nothing promised: only the content is wrong.
    for (const f of exp.ledger.files) exp.ledger.revoke(f, 0, f.lines);
    const stale = image.slice();
    writeStamp(imageWords(stale), (blockOf(a, 1) * BLOCK_SIZE) / 4, b, 0, 1);
    const v = checkRecovered(stale, fs.g, 'ext4', exp);
    expect(kinds(v)).toEqual(['foreign-content']);
    expect(v[0].detail).toMatch(/holds inode \d+'s line 0/);
    const torn = image.slice();
    imageWords(torn)[(blockOf(b, 2) * BLOCK_SIZE + 2 * CACHELINE) / 4 + 12] ^= 1;
    expect(kinds(checkRecovered(torn, fs.g, 'ext4', exp))).toEqual(['torn-line']);
    const garbage = image.slice();
    garbage.fill(0x77, blockOf(b, 0) * BLOCK_SIZE, blockOf(b, 0) * BLOCK_SIZE + 8);
    expect(kinds(checkRecovered(garbage, fs.g, 'ext4', exp))).toEqual(['foreign-content']);
  });

  it('an unwritten extent under a synced page reads as lost data', () => {
    const { fs, a, image, exp } = cleanRun();
    const bad = image.slice();
    imageWords(bad)[extentWord(fs.g, a, 0) + EXTENT.ee_flags] = EXT_UNWRITTEN;
    const c = countByKind(checkRecovered(bad, fs.g, 'ext4', exp));
    expect(c['sync-lost']).toBe(4);
  });
});

describe('the ledger of promises', () => {
  it('promises what was written before a sync began, and nothing on a line punched while it ran', () => {
    const ledger = Ledger.create([{ name: 'f', ino: 5, lines: 4, fill: null }]);
    const f = ledger.files[0];
    for (let line = 0; line < 4; line++) ledger.wrote(f, line, ledger.issue(f, line));
    const snap = ledger.snapshot(f);
    ledger.wrote(f, 1, ledger.issue(f, 1)); // version 2, after the sync began: not promised
    ledger.revoke(f, 2, 3); // a punch of line 2 while the sync ran
    ledger.wrote(f, 2, ledger.issue(f, 2)); // and a new store there
    ledger.promise(f, snap);
    expect(Array.from(ledger.promised)).toEqual([1, 1, 0, 1]);
    expect(Array.from(ledger.issued)).toEqual([1, 2, 2, 1]);
  });
});

describe('crash images', () => {
  /** A device with 40 dirty lines and 30 lines written back but not fenced. */
  function pendingDevice() {
    const { fs, machine } = setupFs('ext4-nojournal');
    const log = PersistLog.create(machine.config.cpus);
    setWritebackHook(log.section(0));
    const base = 2 * 1024 * 1024;
    const dev = fs.dev;
    dev.store(base, new Uint8Array(30 * CACHELINE).fill(3));
    dev.flush(base, 30 * CACHELINE); // unfenced: may be lost
    dev.store(base + BLOCK_SIZE, new Uint8Array(40 * CACHELINE).fill(4)); // dirty: may be evicted
    return { dev, machine, log, base };
  }

  it('draws the eviction and reordering subsets from the seed: one seed, one image', () => {
    const { machine, log } = pendingDevice();
    const st = deviceState(machine);
    const a = buildImage(st, log, seededRng(42));
    const b = buildImage(st, log, seededRng(42));
    const c = buildImage(st, log, seededRng(43));
    expect(Buffer.compare(a, b)).toBe(0);
    expect(Buffer.compare(a, c)).not.toBe(0);
  });

  it('keeps every unfenced write-back or none, every dirty line or none, at the extremes', () => {
    const { machine, log, base, dev } = pendingDevice();
    const st = deviceState(machine);
    const stats = { dirtyLines: 0, evicted: 0, unfencedLines: 0, reverted: 0 };
    const none = buildImage(st, log, seededRng(1), { evict: 0, reorder: 1 }, stats);
    expect(stats).toEqual({ dirtyLines: 40, evicted: 0, unfencedLines: 30, reverted: 30 });
    expect(none.subarray(base, base + 30 * CACHELINE).every((x) => x !== 3)).toBe(true);
    expect(none.subarray(base + BLOCK_SIZE, base + BLOCK_SIZE + 40 * CACHELINE).every((x) => x !== 4)).toBe(true);
    const all = buildImage(st, log, seededRng(1), { evict: 1, reorder: 0 }, stats);
    expect(stats).toMatchObject({ evicted: 40, reverted: 0 });
    expect(all.subarray(base, base + 30 * CACHELINE).every((x) => x === 3)).toBe(true);
    expect(all.subarray(base + BLOCK_SIZE, base + BLOCK_SIZE + 40 * CACHELINE).every((x) => x === 4)).toBe(true);
    // A fence orders the write-backs: none can be lost any more.
    dev.fence();
    buildImage(st, log, seededRng(1), { evict: 0, reorder: 1 }, stats);
    expect(stats).toMatchObject({ unfencedLines: 0, reverted: 0 });
  });

  it('builds the same image lazily: the prefix at once, each data block when asked', () => {
    const { machine, log, dev } = pendingDevice();
    // Metadata lines dirty and unfenced too: the prefix takes draws as the data does.
    dev.store(BLOCK_SIZE, new Uint8Array(5 * CACHELINE).fill(9));
    dev.flush(BLOCK_SIZE, 3 * CACHELINE);
    const st = deviceState(machine);
    const prefix = 64;
    const sparse = new SparseImage(st.media.length, prefix);
    for (const seed of [1, 2, 3]) {
      const full = buildImage(st, log, seededRng(seed));
      sparse.draw(st, log, seededRng(seed));
      expect(Buffer.compare(sparse.bytes.subarray(0, prefix * BLOCK_SIZE), full.subarray(0, prefix * BLOCK_SIZE))).toBe(0);
      for (let b = prefix; b < st.media.length / BLOCK_SIZE; b++) sparse.ensureBlock(b);
      expect(Buffer.compare(sparse.bytes, full)).toBe(0);
    }
  });

  it('a random image of a committed run recovers clean', () => {
    const { fs, machine } = setupFs('xfs');
    const log = PersistLog.create(machine.config.cpus);
    setWritebackHook(log.section(0));
    const ino = vfs_create(fs);
    const ledger = Ledger.create([{ name: 'x', ino, lines: 2 * LINES, fill: null }]);
    const f = ledger.files[0];
    for (let p = 0; p < 2; p++) {
      for (let k = 0; k < LINES; k++) ledger.issue(f, p * LINES + k);
      vfs_write(fs, ino, p * PAGE_SIZE, stampedPage(ino, p, 1));
    }
    commitNow(fs);
    for (let s = 0; s < 20; s++) {
      const image = buildImage(deviceState(machine), log, seededRng(s));
      expect(recoverAndCheck(image, fs.g, 'xfs', { ledger, syncPages: [] })).toEqual([]);
    }
  });
});
