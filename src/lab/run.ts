// Runs a workload: every configuration (or a shard's slice of them), each repeat on a fresh
// machine, each CPU a piscina task running one role for the whole repeat, the journal commit
// thread on a task of its own. The main thread sets up, moves the phases, watches progress
// (the watchdog), and merges what the CPUs send back into results.json's shape.

import os from 'node:os';
import { isDeepStrictEqual } from 'node:util';
import { Piscina } from 'piscina';
import { COMMIT_RECORDS, JOURNAL, PAGE_SIZE, fsGeometry, type MachineConfig } from '../machine/layout.js';
import type { Machine } from '../machine/machine.js';
import { resolveJournalPolicy } from '../journal/policy.js';
import { journalAreas, maxTransactionBuffers } from '../journal/ondisk.js';
import { checkJournalRoom } from '../fs/super.js';
import { personalityOps } from '../fs/personality_ops.js';
import { stopCommitThread } from '../journal/kjournald.js';
import { readCommitRecords, readJournalCounters } from '../journal/stats.js';
import { checkIndex } from '../dax/radix_tree_check.js';
import { checkMm } from '../mm/check.js';
import { readPmemCounters } from '../pmem/device.js';
import { isFsError } from '../fs/errno.js';
import { snapshotLockStat, diffLockStat } from '../sync/lockstat.js';
import { snapshotLockWaitHist, diffLockWaitHist } from '../sync/lockstat.js';
import { loadProfile, profileCosts, profileIdleWakeup, profileMachineCosts, type CostProfile } from '../cost/profile.js';
import type { ConfigResult, RunResults } from '../measure/results.js';
import { RESULTS_FORMAT } from '../measure/results.js';
import { monoNs } from '../util/clock.js';
import { vclockMax, vclockPark } from '../sync/vclock.js';
import { WorkloadError } from '../workload/errors.js';
import { KERNEL_CPUS, mappingLength, runClock } from '../workload/check.js';
import { shardConfigs, type Configuration, type ExpandedWorkload } from '../workload/expand.js';
import type { Workload } from '../workload/schema.js';
import { PHASE_MEASURE, PHASE_WARMUP, STOP_DONE, STOP_INTERRUPTED, cpuWatch, setPhase, setStop, totalProgress, waitCounter } from './control.js';
import { CONTROL, createControl } from '../machine/run_block.js';
import { describeStuck, startWatchdog, type Watched } from './watchdog.js';
import { configResult, type RepeatOutcome } from './collect.js';
import { journalPolicyOf, machineConfigFor, setupMachine } from './setup.js';
import type { CpuTask, CpuTaskResult } from './task.js';
import type { CpuHooksTask } from './cpu_hooks.js';
import type { SetupResult } from './setup.js';

export interface RunOptions {
  /** Run only this slice of the configurations (1-based index of count). */
  shard?: { index: number; count: number };
  /** Overrides the workload's run.repeats / run.seed / run.attribute / run.logIntervalMs. */
  repeats?: number;
  seed?: number;
  attribute?: boolean;
  logIntervalMs?: number;
  lockHoldTimes?: boolean;
  /** Aborted on Ctrl-C: the CPUs stop and the results so far are returned, marked partial. */
  signal?: AbortSignal;
  /** Called about 10 times a second with the progress of the run. */
  onProgress?: (p: RunProgress) => void;
  /** Printed once per warning as they arise (also kept in results.warnings). */
  onWarning?: (w: string) => void;
  version: string;
  /** An instrumented run (crashtest's): what the CPUs get, and when the measured part starts. */
  hooks?: RunHooks;
  /**
   * Whether each CPU worker first trains its JIT on a throwaway machine (jit_warmup.ts).
   * Default: on the wall clock only. A virtual-clock figure is the model's whatever the host's
   * JIT is doing, and the warm-up costs seconds of host time per worker on a loaded machine.
   * A kept pool (below) was made with its own choice.
   */
  jitWarmup?: boolean;
  /**
   * CPU worker threads and machines kept by the caller across runs (tune's batches), so that
   * the threads' start, and a fresh machine's host page faults, are paid once.
   * The threads are used when there are enough of them and never destroyed here (the caller
   * does, also after a failure). One run already takes its configurations one after another
   * on the same threads and machines, so a kept pool changes no figure.
   */
  pool?: CpuPool;
}

/** Worker threads for the CPUs of runs and the machines they ran on, made by createCpuPool. */
export interface CpuPool {
  readonly threads: number;
  readonly piscina: Piscina;
  readonly machines: Map<string, Machine>;
}

/** A pool of CPU worker threads; jitWarmup: whether each trains its JIT first (wall-clock runs). */
export function createCpuPool(threads: number, jitWarmup = false): CpuPool {
  return {
    threads,
    piscina: new Piscina({ filename: POOL_WORKER.href, minThreads: threads, maxThreads: threads, idleTimeout: 60_000, concurrentTasksPerWorker: 1, workerData: { jitWarmup } }),
    machines: new Map(),
  };
}

export interface RunHooks {
  /** After setup, before the CPUs start: the run's CPUs (roles and commit thread) and control block; returns what each task carries. */
  prepare(c: Configuration, s: SetupResult, cpus: readonly number[], control: Int32Array): CpuHooksTask;
  /** The measured part of configuration c starts at virtual instant t0 (every CPU waits at the barrier). */
  measureStarts(c: Configuration, t0: number): void;
}

export interface RunProgress {
  config: string;
  configIndex: number;
  configCount: number;
  repeat: number;
  repeats: number;
  /** Operations done in this repeat, and those expected (0 when the run ends on a duration). */
  ops: number;
  expectedOps: number;
}

/** The run made no progress for watchdogMs: the report says which locks and waits it is stuck on. */
export class RunStalledError extends Error {
  override name = 'RunStalledError';
  constructor(
    readonly report: string[],
    stallMs: number,
  ) {
    super(`no progress for ${stallMs} ms; aborted.\n${report.map((l) => `  ${l}`).join('\n') || '  (no CPU reports a lock or wait)'}`);
  }
}

/**
 * Interrupted while CPUs were stuck in a wait: they cannot send back the repeat's figures, so
 * the run ends with what earlier repeats gathered; `report` says where the CPUs were stuck.
 */
export class RunInterruptedStuckError extends Error {
  override name = 'RunInterruptedStuckError';
  constructor(
    readonly report: string[],
    /** The CPU workers had not all started: nothing of the repeat was measured yet. */
    readonly starting: boolean,
  ) {
    super(`interrupted while CPUs did not answer within ${INTERRUPT_GRACE_MS} ms`);
  }
}

/**
 * How long CPUs have to answer an interruption. A CPU looks at the stop word between
 * operations and every 100 ms of a paced pause, so one that has not answered by then is
 * stuck in a wait, and waiting for the watchdog's period would only keep the user waiting.
 */
const INTERRUPT_GRACE_MS = 2000;

const POOL_WORKER = new URL('./pool_worker.js', import.meta.url);
/** Machines kept for reuse across repeats and configurations (see runRepeat). */
const MACHINES_KEPT = 2;
/** How long CPU workers may take to start and set up before a run counts as failed. */
const STARTUP_MS = 120_000;

export async function runWorkload(expanded: ExpandedWorkload, opts: RunOptions): Promise<RunResults> {
  const base = expanded.base;
  const warnings = [...expanded.warnings];
  const warn = (w: string) => {
    if (!warnings.includes(w)) {
      warnings.push(w);
      opts.onWarning?.(w);
    }
  };
  // A sweep may vary the profile: each configuration loads its own (once per name).
  const profiles = new Map<string, CostProfile>();
  const profileOf = (name: string, where: string): CostProfile => {
    let p = profiles.get(name);
    if (p === undefined) {
      try {
        p = loadProfile(name);
      } catch (e) {
        throw new WorkloadError(`${where}profile: ${(e as Error).message}`);
      }
      profiles.set(name, p);
    }
    return p;
  };
  const profile = profileOf(base.profile, '');
  const configs = opts.shard ? shardConfigs(expanded.configs, opts.shard.index, opts.shard.count) : expanded.configs;
  // Every configuration's machine is checked before anything runs: a sweep must not fail at
  // its fortieth point for a device too small for its files.
  for (const c of configs) {
    let config: MachineConfig;
    try {
      config = machineConfigFor(c.workload, c.workload.cpus.filter((r) => r.enabled).length + KERNEL_CPUS, profileMachineCosts(profileOf(c.workload.profile, `configuration ${c.name}: `)), false);
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      throw new WorkloadError(`configuration ${c.name}: device.size: ${c.workload.device.size} bytes: ${e.message.replace(/^pmemBytes: \d+ /, '')}`);
    }
    if (hasJournal(c.workload)) checkJournalFits(c.name, config);
    checkFilesFit(c.name, c.workload, config);
    // One clock for the whole run: results.json records it once, and compare and merge rely on it.
    if (!isDeepStrictEqual(runClock(c.workload), runClock(base))) {
      throw new WorkloadError(`configuration ${c.name}: run.clock / run.windowNs: every configuration of a run must use the workload's clock and window; run the others separately`);
    }
  }
  const cores = os.availableParallelism();
  // An empty shard (more shards than configurations) is a valid run of nothing: no pool.
  const maxWorkers = Math.max(0, ...configs.map((c) => workersOf(c.workload)));
  if (maxWorkers > cores && base.run.clock === 'wall') warn(`${maxWorkers} CPU workers (roles and the commit thread) on ${cores} cores: tail latencies include the scheduler`);
  const kept = opts.pool !== undefined && opts.pool.threads >= maxWorkers ? opts.pool.piscina : null;
  const pool = maxWorkers === 0 ? null : (kept ?? createCpuPool(maxWorkers, opts.jitWarmup ?? base.run.clock === 'wall').piscina);
  const own = pool !== kept;
  const results: ConfigResult[] = [];
  // One machine per distinct machine configuration, reused by every repeat (see setupMachine).
  const machines = opts.pool?.machines ?? new Map<string, Machine>();
  let partial = false;
  let failure: string | undefined;
  // CPUs stuck in a wait when the run was interrupted: the pool cannot be reclaimed.
  let stuck = false;
  try {
    for (let ci = 0; ci < configs.length && !partial; ci++) {
      const c = configs[ci];
      const repeats = opts.repeats ?? c.workload.run.repeats;
      const outcomes: RepeatOutcome[] = [];
      // Negative repeats are the discarded warm-up ones.
      for (let r = -c.workload.run.warmupRepeats; r < repeats; r++) {
        let o: RepeatOutcome;
        try {
          o = await runRepeat(pool!, machines, c, Math.max(r, 0), profileOf(c.workload.profile, ''), opts, (p) => opts.onProgress?.({ ...p, config: c.name, configIndex: ci, configCount: configs.length, repeat: r, repeats }));
        } catch (e) {
          if (!(e instanceof RunInterruptedStuckError)) throw e;
          const which = `configuration ${c.name}, ${r < 0 ? 'a discarded warm-up repeat' : `repeat ${r + 1}`}`;
          warn(
            e.starting
              ? `${which}: interrupted while its CPU workers were starting; the results hold the repeats before it`
              : `${which}: interrupted while CPUs were stuck, so that repeat's figures are lost and the results hold the repeats before it; ` +
                  `where they were stuck: ${e.report.join('; ')}`,
          );
          stuck = partial = true;
          break;
        }
        if (r >= 0 || o.partial) outcomes.push(o);
        if (o.failure !== undefined) {
          failure = `configuration ${c.name}, ${r < 0 ? 'a discarded warm-up repeat' : `repeat ${r + 1}`}: ${o.failure}`;
          warn(`${failure}; the run stopped there, and its results hold what was measured before`);
        }
        if (o.partial) {
          partial = true;
          break;
        }
      }
      // Interrupted in its first repeat with the CPUs stuck: nothing of it to report.
      if (outcomes.length === 0) break;
      const result = configResult(c, outcomes, opts.logIntervalMs ?? c.workload.run.logIntervalMs);
      const dropped = result.counters.commitRecordsDropped ?? 0;
      if (dropped > 0) {
        warn(
          `configuration ${c.name}: ${dropped} of ${result.counters.commits} commits are counted but not in the per-commit figures ` +
            `(the commit kind, blocksPerCommit, commitRequestToDurableMeanNs): the journal keeps the last ${COMMIT_RECORDS} commits of a repeat`,
        );
      }
      results.push(result);
    }
  } catch (e) {
    // Workers stuck in a wait cannot be reclaimed: terminating them makes piscina start
    // replacements mid-teardown (a crash on Node 20). The caller exits the process instead.
    if (!(e instanceof RunStalledError) && own) await pool?.destroy();
    throw e;
  }
  // Stuck workers never end a destroy: the caller exits the process once it has written.
  if (!stuck && own) await pool?.destroy();
  return {
    format: RESULTS_FORMAT,
    daxlabVersion: opts.version,
    createdAt: new Date().toISOString(),
    workload: { name: base.name, description: base.description, source: stripExpansion(base) },
    profile: { name: profile.name, costs: profileCosts(profile), idleWakeup: profileIdleWakeup(profile) },
    variant: base.variant,
    seed: opts.seed ?? base.run.seed,
    clock: runClock(base),
    machine: {
      cores,
      node: process.version,
      platform: process.platform,
      arch: process.arch,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      cpuWorkers: maxWorkers,
      oversubscribed: maxWorkers > cores,
    },
    partial,
    ...(failure === undefined ? {} : { failure }),
    warmupExcluded: true,
    ...(opts.shard ? { shard: opts.shard } : {}),
    warnings,
    configs: results,
  };
}

/**
 * The blocks setup allocates (written and fallocated files; empty ones allocate as they are
 * written) against the device's data blocks, so that a sweep is refused before it runs, not
 * with ENOSPC at its fortieth configuration.
 */
function checkFilesFit(name: string, w: Workload, config: MachineConfig): void {
  const g = fsGeometry(config);
  const needed = w.files.filter((f) => f.state !== 'empty').reduce((n, f) => n + Math.ceil(f.size / PAGE_SIZE), 0);
  if (needed > g.dataBlocks) {
    throw new WorkloadError(
      `configuration ${name}: device.size: ${w.device.size} bytes leave ${g.dataBlocks} data blocks of ${PAGE_SIZE} bytes after metadata and journal; ` +
        `the written and fallocated files need ${needed}: expected a larger device or smaller files`,
    );
  }
}

/** The journal's transaction limit (a quarter of it) against one handle's credits, as mkfs will check it. */
function checkJournalFits(name: string, config: MachineConfig): void {
  try {
    const g = fsGeometry(config);
    checkJournalRoom(g, maxTransactionBuffers(journalAreas(g)), 'journal.size');
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    throw new WorkloadError(`configuration ${name}: ${e.message}`);
  }
}

function hasJournal(w: Workload): boolean {
  return personalityOps(w.fs.personality).makesJournal;
}

/** Worker threads a configuration runs: its enabled roles and the commit thread. */
export function workersOf(w: Workload): number {
  return w.cpus.filter((r) => r.enabled).length + (hasJournal(w) ? 1 : 0);
}

function stripExpansion(w: Workload): unknown {
  const { configs: _c, sweep: _s, ...rest } = w;
  void _c;
  void _s;
  return rest;
}

async function runRepeat(
  pool: Piscina,
  machines: Map<string, Machine>,
  c: Configuration,
  repeat: number,
  profile: CostProfile,
  opts: RunOptions,
  progress: (p: Omit<RunProgress, 'config' | 'configIndex' | 'configCount' | 'repeat' | 'repeats'>) => void,
): Promise<RepeatOutcome> {
  const w = c.workload;
  const run = w.run;
  const roles = w.cpus.filter((r) => r.enabled);
  const journal = hasJournal(w);
  const commitCpu = roles.length;
  const setupCpu = roles.length + 1;
  const cpus = roles.length + KERNEL_CPUS;
  // The journal's block write and flush costs come from the machine's profile (policy.ts).
  const policy = resolveJournalPolicy(journalPolicyOf(w));
  const config = machineConfigFor(w, cpus, profileMachineCosts(profile), opts.lockHoldTimes ?? false);
  let s: ReturnType<typeof setupMachine>;
  try {
    const key = JSON.stringify(config);
    s = setupMachine(w, config, setupCpu, policy, machines.get(key));
    // Keep the two most recent machines (a sweep alternates between few shapes; each may hold
    // gigabytes of device memory).
    machines.delete(key);
    machines.set(key, s.machine);
    if (machines.size > MACHINES_KEPT) machines.delete(machines.keys().next().value!);
  } catch (e) {
    if (isFsError(e, 'ENOSPC')) throw new WorkloadError(`configuration ${c.name}: device.size: ${w.device.size} bytes cannot hold the files (${(e as Error).message})`);
    throw e;
  }
  const machine = s.machine;
  const control = createControl(cpus);
  const cw = new Int32Array(control);
  cw[CONTROL.storersActive] = roles.filter((r) => r.role === 'storer').length;
  cw[CONTROL.participants] = roles.length;
  const seed = opts.seed ?? run.seed;
  const counted = (r: (typeof roles)[number]) => {
    if (r.role === 'faulter') {
      const m = w.mappings.find((x) => x.name === r.mapping)!;
      const pages = r.pages ?? mappingLength(w, m) / PAGE_SIZE - run.warmupOps;
      return r.access === 'read-write' ? 2 * pages : pages;
    }
    if (r.role === 'background-copy') return Infinity;
    return r.ops ?? run.ops ?? Infinity;
  };
  const countStores = roles.some((r) => r.role === 'syncer' && r.everyStores !== undefined);
  const common = {
    descriptor: machine.descriptor,
    control,
    personality: w.fs.personality,
    writeback: w.fs.writeback,
    variant: w.variant,
    policy,
    vmas: s.vmas,
    inos: s.inos,
    fileSizes: s.fileSizes,
    countStores,
    durationMs: run.durationMs ?? null,
    logIntervalMs: opts.logIntervalMs ?? run.logIntervalMs,
    attribute: opts.attribute ?? run.attribute,
    coordinatedOmission: run.coordinatedOmission,
    repeat,
    seed,
    ...(opts.hooks ? { hooks: opts.hooks.prepare(c, s, journal ? [...roles.keys(), commitCpu] : [...roles.keys()], cw) } : {}),
  };
  const tasks: CpuTask[] = roles.map((role, cpu) => ({ ...common, kind: 'role', cpu, role, ops: counted(role), warmupOps: run.warmupOps }));
  const expectedOps = tasks.reduce((sum, t) => sum + (Number.isFinite(t.ops) ? t.ops + t.warmupOps : 0), 0);
  const countedCpus = tasks.filter((t) => Number.isFinite(t.ops)).map((t) => t.cpu);
  const nCounted = countedCpus.length;
  cw[CONTROL.counted] = nCounted;

  let failure: unknown = null;
  let stalled: string[] | null = null;
  const abort = () => {
    if (stalled) return new RunStalledError(stalled, run.watchdogMs);
    if (failure) return failure instanceof Error ? failure : new Error(String(failure));
    if (interruptedAt !== null && performance.now() - interruptedAt > INTERRUPT_GRACE_MS) {
      return new RunInterruptedStuckError(describeStuck(machine), Atomics.load(cw, CONTROL.arrived) < tasks.length);
    }
    return null;
  };
  const js = machine.views.journalState;
  const commitsNow = () => Atomics.load(js, JOURNAL.commits);
  const virtual = machine.config.clock === 'virtual';
  // The CPUs the run waits for: the counted ones (a background copy running on must not hide
  // a stuck faulter, nor its commits), or every role when the run ends on a duration.
  const watchedCpus = countedCpus.length > 0 ? countedCpus : tasks.map((t) => t.cpu);
  // A syncer that waits for the storers' stores moves when they do.
  const storeDriven = new Set(tasks.filter((t) => t.role?.role === 'syncer' && t.role.everyStores !== undefined).map((t) => t.cpu));
  const watched = (): number | Watched[] => {
    // Until the measured phase every CPU does its warm-up and meets the others at barriers: the whole moves.
    if (Atomics.load(cw, CONTROL.phase) < PHASE_MEASURE) return totalProgress(cw, cpus);
    return watchedCpus.map((cpu) => {
      const s = cpuWatch(cw, cpu);
      let progress = s.progress + (storeDriven.has(cpu) ? Atomics.load(cw, CONTROL.stores) : 0);
      // A paced pause: on the wall clock it lasts what it says; on the virtual clock it lasts
      // until the others let time pass, so time passing is its progress.
      if (s.pausedMs > 0 && virtual) progress += vclockMax(machine, tasks.map((t) => t.cpu));
      return { progress, allowanceMs: virtual ? 0 : s.pausedMs, done: s.done };
    });
  };
  let stopWatchdog = () => {};
  // Started once every CPU has arrived: a worker thread's start (module load, JIT warm-up)
  // can take longer than a short watchdogMs, and is bounded by STARTUP_MS instead.
  const watch = () => startWatchdog({
    machine,
    progress: watched,
    stallMs: run.watchdogMs,
    onStall: (report, stuck) => {
      const who = Atomics.load(cw, CONTROL.phase) < PHASE_MEASURE ? [] : stuck.map((i) => watchedCpus[i]);
      stalled = [...(who.length === 0 ? [] : [`no progress from ${who.map((c) => `cpu ${c} (${tasks[c].role!.role})`).join(', ')}`]), ...report];
      setStop(cw, STOP_INTERRUPTED, machine);
    },
  });
  let interruptedAt: number | null = null;
  const onAbort = () => {
    interruptedAt ??= performance.now();
    setStop(cw, STOP_INTERRUPTED, machine);
  };
  opts.signal?.addEventListener('abort', onAbort);
  if (opts.signal?.aborted) onAbort();

  // On the virtual clock every CPU of the run holds time back from the start (sync/vclock.ts).
  vclockPark(machine, journal ? [...tasks.map((t) => t.cpu), commitCpu] : tasks.map((t) => t.cpu));
  const commitRun: Promise<CpuTaskResult> | null = journal ? pool.run({ ...common, kind: 'commit-thread', cpu: commitCpu, role: null, ops: 0, warmupOps: 0 } satisfies CpuTask) : null;
  commitRun?.catch((e) => (failure ??= e));
  // The counted CPUs' operations against what they will do (a background role's are not counted).
  const progressCpus = countedCpus.length > 0 ? countedCpus : cpus;
  const ticker = setInterval(() => progress({ ops: totalProgress(cw, progressCpus) - Atomics.load(cw, CONTROL.arrived) - Atomics.load(cw, CONTROL.warmedUp), expectedOps }), 100);
  ticker.unref();
  let rolesEnded = 0;
  const runs = tasks.map((t) => pool.run(t) as Promise<CpuTaskResult>);
  runs.forEach((p) => p.then(() => rolesEnded++, () => {}));
  runs.forEach((p) => p.catch((e) => {
    failure ??= e;
    setStop(cw, STOP_INTERRUPTED, machine);
  }));
  let t0 = 0;
  let t1 = 0;
  let locksBefore = snapshotLockStat(machine);
  let waitsBefore = snapshotLockWaitHist(machine);
  let pmemBefore = readPmemCounters(machine);
  let commitsBefore = 0;
  let journalBefore = readJournalCounters(machine);
  try {
    if (journal) await waitThreadRunning(js, abort);
    const startBy = Date.now() + STARTUP_MS;
    await waitCounter(cw, CONTROL.arrived, tasks.length, () =>
      abort() ?? (Date.now() > startBy ? new Error(`CPU workers did not start within ${STARTUP_MS / 1000} s (${Atomics.load(cw, CONTROL.arrived)} of ${tasks.length} arrived)`) : null),
    );
    stopWatchdog = watch();
    setPhase(cw, PHASE_WARMUP);
    await waitCounter(cw, CONTROL.warmedUp, tasks.length, abort);
    locksBefore = snapshotLockStat(machine);
    waitsBefore = snapshotLockWaitHist(machine);
    pmemBefore = readPmemCounters(machine);
    commitsBefore = commitsNow();
    journalBefore = readJournalCounters(machine);
    // The last CPU to reach the barrier set every role's clock to the instant the phase starts at.
    t0 = virtual ? vclockMax(machine, tasks.map((t) => t.cpu)) : monoNs();
    opts.hooks?.measureStarts(c, t0);
    setPhase(cw, PHASE_MEASURE);
    // On the virtual clock each role stops itself at run.durationMs of virtual time (RoleContext).
    const deadline = run.durationMs !== undefined && !virtual ? Date.now() + run.durationMs : Infinity;
    await waitCounter(cw, CONTROL.finished, nCounted === 0 ? Infinity : nCounted, () => {
      const e = abort();
      if (e) return e;
      if (Atomics.load(cw, CONTROL.stop) !== 0 || Date.now() >= deadline || rolesEnded === tasks.length) return STOPPED;
      return null;
    }).catch((e) => {
      if (e !== STOPPED) throw e;
    });
    t1 = virtual ? 0 : monoNs();
    setStop(cw, STOP_DONE, machine);
    const settled = await Promise.allSettled(runs.map((p) => raceAbort(p, abort)));
    const results: CpuTaskResult[] = [];
    for (const r of settled) {
      if (r.status === 'rejected') throw r.reason;
      results.push(r.value);
    }
    // The measured part lasted until the last role's clock stopped.
    if (virtual) t1 = vclockMax(machine, countedCpus.length > 0 ? countedCpus : tasks.map((t) => t.cpu));
    if (commitRun) {
      stopCommitThread(machine);
      results.push(await raceAbort(commitRun, abort));
    }
    const interrupted = opts.signal?.aborted === true;
    const failure = results.find((r) => r.failed !== undefined)?.failed;
    return {
      repeat,
      elapsedNs: t1 - t0,
      partial: interrupted || failure !== undefined,
      ...(failure === undefined ? {} : { failure }),
      cpus: results,
      locks: diffLockStat(locksBefore, snapshotLockStat(machine)),
      lockWaits: diffLockWaitHist(waitsBefore, snapshotLockWaitHist(machine)),
      pmem: diffCounters(pmemBefore, readPmemCounters(machine)),
      ...(journal ? { journal: diffCounters(journalBefore, readJournalCounters(machine)) } : {}),
      commits: readCommitRecords(machine).slice(-(commitsNow() - commitsBefore) || Infinity),
      commitsTotal: commitsNow() - commitsBefore,
      violations: [...checkIndex(machine), ...checkMm(s.mm)],
    };
  } catch (e) {
    setStop(cw, STOP_INTERRUPTED);
    if (e instanceof RunInterruptedStuckError) throw e;
    if (stalled || e instanceof RunStalledError) throw e instanceof RunStalledError ? e : new RunStalledError(stalled!, run.watchdogMs);
    throw e;
  } finally {
    clearInterval(ticker);
    stopWatchdog();
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

const STOPPED = new Error('stopped');

async function raceAbort<T>(p: Promise<T>, abort: () => Error | null): Promise<T> {
  for (;;) {
    const r = await Promise.race([p.then((v) => ({ v })), new Promise<null>((res) => setTimeout(() => res(null), 50).unref())]);
    if (r !== null) return r.v;
    const e = abort();
    if (e) throw e;
  }
}

async function waitThreadRunning(js: Int32Array, abort: () => Error | null): Promise<void> {
  while (Atomics.load(js, JOURNAL.threadRunning) === 0) {
    const e = abort();
    if (e) throw e;
    const r = Atomics.waitAsync(js, JOURNAL.threadRunning, 0, 20);
    if (r.async) await r.value;
  }
}

function diffCounters<T extends object>(before: T, after: T): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(after) as (keyof T)[]) out[k as string] = (after[k] as number) - (before[k] as number);
  return out;
}

