// The run's control block (laid out in machine/run_block.ts), through which the main thread and the CPU workers agree on phases and on when to stop, and in
// which each CPU counts its operations (the progress bar and the watchdog read them).
//
// Phases: every CPU arrives (setup done) -> WARMUP: each does its unrecorded warm-up and
// arrives again -> MEASURE: recording starts on all CPUs at once. `stop` ends the measured
// part: STOP_DONE when the counted CPUs finished or the duration passed, STOP_INTERRUPTED
// on Ctrl-C (results are then partial).

import { CONTROL, cpuControlWord } from '../machine/run_block.js';
import type { Machine } from '../machine/machine.js';
import { vclockArrive, vclockUnparkSelf, vnotifyFromHost } from '../sync/vclock.js';

export const PHASE_SETUP = 0;
export const PHASE_WARMUP = 1;
export const PHASE_MEASURE = 2;

export const STOP_NONE = 0;
export const STOP_DONE = 1;
export const STOP_INTERRUPTED = 2;
/** A CPU's role threw: the others stop at once and the run fails. */
export const STOP_FAILED = 3;

/** A CPU's view of the control block. */
export class Control {
  readonly w: Int32Array;
  constructor(
    buffer: SharedArrayBuffer,
    readonly cpu: number,
  ) {
    this.w = new Int32Array(buffer);
  }

  get stopping(): boolean {
    return Atomics.load(this.w, CONTROL.stop) !== STOP_NONE;
  }

  get interrupted(): boolean {
    return Atomics.load(this.w, CONTROL.stop) === STOP_INTERRUPTED;
  }

  /** Counts one operation for the progress bar and the watchdog. */
  progress(): void {
    Atomics.add(this.w, cpuControlWord(this.cpu, 'progress'), 1);
  }

  /** Says the CPU sleeps through a paced pause of `ns` (0: it is over), for the watchdog. */
  pausing(ns: number): void {
    Atomics.store(this.w, cpuControlWord(this.cpu, 'pausedMs'), ns <= 0 ? 0 : Math.min(2 ** 31 - 1, Math.ceil(ns / 1e6)));
  }

  /** The role has ended: its progress no longer matters to the run. */
  done(): void {
    Atomics.store(this.w, cpuControlWord(this.cpu, 'done'), 1);
  }

  /**
   * Arrives at a barrier counter and sleeps until the phase reaches `phase` (or the run
   * stops). On the virtual clock a CPU that arrived holds nothing back (the others may need
   * time to pass to get there), and the last to arrive lines every clock up at the latest
   * of them before the main thread can see the barrier full, so a phase starts at one
   * instant on every CPU and no timer fires past it meanwhile (sync/vclock.ts).
   */
  arriveAndWait(counter: number, phase: number): void {
    const align = counter === CONTROL.arrived ? CONTROL.alignArrived : CONTROL.alignWarmedUp;
    vclockArrive(() => Atomics.add(this.w, align, 1) + 1, Atomics.load(this.w, CONTROL.participants));
    Atomics.add(this.w, counter, 1);
    Atomics.notify(this.w, counter);
    try {
      for (;;) {
        const p = Atomics.load(this.w, CONTROL.phase);
        if (p >= phase || this.stopping) return;
        Atomics.wait(this.w, CONTROL.phase, p, 100);
      }
    } finally {
      vclockUnparkSelf();
    }
  }

  /** Sleeps in the host until the run stops. */
  waitForStop(): void {
    while (!this.stopping) Atomics.wait(this.w, CONTROL.stop, STOP_NONE, 100);
  }
}

/** Main thread: sum of the operation counts of `cpus` (all when absent); changes while the run makes progress. */
export function totalProgress(w: Int32Array, cpus: number | readonly number[]): number {
  let s = 0;
  if (typeof cpus === 'number') for (let i = 0; i < cpus; i++) s += Atomics.load(w, cpuControlWord(i, 'progress'));
  else for (const i of cpus) s += Atomics.load(w, cpuControlWord(i, 'progress'));
  return s + Atomics.load(w, CONTROL.arrived) + Atomics.load(w, CONTROL.warmedUp);
}

/** Main thread: what `cpu` says of itself to the watchdog. */
export function cpuWatch(w: Int32Array, cpu: number): { progress: number; pausedMs: number; done: boolean } {
  return {
    progress: Atomics.load(w, cpuControlWord(cpu, 'progress')),
    pausedMs: Atomics.load(w, cpuControlWord(cpu, 'pausedMs')),
    done: Atomics.load(w, cpuControlWord(cpu, 'done')) !== 0,
  };
}

export function setPhase(w: Int32Array, phase: number): void {
  Atomics.store(w, CONTROL.phase, phase);
  Atomics.notify(w, CONTROL.phase);
}

/** Stops the run; `machine` from the main thread, so that a CPU asleep on the virtual clock for the storers' count wakes too. */
export function setStop(w: Int32Array, how: number, machine?: Machine): void {
  // A stop only escalates: done < interrupted < failed.
  for (let cur = Atomics.load(w, CONTROL.stop); cur < how; cur = Atomics.load(w, CONTROL.stop)) {
    if (Atomics.compareExchange(w, CONTROL.stop, cur, how) === cur) break;
  }
  Atomics.notify(w, CONTROL.phase);
  Atomics.notify(w, CONTROL.stores);
  Atomics.notify(w, CONTROL.stop);
  if (machine !== undefined) vnotifyFromHost(machine, w, CONTROL.stores, -1);
}

/** Main thread: resolves once counter reaches n, or rejects when `abort` says so (checked every 20 ms). */
export async function waitCounter(w: Int32Array, counter: number, n: number, abort: () => Error | null): Promise<void> {
  for (;;) {
    const v = Atomics.load(w, counter);
    if (v >= n) return;
    const e = abort();
    if (e) throw e;
    const r = Atomics.waitAsync(w, counter, v, 20);
    if (r.async) await r.value;
  }
}
