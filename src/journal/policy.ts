// The journal commit policy: every knob a run can tune, with ext4's defaults.
//
// The journal's two injected costs, journalBlockWriteNs and journalFlushNs, come from the
// machine's cost profile (MachineConfig.costs). The rule: a policy that sets one overrides
// the profile's value for that journal (an experiment on the journal device alone); a policy
// that leaves it out (the default) takes the profile's. Journal.journalBlockWriteNs and
// .journalFlushNs hold the result, and the commit code charges those.

import { checkInt } from '../util/check.js';

export interface JournalPolicy {
  /** Commit the running transaction this long after it started (ext4 `commit=`, JBD2_DEFAULT_MAX_COMMIT_AGE 5 s). */
  commitIntervalMs: number;
  /** After a commit is requested, wait up to this long for other syncers to join (jbd2's j_max_batch_time). */
  batchWindowUs: number;
  /**
   * The most metadata blocks a transaction may hold, counting the credits its open handles
   * reserved (j_max_transaction_buffers): a handle that would take it past this waits while
   * the transaction commits (a size trigger). 0: all the full-commit area holds; more than
   * that is rejected when the journal is set up.
   */
  maxTransactionBlocks: number;
  /** ext4 fast commit: an fsync logs only its inode's delta when the transaction is eligible. */
  fastCommit: boolean;
  /** jbd2 async_commit: the commit block is written without waiting for the metadata copies' flush. */
  asyncCommit: boolean;
  /** Injected cost of writing one journal block (descriptor, metadata copy, commit block), ns; absent: the cost profile's. */
  journalBlockWriteNs?: number;
  /** Injected cost of the flush + fence that makes a commit's blocks durable (a REQ_PREFLUSH|REQ_FUA), ns; absent: the cost profile's. */
  journalFlushNs?: number;
}

export const DEFAULT_JOURNAL_POLICY: JournalPolicy = {
  commitIntervalMs: 5000,
  batchWindowUs: 0,
  maxTransactionBlocks: 0,
  fastCommit: false,
  asyncCommit: false,
};

/** Fills defaults and rejects a bad knob with a RangeError naming it. */
export function resolveJournalPolicy(p: Partial<JournalPolicy> = {}): JournalPolicy {
  const r = { ...DEFAULT_JOURNAL_POLICY, ...p };
  checkInt('journal.commitIntervalMs', r.commitIntervalMs, 1, 3_600_000);
  checkInt('journal.batchWindowUs', r.batchWindowUs, 0, 10_000_000);
  checkInt('journal.maxTransactionBlocks', r.maxTransactionBlocks, 0, 1 << 20);
  for (const k of ['journalBlockWriteNs', 'journalFlushNs'] as const) {
    const v = r[k];
    if (v === undefined) delete r[k];
    else if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1e9) {
      throw new RangeError(`journal.${k}: expected a number from 0 to 1000000000 (ns), got ${JSON.stringify(v)}`);
    }
  }
  for (const k of ['fastCommit', 'asyncCommit'] as const) {
    if (typeof r[k] !== 'boolean') throw new RangeError(`journal.${k}: expected true or false, got ${String(r[k])}`);
  }
  return r;
}
