// Latency recording per CPU and operation kind, and merging on the main thread.
//
// Each CPU keeps one recorder per operation kind: an HDR histogram (hdr-histogram-js) in
// nanoseconds, 1 ns to HIGHEST_NS with 3 significant digits, plus the exact count, sum,
// minimum and maximum of what it recorded (one add and two compares: the histogram alone
// would give the mean, min and max only to its 0.1 % resolution, and the seed's table prints
// them as integer microseconds, where 0.1 % can move a figure by one).
//
// Recording uses the WebAssembly histogram with 64-bit counts. On the 2-core development
// machine (Node 20) the library's recordValue costs about 20 ns (WebAssembly, 32- or 64-bit
// counts alike) against about 75 ns for the TypeScript histograms (whose index computation
// goes through Math.log2 and Math.pow) and 500-800 ns for packed ones; OpRecorder.record,
// with its clamp and exact figures, costs about 26 ns, CpuRecorders.record(kind, ns) about
// 30 ns (a Map lookup more). 64-bit counts cost 1 ns more than 32-bit ones and cannot wrap
// (Uint32 counts wrap silently after 2^32 values in one sub-bucket). record() allocates
// nothing. A WebAssembly histogram lives outside the JavaScript heap: destroy() recorders
// when done with them. Loading the module and the WebAssembly costs ~0.1 s once per thread.
//
// Exact sums stay exact while below 2^53 ns (104 days of summed latency); merging is then
// independent of order. Coordinated-omission correction records v / interval values for a
// latency v: an interval far below the latencies makes recording slow (as in HdrHistogram).
//
// A CPU encodes its recorders (encode(): a plain object of HdrHistogram V2 compressed base64
// strings, fit for postMessage and JSON) and the main thread decodes and merges them with
// the library's add() into TypeScript histograms (MergedOps), which need no destroy() and
// can be iterated for buckets and percentiles.
//
// Operation kinds: every page fault is recorded under exactly one of read-fault,
// write-fault and sync-fault (a write fault that returned VM_FAULT_NEEDDSYNC and synced
// before mapping); `fault` is derived on merge as the three together, so it is never
// recorded directly and costs the hot path nothing.

import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64, initWebAssemblySync } from 'hdr-histogram-js';
import type { Histogram, JsHistogram } from 'hdr-histogram-js';

/** The operation kinds the lab reports, in report order. */
export const OP_KINDS = [
  'read-fault',
  'write-fault',
  'sync-fault',
  'fault',
  'store',
  'flushUser',
  'msync',
  'fsync',
  'commit',
  'background-write',
  'setattr',
] as const;
export type OpKind = (typeof OP_KINDS)[number];

/** The kinds a fault is recorded under (exactly one each); `fault` is their union. */
export const FAULT_KINDS = ['read-fault', 'write-fault', 'sync-fault'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Kinds recorded directly: all but the derived `fault`. */
export type RecordedOpKind = Exclude<OpKind, 'fault'>;
export const RECORDED_OP_KINDS: readonly RecordedOpKind[] = OP_KINDS.filter((k): k is RecordedOpKind => k !== 'fault');

export function isOpKind(x: unknown): x is OpKind {
  return typeof x === 'string' && (OP_KINDS as readonly string[]).includes(x);
}

/** Lowest discernible value: 1 ns. */
export const LOWEST_NS = 1;
/** Highest trackable value: one hour. Larger values are recorded as this and counted in outOfRange. */
export const HIGHEST_NS = 3600e9;
/** Significant decimal digits kept at every magnitude. */
export const SIGNIFICANT_DIGITS = 3;

/** Format tag of EncodedOps. */
export const ENCODED_OPS_FORMAT = 'daxlab-ops-1';

// Loads the WebAssembly module once per thread (a few ms); build() falls back to the
// TypeScript histogram where WebAssembly is missing.
initWebAssemblySync();

/** One histogram shape everywhere, so merges are exact: WASM where CPUs record, JS where the main thread iterates. */
function newHistogram(useWebAssembly: boolean): Histogram {
  return build({
    bitBucketSize: 64,
    autoResize: false,
    lowestDiscernibleValue: LOWEST_NS,
    highestTrackableValue: HIGHEST_NS,
    numberOfSignificantValueDigits: SIGNIFICANT_DIGITS,
    useWebAssembly,
  });
}

function newRecordingHistogram(): Histogram {
  return newHistogram(true);
}

function newMergeHistogram(): JsHistogram {
  return newHistogram(false) as JsHistogram;
}

/** One kind's figures in transferable form. */
export interface EncodedOp {
  /** Values recorded, synthetic coordinated-omission values included. */
  count: number;
  sumNs: number;
  minNs: number;
  maxNs: number;
  /** Values outside [0, HIGHEST_NS] (or NaN), recorded clamped to the range. */
  outOfRange: number;
  /** The HDR histogram, HdrHistogram V2 compressed encoding in base64 (readable by any HdrHistogram port). */
  histogram: string;
}

/** A recorder set (one CPU's, or a merge) in transferable form: structured-cloneable and JSON-safe. */
export interface EncodedOps {
  format: typeof ENCODED_OPS_FORMAT;
  lowestNs: number;
  highestNs: number;
  significantDigits: number;
  /** Only kinds with values; never `fault` (derived on decode). */
  ops: Partial<Record<RecordedOpKind, EncodedOp>>;
}

/** The recorder of one operation kind on one CPU. */
export class OpRecorder {
  private readonly h: Histogram = newRecordingHistogram();
  count = 0;
  sumNs = 0;
  minNs = Infinity;
  maxNs = 0;
  outOfRange = 0;

  constructor(readonly kind: RecordedOpKind) {}

  /** Records one latency in nanoseconds (fractions are dropped; negative or NaN count as 0, beyond HIGHEST_NS as HIGHEST_NS, both in outOfRange). */
  record(ns: number): void {
    const v = this.clamp(ns);
    this.h.recordValue(v);
    this.count++;
    this.sumNs += v;
    if (v < this.minNs) this.minNs = v;
    if (v > this.maxNs) this.maxNs = v;
  }

  /**
   * Records a latency measured by a loop that meant to start an operation every intervalNs,
   * corrected for coordinated omission by the library's recordValueWithExpectedInterval: a
   * value v also records v - interval, v - 2 interval, ... down to interval, the operations
   * the stalled loop failed to start. An intervalNs below 1 records the value alone.
   */
  recordWithExpectedInterval(ns: number, intervalNs: number): void {
    const iv = Math.floor(intervalNs);
    if (!(iv > 0)) {
      this.record(ns);
      return;
    }
    const v = this.clamp(ns);
    this.h.recordValueWithExpectedInterval(v, iv);
    // The exact figures of the n synthetic values v - k iv, k = 1..n, in closed form.
    const n = v >= 2 * iv ? Math.floor(v / iv) - 1 : 0;
    this.count += 1 + n;
    this.sumNs += v + n * v - (iv * n * (n + 1)) / 2;
    const least = v - n * iv;
    if (least < this.minNs) this.minNs = least;
    if (v > this.maxNs) this.maxNs = v;
  }

  private clamp(ns: number): number {
    const v = Math.floor(ns);
    if (v >= 0 && v <= HIGHEST_NS) return v;
    this.outOfRange++;
    return v > HIGHEST_NS ? HIGHEST_NS : 0;
  }

  /** Forgets everything recorded (for interval logging: encode, then reset). */
  reset(): void {
    this.h.reset();
    this.count = 0;
    this.sumNs = 0;
    this.minNs = Infinity;
    this.maxNs = 0;
    this.outOfRange = 0;
  }

  encode(): EncodedOp {
    return encodeOp(this, this.h);
  }

  /** Frees the WebAssembly memory; the recorder is unusable afterwards. */
  destroy(): void {
    this.h.destroy();
  }
}

/**
 * One CPU's recorders, one per recorded kind, created on first use. Hot paths should take
 * recorder(kind) once and call its record(); record(kind, ns) is the convenient form.
 */
export class CpuRecorders {
  private readonly byKind = new Map<RecordedOpKind, OpRecorder>();
  /** The same recorders as properties: a constant-key property load beats Map.get by ~10 ns a record. */
  private readonly fast: Partial<Record<RecordedOpKind, OpRecorder>> = {};

  recorder(kind: RecordedOpKind): OpRecorder {
    let r = this.fast[kind];
    if (r === undefined) {
      if (!(RECORDED_OP_KINDS as readonly string[]).includes(kind)) {
        throw new RangeError(
          (kind as string) === 'fault'
            ? 'fault is derived from read-fault, write-fault and sync-fault; record one of those'
            : `unknown operation kind ${JSON.stringify(kind)}`,
        );
      }
      r = new OpRecorder(kind);
      this.byKind.set(kind, r);
      this.fast[kind] = r;
    }
    return r;
  }

  record(kind: RecordedOpKind, ns: number): void {
    this.recorder(kind).record(ns);
  }

  recordWithExpectedInterval(kind: RecordedOpKind, ns: number, intervalNs: number): void {
    this.recorder(kind).recordWithExpectedInterval(ns, intervalNs);
  }

  encode(): EncodedOps {
    return encodeOps(this.byKind);
  }

  reset(): void {
    for (const r of this.byKind.values()) r.reset();
  }

  destroy(): void {
    for (const r of this.byKind.values()) r.destroy();
    this.byKind.clear();
    for (const k of Object.keys(this.fast) as RecordedOpKind[]) delete this.fast[k];
  }
}

/** A merged kind: a TypeScript HDR histogram (iterable) and the exact figures. */
export class OpHistogram {
  readonly histogram: JsHistogram = newMergeHistogram();
  count = 0;
  sumNs = 0;
  minNs = Infinity;
  maxNs = 0;
  outOfRange = 0;

  static decode(e: EncodedOp): OpHistogram {
    const op = new OpHistogram();
    const h = decodeFromCompressedBase64(e.histogram, 64, false) as JsHistogram;
    if (h.totalCount !== e.count) {
      throw new Error(`encoded histogram holds ${h.totalCount} values, its figures say ${e.count}`);
    }
    op.histogram.add(h);
    op.count = e.count;
    op.sumNs = e.sumNs;
    op.minNs = e.count > 0 ? e.minNs : Infinity;
    op.maxNs = e.maxNs;
    op.outOfRange = e.outOfRange;
    return op;
  }

  add(other: OpHistogram): this {
    this.histogram.add(other.histogram);
    this.count += other.count;
    this.sumNs += other.sumNs;
    if (other.minNs < this.minNs) this.minNs = other.minNs;
    if (other.maxNs > this.maxNs) this.maxNs = other.maxNs;
    this.outOfRange += other.outOfRange;
    return this;
  }

  encode(): EncodedOp {
    return encodeOp(this, this.histogram);
  }
}

/** Recorder sets merged on the main thread (any number of CPUs, repeats or shards). */
export class MergedOps {
  private readonly byKind = new Map<RecordedOpKind, OpHistogram>();

  /** Merges encoded sets (as CPUs post them, or as earlier merges encoded them). */
  static merge(sets: Iterable<EncodedOps>): MergedOps {
    const m = new MergedOps();
    for (const s of sets) m.add(s);
    return m;
  }

  add(set: EncodedOps | MergedOps): this {
    if (set instanceof MergedOps) {
      for (const [kind, op] of set.byKind) this.mergeKind(kind, op);
      return this;
    }
    checkCompatible(set);
    for (const kind of RECORDED_OP_KINDS) {
      const e = set.ops[kind];
      if (e !== undefined && e.count > 0) this.mergeKind(kind, OpHistogram.decode(e));
    }
    for (const k of Object.keys(set.ops)) {
      if (!(RECORDED_OP_KINDS as readonly string[]).includes(k)) throw new Error(`encoded ops: unknown operation kind ${JSON.stringify(k)}`);
    }
    return this;
  }

  private mergeKind(kind: RecordedOpKind, op: OpHistogram): void {
    let mine = this.byKind.get(kind);
    if (mine === undefined) {
      mine = new OpHistogram();
      this.byKind.set(kind, mine);
    }
    mine.add(op);
  }

  /** One kind's merged histogram; `fault` is built from the three fault kinds on each call. Undefined when nothing was recorded. */
  get(kind: OpKind): OpHistogram | undefined {
    if (kind !== 'fault') return this.byKind.get(kind);
    let all: OpHistogram | undefined;
    for (const k of FAULT_KINDS) {
      const op = this.byKind.get(k);
      if (op !== undefined) (all ??= new OpHistogram()).add(op);
    }
    return all;
  }

  /** Kinds with recorded values, `fault` included when any fault was, in OP_KINDS order. */
  kinds(): OpKind[] {
    return OP_KINDS.filter((k) => (this.get(k)?.count ?? 0) > 0);
  }

  encode(): EncodedOps {
    return encodeOps(this.byKind);
  }
}

function checkCompatible(set: EncodedOps): void {
  if (set.format !== ENCODED_OPS_FORMAT) throw new Error(`encoded ops: expected format ${ENCODED_OPS_FORMAT}, got ${JSON.stringify(set.format)}`);
  if (set.lowestNs !== LOWEST_NS || set.highestNs !== HIGHEST_NS || set.significantDigits !== SIGNIFICANT_DIGITS) {
    throw new Error(
      `encoded ops: histograms of ${set.lowestNs}..${set.highestNs} ns at ${set.significantDigits} digits, ` +
        `expected ${LOWEST_NS}..${HIGHEST_NS} ns at ${SIGNIFICANT_DIGITS} digits`,
    );
  }
}

/** The exact figures and the compressed histogram of one kind, as they travel between threads. */
function encodeOp(
  f: { count: number; sumNs: number; minNs: number; maxNs: number; outOfRange: number },
  h: Parameters<typeof encodeIntoCompressedBase64>[0],
): EncodedOp {
  return {
    count: f.count,
    sumNs: f.sumNs,
    minNs: f.count > 0 ? f.minNs : 0,
    maxNs: f.maxNs,
    outOfRange: f.outOfRange,
    histogram: encodeIntoCompressedBase64(h),
  };
}

/** A set of kinds as it travels between threads: only the kinds with values. */
function encodeOps(byKind: ReadonlyMap<OpKind, { count: number; encode(): EncodedOp }>): EncodedOps {
  const ops: Partial<Record<RecordedOpKind, EncodedOp>> = {};
  for (const kind of RECORDED_OP_KINDS) {
    const op = byKind.get(kind);
    if (op !== undefined && op.count > 0) ops[kind] = op.encode();
  }
  return { format: ENCODED_OPS_FORMAT, lowestNs: LOWEST_NS, highestNs: HIGHEST_NS, significantDigits: SIGNIFICANT_DIGITS, ops };
}
