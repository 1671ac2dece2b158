// TLB shootdowns (arch/x86/mm/tlb.c, Linux 4.14): a CPU that write-protects or clears a
// present PTE of the process flushes its own TLB (pteNs covers that) and, through
// flush_tlb_mm_range() -> native_flush_tlb_others() -> smp_call_function_many(), queues a
// flush for every other CPU in mm_cpumask(mm), sends them IPIs and waits until each has
// flushed. The targets answer at once, so a flush costs one round trip (tlbShootdownNs) plus
// the queueing and sending per target (tlbShootdownTargetNs). Each target spends
// tlbFlushIrqNs in the interrupt: a CPU's clock is its own to advance, so the flusher counts
// the flush in the target's TLB_PENDING word and the target pays for what it received at its
// next entry to the kernel through a mapping (a fault, an msync): its total is the kernel's,
// its instant may come later.
//
// mm_cpumask holds the CPUs that run a thread of the process: in the lab, a CPU joins it when
// it maps or attaches a VMA (its role works through a mapping). A CPU whose role only makes
// system calls on files (a background copy, a metadata dirtier, a syncer of a file) and
// kjournald2 stand for other processes and kernel threads: they never join it. A CPU in the
// mask is interrupted only while it runs the process: 4.14 switches a CPU whose task sleeps
// to init_mm and takes it out of the mask (switch_mm_irqs_off; today's kernel skips lazy
// CPUs instead, tlb_is_not_lazy), so a CPU asleep on an entry lock, a commit, i_mmap_sem or
// a timer costs the flusher nothing. A CPU spinning for a spinlock still runs the process.
// On the virtual clock that state is read as the CPU's record says it at the flusher's host
// instant: within a window (run.windowNs) of the flush, either answer may be seen.
//
// Locking rules: the mask words change with Atomics.or only (a CPU joins once and never
// leaves); readers load them with Atomics.load. Nothing here takes a lock or sleeps.

import { CPU_STATE, MM, MM_CPUMASK_WORDS, TLB_PENDING } from '../machine/layout.js';
import { charge, V_BLOCKED, V_RUNNING } from '../sync/vclock.js';
import { WAIT_KIND_LOCK } from '../sync/spinlock.js';
import type { Mm } from './mm.js';

/** cpumask_set_cpu(cpu, mm_cpumask(mm)) at the CPU's first switch_mm to the process. */
export function mm_cpumask_join(mm: Mm): void {
  const id = mm.cpu.id;
  const at = MM.cpumask + (id >>> 5);
  const bit = 1 << (id & 31);
  if ((Atomics.load(mm.st, at) & bit) === 0) Atomics.or(mm.st, at, bit);
}

/** Whether CPU `c` is in mm_cpumask. */
export function mm_cpumask_test(mm: Mm, c: number): boolean {
  return (Atomics.load(mm.st, MM.cpumask + (c >>> 5)) & (1 << (c & 31))) !== 0;
}

/**
 * Whether CPU `c` runs now, as far as a TLB flush can tell: not asleep in a wait queue, a
 * commit wait, an rwsem or a timed sleep. On the wall clock only a wait's kind says so.
 */
function cpuRuns(mm: Mm, c: number): boolean {
  const st = mm.cpu.machine.views.cpuState;
  const base = c * CPU_STATE.stride;
  const kind = Atomics.load(st, base + CPU_STATE.waitKind);
  if (mm.cpu.machine.config.clock !== 'virtual') return kind === 0 || kind === WAIT_KIND_LOCK;
  const v = Atomics.load(st, base + CPU_STATE.vstate);
  return v === V_RUNNING || (v === V_BLOCKED && kind === WAIT_KIND_LOCK);
}

/**
 * The CPUs a flush by this CPU interrupts (every other CPU of mm_cpumask that runs now):
 * counts `flushes` in each one's pending word when given, and returns how many there are.
 */
export function tlbFlushTargets(mm: Mm, flushes = 0): number {
  const me = mm.cpu.id;
  const ncpu = mm.cpu.machine.config.cpus;
  const pending = mm.cpu.machine.views.mmTlbPending;
  let n = 0;
  for (let w = 0; w < MM_CPUMASK_WORDS; w++) {
    let bits = Atomics.load(mm.st, MM.cpumask + w);
    while (bits !== 0) {
      const low = bits & -bits;
      bits ^= low;
      const c = w * 32 + (31 - Math.clz32(low));
      if (c === me || c >= ncpu || !cpuRuns(mm, c)) continue;
      n++;
      if (flushes > 0) Atomics.add(pending, c * TLB_PENDING.stride + TLB_PENDING.flushes, flushes);
    }
  }
  return n;
}

/**
 * The interrupts of the remote flushes this CPU received since it last entered the kernel:
 * tlbFlushIrqNs each (flush_tlb_func in the IPI handler). Called on entry to a fault or msync.
 */
export function tlb_flush_received(mm: Mm): void {
  const at = mm.cpu.id * TLB_PENDING.stride + TLB_PENDING.flushes;
  const pending = mm.cpu.machine.views.mmTlbPending;
  if (Atomics.load(pending, at) === 0) return;
  const n = Atomics.exchange(pending, at, 0);
  if (mm.tlbFlushIrqNs > 0) charge(n * mm.tlbFlushIrqNs);
}

/**
 * flush_tlb_mm_range() after `flushes` PTE or PMD changes that each need their own flush
 * (ptep_clear_flush per page in writeback; one per zapped range): per flush that has a
 * target, tlbShootdownNs and tlbShootdownTargetNs per target. Returns the IPIs sent
 * (flushes x targets).
 */
export function flush_tlb_mm_range(mm: Mm, flushes: number): number {
  if (flushes === 0) return 0;
  const targets = tlbFlushTargets(mm, flushes);
  if (targets === 0) return 0;
  const sent = flushes * targets;
  mm.counters.tlbShootdowns += sent;
  const ns = flushes * mm.tlbShootdownNs + sent * mm.tlbShootdownTargetNs;
  if (ns > 0) charge(ns);
  return sent;
}
