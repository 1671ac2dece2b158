// Test CPUs for the journal: CPUs whose handles share a transaction.
import { BLOCK_SIZE } from '../../src/machine/layout.js';
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
} from '../../src/journal/journal.js';
import type { JournalPolicy } from '../../src/journal/policy.js';
import { monoNs } from '../../src/util/clock.js';

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
  const h = jbd2_journal_start(j);
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
