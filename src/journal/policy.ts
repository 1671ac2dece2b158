// The journal's knobs: the ones a user sets on ext4, with ext4's defaults. Each names the
// mount option or mkfs flag it stands for; the journal's size (mkfs.ext4 -J size=) is the
// machine's journalBlocks (MachineConfig), since it shapes the device.
//
// The journal's two injected costs, journalBlockWriteNs and journalFlushNs, come from the
// machine's cost profile (MachineConfig.costs). The rule: a policy that sets one overrides
// the profile's value for that journal (an experiment on the journal device alone); a policy
// that leaves it out (the default) takes the profile's. Journal.journalBlockWriteNs and
// .journalFlushNs hold the result, and the commit code charges those.

import { checkInt } from '../util/check.js';

export interface JournalPolicy {
  /** `commit=`: commit the running transaction this long after it started, ms (ext4 takes whole seconds; JBD2_DEFAULT_MAX_COMMIT_AGE 5 s). */
  commitIntervalMs: number;
  /** `min_batch_time=`, µs: the least a synchronous handle's jbd2_journal_stop() waits for others to join (EXT4_DEF_MIN_BATCH_TIME 0). */
  minBatchTimeUs: number;
  /** `max_batch_time=`, µs: the most it waits; 0 turns batching off (EXT4_DEF_MAX_BATCH_TIME 15000). */
  maxBatchTimeUs: number;
  /** mkfs.ext4 `-O fast_commit`: an fsync logs the changed inodes alone when the transaction is eligible. */
  fastCommit: boolean;
  /** `journal_async_commit`: the commit block is written without waiting for the metadata copies' flush. */
  asyncCommit: boolean;
  /** XFS `logbsize=`: bytes per in-core log buffer (XLOG_BIG_RECORD_BSIZE 32k by default); the xfs personality's log only. */
  logbsize: number;
  /** XFS `logbufs=`: in-core log buffers, 2..8 (XLOG_MAX_ICLOGS 8 by default); the xfs personality's log only. */
  logbufs: number;
  /** Injected cost of writing one journal block (descriptor, metadata copy, commit block), ns; absent: the cost profile's. */
  journalBlockWriteNs?: number;
  /** Injected cost of the flush + fence that makes a commit's blocks durable (a REQ_PREFLUSH|REQ_FUA), ns; absent: the cost profile's. */
  journalFlushNs?: number;
}

export const DEFAULT_JOURNAL_POLICY: JournalPolicy = {
  commitIntervalMs: 5000,
  minBatchTimeUs: 0,
  maxBatchTimeUs: 15_000,
  fastCommit: false,
  asyncCommit: false,
  logbsize: 32768,
  logbufs: 8,
};

/** xfs_syncd_centisecs (fs.xfs.xfssyncd_centisecs, default 3000): the period of xfs_log_worker, which forces the log. */
export const XFS_LOG_WORKER_MS = 30_000;

/**
 * Knobs the lab once had that no kernel has, and what replaced them: a workload or policy
 * that still sets one is refused with this message rather than silently ignored.
 */
export const REMOVED_JOURNAL_KNOBS: Readonly<Record<string, string>> = {
  batchWindowUs:
    'removed: no kernel waits after an fsync asks for a commit; jbd2 batches synchronous handles in jbd2_journal_stop(), ' +
    'tuned by min_batch_time= and max_batch_time= (journal.minBatchTimeUs, journal.maxBatchTimeUs)',
  maxTransactionBlocks:
    'removed: jbd2 limits a transaction to a quarter of the journal (j_max_transaction_buffers); ' +
    'set the journal size instead (journal.size, mkfs.ext4 -J size=)',
};

/** Fills defaults and rejects a bad knob with a RangeError naming it. */
export function resolveJournalPolicy(p: Partial<JournalPolicy> = {}): JournalPolicy {
  for (const [k, v] of Object.entries(p)) {
    const gone = REMOVED_JOURNAL_KNOBS[k];
    if (gone !== undefined && v !== undefined) throw new RangeError(`journal.${k}: ${gone}`);
  }
  const r = { ...DEFAULT_JOURNAL_POLICY, ...p };
  checkInt('journal.commitIntervalMs', r.commitIntervalMs, 1, 3_600_000);
  checkInt('journal.minBatchTimeUs', r.minBatchTimeUs, 0, 10_000_000);
  checkInt('journal.maxBatchTimeUs', r.maxBatchTimeUs, 0, 10_000_000);
  checkInt('log.logbufs', r.logbufs, 2, 8);
  if (![16384, 32768, 65536, 131072, 262144].includes(r.logbsize)) {
    throw new RangeError(`log.logbsize: expected one of 16384, 32768, 65536, 131072, 262144 bytes, got ${String(r.logbsize)}`);
  }
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
