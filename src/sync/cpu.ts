// A CPU's private handle on the shared machine: who it is, where its own lock_stat and
// counter slots start, and scratch state that never leaves the thread. One per worker,
// made once; hot paths take it instead of looking anything up.

import type { Machine } from '../machine/machine.js';
import { CPU_STATE, LOCK_CLASSES, LOCK_STAT, LOCK_WAIT_HIST, PMEM_COUNTERS, REGION_NAMES } from '../machine/layout.js';
import { checkCpu } from '../machine/machine.js';

export interface Cpu {
  readonly id: number;
  readonly machine: Machine;
  /** id + 1: the value a lock's owner word holds (0 means never owned). */
  readonly tag: number;
  /** Offset of this CPU's first lock_stat record in views.lockStat. */
  readonly statBase: number;
  /** Offset of this CPU's first wait-time histogram in views.lockWaitHist. */
  readonly waitHistBase: number;
  /** Offset of this CPU's record in views.cpuState. */
  readonly stateBase: number;
  /** Offset of this CPU's record in views.pmemCounters. */
  readonly countersBase: number;
  readonly holdTimes: boolean;
  /** Costs every lock charges (costs.ts): an uncontended acquisition, and a contended hand-over. */
  readonly lockNs: number;
  readonly lockHandoffNs: number;
  /** When this CPU took the lock of each class it holds (hold-time accounting only). */
  readonly holdStart: Float64Array;
  /** Region number of a shared buffer, for telling the watchdog what a CPU waits on. */
  regionOf(buffer: ArrayBufferLike): number;
}

export function attachCpu(machine: Machine, id: number): Cpu {
  checkCpu(machine, id);
  const byBuffer = new Map<ArrayBufferLike, number>();
  REGION_NAMES.forEach((name, i) => byBuffer.set(machine.views[name].buffer, i));
  return {
    id,
    machine,
    tag: id + 1,
    statBase: id * LOCK_CLASSES.length * LOCK_STAT.stride,
    waitHistBase: id * LOCK_CLASSES.length * LOCK_WAIT_HIST.stride,
    stateBase: id * CPU_STATE.stride,
    countersBase: id * PMEM_COUNTERS.stride,
    holdTimes: machine.config.lockStatHoldTimes,
    lockNs: machine.config.costs.lockNs,
    lockHandoffNs: machine.config.costs.lockHandoffNs,
    holdStart: new Float64Array(LOCK_CLASSES.length),
    regionOf: (buffer) => byBuffer.get(buffer) ?? -1,
  };
}
