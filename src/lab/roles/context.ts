// What every role gets: its CPU, its mount of the file system and address space, the
// control block, its op log, and the names of the run's mappings and files resolved.

import type { Cpu } from '../../sync/cpu.js';
import type { Fs } from '../../fs/super.js';
import type { Mm } from '../../mm/mm.js';
import type { Vma } from '../../mm/memory.js';
import { attachVma } from '../../mm/mmap.js';
import { seededRng, type Rng } from '../../util/rng.js';
import { PHASE_MEASURE, type Control } from '../control.js';
import { CONTROL } from '../../machine/run_block.js';
import type { OpLog } from '../op_log.js';
import { nowNs } from '../../util/clock.js';
import { isVirtual } from '../../sync/vclock.js';
import type { CpuTask } from '../task.js';
import type { RoleContent } from '../cpu_hooks.js';

export class RoleContext {
  readonly rng: Rng;
  readonly counters: Record<string, number> = {};
  /** In an instrumented run (crashtest's: stores write stamps, syncs record their promises): what the role calls around them. */
  readonly content: RoleContent | null;
  private readonly vmas = new Map<string, Vma>();

  constructor(
    readonly cpu: Cpu,
    readonly fs: Fs,
    readonly mm: Mm,
    readonly ctl: Control,
    readonly log: OpLog,
    readonly task: CpuTask,
    content: RoleContent | null,
  ) {
    this.rng = seededRng(task.seed * 7919 + task.cpu * 104729 + task.repeat);
    this.content = content;
  }

  vma(name: string): Vma {
    let v = this.vmas.get(name);
    if (v === undefined) {
      v = attachVma(this.mm, this.task.vmas[name]);
      this.vmas.set(name, v);
    }
    return v;
  }

  ino(name: string): number {
    return this.task.inos[name];
  }

  count(name: string, n = 1): void {
    this.counters[name] = (this.counters[name] ?? 0) + n;
  }

  /** Ops to run in all: the warm-up first, then the timed ones. */
  get totalOps(): number {
    return this.task.warmupOps + this.task.ops;
  }

  private warmedUp = false;
  /** Operations done so far, warm-up included. */
  doneOps = 0;

  /**
   * Called before each operation with the number done so far: at the end of the warm-up it
   * waits at the barrier for the measured phase. True when the role must stop.
   */
  shouldStop(done: number): boolean {
    this.doneOps = done;
    if (!this.warmedUp && done >= this.task.warmupOps) this.finishWarmup();
    return done >= this.totalOps || this.ctl.stopping || (this.deadlineNs !== Infinity && nowNs() >= this.deadlineNs);
  }

  /** On the virtual clock with run.durationMs: the instant the role stops (the main thread's timer ends wall-clock runs). */
  private deadlineNs = Infinity;

  /**
   * Called once when this CPU's warm-up ends (or, for a role that ended early, when it
   * ended), before the barrier: what the CPU has counted so far is the warm-up's.
   */
  onWarmedUp: () => void = () => {};

  /** Arrives at the warm-up barrier and waits until every CPU has (the measured phase starts together). */
  finishWarmup(): void {
    if (this.warmedUp) return;
    this.warmedUp = true;
    this.onWarmedUp();
    this.ctl.arriveAndWait(CONTROL.warmedUp, PHASE_MEASURE);
    void this.log.measuring;
    if (this.task.durationMs !== null && isVirtual()) this.deadlineNs = nowNs() + this.task.durationMs * 1e6;
  }
}

export type RoleFunction = (ctx: RoleContext) => void;
