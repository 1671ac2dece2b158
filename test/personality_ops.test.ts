// One scenario run on each personality through its operations table (personality_ops.ts):
// the same calls, and what each personality's table makes of them.
import { describe, expect, it } from 'vitest';
import { BLOCK_SIZE } from '../src/machine/layout.js';
import { FS_PERSONALITIES, type FsPersonality } from '../src/fs/ondisk.js';
import { EXT4_NOJOURNAL_OPS, EXT4_OPS, XFS_OPS, personalityOps } from '../src/fs/personality_ops.js';
import { IOMAP_F_DIRTY, IOMAP_F_NEW, IOMAP_WRITE, Iomap, inode_datasync_dirty, iomap_begin, vfs_chmod, vfs_create, vfs_fallocate, vfs_fsync } from '../src/fs/inode.js';
import { fsckLive } from '../src/fs/fsck.js';
import { ext4_journal_stop } from '../src/fs/super.js';
import { setupFs } from './workers/fs_support.js';

interface Seen {
  makesJournal: boolean;
  faultHandle: boolean;
  allocFlags: number;
  dirtyAfterAlloc: boolean;
  dirtyAfterFdatasync: boolean;
  dirtyAfterChmod: boolean;
  dirtyAfterFsync: boolean;
}

function scenario(p: FsPersonality): Seen {
  const { fs } = setupFs(p);
  expect(fs.ops).toBe(personalityOps(p));
  const ino = vfs_create(fs);
  vfs_fallocate(fs, ino, 0, 0, 4 * BLOCK_SIZE);
  vfs_fsync(fs, ino, false);
  // A DAX write fault: the handle the personality opens around dax_iomap_fault(), if any.
  const faultHandle = fs.ops.journal_start_for_fault(fs);
  const iomap = new Iomap();
  try {
    iomap_begin(fs, ino, 0, BLOCK_SIZE, IOMAP_WRITE, iomap);
  } finally {
    ext4_journal_stop(fs, faultHandle);
  }
  const dirtyAfterAlloc = inode_datasync_dirty(fs, ino);
  vfs_fsync(fs, ino, true);
  const dirtyAfterFdatasync = inode_datasync_dirty(fs, ino);
  vfs_chmod(fs, ino, 0o600);
  const dirtyAfterChmod = inode_datasync_dirty(fs, ino);
  vfs_fsync(fs, ino, false);
  const dirtyAfterFsync = inode_datasync_dirty(fs, ino);
  expect(fsckLive(fs)).toEqual([]);
  return { makesJournal: fs.journal !== null, faultHandle: faultHandle !== null, allocFlags: iomap.flags, dirtyAfterAlloc, dirtyAfterFdatasync, dirtyAfterChmod, dirtyAfterFsync };
}

describe('personality operations tables', () => {
  it('are one per personality', () => {
    expect(FS_PERSONALITIES.map((p) => personalityOps(p))).toEqual([EXT4_OPS, EXT4_NOJOURNAL_OPS, XFS_OPS]);
  });

  it('run one scenario through each personality: a write to unwritten blocks, fdatasync, chmod, fsync', () => {
    const seen = Object.fromEntries(FS_PERSONALITIES.map((p) => [p, scenario(p)]));
    expect(seen).toEqual({
      // The conversion dirties the block map (IOMAP_F_DIRTY) until fdatasync; chmod asks no datasync.
      ext4: { makesJournal: true, faultHandle: true, allocFlags: IOMAP_F_NEW | IOMAP_F_DIRTY, dirtyAfterAlloc: true, dirtyAfterFdatasync: false, dirtyAfterChmod: false, dirtyAfterFsync: false },
      'ext4-nojournal': {
        makesJournal: false,
        faultHandle: false,
        allocFlags: IOMAP_F_NEW | IOMAP_F_DIRTY,
        dirtyAfterAlloc: true,
        dirtyAfterFdatasync: false,
        dirtyAfterChmod: false,
        dirtyAfterFsync: false,
      },
      // XFS opens no transaction in the fault, and its chmod logs the inode core: fdatasync-dirty until forced.
      xfs: { makesJournal: true, faultHandle: false, allocFlags: IOMAP_F_NEW | IOMAP_F_DIRTY, dirtyAfterAlloc: true, dirtyAfterFdatasync: false, dirtyAfterChmod: true, dirtyAfterFsync: false },
    });
  });
});
