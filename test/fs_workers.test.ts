import { describe, expect, it } from 'vitest';
import { MiB } from '../src/machine/layout.js';
import type { JournalPolicy } from '../src/journal/policy.js';
import type { FsPersonality } from '../src/fs/ondisk.js';
import { fsck, fsckLive } from '../src/fs/fsck.js';
import { inodeInfo, vfs_read } from '../src/fs/inode.js';
import { runCpus } from './support/workers.js';
import { startCommitThread } from './support/commit_thread.js';
import { recoveredImage, setupFs } from './workers/fs_support.js';
import { patternByte, type WriterFile } from './workers/fs_scenarios.js';

const cases: [FsPersonality, Partial<JournalPolicy>, number][] = [
  ['ext4', {}, 3],
  ['ext4', { fastCommit: true }, 2],
  ['xfs', {}, 3],
  ['ext4-nojournal', {}, 3],
];

describe('filesystem under several CPUs', () => {
  it.each(cases)('%s %j: %d CPUs create, write, punch and fsync their own files; the result checks clean', async (p, policy, writers) => {
    const { machine, fs } = setupFs(p, { cpus: 6, pmemBytes: 16 * MiB, fsInodes: 16 }, policy);
    const stop = p === 'ext4-nojournal' ? undefined : await startCommitThread(machine, 5, policy);
    const seed = 99;
    const bytes = 300_000;
    let results: WriterFile[][];
    try {
      results = await runCpus<WriterFile[]>(
        machine,
        Array.from({ length: writers }, (_, i) => ({ cpu: i + 1, module: 'fs_scenarios', fn: 'writer', args: { seed, files: 2, bytes, policy } })),
      );
    } finally {
      await stop?.();
    }

    const inos = results.flat().map((f) => f.ino);
    expect(new Set(inos).size).toBe(writers * 2);
    expect(fsckLive(fs)).toEqual([]);
    expect(fsck(recoveredImage(fs), fs.g)).toEqual([]);

    const buf = new Uint8Array(bytes);
    results.forEach((files, w) => {
      files.forEach((file, f) => {
        expect(inodeInfo(fs, file.ino).size).toBe(bytes);
        expect(vfs_read(fs, file.ino, 0, buf)).toBe(bytes);
        const fileNo = (w + 1) * 100 + f;
        let bad = -1;
        for (let off = 0; off < bytes && bad < 0; off++) {
          const hole = file.holes.some(([a, b]) => off >= a && off < b);
          if (buf[off] !== (hole ? 0 : patternByte(seed, fileNo, off))) bad = off;
        }
        expect(bad).toBe(-1);
      });
    });
  });
});
