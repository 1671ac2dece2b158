// RCU for the lab's lockless readers (include/linux/rcupdate.h, kernel/rcu/, reduced to what
// the mapping index needs): a reader brackets its walk with rcu_read_lock() and
// rcu_read_unlock(); a writer that unlinks a node hands it to the node pool, which reuses it
// only after every reader that might have seen it has left (a grace period).
//
// How a grace period is told (epochs, as in epoch-based reclamation): the header's `epoch`
// only grows. A reader announces, in its CPU's record, the epoch it read on entry (+1; 0 when
// outside). A writer unlinks with Atomics.store, then stamps the freed nodes with
// rcu_stamp(), which returns the epoch before advancing it. A reader whose announced epoch is
// at most the stamp may have loaded the link before the unlink; one whose announced epoch is
// above it read the epoch after the advance, so its loads come after the unlink too (every
// step here and every link a reader follows is a sequentially consistent Atomics operation).
// So a node stamped s is free to reuse once no CPU announces an epoch <= s:
// rcu_grace_period_over(s). With no reader inside at all (rcu_readers_active() === 0, read
// after the unlink) a node is free to reuse at once.
//
// Costs: none. rcu_read_lock() is a preempt-count increment in the kernel, and the callbacks
// that free nodes run on no modelled CPU's clock.
//
// Locking rules: none taken, nothing sleeps. The nesting depth of a CPU's read-side critical
// sections is kept per thread (a CPU runs on one thread).

import { RCU_READER, RCU_STATE } from '../machine/layout.js';
import type { Machine } from '../machine/machine.js';
import type { Cpu } from './cpu.js';

const READERS = RCU_STATE.readers;
const EPOCH = RCU_STATE.epoch;

/** Read-side nesting depth per CPU of this thread. */
const depth = new Map<number, number>();

function readerAt(id: number): number {
  return RCU_STATE.stride + id * RCU_READER.stride + RCU_READER.epoch;
}

/** rcu_read_lock(): enters a read-side critical section (nests). */
export function rcu_read_lock(cpu: Cpu): void {
  const d = depth.get(cpu.id) ?? 0;
  depth.set(cpu.id, d + 1);
  if (d > 0) return;
  const w = cpu.machine.views.rcu;
  Atomics.add(w, READERS, 1);
  Atomics.store(w, readerAt(cpu.id), Atomics.load(w, EPOCH) + 1);
}

/** rcu_read_unlock(): leaves it; the outermost unlock ends this CPU's hold on what it saw. */
export function rcu_read_unlock(cpu: Cpu): void {
  const d = depth.get(cpu.id) ?? 0;
  if (d === 0) throw new Error(`rcu_read_unlock: cpu ${cpu.id} is not inside rcu_read_lock()`);
  depth.set(cpu.id, d - 1);
  if (d > 1) return;
  const w = cpu.machine.views.rcu;
  Atomics.store(w, readerAt(cpu.id), 0);
  Atomics.sub(w, READERS, 1);
}

/** Whether this thread's CPU is inside rcu_read_lock(). */
export function rcu_read_lock_held(cpu: Cpu): boolean {
  return (depth.get(cpu.id) ?? 0) > 0;
}

/** CPUs inside a read-side critical section now (read after an unlink: 0 means the unlinked may be reused at once). */
export function rcu_readers_active(machine: Machine): number {
  return Atomics.load(machine.views.rcu, READERS);
}

/** The stamp of what was unlinked before this call (call_rcu's grace-period sequence): the epoch, which then advances. */
export function rcu_stamp(machine: Machine): number {
  return Atomics.add(machine.views.rcu, EPOCH, 1);
}

/** Whether every reader that might have seen what was stamped `stamp` has left. */
export function rcu_grace_period_over(machine: Machine, stamp: number): boolean {
  const w = machine.views.rcu;
  for (let c = 0; c < machine.config.cpus; c++) {
    const e = Atomics.load(w, readerAt(c));
    if (e !== 0 && e - 1 <= stamp) return false;
  }
  return true;
}

/** The smallest stamp whose grace period is not over (Infinity when none is pending): stamps below it are free. */
export function rcu_oldest_reader(machine: Machine): number {
  const w = machine.views.rcu;
  let min = Infinity;
  for (let c = 0; c < machine.config.cpus; c++) {
    const e = Atomics.load(w, readerAt(c));
    if (e !== 0 && e - 1 < min) min = e - 1;
  }
  return min;
}
