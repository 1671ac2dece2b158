// A CPU's recording of its timed operations: one clock read at each end of an operation,
// the histogram of its kind (only once the measured phase has begun), the per-interval
// histogram (--log-interval-ms), the attribution of its time to kernel steps (--attribute),
// and a tick of the progress counter.

import { CpuRecorders, type EncodedOps, type RecordedOpKind } from '../measure/histogram.js';
import { opBegin, opCommitCarriedOtherInodes, opEnd } from '../measure/steps.js';
import { AttributionRecorder, type EncodedAttribution } from '../measure/attribution.js';
import { nowNs } from '../util/clock.js';
import { PHASE_MEASURE, type Control } from './control.js';
import { CONTROL } from '../machine/run_block.js';

export interface IntervalOps {
  index: number;
  ops: EncodedOps;
}

export class OpLog {
  readonly rec = new CpuRecorders();
  private recording = false;
  private readonly interval: CpuRecorders | null;
  private intervalIndex = 0;
  private intervalStartNs = 0;
  private readonly intervalNs: number;
  readonly intervals: IntervalOps[] = [];
  readonly attribution: AttributionRecorder | null;

  constructor(
    private readonly ctl: Control,
    private readonly opts: { logIntervalMs: number; attribute: boolean; coordinatedOmission: boolean; repeat: number },
  ) {
    this.intervalNs = opts.logIntervalMs * 1e6;
    this.interval = opts.logIntervalMs > 0 ? new CpuRecorders() : null;
    this.attribution = opts.attribute ? new AttributionRecorder() : null;
  }

  /** Whether the measured phase has begun (checked between operations, not during one). */
  get measuring(): boolean {
    if (!this.recording && Atomics.load(this.ctl.w, CONTROL.phase) >= PHASE_MEASURE) {
      this.recording = true;
      this.intervalStartNs = nowNs();
    }
    return this.recording;
  }

  /**
   * Starts a timed operation; returns its start time. `after`, the end of an operation that
   * this one follows back to back, is taken as its start: one clock read per operation
   * instead of two (a read costs ~80 ns here, as much as a cheap simulated step).
   */
  begin(after = -1): number {
    const t0 = after >= 0 ? after : nowNs();
    opBegin(t0);
    return t0;
  }

  /**
   * Ends an operation begun at t0; `expectedIntervalNs` > 0 for a fixed-rate loop (coordinated
   * omission correction unless switched off). Returns the end time.
   */
  end(kind: RecordedOpKind, t0: number, expectedIntervalNs = 0): number {
    const t1 = nowNs();
    const steps = opEnd(t1);
    this.ctl.progress();
    if (!this.recording) return t1;
    const ns = t1 - t0;
    const iv = this.opts.coordinatedOmission ? expectedIntervalNs : 0;
    if (iv > 0) this.rec.recordWithExpectedInterval(kind, ns, iv);
    else this.rec.record(kind, ns);
    if (this.interval !== null) this.recordInterval(kind, ns, iv, t1);
    if (this.attribution !== null) this.attribution.record(kind, ns, steps, this.ctl.cpu, this.opts.repeat, opCommitCarriedOtherInodes());
    return t1;
  }

  /** Ends an operation that turned out to have nothing to time. */
  discard(): void {
    opEnd(nowNs());
    this.ctl.progress();
  }

  private recordInterval(kind: RecordedOpKind, ns: number, iv: number, t1: number): void {
    const index = Math.floor((t1 - this.intervalStartNs) / this.intervalNs);
    const rec = this.interval!;
    if (index !== this.intervalIndex) {
      this.flushInterval();
      this.intervalIndex = index;
    }
    if (iv > 0) rec.recordWithExpectedInterval(kind, ns, iv);
    else rec.record(kind, ns);
  }

  private flushInterval(): void {
    const enc = this.interval!.encode();
    if (Object.keys(enc.ops).length > 0) this.intervals.push({ index: this.intervalIndex, ops: enc });
    this.interval!.reset();
  }

  /** What the CPU sends back; frees the WebAssembly histograms. */
  finish(): { ops: EncodedOps; intervals: IntervalOps[]; attribution: EncodedAttribution | null } {
    if (this.interval !== null) {
      this.flushInterval();
      this.interval.destroy();
    }
    const ops = this.rec.encode();
    this.rec.destroy();
    return { ops, intervals: this.intervals, attribution: this.attribution?.encode() ?? null };
  }
}
