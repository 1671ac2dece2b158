// Test CPUs for the filesystem: the journal's commit thread, and writers that create and
// fill their own files concurrently (test/fs_workers.test.ts, test/fs_durability.test.ts).

import type { Cpu } from '../../src/sync/cpu.js';

import type { JournalPolicy } from '../../src/journal/policy.js';
import { mountFs } from '../../src/fs/super.js';
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  vfs_create,
  vfs_fallocate,
  vfs_fsync,
  vfs_write,
} from '../../src/fs/inode.js';

/** The byte a writer puts at file offset `off` of its file number `f` (so the main thread can check). */
export function patternByte(seed: number, f: number, off: number): number {
  return (Math.imul(off + 1, 2654435761) ^ Math.imul(seed * 31 + f + 1, 40503)) >>> 24 || 1;
}

export interface WriterArgs {
  seed: number;
  files: number;
  /** Bytes per file. */
  bytes: number;
  policy: Partial<JournalPolicy>;
}

export interface WriterFile {
  ino: number;
  size: number;
  /** Block-aligned byte ranges punched after writing (read back as zeroes). */
  holes: [number, number][];
}

/**
 * Creates `files` files and fills each with patternByte() in writes of varying sizes,
 * preallocating part of it first, punches one hole per file, and fsyncs each file.
 */
export function writer(cpu: Cpu, a: WriterArgs): WriterFile[] {
  const fs = mountFs(cpu, { journalPolicy: a.policy });
  let x = (a.seed * 7919 + cpu.id) >>> 0;
  const rnd = (n: number) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x % n;
  };
  const out: WriterFile[] = [];
  for (let f = 0; f < a.files; f++) {
    const ino = vfs_create(fs);
    const fileNo = cpu.id * 100 + f;
    vfs_fallocate(fs, ino, FALLOC_FL_KEEP_SIZE, 0, Math.floor(a.bytes / 2 / 4096) * 4096);
    for (let off = 0; off < a.bytes; ) {
      const n = Math.min(a.bytes - off, 1 + rnd(20000));
      const buf = new Uint8Array(n);
      for (let i = 0; i < n; i++) buf[i] = patternByte(a.seed, fileNo, off + i);
      off += vfs_write(fs, ino, off, buf);
    }
    const holeAt = rnd(Math.floor(a.bytes / 4096)) * 4096;
    vfs_fallocate(fs, ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, holeAt, 4096);
    vfs_fsync(fs, ino, false);
    out.push({ ino, size: a.bytes, holes: [[holeAt, holeAt + 4096]] });
  }
  return out;
}
