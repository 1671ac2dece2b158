// The delay injector: device and kernel costs a JavaScript simulation does not pay by
// itself (a trap, zeroing a block, a journal block write) are charged by busy-waiting, on
// the CPU that pays them and inside whatever locks it holds, so contention is physical
// rather than computed. Sleeping is never used for a cost: a sleep and wake cost ~10 µs on
// these machines, as long as a whole page fault.
//
// Calibrated, once per thread on the first delay (a run without costs never pays it):
//  - Long delays spin on the clock. A clock read costs ~90 ns, and the wait ends one read
//    after its deadline, so a naive loop overshoots by about a read and a half; the loop
//    ends `overshootNs` early, measured as what the naive loop overshoots by under the same
//    clock reads a caller would time it with (two reads around the call, the cost of two
//    back-to-back reads subtracted), and at most two reads' cost, so that a caller timing
//    the delay from outside (a step's enter and leave) sees at least the delay asked for.
//  - Delays shorter than a few clock reads (a fence, one line's flush) cannot be timed by
//    the clock at all: they run a counted loop whose speed is measured at calibration.
// Preemption (more CPU workers than cores) still lengthens any delay, as it would the kernel's.

import { nowNs } from '../util/clock.js';

/** Delays below this many ns run the counted loop; longer ones spin on the clock. */
const SHORT_NS = 600;

let calibrated = false;
/** How much earlier than its deadline the clock loop stops. */
let overshootNs = 0;
/** Iterations of spinLoop per ns, and what a short delay costs besides its iterations. */
let loopsPerNs = 1;
let loopFixedNs = 0;
/** Keeps the counted loop from being optimised away. */
let sink = 0;

/** Busy-waits for `ns` nanoseconds (ndelay()); returns at once for 0 or less. */
export function ndelay(ns: number): void {
  if (!(ns > 0)) return;
  if (!calibrated) calibrateNdelay();
  if (ns < SHORT_NS) {
    if (ns > loopFixedNs) spinLoop(Math.round((ns - loopFixedNs) * loopsPerNs));
    return;
  }
  const until = nowNs() + ns - overshootNs;
  while (nowNs() < until) {
    /* spin: the cost is the time */
  }
}

/** Calibrates this thread's delays now unless done: call it at setup, so no timed operation pays for it. */
export function ndelayCalibrated(): void {
  if (!calibrated) calibrateNdelay();
}

function spinLoop(n: number): void {
  let x = sink;
  for (let i = 0; i < n; i++) x = (Math.imul(x, 31) + i) | 0;
  sink = x;
}

function naiveDelay(ns: number): void {
  const until = nowNs() + ns;
  while (nowNs() < until) {
    /* spin */
  }
}

function median(a: Float64Array): number {
  const s = Float64Array.from(a).sort();
  return s[s.length >> 1];
}

/** Two back-to-back clock reads: what a caller's own timing adds to any delay it measures. */
function timePair(): number {
  const t0 = nowNs();
  return nowNs() - t0;
}

/** A bare clock loop of `ns`, timed the way a caller would time it. */
function timeNaive(ns: number): number {
  const t0 = nowNs();
  naiveDelay(ns);
  return nowNs() - t0;
}

function timeLoop(n: number): number {
  const t0 = nowNs();
  spinLoop(n);
  return nowNs() - t0;
}

/** What the calibration found, for reports. */
export interface NdelayCalibration {
  /** Median gap between two back-to-back clock reads (performance.now): the cost of one read, ns. */
  clockReadNs: number;
  /** How much a bare clock loop overshoots its target; the loop now stops this much early. */
  overshootNs: number;
  /** Speed of the counted loop used below SHORT_NS, and its cost besides its iterations. */
  loopsPerNs: number;
  loopFixedNs: number;
  /** Delays below this use the counted loop. */
  shortNs: number;
}

/**
 * Measures this thread's clock and loop speed (a few ms; runs by itself before the first
 * delay). Call it again to recalibrate, for example after the JIT has warmed up.
 */
export function calibrateNdelay(): NdelayCalibration {
  calibrated = true;
  const N = 101;
  const pair = new Float64Array(N);
  const over = new Float64Array(N);
  const target = 2 * SHORT_NS;
  const loops = 4000;
  // Warm the clock and both loops up past the JIT's tiers: the figures are for optimised code.
  for (let i = 0; i < 1500; i++) {
    timePair();
    timeNaive(target);
    timeLoop(loops);
  }
  for (let i = 0; i < N; i++) pair[i] = timePair();
  const pairNs = median(pair);
  for (let i = 0; i < N; i++) over[i] = timeNaive(target) - pairNs - target;
  // At most two clock reads' worth: the reads that time a delay from outside (a step's
  // enter and leave) then still see at least the delay asked for.
  overshootNs = Math.min(Math.max(median(over), 0), 2 * pairNs, SHORT_NS / 2);
  // The counted loop: a line through the medians of short and long timed runs.
  const few = loops / 20;
  for (let i = 0; i < N; i++) over[i] = timeLoop(few);
  const fewNs = median(over) - pairNs;
  for (let i = 0; i < N; i++) over[i] = timeLoop(loops);
  const manyNs = median(over) - pairNs;
  const perLoop = (manyNs - fewNs) / (loops - few);
  loopsPerNs = perLoop > 0 ? 1 / perLoop : 1;
  loopFixedNs = Math.min(Math.max(fewNs - few * perLoop, 0), SHORT_NS / 2);
  return { clockReadNs: pairNs, overshootNs, loopsPerNs, loopFixedNs, shortNs: SHORT_NS };
}
