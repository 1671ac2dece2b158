import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BLOCK_SIZE, MiB } from '../src/machine/layout.js';
import { FS_PERSONALITIES, type FsPersonality } from '../src/fs/ondisk.js';
import type { Fs } from '../src/fs/super.js';
import { freeBlocks } from '../src/fs/balloc.js';
import { fsck, fsckLive } from '../src/fs/fsck.js';
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  IOMAP_HOLE,
  IOMAP_MAPPED,
  IOMAP_UNWRITTEN,
  IOMAP_WRITE,
  Iomap,
  inodeInfo,
  iomap_begin,
  vfs_create,
  vfs_fallocate,
  vfs_fsync,
  vfs_read,
  vfs_truncate,
  vfs_write,
} from '../src/fs/inode.js';
import { commitNow, recoveredImage, setupFs } from './workers/fs_support.js';

const B = BLOCK_SIZE;
const SPAN = 24; // blocks the operations start in
const MAXB = 32; // blocks the file can reach

const HOLE = 0;
const UNWRITTEN = 1;
const WRITTEN = 2;

type Op =
  | { t: 'falloc'; b: number; n: number; keep: boolean }
  | { t: 'write'; off: number; len: number; v: number }
  | { t: 'punch'; b: number; n: number }
  | { t: 'trunc'; size: number }
  | { t: 'fault'; b: number }
  | { t: 'noise'; n: number }
  | { t: 'settle' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ t: fc.constant('falloc' as const), b: fc.nat(SPAN - 1), n: fc.integer({ min: 1, max: 8 }), keep: fc.boolean() }),
  fc.record({ t: fc.constant('write' as const), off: fc.nat(SPAN * B - 1), len: fc.integer({ min: 1, max: 3 * B }), v: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ t: fc.constant('punch' as const), b: fc.nat(SPAN - 1), n: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ t: fc.constant('trunc' as const), size: fc.nat(SPAN * B) }),
  fc.record({ t: fc.constant('fault' as const), b: fc.nat(SPAN - 1) }),
  fc.record({ t: fc.constant('noise' as const), n: fc.integer({ min: 1, max: 3 }) }),
  fc.constant({ t: 'settle' as const }),
);

/** A per-block model of one file: each block a hole, unwritten or written, and its bytes. */
class Model {
  state = new Uint8Array(MAXB);
  data = new Uint8Array(MAXB * B);
  size = 0;

  private toWritten(b: number): void {
    if (this.state[b] !== WRITTEN) this.data.fill(0, b * B, (b + 1) * B);
    this.state[b] = WRITTEN;
  }

  apply(op: Op): void {
    switch (op.t) {
      case 'falloc':
        for (let b = op.b; b < op.b + op.n; b++) if (this.state[b] === HOLE) this.state[b] = UNWRITTEN;
        if (!op.keep) this.size = Math.max(this.size, (op.b + op.n) * B);
        break;
      case 'write':
        for (let b = Math.floor(op.off / B); b <= Math.floor((op.off + op.len - 1) / B); b++) this.toWritten(b);
        this.data.fill(op.v, op.off, op.off + op.len);
        this.size = Math.max(this.size, op.off + op.len);
        break;
      case 'punch':
        for (let b = op.b; b < op.b + op.n; b++) this.state[b] = HOLE;
        this.data.fill(0, op.b * B, (op.b + op.n) * B);
        break;
      case 'trunc':
        this.data.fill(0, op.size);
        this.state.fill(HOLE, Math.ceil(op.size / B));
        this.size = op.size;
        break;
      case 'fault':
        if (op.b * B < this.size) this.toWritten(op.b);
        break;
      default:
        break;
    }
  }

  blocks(): number {
    return this.state.reduce((n, s) => n + (s === HOLE ? 0 : 1), 0);
  }
}

function settle(fs: Fs, ino: number, other: number): void {
  if (fs.journal) commitNow(fs);
  else {
    vfs_fsync(fs, ino, false);
    vfs_fsync(fs, other, false);
  }
}

function run(p: FsPersonality, ops: Op[]): void {
  const { fs } = setupFs(p, { cpus: 1, pmemBytes: 2 * MiB, fsInodes: 4, fsExtentBlocksPerInode: 1 });
  const ino = vfs_create(fs);
  const other = vfs_create(fs); // its appends fragment the free space between our allocations
  let otherSize = 0;
  const m = new Model();
  const map = new Iomap();
  const buf = new Uint8Array(MAXB * B);
  const types = [IOMAP_HOLE, IOMAP_UNWRITTEN, IOMAP_MAPPED];
  for (const op of ops) {
    switch (op.t) {
      case 'falloc':
        vfs_fallocate(fs, ino, op.keep ? FALLOC_FL_KEEP_SIZE : 0, op.b * B, op.n * B);
        break;
      case 'write':
        expect(vfs_write(fs, ino, op.off, new Uint8Array(op.len).fill(op.v))).toBe(op.len);
        break;
      case 'punch':
        vfs_fallocate(fs, ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, op.b * B, op.n * B);
        break;
      case 'trunc':
        vfs_truncate(fs, ino, op.size);
        break;
      case 'fault':
        if (op.b * B < m.size) iomap_begin(fs, ino, op.b * B, B, IOMAP_WRITE, map);
        break;
      case 'noise':
        vfs_write(fs, other, otherSize, new Uint8Array(op.n * B).fill(1));
        otherSize += op.n * B;
        break;
      case 'settle':
        settle(fs, ino, other);
        break;
    }
    m.apply(op);

    for (let b = 0; b < MAXB; b++) {
      iomap_begin(fs, ino, b * B, B, 0, map);
      if (map.type !== types[m.state[b]]) throw new Error(`after ${JSON.stringify(op)}: block ${b} is type ${map.type}, model ${m.state[b]}`);
    }
    expect(vfs_read(fs, ino, 0, buf)).toBe(m.size);
    if (Buffer.compare(buf.subarray(0, m.size), m.data.subarray(0, m.size)) !== 0) throw new Error(`after ${JSON.stringify(op)}: file contents differ from the model`);
    expect(inodeInfo(fs, ino).blocks).toBe(m.blocks());
    expect(freeBlocks(fs)).toBe(fs.g.dataBlocks - m.blocks() - otherSize / B);
    expect(fsckLive(fs)).toEqual([]);
    expect(fs.journal?.handle.open ?? false).toBe(false);

    if (op.t === 'settle') {
      const image = recoveredImage(fs);
      expect(fsck(image, fs.g)).toEqual([]);
    }
  }
  // Whatever state the ops left: made durable, a crash keeps exactly it.
  settle(fs, ino, other);
  const image = recoveredImage(fs);
  expect(fsck(image, fs.g)).toEqual([]);
}

describe('the extent map against a per-block model', () => {
  it.each(FS_PERSONALITIES)('%s: random fallocate / write / fault / punch / truncate keep every block as the model says', (p) => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 30 }), (ops) => run(p, ops)),
      { numRuns: 120 },
    );
  });
});
