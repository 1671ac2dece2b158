// One operations table per personality, as the kernel's file_operations, iomap_ops and
// vm_operations_struct are per filesystem (ext4_file_operations / ext4_iomap_ops /
// ext4_dax_vm_ops; xfs_file_operations / xfs_iomap_ops / xfs_file_vm_ops): every place where
// ext4 and xfs behave differently calls through the table the Fs holds (fs.ops) rather than
// testing the personality. ext4 with and without a journal share their functions (ext4 looks
// at EXT4_SB(sb)->s_journal inside them, as the lab does); the table still says which has one.

import type { Handle } from '../journal/journal.js';
import { ext4_fc_mark_ineligible } from '../journal/journal.js';
import { XFS_LOG_WORKER_MS } from '../journal/policy.js';
import { XFS_ILOG_CORE, XFS_ILOG_TIMESTAMP, type FsPersonality } from './ondisk.js';
import {
  ext4_inode_datasync_dirty,
  ext4_iomap_begin,
  ext4_sync_file,
  xfsInodeDatasyncDirty,
  xfs_file_fsync,
  xfs_file_iomap_begin,
  type Iomap,
} from './inode.js';
import { ext4_mb_free_metadata } from './balloc.js';
import { XFS_BUSY_OPEN, xfs_extent_busy_insert, xfs_trans_ijoin_log, xfs_trans_log_bits } from '../journal/xfs_log.js';
import {
  ext4_journal_start,
  ext4_journal_stop,
  inInodeHandle,
  lockInode,
  unlockInode,
  ext4_update_inode_fsync_trans,
  xfs_trans_log_inode,
  type Fs,
} from './super.js';

export interface PersonalityOps {
  readonly name: FsPersonality;
  /** mkfs formats a log and mount replays it (ext4's jbd2 journal, XFS's log). */
  readonly makesJournal: boolean;
  /** A crash may leave blocks marked in use that no file maps, which the checker (e2fsck) frees: ext4 without a journal. */
  readonly allowsLeakedBlocks: boolean;
  /** The period of the thread that commits the log unasked, when the workload sets none: jbd2's commit= default (policy.ts) or xfs_log_worker's. */
  readonly defaultCommitIntervalMs: number | undefined;
  /** What a chmod logs: XFS logs the inode core (xfs_setattr_nonsize); ext4 asks no datasync (need_datasync 0). */
  readonly chmodFields: number;
  /** iomap_ops->iomap_begin (ext4_iomap_begin / xfs_file_iomap_begin). */
  iomap_begin(fs: Fs, ino: number, offset: number, length: number, flags: number, iomap: Iomap): void;
  /** file_operations->fsync after the argument checks (ext4_sync_file / xfs_file_fsync). */
  fsync(fs: Fs, ino: number, start: number, end: number, datasync: boolean): void;
  /** Whether fdatasync has metadata to make durable, IOMAP_F_DIRTY's test. i_data_sem (ILOCK) held. */
  inode_datasync_dirty(fs: Fs, ino: number): boolean;
  /** The inode changed `fields` (XFS_ILOG_*) in handle h: ext4_update_inode_fsync_trans / xfs_trans_log_inode. i_data_sem held. */
  log_inode(fs: Fs, h: Handle, ino: number, fields: number): void;
  /** The handle a DAX write fault opens around dax_iomap_fault (ext4_dax_huge_fault); null when the filesystem opens none there. */
  journal_start_for_fault(fs: Fs): Handle | null;
  /** A handle freed blocks [start, start + len): they stay busy until its transaction is on disk (ext4_mb_free_metadata / xfs_extent_busy_insert). Group lock held. */
  trans_free_extent(fs: Fs, h: Handle, start: number, len: number): void;
  /** A handle set or cleared bits `mask` of bitmap word `word`: XFS formats them into the CIL at commit. */
  trans_log_bits(h: Handle, word: number, mask: number, on: boolean): void;
  /** A handle takes write access to inode ino's record (xfs_trans_ijoin: XFS formats the record at commit). */
  trans_ijoin(h: Handle, ino: number): void;
  /**
   * One change to an inode in a transaction of its own, i_data_sem (ILOCK) held around
   * `change`: ext4 stops its handle after dropping i_data_sem; XFS commits before
   * xfs_iunlock(), the inode joined to the transaction until then.
   */
  inode_transaction<T>(fs: Fs, ino: number, credits: number, change: (h: Handle | null) => T): T;
  /** A handle freed blocks: ext4 makes its transaction ineligible for fast commit (ext4_fc_mark_ineligible). */
  trans_freed_blocks(h: Handle): void;
}

function ext4_log_inode(fs: Fs, h: Handle, ino: number, fields: number): void {
  ext4_update_inode_fsync_trans(fs, h, ino, (fields & ~XFS_ILOG_TIMESTAMP) !== 0);
}

function ext4_free_extent(fs: Fs, h: Handle, start: number, len: number): void {
  ext4_mb_free_metadata(fs, h.tid, start, len);
}

function xfs_free_extent(fs: Fs, h: Handle, start: number, len: number): void {
  ext4_mb_free_metadata(fs, XFS_BUSY_OPEN, start, len);
  xfs_extent_busy_insert(h, start, len);
}

/** xfs_trans_alloc, xfs_ilock, the change, xfs_trans_commit, xfs_iunlock. */
function xfs_inode_transaction<T>(fs: Fs, ino: number, credits: number, change: (h: Handle | null) => T): T {
  const h = ext4_journal_start(fs, credits);
  let locked = false;
  try {
    lockInode(fs, ino);
    locked = true;
    return change(h);
  } finally {
    try {
      ext4_journal_stop(fs, h);
    } finally {
      if (locked) unlockInode(fs, ino);
    }
  }
}

const noop = (): void => {};

const EXT4_BASE = {
  defaultCommitIntervalMs: undefined,
  trans_log_bits: noop,
  trans_ijoin: noop,
  inode_transaction: inInodeHandle,
  chmodFields: XFS_ILOG_TIMESTAMP,
  iomap_begin: ext4_iomap_begin,
  fsync: ext4_sync_file,
  inode_datasync_dirty: ext4_inode_datasync_dirty,
  log_inode: ext4_log_inode,
  journal_start_for_fault: (fs: Fs) => ext4_journal_start(fs),
} as const;

export const EXT4_OPS: PersonalityOps = {
  ...EXT4_BASE,
  name: 'ext4',
  makesJournal: true,
  allowsLeakedBlocks: false,
  trans_freed_blocks: ext4_fc_mark_ineligible,
  trans_free_extent: ext4_free_extent,
};

export const EXT4_NOJOURNAL_OPS: PersonalityOps = {
  ...EXT4_BASE,
  name: 'ext4-nojournal',
  makesJournal: false,
  allowsLeakedBlocks: true,
  // Without a journal no handle exists to mark.
  trans_freed_blocks: noop,
  trans_free_extent: noop,
};

export const XFS_OPS: PersonalityOps = {
  name: 'xfs',
  makesJournal: true,
  allowsLeakedBlocks: false,
  defaultCommitIntervalMs: XFS_LOG_WORKER_MS,
  chmodFields: XFS_ILOG_CORE,
  iomap_begin: xfs_file_iomap_begin,
  fsync: xfs_file_fsync,
  inode_datasync_dirty: xfsInodeDatasyncDirty,
  log_inode: xfs_trans_log_inode,
  // __xfs_filemap_fault() opens no transaction: xfs_iomap_write_direct() allocates in its own.
  journal_start_for_fault: () => null,
  // XFS has no fast commit; its extent-free intents keep freed blocks busy until the log has them.
  trans_freed_blocks: noop,
  trans_free_extent: xfs_free_extent,
  trans_log_bits: xfs_trans_log_bits,
  trans_ijoin: (h: Handle, ino: number) => xfs_trans_ijoin_log(h, ino, 0),
  inode_transaction: xfs_inode_transaction,
};

const OPS: Readonly<Record<FsPersonality, PersonalityOps>> = { ext4: EXT4_OPS, 'ext4-nojournal': EXT4_NOJOURNAL_OPS, xfs: XFS_OPS };

/** The operations table of a personality. */
export function personalityOps(p: FsPersonality): PersonalityOps {
  return OPS[p];
}
