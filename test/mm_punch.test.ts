import { describe, expect, it } from 'vitest';
import { MiB, PAGE_SIZE } from '../src/machine/layout.js';
import { inodeInfo, vfs_create, vfs_fallocate, vfs_write } from '../src/fs/inode.js';
import type { DaxVariant } from '../src/dax/variant.js';
import { mmap } from '../src/mm/mmap.js';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from '../src/mm/mman.js';
import { checkMm, checkSyncedRange } from '../src/mm/check.js';
import { runCpus } from './support/workers.js';
import { startCommitThread } from './support/commit_thread.js';
import { recoveredImage, fsckImage } from './workers/fs_support.js';
import { setupMm } from './workers/mm_support.js';

const PAGES = 512;
const PUNCH = 300;
const KEEP_FROM = 256;

/**
 * A 2 MiB-aligned, written file mapped with huge pages; CPUs 1 and 2 store through the PMD
 * mapping, CPU 3 punches page 300 while they keep storing to pages 0-255, kjournald2 runs on
 * CPU 5. Then a final msync, checkSyncedRange over the file, a crash and recovery: returns
 * what the checker found and the lines of pages 256-511 (other than the punched one) whose
 * first-sweep store the crash lost.
 */
async function punchRun(variant: DaxVariant) {
  const s = setupMm('ext4', { cpus: 6, pmemBytes: 16 * MiB }, {}, { variant });
  const filler = vfs_create(s.fs);
  const pad = (512 - (s.fs.g.dataStart % 512)) % 512;
  if (pad > 0) vfs_fallocate(s.fs, filler, 0, 0, pad * PAGE_SIZE);
  const ino = vfs_create(s.fs);
  vfs_write(s.fs, ino, 0, new Uint8Array(PAGES * PAGE_SIZE).fill(0x11));
  const pblk0 = inodeInfo(s.fs, ino).extents[0].pblk;
  expect(pblk0 % 512).toBe(0);
  const vma = mmap(s.mm, ino, PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
  const sync = new SharedArrayBuffer(8);
  const args = { ref: vma.ref, ino, storers: 2, punchPage: PUNCH, keepFrom: KEEP_FROM, policy: {}, variant, sync };
  const stop = await startCommitThread(s.machine, 5, {});
  try {
    await runCpus(s.machine, [
      { cpu: 1, module: 'mm_punch_scenarios', fn: 'sweepThenStore', args: { ...args, k: 0 } },
      { cpu: 2, module: 'mm_punch_scenarios', fn: 'sweepThenStore', args: { ...args, k: 1 } },
      { cpu: 3, module: 'mm_punch_scenarios', fn: 'puncher', args: { ...args, k: 2 } },
    ]);
  } finally {
    await stop();
  }
  const atEnd = checkMm(s.mm);
  vma.msync(0, vma.length);
  // The after-fsync invariant, checked directly: no dirty line left in the file's blocks.
  const afterMsync = checkSyncedRange(s.mm, ino, 0, PAGES * PAGE_SIZE);
  const image = recoveredImage(s.fs);
  let lost = 0;
  for (let page = KEEP_FROM; page < PAGES; page++) {
    if (page === PUNCH) continue;
    for (let l = 0; l < PAGE_SIZE / 64; l++) {
      const line = (page * PAGE_SIZE) / 64 + l;
      const want = (line % 2) + 1; // storer k stored k + 1 to lines k, k + 2, ...
      if (image[(pblk0 + page) * PAGE_SIZE + l * 64] !== want) lost++;
    }
  }
  return { atEnd, afterMsync, lost, fsck: fsckImage(s.fs, image) };
}

describe('a hole punched inside a dirty PMD mapping while CPUs store (seed 003)', () => {
  it('keeps every store to the part of the PMD that stays', async () => {
    const r = await punchRun('none');
    expect(r).toEqual({ atEnd: [], afterMsync: [], lost: 0, fsck: [] });
  });

  it('the punch-drops-dirty-pmd variant loses the stores of the part that stays', async () => {
    const r = await punchRun('punch-drops-dirty-pmd');
    // The msync cannot see the dropped dirty state: lines of the pages that stay are still
    // dirty after it returned, and a crash loses them.
    expect(r.afterMsync.length).toBeGreaterThan(0);
    expect(r.afterMsync.every((v) => /^inode \d+ page (\d+) \(block \d+\): \d+ dirty cache lines after the sync$/.test(v))).toBe(true);
    expect(r.lost).toBeGreaterThan(0);
    expect(r.fsck).toEqual([]);
  });
});
