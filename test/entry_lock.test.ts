import { describe, expect, it } from 'vitest';
import { createMachine } from '../src/machine/machine.js';
import { attachCpu } from '../src/sync/cpu.js';
import { readLockStat } from '../src/sync/lockstat.js';
import { spin_is_locked } from '../src/sync/spinlock.js';
import { INDEX_ROOT, MiB } from '../src/machine/layout.js';
import { RadixTree, radix_tree_insert, radix_tree_lookup } from '../src/dax/radix_tree.js';
import { dax_radix_locked_entry, daxEntryIsLocked, daxEntryUnlock } from '../src/dax/dax_entry.js';
import {
  dax_wake_mapping_entry_waiter,
  get_unlocked_mapping_entry,
  lockMappingEntry,
  put_locked_mapping_entry,
  unlock_slot,
} from '../src/dax/entry_lock.js';
import { runCpus } from './support/workers.js';

function machineWithEntries(n: number, cpus = 4) {
  const machine = createMachine({ cpus, pmemBytes: 2 * MiB, mappings: 1, indexNodes: 64 });
  const tree = new RadixTree(attachCpu(machine, 0), 0);
  tree.treeLock();
  for (let i = 0; i < n; i++) radix_tree_insert(tree, i, daxEntryUnlock(dax_radix_locked_entry(100 + i, 0)));
  tree.treeUnlock();
  return { machine, tree };
}

describe('DAX entry locks', () => {
  it('sets and clears the lock bit in the entry, keeping the rest of it', () => {
    const { tree } = machineWithEntries(4, 1);
    const before = (tree.treeLock(), radix_tree_lookup(tree, 2));
    tree.treeUnlock();
    const locked = lockMappingEntry(tree, 2);
    expect(daxEntryIsLocked(locked)).toBe(true);
    expect(daxEntryUnlock(locked)).toBe(before);
    put_locked_mapping_entry(tree, 2);
    tree.treeLock();
    expect(radix_tree_lookup(tree, 2)).toBe(before);
    expect(get_unlocked_mapping_entry(tree, 9)).toBe(0); // no entry: nothing to wait for
    expect(() => unlock_slot(tree, 2)).toThrow(/not locked/);
    tree.treeUnlock();
    expect(lockMappingEntry(tree, 50)).toBe(0);
  });

  it('rejects a bad index or an unlocked entry with tree_lock left free and the tree unchanged', () => {
    const { machine, tree } = machineWithEntries(4, 1);
    const roots = machine.views.indexRoots;
    const before = machine.views.indexNodes.slice();
    const calls: [() => unknown, ErrorConstructor, RegExp][] = [
      [() => lockMappingEntry(tree, -1), RangeError, /^index: expected an integer from 0 to 281474976710655, got -1$/],
      [() => lockMappingEntry(tree, 1.5), RangeError, /^index: /],
      [() => put_locked_mapping_entry(tree, -1), RangeError, /^index: expected an integer from 0 to 281474976710655, got -1$/],
      [() => put_locked_mapping_entry(tree, 2), Error, /^unlock_slot: mapping 0 index 2 is not locked$/],
      [() => put_locked_mapping_entry(tree, 9), Error, /^unlock_slot: mapping 0 index 9 is not locked$/],
    ];
    for (const [call, type, message] of calls) {
      expect(call).toThrow(type);
      expect(call).toThrow(message);
      expect(spin_is_locked(roots, INDEX_ROOT.lockState)).toBe(false);
      expect(tree.holdsTreeLock).toBe(false);
    }
    expect(machine.views.indexNodes).toEqual(before);
    const table = machine.views.waitTable.slice();
    expect(() => dax_wake_mapping_entry_waiter(tree, -1, -4, false)).toThrow(/^entry: expected a DAX entry \(an odd Int32 from 1 to 2147483647\) or 0 for none, got -4$/);
    expect(() => dax_wake_mapping_entry_waiter(tree, 5, 2, false)).toThrow(/^entry: .*got 2$/);
    expect(() => dax_wake_mapping_entry_waiter(tree, -1, daxEntryUnlock(dax_radix_locked_entry(1, 0)), false)).toThrow(/^index: .*got -1$/);
    expect(machine.views.waitTable).toEqual(table);
    // The mapping is still usable.
    expect(daxEntryIsLocked(lockMappingEntry(tree, 2))).toBe(true);
    put_locked_mapping_entry(tree, 2);
    expect(machine.views.indexNodes).toEqual(before);
  });

  it('puts a CPU to sleep on the wait queue until the holder unlocks', async () => {
    const { machine } = machineWithEntries(8, 3);
    const sync = new SharedArrayBuffer(16);
    const args = { sync, waiterCpu: 2, index: 5 };
    const [holder, waiter] = await runCpus<{ sawSleeper?: boolean; acquiredAt?: number }>(machine, [
      { cpu: 1, module: 'entry_lock_scenarios', fn: 'holdUntilWaiterSleeps', args },
      { cpu: 2, module: 'entry_lock_scenarios', fn: 'waitForEntry', args },
    ]);
    expect(holder.sawSleeper).toBe(true);
    const releasedAt = new Float64Array(sync, 8, 1)[0];
    expect(waiter.acquiredAt).toBeGreaterThan(releasedAt);
    const stat = readLockStat(machine).dax_entry_lock;
    expect(stat.acquisitions).toBe(2);
    expect(stat.contentions).toBe(1);
    expect(stat.waitNsTotal).toBeGreaterThan(10e6); // it slept through the holder's 20 ms
  });

  it('excludes: 4 CPUs incrementing counters under entry locks lose no update', async () => {
    const entries = 6;
    const { machine } = machineWithEntries(entries, 4);
    const counters = new SharedArrayBuffer(4 * (entries + 1));
    const rounds = 3000;
    await runCpus(
      machine,
      [0, 1, 2, 3].map((cpu) => ({ cpu, module: 'entry_lock_scenarios', fn: 'hammerEntries', args: { rounds, entries, counters } })),
    );
    const c = new Int32Array(counters);
    let total = 0;
    for (let i = 0; i < entries; i++) total += c[i];
    expect(total).toBe(4 * rounds);
    const stat = readLockStat(machine);
    expect(stat.dax_entry_lock.acquisitions).toBe(4 * rounds);
    expect(stat.dax_entry_lock.contentions).toBeGreaterThan(0);
    // Every entry ends unlocked.
    const tree = new RadixTree(attachCpu(machine, 0), 0);
    tree.treeLock();
    for (let i = 0; i < entries; i++) expect(daxEntryIsLocked(radix_tree_lookup(tree, i))).toBe(false);
    tree.treeUnlock();
  });
});
