// Test CPUs for the xfs log force (test/xfs_log.test.ts), on the virtual clock: one CPU holds
// a transaction open on one inode for a while; another changes a second inode and fsyncs it,
// timing the fsync. Flags: Int32 [the holder's transaction is open, the inode to sync].

import type { Cpu } from '../../src/sync/cpu.js';
import { mountFs, inodeWriteAccess, ext4_mark_iloc_dirty, markInodeChanged, XFS_ILOG_CORE, EXT4_INODE_CREDITS } from '../../src/fs/super.js';
import { vfs_chmod, vfs_create, vfs_fsync } from '../../src/fs/inode.js';
import { inodeBlock } from '../../src/fs/ondisk.js';
import { charge } from '../../src/sync/vclock.js';
import { nowNs } from '../../src/util/clock.js';

/**
 * Makes two inodes in different inode-table blocks (so the CPUs share no buffer), syncs the
 * second, then opens a transaction changing the first's record, publishes the second, holds
 * the transaction open for `holdNs` and commits it. Returns when it committed.
 */
export function holder(cpu: Cpu, a: { holdNs: number; flags: SharedArrayBuffer }): number {
  const fs = mountFs(cpu);
  const flags = new Int32Array(a.flags);
  const ino = vfs_create(fs);
  let other = vfs_create(fs);
  while (inodeBlock(fs.g, other) === inodeBlock(fs.g, ino)) other = vfs_create(fs);
  vfs_fsync(fs, other, false);
  fs.ops.inode_transaction(fs, ino, EXT4_INODE_CREDITS, (h) => {
    inodeWriteAccess(fs, h, ino);
    ext4_mark_iloc_dirty(fs, h, ino);
    markInodeChanged(fs, h, ino, XFS_ILOG_CORE);
    flags[1] = other;
    Atomics.store(flags, 0, 1);
    Atomics.notify(flags, 0);
    charge(a.holdNs);
  });
  return nowNs();
}

/** Once the holder's transaction is open: chmod then fsync the inode it published; returns when it started and the fsync's virtual time. */
export function syncer(cpu: Cpu, a: { flags: SharedArrayBuffer }): { startNs: number; fsyncNs: number } {
  const fs = mountFs(cpu);
  const flags = new Int32Array(a.flags);
  // Spend virtual time while waiting, so that the holder's clock may run on (the clocks keep within a window of each other).
  while (Atomics.load(flags, 0) === 0) charge(100);
  const ino = flags[1];
  const startNs = nowNs();
  vfs_chmod(fs, ino, 0o600);
  const t0 = nowNs();
  vfs_fsync(fs, ino, false);
  return { startNs, fsyncNs: nowNs() - t0 };
}
