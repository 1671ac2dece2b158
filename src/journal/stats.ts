// Reading the commit records the committers leave in journalStats (a ring of the last
// COMMIT_RECORDS commits): what each commit wrote and how long its waiters waited; and the
// journal's counters in journalState.

import { COMMIT_RECORD, COMMIT_RECORDS, JOURNAL } from '../machine/layout.js';
import type { Machine } from '../machine/machine.js';
import { COMMIT_FAST } from './commit.js';

export interface CommitRecord {
  tid: number;
  kind: 'full' | 'fast';
  blocks: number;
  handles: number;
  inodes: number;
  /** From the first commit request (or the commit's start, for an interval commit) to durable. */
  requestToDurableNs: number;
  /** From the commit's start to durable. */
  commitNs: number;
}

/** The commits still in the ring, oldest first. */
export function readCommitRecords(machine: Machine): CommitRecord[] {
  const st = machine.views.journalStats;
  const total = Atomics.load(machine.views.journalState, JOURNAL.commits);
  const out: CommitRecord[] = [];
  for (let i = Math.max(0, total - COMMIT_RECORDS); i < total; i++) {
    const b = (i % COMMIT_RECORDS) * COMMIT_RECORD.stride;
    out.push({
      tid: st[b + COMMIT_RECORD.tid],
      kind: st[b + COMMIT_RECORD.kind] === COMMIT_FAST ? 'fast' : 'full',
      blocks: st[b + COMMIT_RECORD.blocks],
      handles: st[b + COMMIT_RECORD.handles],
      inodes: st[b + COMMIT_RECORD.inodes],
      requestToDurableNs: st[b + COMMIT_RECORD.durableNs] - st[b + COMMIT_RECORD.requestNs],
      commitNs: st[b + COMMIT_RECORD.durableNs] - st[b + COMMIT_RECORD.startNs],
    });
  }
  return out;
}

/** The journal's own counters since mkfs: checkpoints (and the blocks they wrote home), tail moves, fast commits that fell back. */
export function readJournalCounters(machine: Machine): { checkpoints: number; checkpointBlocks: number; tailUpdates: number; fcFallbacks: number } {
  const js = machine.views.journalState;
  return {
    checkpoints: Atomics.load(js, JOURNAL.checkpoints),
    checkpointBlocks: Atomics.load(js, JOURNAL.checkpointBlocks),
    tailUpdates: Atomics.load(js, JOURNAL.tailUpdates),
    fcFallbacks: Atomics.load(js, JOURNAL.fcFallbacks),
  };
}
