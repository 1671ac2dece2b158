// TLB shootdowns: a CPU that write-protects (writeback) or zaps (punch) PTEs of the process
// interrupts every other CPU running a thread that uses a mapping: per flush one round trip
// (tlbShootdownNs) and the sending per target (tlbShootdownTargetNs); CPUs asleep, and CPUs
// that never mapped anything, are not interrupted.

import { describe, expect, it } from 'vitest';
import { MM, PAGE_SIZE } from '../src/machine/layout.js';
import { mmap } from '../src/mm/mmap.js';
import { MADV_NOHUGEPAGE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../src/mm/mman.js';
import { madvise } from '../src/mm/madvise.js';
import { mm_cpumask_test } from '../src/mm/tlb.js';
import { checkMm } from '../src/mm/check.js';
import { makeFile, setupMm } from './workers/mm_support.js';
import { runCpus } from './support/workers.js';
import type { FlusherResult } from './workers/tlb_scenarios.js';

const RW = PROT_READ | PROT_WRITE;
const COSTS = { tlbShootdownNs: 2000, tlbShootdownTargetNs: 200, tlbFlushIrqNs: 500, pteNs: 50 };

async function flushWith(bystanders: { sleep: boolean }[], how: 'msync' | 'punch', pages = 4) {
  const s = setupMm('ext4', { clock: 'virtual', windowNs: 250, costs: COSTS });
  const ino = makeFile(s.fs, 16, 'written');
  const vma = mmap(s.mm, ino, 16 * PAGE_SIZE, RW, MAP_SHARED, 0);
  const flags = new SharedArrayBuffer(12);
  const jobs = [
    { cpu: 1, module: 'tlb_scenarios', fn: 'flusher', args: { ref: vma.ref, flags, bystanders: bystanders.length, pages, how, ino, sleepers: bystanders.flatMap((b, i) => (b.sleep ? [2 + i] : [])) } },
    ...bystanders.map((b, i) => ({ cpu: 2 + i, module: 'tlb_scenarios', fn: 'bystander', args: { ref: vma.ref, flags, sleep: b.sleep, page: 15 - i, turn: i } })),
  ];
  const [r, ...faults] = await runCpus<FlusherResult | number>(s.machine, jobs);
  return { s, r: r as FlusherResult, faults: faults as number[] };
}

describe('TLB shootdowns', () => {
  it('a CPU joins mm_cpumask when it maps or attaches a VMA', () => {
    const s = setupMm('ext4');
    const ino = makeFile(s.fs, 4, 'written');
    expect(mm_cpumask_test(s.mm, 0)).toBe(false);
    mmap(s.mm, ino, 4 * PAGE_SIZE, RW, MAP_SHARED, 0);
    expect(mm_cpumask_test(s.mm, 0)).toBe(true);
    expect(Atomics.load(s.machine.views.mmState, MM.cpumask)).toBe(1);
  });

  // Before issue 14 the write-protect cost 4 x pteNs whatever ran beside it.
  it('msync of 4 dirty pages with 2 other CPUs running the process: 4 flushes of 2 IPIs each, each target paying 4 interrupts at its next fault; virtual time exact', async () => {
    const { s, r, faults } = await flushWith([{ sleep: false }, { sleep: false }], 'msync');
    expect(r.tlbShootdowns).toBe(8);
    expect(r.ns).toBe(4 * (COSTS.pteNs + COSTS.tlbShootdownNs + 2 * COSTS.tlbShootdownTargetNs));
    expect(faults).toEqual([COSTS.pteNs + 4 * COSTS.tlbFlushIrqNs, COSTS.pteNs + 4 * COSTS.tlbFlushIrqNs]);
    expect(checkMm(s.mm)).toEqual([]);
  });

  it('a CPU asleep is not interrupted (4.14 takes it out of mm_cpumask while its task sleeps)', async () => {
    const { r, faults } = await flushWith([{ sleep: false }, { sleep: true }], 'msync');
    expect(r.tlbShootdowns).toBe(4);
    expect(r.ns).toBe(4 * (COSTS.pteNs + COSTS.tlbShootdownNs + COSTS.tlbShootdownTargetNs));
    expect(faults).toEqual([COSTS.pteNs + 4 * COSTS.tlbFlushIrqNs, COSTS.pteNs]);
  });

  it('with no other CPU running the process, a write-protect costs its PTE writes only', async () => {
    const { r } = await flushWith([], 'msync');
    expect(r).toEqual({ ns: 4 * COSTS.pteNs, tlbShootdowns: 0 });
  });

  it('a punch zaps its range with one flush: one IPI per other running CPU', async () => {
    const { r } = await flushWith([{ sleep: false }, { sleep: false }], 'punch');
    expect(r.tlbShootdowns).toBe(2);
  });

  it('a PMD write-protected in writeback is one flush, not 512', () => {
    const s = setupMm('ext4', { pmemBytes: 32 * 1024 * 1024, costs: COSTS });
    const pad = (512 - (s.fs.g.dataStart % 512)) % 512;
    if (pad > 0) makeFile(s.fs, pad, 'fallocated');
    const ino = makeFile(s.fs, 512, 'written');
    const huge = mmap(s.mm, ino, 512 * PAGE_SIZE, RW, MAP_SHARED, 0);
    const small = mmap(s.mm, ino, 512 * PAGE_SIZE, RW, MAP_SHARED, 0);
    madvise(small, MADV_NOHUGEPAGE);
    huge.store(0, new Uint8Array([1]));
    expect(s.mm.counters.pmdFaults).toBe(1);
    // Pretend CPU 3 runs the process: on the wall clock a CPU with no wait in progress runs.
    Atomics.or(s.machine.views.mmState, MM.cpumask, 1 << 3);
    huge.msync(0, PAGE_SIZE);
    expect(s.mm.counters.tlbShootdowns).toBe(1);
    expect(checkMm(s.mm)).toEqual([]);
  });
});
