// Issue 9's targets for the lab itself, each measured here and judged PASS or SHORT, printed
// one line per target and written to results/bench/latest.json. Ratios are taken within one
// run (the machine is shared and noisy); absolute figures are medians of tinybench samples.

import { createMachine } from '../src/machine/machine.js';
import { INDEX_POOL, MiB, PAGE_SIZE } from '../src/machine/layout.js';
import { attachCpu } from '../src/sync/cpu.js';
import { PmemDevice } from '../src/pmem/device.js';
import { Journal } from '../src/journal/journal.js';
import { mkfs, mountFs } from '../src/fs/super.js';
import { vfs_create, vfs_write } from '../src/fs/inode.js';
import { munmap } from '../src/mm/mmap.js';
import { CpuRecorders } from '../src/measure/histogram.js';
import { runOnCpus } from '../src/lab/cpus.js';
import { readLockClass } from '../src/sync/lockstat.js';
import { RadixTree, radix_tree_insert } from '../src/dax/radix_tree.js';
import { dax_radix_locked_entry, daxEntryUnlock } from '../src/dax/dax_entry.js';
import { ndelay, ndelayCalibrated } from '../src/cost/delay.js';
import { nowNs } from '../src/util/clock.js';
import { runBatched } from './support.js';
import { faultRig, map4k } from './fault_rig.js';
import type { FaultArgs } from './workers/fault_cpu.js';

export interface TargetLine {
  target: string;
  figure: number;
  unit: string;
  goal: string;
  pass: boolean;
  detail?: string;
}

/** Rounds of each measurement whose median is judged. */
const ROUNDS = 3;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

const fmt = (n: number) => (n >= 1000 ? Math.round(n).toLocaleString('en-US') : n.toFixed(n < 10 ? 2 : 1));

export function formatTarget(t: TargetLine): string {
  return `${t.pass ? 'PASS ' : 'SHORT'} ${t.target}: ${fmt(t.figure)} ${t.unit} (target ${t.goal})${t.detail ? `; ${t.detail}` : ''}`;
}

/** Faults per second, one CPU, with and without recording each fault's latency as the lab does. */
async function faultTargets(): Promise<TargetLine[]> {
  const pages = 16384;
  const { mm, ino } = faultRig(pages);
  const word = new Uint8Array(8).fill(7);
  const buf = new Uint8Array(8);
  const rec = new CpuRecorders();
  let vma = map4k(mm, ino, pages);
  let page = 0;
  const next = () => {
    if (page === pages) {
      munmap(vma);
      vma = map4k(mm, ino, pages);
      page = 0;
    }
    return page++ * PAGE_SIZE;
  };
  const B = 100;
  const tasks = () =>
    runBatched(
    [
      {
        name: 'faults',
        batch: 2 * B,
        fn: () => {
          for (let i = 0; i < B; i++) {
            const off = next();
            vma.loadInto(off, buf);
            vma.store(off, word);
          }
        },
      },
      {
        // As the lab's roles time back-to-back operations: one clock read per operation, the
        // end of one being the start of the next.
        name: 'faults, each timed and recorded',
        batch: 2 * B,
        fn: () => {
          let t = nowNs();
          for (let i = 0; i < B; i++) {
            const off = next();
            vma.loadInto(off, buf);
            let t1 = nowNs();
            rec.record('read-fault', t1 - t);
            t = t1;
            vma.store(off, word);
            t1 = nowNs();
            rec.record('write-fault', t1 - t);
            t = t1;
          }
        },
      },
    ],
    500,
  );
  // Three rounds, each timing both loops; the medians of the rounds: a noisy moment of the
  // shared machine lands in one round, not in the verdict.
  const plains: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const rows = await tasks();
    plains.push(rows[0].nsPerOp);
    ratios.push(rows[1].nsPerOp / rows[0].nsPerOp);
  }
  rec.destroy();
  const plain = median(plains);
  const overhead = (median(ratios) - 1) * 100;
  const recorded = plain * median(ratios);
  return [
    {
      target: 'simulator speed: read-then-write faults on fresh pages of a written file, one CPU, zero profile',
      figure: 1e9 / plain,
      unit: 'faults/s',
      goal: '>= 1,000,000',
      pass: 1e9 / plain >= 1e6,
      detail: `${fmt(plain)} ns per fault at the median`,
    },
    {
      target: 'measurement overhead: timing and recording every fault in HDR histograms',
      figure: overhead,
      unit: '%',
      goal: '< 10 %',
      pass: overhead < 10,
      detail: `${fmt(recorded)} against ${fmt(plain)} ns per fault, in one run`,
    },
  ];
}

/** A 10 µs injected cost: median and p99 error, one CPU (CPUs do not outnumber cores). */
function delayTarget(): TargetLine {
  ndelayCalibrated();
  const n = 10_000;
  const meds: number[] = [];
  const p99s: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const errs = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const t0 = nowNs();
      ndelay(10_000);
      errs[i] = nowNs() - t0 - 10_000;
    }
    errs.sort();
    meds.push(errs[n >> 1]);
    p99s.push(errs[Math.floor(n * 0.99)]);
  }
  const med = median(meds);
  const p99 = median(p99s);
  return {
    target: 'delay injection: a 10 µs cost, error at the median (p99 beside it)',
    figure: med,
    unit: 'ns',
    goal: '|median| <= 500 ns and |p99| <= 2,000 ns',
    pass: Math.abs(med) <= 500 && Math.abs(p99) <= 2000,
    detail: `p99 error ${fmt(p99)} ns, median of ${ROUNDS} rounds of ${n} (the p99 includes the clock read that timed it)`,
  };
}

/** Faults per second with 1 and 2 CPUs on separate files, and 2 CPUs on one file. */
async function scalingTargets(): Promise<TargetLine[]> {
  const pages = 8192;
  const machine = createMachine({ cpus: 3, pmemBytes: 256 * MiB, mappings: 8, indexNodes: (3 * pages) / 32 + 256, fsInodes: 8, vmas: 16, ptePages: 1 << 17 });
  const cpu = attachCpu(machine, 2);
  const dev = new PmemDevice(cpu);
  const journal = new Journal(cpu, dev);
  mkfs(cpu, dev, { personality: 'ext4', journal });
  const fs = mountFs(cpu, { dev, journal });
  const files = [vfs_create(fs), vfs_create(fs)];
  for (const ino of files) vfs_write(fs, ino, 0, new Uint8Array(pages * PAGE_SIZE).fill(1));
  const moduleUrl = new URL('./workers/fault_cpu.js', import.meta.url).href;
  const run = async (inos: number[]) => {
    const start = new SharedArrayBuffer(4);
    const args = (ino: number): FaultArgs => ({ ino, pages, ms: 700, start, cpus: inos.length });
    const out = await runOnCpus<{ faults: number; ns: number }>(
      machine,
      inos.map((ino, i) => ({ cpu: i, moduleUrl, fn: 'faultLoop', args: args(ino) })),
      { timeoutMs: 60_000 },
    );
    return out.reduce((s, r) => s + (r.faults * 1e9) / r.ns, 0);
  };
  // Rounds alternate one CPU and two, so a noisy moment of the shared machine cannot sit
  // under one side of the ratio only; the median round is judged.
  const ones: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const one = await run([files[0]]);
    ones.push(one);
    ratios.push((await run(files)) / one);
  }
  const one = median(ones);
  const two = one * median(ratios);
  const before = readLockClass(machine, 'tree_lock');
  const shared = await run([files[0], files[0]]);
  const after = readLockClass(machine, 'tree_lock');
  const con = after.contentions - before.contentions;
  const acq = after.acquisitions - before.acquisitions;
  const waitAvg = con > 0 ? (after.waitNsTotal - before.waitNsTotal) / con : 0;
  return [
    {
      target: 'scaling: two CPUs faulting separate files against one CPU',
      figure: two / one,
      unit: 'x',
      goal: '>= 1.6x',
      pass: two / one >= 1.6,
      detail: `${fmt(one)} faults/s on one CPU, ${fmt(two)} on two`,
    },
    {
      target: 'scaling: two CPUs faulting one file against one CPU (reported, no target)',
      figure: shared / one,
      unit: 'x',
      goal: 'none',
      pass: true,
      detail: `${fmt(shared)} faults/s; tree_lock ${fmt(con)} contentions in ${fmt(acq)} acquisitions (${((100 * con) / Math.max(1, acq)).toFixed(1)} %), ${fmt(waitAvg)} ns average wait`,
    },
  ];
}

/** The index of a 16M-page file (64 GiB simulated, entries only): the shared memory its nodes take. */
function memoryTarget(): TargetLine {
  const entries = 1 << 24;
  const nodesNeeded = Math.ceil(entries / 64) + Math.ceil(entries / 64 / 64) + Math.ceil(entries / 64 / 64 / 64) + 2;
  const machine = createMachine({ cpus: 1, pmemBytes: 2 * MiB, mappings: 1, indexNodes: nodesNeeded + 16 });
  const tree = new RadixTree(attachCpu(machine, 0), 0);
  tree.treeLock();
  for (let i = 0; i < entries; i++) radix_tree_insert(tree, i, daxEntryUnlock(dax_radix_locked_entry(i & 0xfffff, 0)));
  tree.treeUnlock();
  const v = machine.views;
  const used = v.indexPool[INDEX_POOL.used];
  const bytes = v.indexNodes.byteLength + v.indexRoots.byteLength + v.indexPool.byteLength;
  const usedBytes = (used * v.indexNodes.byteLength) / (machine.config.indexNodes + 1);
  return {
    target: 'memory: the index of a 16M-page file (64 GiB simulated)',
    figure: bytes / MiB,
    unit: 'MiB of shared memory',
    goal: '< 1024 MiB',
    pass: bytes < 1024 * MiB,
    detail: `${fmt(used)} radix-tree nodes in use (${fmt(usedBytes / MiB)} MiB), ${entries.toLocaleString('en-US')} entries inserted`,
  };
}

export async function runTargets(log: (s: string) => void, extra: TargetLine[]): Promise<TargetLine[]> {
  const lines: TargetLine[] = [];
  const add = (t: TargetLine | TargetLine[]) => {
    for (const x of Array.isArray(t) ? t : [t]) {
      lines.push(x);
      log(formatTarget(x));
    }
  };
  add(await faultTargets());
  add(extra);
  add(delayTarget());
  add(await scalingTargets());
  add(memoryTarget());
  return lines;
}
