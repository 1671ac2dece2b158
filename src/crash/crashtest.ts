// daxlab crashtest: runs a workload's CPUs with self-describing stores (content.ts), stops
// the world at N crash points drawn from the seed in the run's virtual time (points.ts),
// builds crash images there (image.ts), recovers each and checks the invariants
// (checks.ts). One run of every configuration, on one pool of CPU workers: each
// configuration's points are visited in order as its run goes.
//
// A reproducer names one image: `seed:offsetNs:image:points@configuration` (offsetNs from
// the start of the measured part; points, the run's point count). --replay runs that
// configuration with that seed, stops at the same points up to that instant, as the run
// did, and checks that one image there. (Without `:points` it stops at that instant only.)

import { fsGeometry } from '../machine/layout.js';
import type { Machine } from '../machine/machine.js';
import { CONTROL } from '../machine/run_block.js';
import { runWorkload, type RunHooks } from '../lab/run.js';
import type { SetupResult } from '../lab/setup.js';
import type { Configuration, ExpandedWorkload } from '../workload/expand.js';
import type { Workload } from '../workload/schema.js';
import { WorkloadError } from '../workload/errors.js';
import { V_OFF } from '../sync/vclock.js';
import { CPU_STATE } from '../machine/layout.js';
import { seededRng } from '../util/rng.js';
import { Ledger } from './content.js';
import { SparseImage, deviceState } from './image.js';
import { PersistLog } from './persist_log.js';
import { CrashBlock, CrashController, drawPoints } from './points.js';
import { VIOLATION_KINDS, recoverAndCheck, type SyncPage, type Violation, type ViolationKind } from './checks.js';
import { syncWritablePages } from './capture.js';
import { crashHooksTask, type CrashTask } from './role_content.js';

export const DEFAULT_POINTS = 1000;
export const MAX_POINTS = 100_000;
/** Images built and checked per crash point. */
export const IMAGES_PER_POINT = 2;
/** Reproducers printed (the first violations). */
const MAX_EXAMPLES = 5;
/** Host time a crash point may take to stop the world before it is skipped. */
const STOP_TIMEOUT_MS = 5_000;

export interface Reproducer {
  seed: number;
  offsetNs: number;
  image: number;
  /** The crash points the run drew (its earlier stops are made again); absent: this instant only. */
  points?: number;
  config: string;
}

export function formatReproducer(r: Reproducer): string {
  return `${r.seed}:${r.offsetNs}:${r.image}${r.points === undefined ? '' : `:${r.points}`}@${r.config}`;
}

/** Parses a reproducer; a RangeError names what is wrong. */
export function parseReproducer(s: string): Reproducer {
  const m = /^(\d{1,10}):(\d{1,16}):(\d{1,3})(?::(\d{1,6}))?@(.+)$/.exec(s);
  if (m === null) throw new RangeError(`--replay: expected a reproducer seed:offsetNs:image:points@configuration as crashtest prints it (e.g. 1:2500000:0:1000@crash-mix), got ${JSON.stringify(s)}`);
  const r: Reproducer = { seed: Number(m[1]), offsetNs: Number(m[2]), image: Number(m[3]), ...(m[4] === undefined ? {} : { points: Number(m[4]) }), config: m[5] };
  if (r.points !== undefined && !(r.points >= 1 && r.points <= MAX_POINTS)) throw new RangeError(`--replay: points ${r.points} is out of range (1 to ${MAX_POINTS})`);
  if (r.seed > 2 ** 31 - 1) throw new RangeError(`--replay: seed ${r.seed} is out of range (0 to ${2 ** 31 - 1})`);
  if (r.image >= IMAGES_PER_POINT) throw new RangeError(`--replay: image ${r.image} is out of range (0 to ${IMAGES_PER_POINT - 1})`);
  if (r.offsetNs < 1) throw new RangeError(`--replay: offsetNs must be at least 1, got ${r.offsetNs}`);
  return r;
}

export interface Example {
  reproducer: string;
  kind: ViolationKind;
  detail: string;
}

export interface ConfigCrashResult {
  config: string;
  personality: string;
  variant: string;
  seed: number;
  pointsRequested: number;
  /** Crash points where the world was stopped and images checked. */
  points: number;
  /** Points the run ended before (its virtual time was shorter than planned) or that did not stop in time. */
  pointsMissed: number;
  images: number;
  totalViolations: number;
  violations: Record<ViolationKind, number>;
  /** 1-based index of the first point with a violation (null: none). */
  firstViolationPoint: number | null;
  examples: Example[];
  /** Lines written back between two fences past the log's capacity (treated as ordered). */
  unloggedWritebacks: number;
}

export interface CrashtestResult {
  workload: string;
  seed: number;
  points: number;
  images: number;
  totalViolations: number;
  violations: Record<ViolationKind, number>;
  configs: ConfigCrashResult[];
  reproducers: string[];
}

export interface CrashtestOptions {
  points: number;
  seed?: number;
  replay?: Reproducer;
  version: string;
  onPoint?: (config: string, done: number, total: number) => void;
  /** Called at each stopped point, the world still stopped, with what the checks saw and found (tests look inside). */
  onStop?: (s: StopInfo) => void;
}

export interface StopInfo {
  machine: Machine;
  ledger: Ledger;
  syncPages: readonly SyncPage[];
  offsetNs: number;
  violations: readonly Violation[];
}

/** The refusals crashtest makes before running anything (WorkloadError: one line naming the field). */
export function checkCrashWorkload(w: Workload, where: string): void {
  if (w.run.clock !== 'virtual') throw new WorkloadError(`${where}run.clock: crashtest stops the world in virtual time; expected "virtual", got "${w.run.clock}"`);
  const writers = w.cpus.filter((r) => r.enabled && (r.role === 'storer' || r.role === 'background-copy' || (r.role === 'faulter' && r.access !== 'read')));
  if (writers.length === 0) {
    throw new WorkloadError(`${where}cpus: no role stores anything to check (expected a storer, a background-copy or a faulter with write access)`);
  }
}

function zeroCounts(): Record<ViolationKind, number> {
  return Object.fromEntries(VIOLATION_KINDS.map((k) => [k, 0])) as Record<ViolationKind, number>;
}

/** The seed of one image's draws: from the run's seed, the point's instant and the image's number. */
function imageSeed(seed: number, offsetNs: number, image: number): number {
  let h = Math.imul(seed ^ 0x2545f491, 0x9e3779b1);
  h = Math.imul(h ^ (offsetNs % 0x7fffffff), 0x85ebca77);
  h = Math.imul(h ^ Math.floor(offsetNs / 0x7fffffff), 0xc2b2ae3d);
  return (h ^ image ^ (h >>> 16)) | 0;
}

export async function crashtest(expanded: ExpandedWorkload, opts: CrashtestOptions): Promise<CrashtestResult> {
  let configs = expanded.configs;
  if (opts.replay !== undefined) {
    const want = opts.replay.config;
    configs = configs.filter((c) => c.name === want);
    if (configs.length === 0) throw new RangeError(`--replay: no configuration ${JSON.stringify(want)} in this workload (it has: ${expanded.configs.map((c) => c.name).join(', ')})`);
  }
  for (const c of expanded.configs) checkCrashWorkload(c.workload, expanded.configs.length > 1 ? `configuration ${c.name}: ` : '');
  const seed = opts.replay?.seed ?? opts.seed ?? expanded.base.run.seed;
  const out: ConfigCrashResult[] = [];
  // One repeat, no discarded warm-up repeats: the crash points belong to one run.
  const once = (c: Configuration): Configuration => ({ ...c, workload: { ...c.workload, run: { ...c.workload.run, repeats: 1, warmupRepeats: 0 } } });
  // One run of every configuration: one pool of CPU workers, started once.
  const plans = new Map<string, ConfigPlan>();
  for (const c of configs) plans.set(c.name, await planConfig(expanded, once(c), seed, opts));
  const hooks: RunHooks = {
    prepare: (c, s, cpus, control) => crashHooksTask(plans.get(c.name)!.prepare(s, cpus, control)),
    measureStarts: (c, t0) => plans.get(c.name)!.measureStarts(t0),
  };
  // A pending Atomics.waitAsync does not keep Node's event loop alive (nodejs/node#61941):
  // while every CPU is parked and the main thread waits for the world to stop, nothing else
  // might, and the process would exit (code 13) in the middle of the run.
  const alive = setInterval(() => {}, 60_000);
  try {
    await runWorkload({ ...expanded, configs: configs.map(once) }, { seed, repeats: 1, version: opts.version, hooks, jitWarmup: false });
  } finally {
    for (const p of plans.values()) await p.finish();
    clearInterval(alive);
  }
  for (const p of plans.values()) out.push(p.result);
  const violations = zeroCounts();
  for (const r of out) for (const k of VIOLATION_KINDS) violations[k] += r.violations[k];
  return {
    workload: expanded.base.name,
    seed,
    points: out.reduce((n, r) => n + r.points, 0),
    images: out.reduce((n, r) => n + r.images, 0),
    totalViolations: out.reduce((n, r) => n + r.totalViolations, 0),
    violations,
    configs: out,
    reproducers: out.flatMap((r) => r.examples.map((e) => e.reproducer)),
  };
}

/** The measured part's virtual length: run.durationMs, or what a plain run of the configuration lasts. */
async function horizonNs(expanded: ExpandedWorkload, c: Configuration, seed: number, version: string): Promise<number> {
  if (c.workload.run.durationMs !== undefined) return c.workload.run.durationMs * 1e6;
  const r = await runWorkload({ ...expanded, configs: [c] }, { seed, repeats: 1, version, jitWarmup: false });
  return r.configs[0]?.elapsedNs ?? 0;
}

interface RunState {
  machine: Machine;
  ledger: Ledger;
  log: PersistLog;
  controller: CrashController;
  roleCpus: number[];
  control: Int32Array;
}

/** The run's points up to the reproducer's instant (a RangeError when it is none of them). */
function replayPoints(all: Float64Array, r: Reproducer): Float64Array {
  const k = all.indexOf(r.offsetNs);
  if (k < 0) throw new RangeError(`--replay: ${r.offsetNs} ns is not one of the ${r.points} crash points seed ${r.seed} draws in configuration ${r.config}`);
  return all.subarray(0, k + 1);
}

/** One configuration's part of the crashtest run: its crash points, the hooks its run calls, and what it found. */
interface ConfigPlan {
  result: ConfigCrashResult;
  prepare(s: SetupResult, cpus: readonly number[], control: Int32Array): CrashTask;
  measureStarts(t0: number): void;
  /** Releases the CPUs for good and waits for the visit of the points to end. */
  finish(): Promise<void>;
}

async function planConfig(expanded: ExpandedWorkload, c: Configuration, seed: number, opts: CrashtestOptions): Promise<ConfigPlan> {
  const w = c.workload;
  const replay = opts.replay;
  const draw = async (n: number) => drawPoints(seededRng(seed ^ 0x63726173), n, 0, Math.max(1, Math.floor(await horizonNs(expanded, c, seed, opts.version))));
  const offsets = replay === undefined ? await draw(opts.points) : replay.points === undefined ? Float64Array.of(replay.offsetNs) : replayPoints(await draw(replay.points), replay);
  const result: ConfigCrashResult = {
    config: c.name,
    personality: w.fs.personality,
    variant: w.variant,
    seed,
    pointsRequested: replay === undefined ? offsets.length : 1,
    points: 0,
    pointsMissed: 0,
    images: 0,
    totalViolations: 0,
    violations: zeroCounts(),
    firstViolationPoint: null,
    examples: [],
    unloggedWritebacks: 0,
  };
  const held: { st: RunState | null } = { st: null };
  let loop: Promise<void> = Promise.resolve();
  const hooks = {
    prepare(s: SetupResult, cpus: readonly number[], control: Int32Array): CrashTask {
      const files = w.files.map((f) => ({ name: f.name, ino: s.inos[f.name], lines: f.size / 64, fill: f.state === 'written' ? 0x11 : null }));
      const ledger = Ledger.create(files);
      const n = s.machine.config.cpus;
      const log = PersistLog.create(n);
      const block = CrashBlock.create(n);
      const controller = new CrashController(block, s.machine, cpus, control);
      const roleCpus = cpus.filter((i) => i < w.cpus.filter((r) => r.enabled).length);
      held.st = { machine: s.machine, ledger, log, controller, roleCpus, control };
      return { block: block.buffer, persist: log.buffer, cpus: n, ledger: ledger.buffer, files: ledger.files.slice() };
    },
    measureStarts(t0: number): void {
      const st = held.st!;
      st.controller.arm(t0 + offsets[0]);
      loop = visitPoints(st, t0);
    },
  };
  const visitPoints = async (st: RunState, t0: number): Promise<void> => {
    const g = fsGeometry(st.machine.config);
    const dev = deviceState(st.machine);
    const sparse = new SparseImage(dev.media.length, g.dataStart);
    const cpuState = st.machine.views.cpuState;
    const over = () => Atomics.load(st.control, CONTROL.stop) !== 0 || st.roleCpus.every((i) => Atomics.load(cpuState, i * CPU_STATE.stride + CPU_STATE.vstate) === V_OFF);
    try {
      for (let k = 0; k < offsets.length; k++) {
        const next = k + 1 < offsets.length ? t0 + offsets[k + 1] : Infinity;
        const r = await st.controller.waitStopped(over, STOP_TIMEOUT_MS);
        if (r === 'over') {
          result.pointsMissed += offsets.length - k;
          break;
        }
        if (r === 'timeout') {
          result.pointsMissed++;
          st.controller.release(next);
          continue;
        }
        // A replay stops where the run stopped, and checks the last point only.
        if (replay !== undefined && k < offsets.length - 1) {
          st.controller.release(next);
          continue;
        }
        const syncPages = syncWritablePages(st.machine);
        const images = replay !== undefined ? [replay.image] : Array.from({ length: IMAGES_PER_POINT }, (_, i) => i);
        let found = false;
        const seen: Violation[] = [];
        for (const i of images) {
          sparse.draw(dev, st.log, seededRng(imageSeed(seed, offsets[k], i)));
          const vs = recoverAndCheck(sparse.bytes, g, w.fs.personality, { ledger: st.ledger, syncPages, ensureBlock: (b) => sparse.ensureBlock(b) });
          result.images++;
          seen.push(...vs);
          for (const v of vs) {
            result.violations[v.kind]++;
            result.totalViolations++;
            found = true;
            if (result.examples.length < MAX_EXAMPLES && !result.examples.some((e) => e.kind === v.kind)) {
              result.examples.push({ reproducer: formatReproducer({ seed, offsetNs: offsets[k], image: i, points: replay?.points ?? offsets.length, config: c.name }), kind: v.kind, detail: v.detail });
            }
          }
        }
        opts.onStop?.({ machine: st.machine, ledger: st.ledger, syncPages, offsetNs: offsets[k], violations: seen });
        result.points++;
        if (found && result.firstViolationPoint === null) result.firstViolationPoint = result.points;
        opts.onPoint?.(c.name, result.points, offsets.length);
        st.controller.release(next);
      }
    } finally {
      result.unloggedWritebacks = st.log.overflow();
      st.controller.release(Infinity);
    }
  };
  return {
    result,
    ...hooks,
    async finish() {
      held.st?.controller.release(Infinity);
      await loop;
    },
  };
}
