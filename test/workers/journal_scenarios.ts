// Test CPUs for the journal: CPUs whose handles share a transaction, fill it past its size
// limit, commit inline with no commit thread, or watch what a commit holds.
import { BLOCK_SIZE, JOURNAL } from '../../src/machine/layout.js';
import type { Cpu } from '../../src/sync/cpu.js';
import { PmemDevice } from '../../src/pmem/device.js';
import {
  Journal,
  jbd2_complete_transaction,
  jbd2_journal_add_inode,
  jbd2_journal_dirty_metadata,
  jbd2_journal_get_write_access,
  jbd2_journal_start,
  jbd2_journal_stop,
  jbd2_transaction_committed,
} from '../../src/journal/journal.js';
import type { JournalPolicy } from '../../src/journal/policy.js';
import { monoNs } from '../../src/util/clock.js';

const J = JOURNAL;

/** One handle filling metadata blocks `blocks` (one block: a number) with `value`, logged for inode `ino`; returns its tid. */
export function change(j: Journal, blocks: number | number[], value: number, ino = 1): number {
  if (typeof blocks === 'number') blocks = [blocks];
  const h = jbd2_journal_start(j, blocks.length);
  for (const b of blocks) {
    jbd2_journal_get_write_access(h, b);
    j.cpu.machine.views.fsMeta.fill(value, b * BLOCK_SIZE, (b + 1) * BLOCK_SIZE);
    jbd2_journal_dirty_metadata(h, b);
  }
  jbd2_journal_add_inode(h, ino);
  const tid = h.tid;
  jbd2_journal_stop(h);
  return tid;
}

/**
 * Opens a handle, changes metadata block `block` (fills it with `value`), waits until all
 * `n` CPUs have a handle open (so they share one transaction), stops, then fsyncs its tid.
 */
export function joinAndSync(
  cpu: Cpu,
  a: { policy: Partial<JournalPolicy>; block: number; value: number; n: number; barrier: SharedArrayBuffer },
): { tid: number; returnedNs: number } {
  const j = new Journal(cpu, new PmemDevice(cpu), a.policy);
  const bar = new Int32Array(a.barrier);
  const h = jbd2_journal_start(j, 1);
  jbd2_journal_get_write_access(h, a.block);
  cpu.machine.views.fsMeta.fill(a.value, a.block * BLOCK_SIZE, (a.block + 1) * BLOCK_SIZE);
  jbd2_journal_dirty_metadata(h, a.block);
  jbd2_journal_add_inode(h, cpu.id);
  Atomics.add(bar, 0, 1);
  Atomics.notify(bar, 0);
  for (let v = Atomics.load(bar, 0); v < a.n; v = Atomics.load(bar, 0)) Atomics.wait(bar, 0, v, 1000);
  const tid = h.tid;
  jbd2_journal_stop(h);
  jbd2_complete_transaction(j, tid);
  return { tid, returnedNs: monoNs() };
}

/**
 * `rounds` handles of `perHandle` blocks each, cycling through blocks [first, first + span):
 * several such CPUs fill transactions past their size limit. With `afterRequestOf`, starts
 * `pauseMs` after a commit of that tid has been asked for. Returns the tids it joined and the most
 * blocks it saw a transaction hold (read under no lock: a sample).
 */
export function fillHandles(
  cpu: Cpu,
  a: { policy: Partial<JournalPolicy>; first: number; span: number; perHandle: number; rounds: number; afterRequestOf?: number; pauseMs?: number },
): { tids: number[]; maxSeen: number } {
  const j = new Journal(cpu, new PmemDevice(cpu), a.policy);
  if (a.afterRequestOf !== undefined) {
    waitForRequest(j, a.afterRequestOf);
    if (a.pauseMs) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, a.pauseMs);
  }
  const tids: number[] = [];
  let next = 0;
  let maxSeen = 0;
  for (let r = 0; r < a.rounds; r++) {
    const blocks: number[] = [];
    for (let k = 0; k < a.perHandle; k++) blocks.push(a.first + (next++ % a.span));
    const tid = change(j, blocks, (r & 0x7f) + 1, cpu.id);
    if (tids[tids.length - 1] !== tid) tids.push(tid);
    maxSeen = Math.max(maxSeen, Atomics.load(j.js, J.nrBuffers));
  }
  return { tids, maxSeen };
}

/**
 * Waits until some commit has been asked for (commitRequest >= 1), then until tid
 * `firstTid` is committed or `pauseMs` have passed, then changes block `block` and fsyncs.
 */
export function syncAfterRequest(
  cpu: Cpu,
  a: { policy: Partial<JournalPolicy>; block: number; value: number; firstTid: number; pauseMs: number },
): { tid: number } {
  const j = new Journal(cpu, new PmemDevice(cpu), a.policy);
  const js = j.js;
  waitForRequest(j, a.firstTid);
  const until = monoNs() + a.pauseMs * 1e6;
  while (!jbd2_transaction_committed(j, a.firstTid) && monoNs() < until) Atomics.wait(js, J.commitSequence, Atomics.load(js, J.commitSequence), 5);
  const tid = change(j, [a.block], a.value, cpu.id);
  jbd2_complete_transaction(j, tid);
  return { tid };
}

/** Sleeps until someone has asked for tid's commit (jbd2_log_start_commit wakes the commit thread's word). */
function waitForRequest(j: Journal, tid: number): void {
  const js = j.js;
  while (Atomics.load(js, J.commitRequest) < tid) Atomics.wait(js, J.wakeSeq, Atomics.load(js, J.wakeSeq), 5);
}

/**
 * With no commit thread: `n` times, changes block `block` and fsyncs it, so the CPUs commit
 * inline and must take turns. Returns the tids it waited for and the errors it met.
 */
export function syncInline(cpu: Cpu, a: { block: number; n: number }): { tids: number[]; errors: string[] } {
  const j = new Journal(cpu, new PmemDevice(cpu), {});
  const tids: number[] = [];
  const errors: string[] = [];
  for (let i = 0; i < a.n; i++) {
    try {
      const tid = change(j, [a.block], (i & 0x7f) + 1, cpu.id);
      jbd2_complete_transaction(j, tid);
      if (!jbd2_transaction_committed(j, tid)) errors.push(`tid ${tid} not committed after its fsync`);
      tids.push(tid);
    } catch (e) {
      errors.push((e as Error).message);
      if (j.handle.open) jbd2_journal_stop(j.handle);
    }
  }
  return { tids, errors };
}

/**
 * Another CPU's view of a commit: joins `barrier` (so the syncers start only once it
 * watches), waits until a transaction is committing, then reads its tid, block count and
 * block list under j_state_lock. Gives up (null) once tid `lastTid` is committed without
 * it having seen a commit in flight.
 */
export function watchCommitting(
  cpu: Cpu,
  a: { lastTid: number; barrier: SharedArrayBuffer },
): { tid: number; count: number; blocks: number[] } | null {
  const j = new Journal(cpu, new PmemDevice(cpu), {});
  const js = j.js;
  const bar = new Int32Array(a.barrier);
  Atomics.add(bar, 0, 1);
  Atomics.notify(bar, 0);
  for (;;) {
    if (Atomics.load(js, J.committingTid) !== 0) {
      j.lock();
      const tid = js[J.committingTid];
      const count = js[J.committingBuffers];
      const blocks = Array.from(j.cbufs.subarray(0, count));
      j.unlock();
      if (tid !== 0) return { tid, count, blocks };
    }
    if (jbd2_transaction_committed(j, a.lastTid)) return null;
    Atomics.wait(js, J.commitSequence, Atomics.load(js, J.commitSequence), 1);
  }
}
