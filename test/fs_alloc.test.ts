// The block allocator as ext4's mballoc has it: a lock per allocation group, the search order
// (goal, aligned buddy for a 2^k request, next fit), and the allocation's cost in its steps.

import { afterEach, describe, expect, it } from 'vitest';
import { LOCK_CLASS, LOCK_CLASSES, LOCK_STAT, MiB, PAGE_SIZE } from '../src/machine/layout.js';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, inodeInfo, vfs_create, vfs_fallocate, vfs_write } from '../src/fs/inode.js';
import { ext4_mb_new_blocks } from '../src/fs/balloc.js';
import { fsckLive } from '../src/fs/fsck.js';
import { bindThreadCpu, unbindThreadCpu } from '../src/sync/vclock.js';
import { nowNs } from '../src/util/clock.js';
import { runCpus } from './support/workers.js';
import { setupFs } from './workers/fs_support.js';

const COSTS = { allocNs: 2000, mbSearchNs: 1000, allocJournalNs: 500, extentNs: 700 };
/** 132 MiB: two allocation groups, the second of 1024 blocks. */
const TWO_GROUPS = 132 * MiB;

function contentions(machine: ReturnType<typeof setupFs>['machine'], cpu: number): number {
  return machine.views.lockStat[cpu * LOCK_CLASSES.length * LOCK_STAT.stride + LOCK_CLASS.ext4_group_lock * LOCK_STAT.stride + LOCK_STAT.contentions];
}

describe('a lock per allocation group (ext4_lock_group)', () => {
  // Before issue 14 one lock served every group: an allocation in group 1 waited for a
  // holder of group 0 as one in group 0 does.
  it.each([
    ['in another group does not wait', 1, COSTS.allocNs + COSTS.mbSearchNs + COSTS.allocJournalNs, 0],
    ['in the same group waits for the holder', 0, 5000 + COSTS.mbSearchNs + COSTS.allocJournalNs, 1],
  ])('an allocation %s, virtual time exact', async (_what, group, ns, contended) => {
    const { machine, fs } = setupFs('ext4-nojournal', { pmemBytes: TWO_GROUPS, clock: 'virtual', costs: COSTS });
    expect(fs.g.bitmapBlocks).toBe(2);
    const flags = new SharedArrayBuffer(4);
    const goal = group === 1 ? 32768 + 100 : fs.g.dataStart + 100;
    const [, r] = await runCpus<{ block: number; ns: number } | undefined>(machine, [
      { cpu: 1, module: 'alloc_scenarios', fn: 'holder', args: { group: 0, holdNs: 5000, flags } },
      { cpu: 2, module: 'alloc_scenarios', fn: 'allocator', args: { goal, flags } },
    ]);
    expect(r).toEqual({ block: goal, ns });
    expect(contentions(machine, 2)).toBe(contended);
  });
});

describe("mballoc's search order", () => {
  it('starts a new file at the second group, as flex_bg places regular files, when the device has one', () => {
    const { fs } = setupFs('ext4', { pmemBytes: TWO_GROUPS });
    const a = vfs_create(fs);
    vfs_fallocate(fs, a, 0, 0, 8 * PAGE_SIZE);
    expect(inodeInfo(fs, a).extents[0].pblk).toBe(32768);
    // A second file's goal is taken: it goes on from where the last allocation ended.
    const b = vfs_create(fs);
    vfs_fallocate(fs, b, 0, 0, 3 * PAGE_SIZE);
    expect(inodeInfo(fs, b).extents[0].pblk).toBe(32768 + 8);
    expect(fsckLive(fs)).toEqual([]);
  });

  it('gives a 2^k request its goal when the whole of it fits there, aligned or not', () => {
    const { fs } = setupFs('ext4-nojournal', { pmemBytes: 16 * MiB });
    const goal = fs.g.dataStart + 3;
    expect(ext4_mb_new_blocks(fs, null, goal, 16)).toBe(goal);
    expect(fs.allocLen).toBe(16);
  });

  it('gives a 2^k request an aligned run when the goal cannot take it (criteria 0), and anything else the next free run', () => {
    const { fs } = setupFs('ext4-nojournal', { pmemBytes: 16 * MiB });
    const d = fs.g.dataStart;
    ext4_mb_new_blocks(fs, null, d + 10, 1); // a used block 10 blocks in
    // 16 blocks for goal d + 5 do not fit before d + 10: the first free 16-aligned run.
    const aligned = ext4_mb_new_blocks(fs, null, d + 5, 16);
    expect(aligned % 16).toBe(0);
    expect(aligned).toBe(Math.ceil((d + 11) / 16) * 16);
    // 3 blocks for goal d + 8 do not fit either: the next free run from where the last allocation ended.
    expect(ext4_mb_new_blocks(fs, null, d + 8, 3)).toBe(aligned + 16);
    expect(fs.allocLen).toBe(3);
  });

  it("a 2 MiB request whose goal is in the way gets a 2 MiB-aligned extent, as a PMD fault's allocation needs", () => {
    const { fs } = setupFs('ext4-nojournal', { pmemBytes: 32 * MiB });
    const d = fs.g.dataStart;
    ext4_mb_new_blocks(fs, null, d + 300, 1);
    const at = ext4_mb_new_blocks(fs, null, d, 512);
    expect([at % 512, fs.allocLen]).toEqual([0, 512]);
    expect(at).toBeGreaterThan(d + 300);
  });
});

describe('the allocation in its steps, virtual time exact', () => {
  afterEach(() => unbindThreadCpu());

  // Before issue 14 allocNs stood for the whole allocation and nothing else was charged.
  it('fallocate of one block: the call, one group searched, the bitmap journalled, one extent inserted', () => {
    const { fs } = setupFs('ext4', { pmemBytes: 16 * MiB, clock: 'virtual', costs: COSTS });
    bindThreadCpu(fs.cpu);
    const ino = vfs_create(fs);
    const t0 = nowNs();
    vfs_fallocate(fs, ino, 0, 0, PAGE_SIZE);
    expect(nowNs() - t0).toBe(COSTS.allocNs + COSTS.mbSearchNs + COSTS.allocJournalNs + COSTS.extentNs);
  });

  it('a write into an unwritten extent converts it (one extent change); a punch removes (one change) and frees extent by extent, journalling the bitmap each time', () => {
    const { fs } = setupFs('ext4', { pmemBytes: 16 * MiB, clock: 'virtual', costs: COSTS });
    bindThreadCpu(fs.cpu);
    const ino = vfs_create(fs);
    vfs_fallocate(fs, ino, 0, 0, 8 * PAGE_SIZE);
    let t0 = nowNs();
    vfs_write(fs, ino, 2 * PAGE_SIZE, new Uint8Array(PAGE_SIZE));
    expect(nowNs() - t0).toBe(COSTS.extentNs);
    t0 = nowNs();
    vfs_fallocate(fs, ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 8 * PAGE_SIZE);
    // The write split the extent in three: three ranges freed.
    expect(nowNs() - t0).toBe(COSTS.extentNs + 3 * COSTS.allocJournalNs);
  });
});
