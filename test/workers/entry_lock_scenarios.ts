// Test CPUs for DAX entry locks.
import { CPU_STATE } from '../../src/machine/layout.js';
import type { Cpu } from '../../src/sync/cpu.js';
import { WAIT_KIND_ENTRY } from '../../src/sync/waitqueue.js';
import { RadixTree } from '../../src/dax/radix_tree.js';
import { lockMappingEntry, put_locked_mapping_entry } from '../../src/dax/entry_lock.js';
import { monoNs } from '../../src/util/clock.js';

interface Shared {
  /** Int32 [phase]; Float64 at byte 8: [holderReleasedAt]. */
  sync: SharedArrayBuffer;
  waiterCpu: number;
  index: number;
}

/**
 * With an entry lock held: waits (up to 10 s) until CPU `sleeper` sleeps on an entry wait
 * queue, then holds on 20 ms more so that it is really inside Atomics.wait, not just queued.
 * Returns whether it was seen asleep.
 */
export function awaitEntrySleeper(cpu: Cpu, sleeper: number): boolean {
  const state = cpu.machine.views.cpuState;
  const at = sleeper * CPU_STATE.stride + CPU_STATE.waitKind;
  const deadline = Date.now() + 10_000;
  let sawSleeper = false;
  while (!sawSleeper && Date.now() < deadline) sawSleeper = Atomics.load(state, at) === WAIT_KIND_ENTRY;
  const until = Date.now() + 20;
  while (Date.now() < until) {
    /* hold */
  }
  return sawSleeper;
}

/** Locks the entry, waits until the waiter CPU is asleep on its wait queue, then unlocks. */
export function holdUntilWaiterSleeps(cpu: Cpu, a: Shared): { sawSleeper: boolean } {
  const tree = new RadixTree(cpu, 0);
  const phase = new Int32Array(a.sync, 0, 1);
  const released = new Float64Array(a.sync, 8, 1);
  if (lockMappingEntry(tree, a.index) === 0) throw new Error('no entry to lock');
  Atomics.store(phase, 0, 1);
  Atomics.notify(phase, 0);
  const sawSleeper = awaitEntrySleeper(cpu, a.waiterCpu);
  released[0] = monoNs();
  put_locked_mapping_entry(tree, a.index);
  return { sawSleeper };
}

/** Waits for the holder to lock the entry, then takes it: sleeps until the holder unlocks. */
export function waitForEntry(cpu: Cpu, a: Shared): { acquiredAt: number } {
  const tree = new RadixTree(cpu, 0);
  const phase = new Int32Array(a.sync, 0, 1);
  Atomics.wait(phase, 0, 0, 10_000);
  const entry = lockMappingEntry(tree, a.index);
  const acquiredAt = monoNs();
  if (entry === 0) throw new Error('entry vanished');
  put_locked_mapping_entry(tree, a.index);
  return { acquiredAt };
}

/**
 * Many rounds of: lock a random one of `entries` entries, increment its counter with a
 * plain (non-atomic) read-modify-write spread over a few microseconds, unlock. Lost
 * increments would show the entry lock failed to exclude.
 */
export function hammerEntries(cpu: Cpu, a: { rounds: number; entries: number; counters: SharedArrayBuffer }): number {
  const tree = new RadixTree(cpu, 0);
  const counters = new Int32Array(a.counters);
  let x = cpu.id * 2654435761;
  for (let r = 0; r < a.rounds; r++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const index = (x >>> 8) % a.entries;
    lockMappingEntry(tree, index);
    const v = counters[index];
    for (let spin = 0; spin < 50; spin++) counters[a.entries] ^= spin; // widen the window
    counters[index] = v + 1;
    put_locked_mapping_entry(tree, index);
  }
  return a.rounds;
}
