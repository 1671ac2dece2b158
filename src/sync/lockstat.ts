// Reading lock_stat: every CPU keeps its own record per lock class in views.lockStat
// (LOCK_STAT, nanoseconds), written only by that CPU with plain stores (spinlock.ts,
// waitqueue.ts). Nothing is merged while a run goes on; readers merge on demand.
//
// Locking rules: none are taken. A read while CPUs run sees each figure as some CPU last
// stored it, so the figures of one record can disagree by an update in flight; they are
// exact once the CPUs are quiescent (at a barrier or after the run). resetLockStat() writes
// every CPU's record and must only run when no CPU takes a lock, as `echo 0 >
// /proc/lock_stat` would lose counts otherwise. Nothing here sleeps.
//
// Excluding a warm-up: either reset at a barrier (exact), or take a snapshot when the
// warm-up ends and diff it against one taken at the end. Counts and totals of a diff are
// exact; a minimum or maximum is exact only when the window set a new extreme, otherwise
// it is the run's cumulative extreme, a bound on the window's, and `extremesExact` says so.
//
// Wait-time histograms (views.lockWaitHist, recorded by lock_wait_hist.ts) travel in the
// same snapshots: readLockWaitHist() and diffLockWaitHist() give per class the non-empty log2
// nanosecond buckets, whose counts add up to the class's contentions. resetLockStat() clears
// them with the figures they go with.

import type { Machine } from '../machine/machine.js';
import { LOCK_CLASSES, LOCK_STAT, LOCK_WAIT_BUCKETS, LOCK_WAIT_HIST, type LockClassName } from '../machine/layout.js';
import { lockWaitBucketHighNs, lockWaitBucketLowNs } from './lock_wait_hist.js';

export type LockStatField = Exclude<keyof typeof LOCK_STAT, 'stride'>;

/** lock_stat figures of one lock class, merged across CPUs; times in nanoseconds. */
export type LockStatFigures = Record<LockStatField, number> & {
  /** False when a diff could not confine a min or max to its window (see the header). */
  extremesExact: boolean;
};

export type LockStatTable = Record<LockClassName, LockStatFigures>;

/** A copy of every CPU's wait-time histograms at one moment (and, from snapshotLockStat, their lock_stat records). */
export interface LockWaitHistSnapshot {
  readonly cpus: number;
  readonly hist: Float64Array;
  readonly data?: Float64Array;
}

/** A copy of every CPU's lock_stat records and wait-time histograms at one moment. */
export interface LockStatSnapshot extends LockWaitHistSnapshot {
  readonly data: Float64Array;
}

/** One non-empty bucket of a wait-time histogram: waits of [lowNs, highNs) ns (results.ts's LockWaitBucketSchema). */
export interface LockWaitBucket {
  lowNs: number;
  highNs: number;
  count: number;
}

/** Per class, its wait-time histogram's non-empty buckets, lowest first. */
export type LockWaitHistTable = Record<LockClassName, LockWaitBucket[]>;

type MachineLike = Pick<Machine, 'config' | 'views'>;

const FIELDS = Object.keys(LOCK_STAT).filter((k) => k !== 'stride') as LockStatField[];
const RECORD = LOCK_STAT.stride;
const PER_CPU = LOCK_CLASSES.length * RECORD;

/** Sums merge by addition; these merge by min or max, over CPUs that have samples. */
const EXTREMES = [
  { count: LOCK_STAT.contentions, min: LOCK_STAT.waitNsMin, max: LOCK_STAT.waitNsMax },
  { count: LOCK_STAT.holdSamples, min: LOCK_STAT.holdNsMin, max: LOCK_STAT.holdNsMax },
] as const;
const SUMS = FIELDS.map((f) => LOCK_STAT[f]).filter((i) => !EXTREMES.some((e) => e.min === i || e.max === i));

function zeroFigures(): LockStatFigures {
  const f = { extremesExact: true } as LockStatFigures;
  for (const name of FIELDS) f[name] = 0;
  return f;
}

function classIndex(cls: LockClassName | number): number {
  const i = typeof cls === 'number' ? cls : LOCK_CLASSES.indexOf(cls);
  if (!Number.isInteger(i) || i < 0 || i >= LOCK_CLASSES.length) {
    throw new RangeError(`lock class: expected one of ${LOCK_CLASSES.join(', ')}, got ${String(cls)}`);
  }
  return i;
}

/** Copies every CPU's records and histograms (cheap: cpus x classes x 64 doubles). */
export function snapshotLockStat(machine: MachineLike): LockStatSnapshot {
  return { cpus: machine.config.cpus, data: machine.views.lockStat.slice(), hist: machine.views.lockWaitHist.slice() };
}

/** Figures of one class merged across the CPUs of a snapshot. */
export function mergeLockClass(snap: LockStatSnapshot, cls: LockClassName | number): LockStatFigures {
  const c = classIndex(cls);
  const out = new Float64Array(RECORD);
  const seen = EXTREMES.map(() => false);
  for (let cpu = 0; cpu < snap.cpus; cpu++) {
    const s = cpu * PER_CPU + c * RECORD;
    for (const i of SUMS) out[i] += snap.data[s + i];
    EXTREMES.forEach((e, k) => {
      if (snap.data[s + e.count] <= 0) return;
      out[e.max] = Math.max(out[e.max], snap.data[s + e.max]);
      out[e.min] = seen[k] ? Math.min(out[e.min], snap.data[s + e.min]) : snap.data[s + e.min];
      seen[k] = true;
    });
  }
  return toFigures(out, true);
}

/** Every class, merged across the CPUs of a snapshot. */
export function mergeLockStat(snap: LockStatSnapshot): LockStatTable {
  const table = {} as LockStatTable;
  LOCK_CLASSES.forEach((name, c) => (table[name] = mergeLockClass(snap, c)));
  return table;
}

/** The machine's figures now, every class merged across CPUs. */
export function readLockStat(machine: MachineLike): LockStatTable {
  return mergeLockStat(snapshotLockStat(machine));
}

/** The machine's figures now for one class, merged across CPUs. */
export function readLockClass(machine: MachineLike, cls: LockClassName | number): LockStatFigures {
  return mergeLockClass(snapshotLockStat(machine), cls);
}

/** Zeroes every CPU's records, or one class's: only while no CPU takes locks. */
export function resetLockStat(machine: MachineLike, cls?: LockClassName | number): void {
  const stat = machine.views.lockStat;
  const hist = machine.views.lockWaitHist;
  if (cls === undefined) {
    stat.fill(0);
    hist.fill(0);
    return;
  }
  const c = classIndex(cls);
  for (let cpu = 0; cpu < machine.config.cpus; cpu++) {
    const s = cpu * PER_CPU + c * RECORD;
    stat.fill(0, s, s + RECORD);
    const h = cpu * HIST_PER_CPU + c * HIST_ROW;
    hist.fill(0, h, h + HIST_ROW);
  }
}

/**
 * The figures between two snapshots of the same machine, every class merged across CPUs.
 * A CPU whose counts went down between them was reset in between: its `after` record is
 * taken whole and the extremes are marked inexact.
 */
export function diffLockStat(before: LockStatSnapshot, after: LockStatSnapshot): LockStatTable {
  if (before.cpus !== after.cpus || before.data.length !== after.data.length) {
    throw new RangeError(`diffLockStat: snapshots of different machines (${before.cpus} and ${after.cpus} cpus)`);
  }
  const table = {} as LockStatTable;
  LOCK_CLASSES.forEach((name, c) => {
    const out = new Float64Array(RECORD);
    let exact = true;
    // Per extreme: the largest exact max and the largest bound, the smallest exact min and bound.
    const acc = EXTREMES.map(() => ({ maxExact: -Infinity, maxBound: -Infinity, minExact: Infinity, minBound: Infinity }));
    for (let cpu = 0; cpu < after.cpus; cpu++) {
      const s = cpu * PER_CPU + c * RECORD;
      const a = after.data.subarray(s, s + RECORD);
      let b = before.data.subarray(s, s + RECORD);
      if (wasReset(before, after, cpu, c)) {
        b = new Float64Array(RECORD);
        exact = false;
      }
      for (const i of SUMS) out[i] += a[i] - b[i];
      EXTREMES.forEach((e, k) => {
        if (a[e.count] - b[e.count] <= 0) return;
        const x = acc[k];
        const fresh = b[e.count] === 0;
        // A max above the earlier max was set in the window; otherwise the window's max is
        // at most the cumulative one. Likewise for the min.
        if (fresh || a[e.max] > b[e.max]) x.maxExact = Math.max(x.maxExact, a[e.max]);
        else x.maxBound = Math.max(x.maxBound, a[e.max]);
        if (fresh || a[e.min] < b[e.min]) x.minExact = Math.min(x.minExact, a[e.min]);
        else x.minBound = Math.min(x.minBound, a[e.min]);
      });
    }
    EXTREMES.forEach((e, k) => {
      const x = acc[k];
      if (x.maxExact === -Infinity && x.maxBound === -Infinity) return;
      out[e.max] = Math.max(x.maxExact, x.maxBound);
      out[e.min] = Math.min(x.minExact, x.minBound);
      if (x.maxBound > x.maxExact || x.minBound < x.minExact) exact = false;
    });
    table[name] = toFigures(out, exact);
  });
  return table;
}

// ---- wait-time histograms -------------------------------------------------------------

const HIST_ROW = LOCK_WAIT_HIST.stride;
const HIST_PER_CPU = LOCK_CLASSES.length * HIST_ROW;

/** One class's histogram summed over the CPUs of a snapshot. */
function mergeHistRow(snap: LockWaitHistSnapshot, c: number): Float64Array {
  const out = new Float64Array(LOCK_WAIT_BUCKETS);
  for (let cpu = 0; cpu < snap.cpus; cpu++) {
    const h = cpu * HIST_PER_CPU + c * HIST_ROW;
    for (let k = 0; k < LOCK_WAIT_BUCKETS; k++) out[k] += snap.hist[h + k];
  }
  return out;
}

function toBuckets(counts: Float64Array): LockWaitBucket[] {
  const out: LockWaitBucket[] = [];
  for (let k = 0; k < LOCK_WAIT_BUCKETS; k++) {
    if (counts[k] > 0) out.push({ lowNs: lockWaitBucketLowNs(k), highNs: lockWaitBucketHighNs(k), count: counts[k] });
  }
  return out;
}

/** Copies every CPU's wait-time histograms only (snapshotLockStat() takes them too). */
export function snapshotLockWaitHist(machine: MachineLike): LockWaitHistSnapshot {
  return { cpus: machine.config.cpus, hist: machine.views.lockWaitHist.slice() };
}

/** Every class's wait-time histogram, merged across the CPUs of a snapshot. */
export function mergeLockWaitHist(snap: LockWaitHistSnapshot): LockWaitHistTable {
  const table = {} as LockWaitHistTable;
  LOCK_CLASSES.forEach((name, c) => (table[name] = toBuckets(mergeHistRow(snap, c))));
  return table;
}

/** The machine's wait-time histograms now, every class merged across CPUs. */
export function readLockWaitHist(machine: MachineLike): LockWaitHistTable {
  return mergeLockWaitHist(snapshotLockStat(machine));
}

/**
 * The wait-time histograms between two snapshots of the same machine. Counts are exact: a
 * class's buckets add up to diffLockStat()'s contentions. A CPU whose row lost counts was
 * reset in between and its `after` row is taken whole, as diffLockStat() does. Otherwise a
 * bucket can only go down when an entry wait counted before the window grew in it and moved
 * up (lock_wait_hist.ts): that wait is not the window's contention, so its move is undone by
 * taking it back out of the nearest bucket above that gained.
 */
export function diffLockWaitHist(before: LockWaitHistSnapshot, after: LockWaitHistSnapshot): LockWaitHistTable {
  if (before.cpus !== after.cpus || before.hist.length !== after.hist.length) {
    throw new RangeError(`diffLockWaitHist: snapshots of different machines (${before.cpus} and ${after.cpus} cpus)`);
  }
  const table = {} as LockWaitHistTable;
  LOCK_CLASSES.forEach((name, c) => {
    const out = new Float64Array(LOCK_WAIT_BUCKETS);
    const d = new Float64Array(LOCK_WAIT_BUCKETS);
    for (let cpu = 0; cpu < after.cpus; cpu++) {
      const h = cpu * HIST_PER_CPU + c * HIST_ROW;
      const reset = wasReset(before, after, cpu, c);
      for (let k = 0; k < LOCK_WAIT_BUCKETS; k++) d[k] = after.hist[h + k] - (reset ? 0 : before.hist[h + k]);
      undoMoves(d);
      for (let k = 0; k < LOCK_WAIT_BUCKETS; k++) out[k] += d[k];
    }
    table[name] = toBuckets(out);
  });
  return table;
}

/**
 * Whether a CPU's record of class c was reset between two snapshots: some lock_stat count
 * or total went down (when both snapshots carry them), or its histogram's sum did.
 */
function wasReset(before: LockWaitHistSnapshot, after: LockWaitHistSnapshot, cpu: number, c: number): boolean {
  const s = cpu * PER_CPU + c * RECORD;
  const a = after.data;
  const b = before.data;
  if (a && b && SUMS.some((i) => a[s + i] < b[s + i])) return true;
  const h = cpu * HIST_PER_CPU + c * HIST_ROW;
  let sum = 0;
  for (let k = 0; k < LOCK_WAIT_BUCKETS; k++) sum += after.hist[h + k] - before.hist[h + k];
  return sum < 0;
}

/** Cancels each bucket's loss against the nearest gain above it (waits only grow). */
function undoMoves(d: Float64Array): void {
  let debt = 0;
  for (let k = 0; k < d.length; k++) {
    if (d[k] < 0) {
      debt -= d[k];
      d[k] = 0;
    } else if (debt > 0) {
      const t = Math.min(d[k], debt);
      d[k] -= t;
      debt -= t;
    }
  }
}

function toFigures(record: Float64Array, exact: boolean): LockStatFigures {
  const f = zeroFigures();
  for (const name of FIELDS) f[name] = record[LOCK_STAT[name]];
  f.extremesExact = exact;
  return f;
}

/** Per-class figures with nothing recorded. */
export function emptyLockStatFigures(): LockStatFigures {
  return zeroFigures();
}
