// Crash points: stopping the world at a virtual instant. The main thread publishes the
// instant in the crash block; each CPU's charge() (sync/vclock.ts) compares its clock with
// it and, once past, parks at that step until released: an operation in flight stops
// between two of its steps, as at a power failure. The world is stopped when every CPU of
// the run is parked there, or cannot move without one that is: asleep until a wake-up,
// at a barrier, done, off, or in a timed sleep that cannot end before the parked clocks
// move on. The main thread then reads the device and the page tables (nothing changes
// under it), and releases every CPU with the next instant published.
//
// Crash points are drawn from the run's seed, uniformly over the measured part's virtual
// time, and taken in order in one run: a run is made once per seed, not once per point.

import { CPU_CLOCK, CPU_STATE } from '../machine/layout.js';
import type { Machine } from '../machine/machine.js';
import { cpuControlWord } from '../machine/run_block.js';
import { V_BLOCKED, V_OFF, V_PARKED, V_RUNNING, V_TIMED, setCrashPoint } from '../sync/vclock.js';
import type { Rng } from '../util/rng.js';

const GEN = 0;
const PARK_SEQ = 1;
const CPU0 = 4;

/** The shared words: the instant to stop at, a release generation, and each CPU's parked mark. */
export class CrashBlock {
  readonly at: Float64Array;
  readonly w: Int32Array;
  constructor(readonly buffer: SharedArrayBuffer) {
    this.at = new Float64Array(buffer, 0, 1);
    this.w = new Int32Array(buffer, 8, (buffer.byteLength - 8) / 4);
  }

  static create(cpus: number): CrashBlock {
    const b = new CrashBlock(new SharedArrayBuffer(8 + (CPU0 + cpus) * 4));
    b.at[0] = Infinity;
    return b;
  }

  /** Whether `cpu` is parked at the current crash point. */
  parked(cpu: number): boolean {
    return Atomics.load(this.w, CPU0 + cpu) === Atomics.load(this.w, GEN) + 1;
  }
}

/** CPU side: this thread's CPU parks at the crash points of `block` (null: none). */
export function installCrashStop(block: CrashBlock | null, cpu: number): void {
  if (block === null) {
    setCrashPoint(null);
    return;
  }
  // Released with the next instant already behind its clock, the CPU parks again at once:
  // it must not run on (nor wait for the parked ones to catch up) past a crash point.
  setCrashPoint(block.at, (t) => {
    while (park(block, cpu, t));
  });
}

/** Parks at the armed instant if clock t reached it; false when it did not (a release came first). */
function park(b: CrashBlock, cpu: number, t: number): boolean {
  const gen = Atomics.load(b.w, GEN);
  // The main thread arms the next instant before it bumps GEN: read after GEN, it is this
  // generation's. A CPU parked short of its instant would hold the others a window behind it.
  if (!(t >= b.at[0])) return false;
  Atomics.store(b.w, CPU0 + cpu, gen + 1);
  Atomics.add(b.w, PARK_SEQ, 1);
  Atomics.notify(b.w, PARK_SEQ);
  while (Atomics.load(b.w, GEN) === gen) Atomics.wait(b.w, GEN, gen, 50);
  Atomics.store(b.w, CPU0 + cpu, 0);
  return true;
}

/** `n` crash instants, sorted, uniform over (from, from + span), drawn from rng. */
export function drawPoints(rng: Rng, n: number, from: number, span: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = from + Math.max(1, Math.floor(rng() * span));
  return out.sort();
}

/** Main thread: stops the CPUs of a run at instants and releases them. */
export class CrashController {
  constructor(
    readonly block: CrashBlock,
    private readonly machine: Machine,
    /** The CPUs of the run (roles and the commit thread). */
    private readonly cpus: readonly number[],
    /** The run's control block (a CPU whose role is done holds nothing back). */
    private readonly control: Int32Array,
  ) {}

  /** Publishes the next instant to stop at (Infinity: none). */
  arm(at: number): void {
    this.block.at[0] = at;
  }

  /** Releases the parked CPUs, with `next` armed first. */
  release(next: number): void {
    this.block.at[0] = next;
    Atomics.add(this.block.w, GEN, 1);
    Atomics.notify(this.block.w, GEN);
  }

  /** Whether every CPU is parked at the armed instant or cannot move until one is released. */
  stopped(): boolean {
    const st = this.machine.views.cpuState;
    const clk = this.machine.views.cpuClock;
    const windowNs = this.machine.config.windowNs;
    let timed = false;
    for (const i of this.cpus) {
      if (this.block.parked(i)) continue;
      const s = Atomics.load(st, i * CPU_STATE.stride + CPU_STATE.vstate);
      if (s === V_OFF || s === V_BLOCKED || s === V_PARKED) continue;
      if (s === V_TIMED) {
        timed = true;
        continue;
      }
      if (s === V_RUNNING && i < this.control.length && Atomics.load(this.control, cpuControlWord(i, 'done')) !== 0) continue;
      return false;
    }
    if (!timed) return true;
    // A timed sleeper wakes once every other CPU is within a window of its deadline (as
    // vclock.ts's sleepUntilWoken decides): with the others stopped, it must not be able to.
    const effective = (i: number): number => {
      if (this.block.parked(i)) return clk[i * CPU_CLOCK.stride + CPU_CLOCK.now];
      const s = Atomics.load(st, i * CPU_STATE.stride + CPU_STATE.vstate);
      if (s === V_TIMED) return clk[i * CPU_CLOCK.stride + CPU_CLOCK.deadline];
      if (s === V_RUNNING) return clk[i * CPU_CLOCK.stride + CPU_CLOCK.now];
      return Infinity;
    };
    const all = this.machine.config.cpus;
    for (const i of this.cpus) {
      if (this.block.parked(i) || Atomics.load(st, i * CPU_STATE.stride + CPU_STATE.vstate) !== V_TIMED) continue;
      let m = Infinity;
      for (let j = 0; j < all; j++) if (j !== i) m = Math.min(m, effective(j));
      if (clk[i * CPU_CLOCK.stride + CPU_CLOCK.deadline] <= m + windowNs) return false;
    }
    return true;
  }

  /** Resolves once the world is stopped ('stopped'), the run is over ('over'), or timeoutMs of host time passed ('timeout'). */
  async waitStopped(over: () => boolean, timeoutMs: number): Promise<'stopped' | 'over' | 'timeout'> {
    const until = performance.now() + timeoutMs;
    for (;;) {
      // Twice, a moment apart: a CPU woken between the scans of one check is seen running in the next.
      if (this.stopped() && this.stopped()) return 'stopped';
      if (over()) return 'over';
      if (performance.now() > until) return 'timeout';
      const r = Atomics.waitAsync(this.block.w, PARK_SEQ, Atomics.load(this.block.w, PARK_SEQ), 1);
      if (r.async) await r.value;
    }
  }
}
