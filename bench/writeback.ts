// Suite `writeback`: fsync's data step on DAX. One dirty page in a file whose index holds
// 1,000,000 clean entries against one dirty page in a one-entry file: the tagged walk skips
// clean subtrees, so the two should cost about the same (target: under 2x).

import { createMachine } from '../src/machine/machine.js';
import { MiB, PAGECACHE_TAG_DIRTY, PAGE_SIZE } from '../src/machine/layout.js';
import { attachCpu } from '../src/sync/cpu.js';
import { PmemDevice } from '../src/pmem/device.js';
import { radix_tree_insert, radix_tree_tag_set } from '../src/dax/radix_tree.js';
import { dax_radix_locked_entry, daxEntryUnlock } from '../src/dax/dax_entry.js';
import { DaxMapping, dax_writeback_mapping_range } from '../src/dax/writeback.js';
import { formatRows, runBatched, type BenchRow } from './support.js';

function mappingWith(entries: number): { m: DaxMapping; dev: PmemDevice } {
  const machine = createMachine({ cpus: 1, pmemBytes: 8 * MiB, mappings: 1, indexNodes: Math.ceil(entries / 63) + 100 });
  const cpu = attachCpu(machine, 0);
  const dev = new PmemDevice(cpu);
  const m = new DaxMapping(cpu, dev, 0);
  const pages = dev.size / PAGE_SIZE;
  m.tree.treeLock();
  for (let i = 0; i < entries; i++) radix_tree_insert(m.tree, i, daxEntryUnlock(dax_radix_locked_entry(i % pages, 0)));
  m.tree.treeUnlock();
  return { m, dev };
}

export async function runWritebackSuite(log: (s: string) => void): Promise<{ rows: BenchRow[]; ratio: number }> {
  const big = mappingWith(1_000_000);
  const small = mappingWith(1);
  const line = new Uint8Array(64).fill(1);
  const fsyncOne = (x: { m: DaxMapping; dev: PmemDevice }, page: number, end: number) => () => {
    x.m.tree.treeLock();
    radix_tree_tag_set(x.m.tree, page, PAGECACHE_TAG_DIRTY);
    x.m.tree.treeUnlock();
    x.dev.store((page % (x.dev.size / PAGE_SIZE)) * PAGE_SIZE, line);
    dax_writeback_mapping_range(x.m, 0, end);
  };
  const rows = await runBatched([
    { name: 'fsync data step: 1 dirty page, 1-entry file', batch: 1, fn: fsyncOne(small, 0, PAGE_SIZE - 1) },
    { name: 'fsync data step: 1 dirty page among 1,000,000 clean entries', batch: 1, fn: fsyncOne(big, 777_777, 1_000_000 * PAGE_SIZE - 1) },
  ]);
  const ratio = rows[1].nsPerOp / rows[0].nsPerOp;
  log(formatRows(rows));
  log(`ratio 1M-entry / 1-entry: ${ratio.toFixed(2)} (target < 2)`);
  return { rows, ratio };
}
