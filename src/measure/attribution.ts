// Where the time went, per CPU and operation kind (`--attribute`), and the merge on the main
// thread into results.json's AttributionSchema (results.ts).
//
// A CPU's role times an operation with two clock reads and steps.ts splits it into kernel
// steps (opBegin(t0) ... opEnd(t1) gives the exclusive ns per step, which add up to t1 - t0);
// the role then calls AttributionRecorder.record(). Per kind the recorder keeps:
//  - the count, the latency sum and each step's sum: the mean breakdown;
//  - a tail estimate: the same sums per latency bucket at 1/8-octave resolution (bucket
//    floor(8 log2 ns), ~9 % wide), so the main thread can take the step shares of the
//    operations at or above the p99 from the buckets at or above the p99's bucket;
//  - the SLOWEST slowest operations with their full breakdown, CPU, repeat and whether the
//    commit they waited for carried other inodes. The slowest of a merge are exact: each
//    CPU keeps its own slowest, and the overall slowest are among them.
// record() allocates nothing; encode() makes a plain object (postMessage- and JSON-safe).
//
// The kind `fault` is derived on merge, as histogram.ts does: the union of read-fault,
// write-fault and sync-fault.

import { FAULT_KINDS, OP_KINDS, RECORDED_OP_KINDS, type OpKind, type RecordedOpKind } from './histogram.js';
import type { Attribution, StepName } from './results.js';
import { STEP_COUNT, STEP_NAMES } from './steps.js';

export const ENCODED_ATTRIBUTION_FORMAT = 'daxlab-attribution-1';

/** Operations kept with their full breakdown, per CPU and kind (and in the merged result). */
export const SLOWEST = 10;
/** Buckets per octave of the tail estimate. */
export const BUCKETS_PER_OCTAVE = 8;
/** Buckets cover 1 ns to 2^48 ns (78 hours); longer latencies land in the last. */
const BUCKETS = 48 * BUCKETS_PER_OCTAVE;
/** Per bucket: count, latency sum, then one sum per step. */
const ROW = 2 + STEP_COUNT;

/** One operation with its breakdown (ns per step, STEP_NAMES order). */
export interface EncodedSlowOp {
  latencyNs: number;
  cpu: number;
  repeat: number;
  steps: number[];
  commitCarriedOtherInodes: boolean;
}

/** One kind's attribution as it travels between threads. */
export interface EncodedKindAttribution {
  count: number;
  latencySumNs: number;
  /** Per step (STEP_NAMES order), ns summed over the operations. */
  stepSumsNs: number[];
  /** Non-empty tail buckets: index (floor(8 log2 ns)), count, latency sum and step sums. */
  buckets: { index: number; count: number; latencySumNs: number; stepSumsNs: number[] }[];
  /** Slowest first. */
  slowest: EncodedSlowOp[];
}

/** A CPU's (or a merge's) attribution in transferable form. */
export interface EncodedAttribution {
  format: typeof ENCODED_ATTRIBUTION_FORMAT;
  steps: readonly StepName[];
  bucketsPerOctave: number;
  kinds: Partial<Record<RecordedOpKind, EncodedKindAttribution>>;
}

/** The tail bucket of a latency: floor(8 log2 ns), clamped to the table. */
export function bucketOf(latencyNs: number): number {
  if (!(latencyNs >= 1)) return 0;
  const b = Math.floor(Math.log2(latencyNs) * BUCKETS_PER_OCTAVE);
  return b < BUCKETS ? b : BUCKETS - 1;
}

/** One kind's figures on one CPU. */
class KindAttribution {
  count = 0;
  latencySumNs = 0;
  readonly stepSums = new Float64Array(STEP_COUNT);
  readonly rows = new Float64Array(BUCKETS * ROW);
  /** The slowest so far, unordered: latency, CPU, repeat, carried flag, and steps per slot. */
  readonly slowLatency = new Float64Array(SLOWEST);
  readonly slowCpu = new Int32Array(SLOWEST);
  readonly slowRepeat = new Int32Array(SLOWEST);
  readonly slowCarried = new Uint8Array(SLOWEST);
  readonly slowSteps = new Float64Array(SLOWEST * STEP_COUNT);
  slowCount = 0;
  /** Slot of the least of the kept slowest (valid when slowCount === SLOWEST). */
  private minSlot = 0;

  record(latencyNs: number, steps: Float64Array, cpu: number, repeat: number, carried: boolean): void {
    this.count++;
    this.latencySumNs += latencyNs;
    const row = bucketOf(latencyNs) * ROW;
    const rows = this.rows;
    rows[row]++;
    rows[row + 1] += latencyNs;
    for (let s = 0; s < STEP_COUNT; s++) {
      const v = steps[s] > 0 ? steps[s] : 0;
      this.stepSums[s] += v;
      rows[row + 2 + s] += v;
    }
    let slot: number;
    if (this.slowCount < SLOWEST) {
      slot = this.slowCount++;
    } else {
      if (!(latencyNs > this.slowLatency[this.minSlot])) return;
      slot = this.minSlot;
    }
    this.slowLatency[slot] = latencyNs;
    this.slowCpu[slot] = cpu;
    this.slowRepeat[slot] = repeat;
    this.slowCarried[slot] = carried ? 1 : 0;
    for (let s = 0; s < STEP_COUNT; s++) this.slowSteps[slot * STEP_COUNT + s] = steps[s] > 0 ? steps[s] : 0;
    if (this.slowCount === SLOWEST) {
      let m = 0;
      for (let i = 1; i < SLOWEST; i++) if (this.slowLatency[i] < this.slowLatency[m]) m = i;
      this.minSlot = m;
    }
  }

  encode(): EncodedKindAttribution {
    const buckets: EncodedKindAttribution['buckets'] = [];
    for (let b = 0; b < BUCKETS; b++) {
      const row = b * ROW;
      if (this.rows[row] === 0) continue;
      buckets.push({
        index: b,
        count: this.rows[row],
        latencySumNs: this.rows[row + 1],
        stepSumsNs: Array.from(this.rows.subarray(row + 2, row + ROW)),
      });
    }
    const slowest: EncodedSlowOp[] = [];
    for (let i = 0; i < this.slowCount; i++) {
      slowest.push({
        latencyNs: this.slowLatency[i],
        cpu: this.slowCpu[i],
        repeat: this.slowRepeat[i],
        steps: Array.from(this.slowSteps.subarray(i * STEP_COUNT, (i + 1) * STEP_COUNT)),
        commitCarriedOtherInodes: this.slowCarried[i] === 1,
      });
    }
    slowest.sort((a, b) => b.latencyNs - a.latencyNs);
    return { count: this.count, latencySumNs: this.latencySumNs, stepSumsNs: Array.from(this.stepSums), buckets, slowest };
  }
}

/** One CPU's attribution of its timed operations. */
export class AttributionRecorder {
  private readonly byKind = new Map<RecordedOpKind, KindAttribution>();

  /**
   * Records one operation: its kind, its latency (t1 - t0 of the clock reads given to
   * opBegin/opEnd), its exclusive ns per step (opEnd's array; copied, negative values as 0),
   * the CPU and repeat it ran in, and whether the commit it waited for carried other inodes
   * (opCommitCarriedOtherInodes()).
   */
  record(kind: RecordedOpKind, latencyNs: number, steps: Float64Array, cpu: number, repeat: number, commitOthers: boolean): void {
    let k = this.byKind.get(kind);
    if (k === undefined) {
      if (!(RECORDED_OP_KINDS as readonly string[]).includes(kind)) {
        throw new RangeError(
          (kind as string) === 'fault'
            ? 'fault is derived from read-fault, write-fault and sync-fault; record one of those'
            : `unknown operation kind ${JSON.stringify(kind)}`,
        );
      }
      k = new KindAttribution();
      this.byKind.set(kind, k);
    }
    k.record(latencyNs, steps, cpu, repeat, commitOthers);
  }

  /** Operations recorded under a kind. */
  count(kind: RecordedOpKind): number {
    return this.byKind.get(kind)?.count ?? 0;
  }

  /** Forgets everything recorded. */
  reset(): void {
    this.byKind.clear();
  }

  encode(): EncodedAttribution {
    const kinds: EncodedAttribution['kinds'] = {};
    for (const kind of RECORDED_OP_KINDS) {
      const k = this.byKind.get(kind);
      if (k !== undefined && k.count > 0) kinds[kind] = k.encode();
    }
    return { format: ENCODED_ATTRIBUTION_FORMAT, steps: STEP_NAMES, bucketsPerOctave: BUCKETS_PER_OCTAVE, kinds };
  }
}

// ---- the merge (main thread) ---------------------------------------------------------------

/** Sums of one kind over CPUs, repeats or kinds. */
class KindMerge {
  count = 0;
  latencySumNs = 0;
  readonly stepSums = new Float64Array(STEP_COUNT);
  readonly buckets = new Map<number, { count: number; latencySumNs: number; stepSums: Float64Array }>();
  slowest: EncodedSlowOp[] = [];

  add(e: EncodedKindAttribution): void {
    this.count += e.count;
    this.latencySumNs += e.latencySumNs;
    addInto(this.stepSums, e.stepSumsNs);
    for (const b of e.buckets) this.addBucket(b.index, b.count, b.latencySumNs, b.stepSumsNs);
    this.keepSlowest(e.slowest);
  }

  merge(other: KindMerge): void {
    this.count += other.count;
    this.latencySumNs += other.latencySumNs;
    addInto(this.stepSums, other.stepSums);
    for (const [index, b] of other.buckets) this.addBucket(index, b.count, b.latencySumNs, b.stepSums);
    this.keepSlowest(other.slowest);
  }

  private addBucket(index: number, count: number, latencySumNs: number, stepSums: ArrayLike<number>): void {
    let m = this.buckets.get(index);
    if (m === undefined) {
      m = { count: 0, latencySumNs: 0, stepSums: new Float64Array(STEP_COUNT) };
      this.buckets.set(index, m);
    }
    m.count += count;
    m.latencySumNs += latencySumNs;
    addInto(m.stepSums, stepSums);
  }

  private keepSlowest(more: readonly EncodedSlowOp[]): void {
    this.slowest = this.slowest.concat(more).sort((a, b) => b.latencyNs - a.latencyNs).slice(0, SLOWEST);
  }

  /** The step sums of the operations at or above the p99: whole buckets from the top down to the p99's. */
  tailSums(): Float64Array {
    const need = Math.max(1, Math.ceil(this.count * 0.01));
    const out = new Float64Array(STEP_COUNT);
    let got = 0;
    for (const index of [...this.buckets.keys()].sort((a, b) => b - a)) {
      const b = this.buckets.get(index)!;
      addInto(out, b.stepSums);
      got += b.count;
      if (got >= need) break;
    }
    return out;
  }

  result(): Attribution {
    const meanNs: Attribution['meanNs'] = {};
    for (let s = 0; s < STEP_COUNT; s++) if (this.stepSums[s] > 0) meanNs[STEP_NAMES[s]] = this.stepSums[s] / this.count;
    return {
      count: this.count,
      meanNs,
      meanShare: shares(this.stepSums),
      p99Share: shares(this.tailSums()),
      slowest: this.slowest.map((o) => ({
        latencyNs: o.latencyNs,
        cpu: o.cpu,
        repeat: o.repeat,
        steps: stepRecord(o.steps),
        commitCarriedOtherInodes: o.commitCarriedOtherInodes,
      })),
    };
  }
}

function addInto(into: Float64Array, from: ArrayLike<number>): void {
  for (let s = 0; s < from.length && s < into.length; s++) into[s] += from[s];
}

/** Each step's share of the sums' total (the total of the steps is the operations' latency); non-zero steps only. */
function shares(sums: Float64Array): Attribution['meanShare'] {
  let total = 0;
  for (let s = 0; s < STEP_COUNT; s++) total += sums[s];
  const out: Attribution['meanShare'] = {};
  if (!(total > 0)) return out;
  for (let s = 0; s < STEP_COUNT; s++) if (sums[s] > 0) out[STEP_NAMES[s]] = sums[s] / total;
  return out;
}

function stepRecord(steps: readonly number[]): Attribution['meanNs'] {
  const out: Attribution['meanNs'] = {};
  for (let s = 0; s < STEP_COUNT; s++) if (steps[s] > 0) out[STEP_NAMES[s]] = steps[s];
  return out;
}

function checkEncoded(e: EncodedAttribution): void {
  if (e.format !== ENCODED_ATTRIBUTION_FORMAT) {
    throw new Error(`encoded attribution: expected format ${ENCODED_ATTRIBUTION_FORMAT}, got ${JSON.stringify(e.format)}`);
  }
  if (e.bucketsPerOctave !== BUCKETS_PER_OCTAVE || e.steps.length !== STEP_COUNT || e.steps.some((n, i) => n !== STEP_NAMES[i])) {
    throw new Error(`encoded attribution: steps ${e.steps.join(', ')} at ${e.bucketsPerOctave} buckets per octave do not match this daxlab's`);
  }
  for (const k of Object.keys(e.kinds)) {
    if (!(RECORDED_OP_KINDS as readonly string[]).includes(k)) throw new Error(`encoded attribution: unknown operation kind ${JSON.stringify(k)}`);
  }
}

/**
 * Merges CPUs' (and repeats') encoded attributions into results.json's shape, per kind in
 * OP_KINDS order, with `fault` as the union of the three fault kinds.
 */
export function mergeAttribution(encoded: readonly EncodedAttribution[]): Partial<Record<OpKind, Attribution>> {
  const byKind = new Map<RecordedOpKind, KindMerge>();
  for (const e of encoded) {
    checkEncoded(e);
    for (const kind of RECORDED_OP_KINDS) {
      const k = e.kinds[kind];
      if (k === undefined || k.count === 0) continue;
      let m = byKind.get(kind);
      if (m === undefined) {
        m = new KindMerge();
        byKind.set(kind, m);
      }
      m.add(k);
    }
  }
  const out: Partial<Record<OpKind, Attribution>> = {};
  for (const kind of OP_KINDS) {
    if (kind === 'fault') {
      let all: KindMerge | undefined;
      for (const f of FAULT_KINDS) {
        const m = byKind.get(f);
        if (m !== undefined) (all ??= new KindMerge()).merge(m);
      }
      if (all !== undefined) out.fault = all.result();
    } else {
      const m = byKind.get(kind);
      if (m !== undefined) out[kind] = m.result();
    }
  }
  return out;
}
