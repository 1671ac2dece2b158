// Test CPUs for the journal: CPUs whose handles share a transaction, fill it past its size
// limit, commit inline with no commit thread, watch what a commit holds, and (on the virtual
// clock) act at set instants: synchronous handles, write access during a commit, fast commits.
import { BLOCK_SIZE, CPU_STATE, FS_BUF, JOURNAL } from '../../src/machine/layout.js';
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
import { ext4_fc_commit } from '../../src/journal/fast_commit.js';
import { EXTENT, EXTENT_HEADER } from '../../src/fs/ondisk.js';
import { monoNs, nowNs } from '../../src/util/clock.js';
import { V_BLOCKED, vnotify, vsleepUntil } from '../../src/sync/vclock.js';

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
 * One handle maps one extent in inode `ino`'s extent block `block`, as an allocation does: the
 * block holds a header with one entry, whose words are all `value`. Returns its tid.
 */
export function mapExtent(j: Journal, block: number, value: number, ino: number): number {
  const h = jbd2_journal_start(j, 1);
  jbd2_journal_get_write_access(h, block);
  const meta = j.cpu.machine.views.fsMeta;
  const w = new Int32Array(meta.buffer, meta.byteOffset + block * BLOCK_SIZE, BLOCK_SIZE / 4);
  w.fill(0);
  w[EXTENT_HEADER.eh_entries] = 1;
  w.fill(value, EXTENT_HEADER.stride, EXTENT_HEADER.stride + EXTENT.stride);
  jbd2_journal_dirty_metadata(h, block);
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
 * several such CPUs fill transactions past their size limit. Returns the tids it joined and
 * the most blocks it saw a transaction hold (read under no lock: a sample).
 */
export function fillHandles(
  cpu: Cpu,
  a: { policy: Partial<JournalPolicy>; first: number; span: number; perHandle: number; rounds: number },
): { tids: number[]; maxSeen: number } {
  const j = new Journal(cpu, new PmemDevice(cpu), a.policy);
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

// ---- on the virtual clock: acts at set instants ----------------------------------------

/**
 * At `atNs`: one handle changes block `block` (for inode cpu.id) and, synchronous (h_sync),
 * stops: jbd2_journal_stop() batches, asks for the commit and waits for it.
 */
export function syncHandleAt(cpu: Cpu, a: { policy: Partial<JournalPolicy>; block: number; value: number; atNs: number }): { tid: number; returnedNs: number } {
  const j = new Journal(cpu, new PmemDevice(cpu), a.policy);
  vsleepUntil(a.atNs);
  const h = jbd2_journal_start(j, 1);
  jbd2_journal_get_write_access(h, a.block);
  cpu.machine.views.fsMeta.fill(a.value, a.block * BLOCK_SIZE, (a.block + 1) * BLOCK_SIZE);
  jbd2_journal_dirty_metadata(h, a.block);
  jbd2_journal_add_inode(h, cpu.id);
  h.sync = true;
  const tid = h.tid;
  jbd2_journal_stop(h);
  return { tid, returnedNs: nowNs() };
}

/**
 * At `atNs`: changes block `block` for inode `ino` (`extent`: maps an extent in it, see
 * mapExtent) and makes it durable as ext4's fsync does (ext4_fc_commit).
 */
export function fsyncAt(
  cpu: Cpu,
  a: { policy: Partial<JournalPolicy>; block: number; value: number; ino: number; atNs: number; extent?: boolean },
): { tid: number; calledNs: number; returnedNs: number } {
  const j = new Journal(cpu, new PmemDevice(cpu), a.policy);
  vsleepUntil(a.atNs);
  const tid = a.extent ? mapExtent(j, a.block, a.value, a.ino) : change(j, a.block, a.value, a.ino);
  const calledNs = nowNs();
  ext4_fc_commit(j, a.ino, tid);
  return { tid, calledNs, returnedNs: nowNs() };
}

/**
 * At `atNs`: opens a handle and takes write access to `block` (which a commit may be
 * writing), then changes it to `value`. Returns when access was asked for and granted, and
 * whether a frozen copy was made for the committing transaction.
 */
export function writeAccessAt(
  cpu: Cpu,
  a: { policy: Partial<JournalPolicy>; block: number; value: number; atNs: number },
): { tid: number; askedNs: number; grantedNs: number; frozen: boolean } {
  const j = new Journal(cpu, new PmemDevice(cpu), a.policy);
  vsleepUntil(a.atNs);
  const h = jbd2_journal_start(j, 1);
  const askedNs = nowNs();
  jbd2_journal_get_write_access(h, a.block);
  const grantedNs = nowNs();
  const frozen = j.bufs[a.block * FS_BUF.stride + FS_BUF.frozen] !== 0;
  cpu.machine.views.fsMeta.fill(a.value, a.block * BLOCK_SIZE, (a.block + 1) * BLOCK_SIZE);
  jbd2_journal_dirty_metadata(h, a.block);
  const tid = h.tid;
  jbd2_journal_stop(h);
  return { tid, askedNs, grantedNs, frozen };
}

/** At `atNs`: starts a handle (which may have to wait for log space), changes block `block`, stops. Returns when it asked and when it joined. */
export function handleAt(cpu: Cpu, a: { policy: Partial<JournalPolicy>; block: number; value: number; atNs: number }): { tid: number; askedNs: number; joinedNs: number } {
  const j = new Journal(cpu, new PmemDevice(cpu), a.policy);
  vsleepUntil(a.atNs);
  const askedNs = nowNs();
  const h = jbd2_journal_start(j, 1);
  const joinedNs = nowNs();
  jbd2_journal_get_write_access(h, a.block);
  cpu.machine.views.fsMeta.fill(a.value, a.block * BLOCK_SIZE, (a.block + 1) * BLOCK_SIZE);
  jbd2_journal_dirty_metadata(h, a.block);
  const tid = h.tid;
  jbd2_journal_stop(h);
  return { tid, askedNs, joinedNs };
}

const TIMED = { syncHandleAt, fsyncAt, writeAccessAt, handleAt };

/**
 * Runs one of the timed scenarios above once kjournald2 sleeps, then counts itself done in `done` (two words: done, begun); the last of `n`
 * such CPUs stops the commit thread (kjournald2 commits what is left and exits), so that a
 * run of them ends on its own.
 */
export function thenStopJournal(cpu: Cpu, a: { fn: keyof typeof TIMED; args: never; done: SharedArrayBuffer; n: number; kjournaldCpu: number }): unknown {
  const js = cpu.machine.views.journalState;
  // kjournald2 starts on its own thread: until it runs a waiter would commit inline, and until
  // it sleeps a wake-up would find it awake. Host time only: this CPU holds virtual time at
  // its start meanwhile.
  // Once one of these CPUs has begun, kjournald2 may be busy for it: the others go on.
  const st = cpu.machine.views.cpuState;
  const kjournald = a.kjournaldCpu * CPU_STATE.stride + CPU_STATE.vstate;
  const shared = new Int32Array(a.done);
  while (Atomics.load(shared, 1) === 0 && (Atomics.load(js, J.threadRunning) === 0 || Atomics.load(st, kjournald) !== V_BLOCKED)) {
    Atomics.wait(js, J.threadRunning, 0, 1);
  }
  Atomics.store(shared, 1, 1);
  try {
    return TIMED[a.fn](cpu, a.args);
  } finally {
    if (Atomics.add(shared, 0, 1) + 1 === a.n) {
      Atomics.store(js, J.shutdown, 1);
      Atomics.add(js, J.wakeSeq, 1);
      vnotify(cpu, js, J.wakeSeq);
    }
  }
}
