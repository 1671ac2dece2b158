// The journal's view of a metadata buffer (struct journal_head, in views.fsBufState): which
// list of its transaction it is on and the buffer-state bits jbd2 waits on. The fields are
// FS_BUF's (machine/layout.ts).

import { FS_BUF } from '../machine/layout.js';

/** FS_BUF.jlist: on no list of a live transaction. */
export const BJ_None = 0;
/** Write access taken (jbd2_journal_get_write_access), not yet dirtied: dropped at the commit if it never is. */
export const BJ_Reserved = 1;
/** Dirtied in its transaction (jbd2_journal_dirty_metadata): the commit logs it. */
export const BJ_Metadata = 2;
/** Its committing transaction has written its copy to the log (BJ_Shadow done, on t_forget): no frozen copy needed. */
export const BJ_Logged = 3;

// FS_BUF.flags bits beside BH_Dirty (fs/super.ts, 1): set while a write of the buffer is in flight.

/** The checkpoint is writing the buffer home (lock_buffer for write_dirty_buffer): write access waits. */
export const BH_Lock = 2;
/** The commit is writing the buffer's own data to the log (BH_Shadow): write access waits. */
export const BH_Shadow = 4;

/** Index of block `block`'s word `field` in views.fsBufState. */
export function bufWord(block: number, field: number): number {
  return block * FS_BUF.stride + field;
}
