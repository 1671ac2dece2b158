// The piscina worker: one task is one CPU for one repeat of one configuration. It attaches
// the machine, mounts the file system and address space as its own CPU, waits at the
// start barrier with the others, runs its role (or the journal commit thread) and returns
// its histograms and counters.

import { attachMachine } from '../machine/machine.js';
import os from 'node:os';
import { workerData } from 'piscina';
import { attachCpu, type Cpu } from '../sync/cpu.js';
import { bindThreadCpu, isVirtual, seedIdleWakeups, unbindThreadCpu } from '../sync/vclock.js';
import { mountFs } from '../fs/super.js';
import { attachMm } from '../mm/mm.js';
import { kjournald2 } from '../journal/kjournald.js';
import { RadixTree } from '../dax/radix_tree.js';
import { setAttributing } from '../measure/steps.js';
import { Control, PHASE_MEASURE, PHASE_WARMUP, STOP_FAILED, setStop } from './control.js';
import { CONTROL } from '../machine/run_block.js';
import { sleepMs } from '../util/sleep.js';
import { OpLog } from './op_log.js';
import { RoleContext } from './roles/context.js';
import { faulter } from './roles/faulter.js';
import { storer } from './roles/storer.js';
import { syncer } from './roles/syncer.js';
import { backgroundCopy } from './roles/background_copy.js';
import { metadataDirtier } from './roles/metadata_dirtier.js';
import type { CpuTask, CpuTaskResult } from './task.js';
import { warmUpJit } from './jit_warmup.js';
import { isMmFault } from '../mm/mman.js';
import { isFsError } from '../fs/errno.js';
import { loadCpuHooks, type CpuHooks, type CpuHooksModule } from './cpu_hooks.js';

// Once per worker thread, before its first task (see jit_warmup.ts), unless the run said not to.
if ((workerData as { jitWarmup?: boolean } | undefined)?.jitWarmup !== false) warmUpJit();

/**
 * Fault injection for the watchdog's tests, on CPU 0, in every repeat or only in repeat N
 * (DAXLAB_INJECT=what or what@N, N from 1):
 * - hold-tree-lock: takes the tree_lock of its role's mapping and never lets go, as a lost
 *   spin_unlock would;
 * - vanish: stops without a word and without holding anything, as a livelocked task would.
 */
function injectedFault(task: CpuTask): 'hold-tree-lock' | 'vanish' | null {
  const m = /^(hold-tree-lock|vanish)(?:@(\d+))?$/.exec(process.env.DAXLAB_INJECT ?? '');
  if (m === null || task.cpu !== 0 || (m[2] !== undefined && Number(m[2]) !== task.repeat + 1)) return null;
  return m[1] as 'hold-tree-lock' | 'vanish';
}

function injectFault(ctx: RoleContext, what: 'hold-tree-lock' | 'vanish'): never {
  const role = ctx.task.role!;
  const name = 'mapping' in role && role.mapping !== undefined ? role.mapping : Object.keys(ctx.task.vmas)[0];
  if (what === 'hold-tree-lock') new RadixTree(ctx.cpu, ctx.vma(name).ino).treeLock();
  ctx.finishWarmup();
  // A CPU that lost an unlock runs on: it no longer holds virtual time back, so the others
  // reach the lock and wait on it, where the watchdog finds them.
  unbindThreadCpu();
  for (;;) sleepMs(Infinity);
}

const CORES = os.availableParallelism();

export default function runCpuTask(task: CpuTask): CpuTaskResult | Promise<CpuTaskResult> {
  // An instrumented run's hooks module is imported first (once per thread); a plain run stays synchronous.
  return task.hooks === undefined ? runTask(task, null) : loadCpuHooks(task.hooks).then((m) => runTask(task, m));
}

function runTask(task: CpuTask, hooksModule: CpuHooksModule | null): CpuTaskResult {
  const machine = attachMachine(task.descriptor);
  const cpu = attachCpu(machine, task.cpu);
  // On the virtual clock this thread's time is the CPU's, until the task ends.
  bindThreadCpu(cpu, CORES);
  // Its idle wake-ups draw from the run's seed: the same draws on any host (cost/idle_wakeup.ts).
  seedIdleWakeups(task.seed, task.repeat);
  const hooks = hooksModule === null ? null : hooksModule.attachCpuHooks(task.hooks!.data, task.cpu);
  try {
    return runBoundTask(task, cpu, hooks);
  } finally {
    hooks?.uninstall();
    unbindThreadCpu();
  }
}

function runBoundTask(task: CpuTask, cpu: Cpu, hooks: CpuHooks | null): CpuTaskResult {
  if (task.kind === 'commit-thread') {
    // Counted from the measured phase on, as the commit records and lock_stat are (run.ts).
    const w = new Int32Array(task.control);
    const s = kjournald2(cpu, { policy: task.policy, counting: () => Atomics.load(w, CONTROL.phase) >= PHASE_MEASURE });
    return { cpu: task.cpu, role: 'kjournald2', ops: null, intervals: [], attribution: null, counters: { ...s.triggers, commits: s.commits }, interrupted: false };
  }
  const role = task.role!;
  const ctl = new Control(task.control, task.cpu);
  setAttributing(task.attribute);
  const fs = mountFs(cpu, { journalPolicy: task.policy });
  const mm = attachMm(cpu, fs, { mode: task.writeback, variant: task.variant });
  const log = new OpLog(ctl, { logIntervalMs: task.logIntervalMs, attribute: task.attribute, coordinatedOmission: task.coordinatedOmission, repeat: task.repeat });
  const ctx = new RoleContext(cpu, fs, mm, ctl, log, task, hooks === null ? null : hooks.roleContent());
  // The counters report the measured phase, as the histograms do: the warm-up's are taken off.
  let warmup: Record<string, number> = {};
  ctx.onWarmedUp = () => (warmup = cpuCounters(ctx, mm));
  let error: unknown = null;
  try {
    ctl.arriveAndWait(CONTROL.arrived, PHASE_WARMUP);
    const fault = injectedFault(task);
    if (fault !== null) injectFault(ctx, fault);
    switch (role.role) {
      case 'faulter':
        faulter(ctx, role);
        break;
      case 'storer':
        storer(ctx, role);
        break;
      case 'syncer':
        syncer(ctx, role);
        break;
      case 'metadata-dirtier':
        metadataDirtier(ctx, role);
        break;
      case 'background-copy':
        backgroundCopy(ctx, role, task.fileSizes[role.file]);
        break;
    }
  } catch (e) {
    error = e;
  } finally {
    // A failed role stops the others; one that stopped early still passes the barrier.
    if (error !== null) setStop(ctl.w, STOP_FAILED);
    ctx.finishWarmup();
    ctl.done();
    const last = Number.isFinite(task.ops) && Atomics.add(ctl.w, CONTROL.finished, 1) + 1 === Atomics.load(ctl.w, CONTROL.counted);
    Atomics.notify(ctl.w, CONTROL.finished);
    setAttributing(false);
    // On the virtual clock the last counted role to finish holds time where it ended until
    // the run stops: the roles that run until stopped (a background copy, a metadata
    // dirtier) then stop within a window of that instant, not after however much virtual
    // time the host lets them simulate before the stop reaches them.
    if (last && isVirtual()) ctl.waitForStop();
  }
  let failed: string | undefined;
  if (error !== null) {
    const what = `cpu ${task.cpu} (${role.role}): ${error instanceof Error ? error.message : String(error)}`;
    // A signal or errno is what the kernel gives a process; anything else is the lab's own bug.
    if (!isMmFault(error) && !isFsError(error)) {
      log.finish();
      throw new Error(what, { cause: error });
    }
    failed = what;
  }
  const out = log.finish();
  const counters = cpuCounters(ctx, mm);
  for (const [k, v] of Object.entries(warmup)) counters[k] -= v;
  return {
    cpu: task.cpu,
    role: role.role,
    ...out,
    counters,
    interrupted: (ctl.interrupted || failed !== undefined) && ctx.doneOps < ctx.totalOps,
    ...(failed === undefined ? {} : { failed }),
  };
}

/** What this CPU has counted since its task began: its role's counts, its faults and its writebacks. */
function cpuCounters(ctx: RoleContext, mm: ReturnType<typeof attachMm>): Record<string, number> {
  const c = mm.counters;
  const counters: Record<string, number> = {
    ...ctx.counters,
    readFaults: c.readFaults,
    writeFaults: c.writeFaults,
    wpFaults: c.wpFaults,
    pmdFaults: c.pmdFaults,
    pmdFallbacks: c.pmdFallbacks,
    tlbShootdowns: c.tlbShootdowns,
    syncFaults: mm.vmf.needDsync,
    storeRetries: c.storeRetries,
  };
  let walked = 0;
  let written = 0;
  for (const m of mm.mappings()) {
    walked += m.walked;
    written += m.written;
  }
  counters.writebackEntriesWalked = walked;
  counters.writebackEntriesWritten = written;
  return counters;
}
