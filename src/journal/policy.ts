// The journal commit policy: every knob a run can tune, with ext4's defaults.

import { checkInt } from '../util/check.js';

export interface JournalPolicy {
  /** Commit the running transaction this long after it started (ext4 `commit=`, JBD2_DEFAULT_MAX_COMMIT_AGE 5 s). */
  commitIntervalMs: number;
  /** After a commit is requested, wait up to this long for other syncers to join (jbd2's j_max_batch_time). */
  batchWindowUs: number;
  /** Commit once the running transaction holds this many metadata blocks (j_max_transaction_buffers). 0: the journal's room. */
  maxTransactionBlocks: number;
  /** ext4 fast commit: an fsync logs only its inode's delta when the transaction is eligible. */
  fastCommit: boolean;
  /** jbd2 async_commit: the commit block is written without waiting for the metadata copies' flush. */
  asyncCommit: boolean;
  /** Injected cost of writing one journal block (descriptor, metadata copy, commit block), ns. */
  journalBlockWriteNs: number;
  /** Injected cost of the flush + fence that makes a commit's blocks durable (a REQ_PREFLUSH|REQ_FUA), ns. */
  journalFlushNs: number;
}

export const DEFAULT_JOURNAL_POLICY: JournalPolicy = {
  commitIntervalMs: 5000,
  batchWindowUs: 0,
  maxTransactionBlocks: 0,
  fastCommit: false,
  asyncCommit: false,
  journalBlockWriteNs: 0,
  journalFlushNs: 0,
};

/** Fills defaults and rejects a bad knob with a RangeError naming it. */
export function resolveJournalPolicy(p: Partial<JournalPolicy> = {}): JournalPolicy {
  const r = { ...DEFAULT_JOURNAL_POLICY, ...p };
  checkInt('journal.commitIntervalMs', r.commitIntervalMs, 1, 3_600_000);
  checkInt('journal.batchWindowUs', r.batchWindowUs, 0, 10_000_000);
  checkInt('journal.maxTransactionBlocks', r.maxTransactionBlocks, 0, 1 << 20);
  checkInt('journal.journalBlockWriteNs', r.journalBlockWriteNs, 0, 1e9);
  checkInt('journal.journalFlushNs', r.journalFlushNs, 0, 1e9);
  for (const k of ['fastCommit', 'asyncCommit'] as const) {
    if (typeof r[k] !== 'boolean') throw new RangeError(`journal.${k}: expected true or false, got ${String(r[k])}`);
  }
  return r;
}
