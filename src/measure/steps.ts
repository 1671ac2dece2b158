// Attribution: where a timed operation's time went, split into the kernel steps it passed
// through (`--attribute`).
//
// Per thread (each CPU worker has its own copy of this module): a stack of open steps. A
// step's time is exclusive: what it spent minus its nested steps, so the steps of one
// operation add up to the operation's latency, and a nested wait (tree_lock inside
// iomap_begin) counts once, in the wait. Waits measured by their own clock reads (a
// contended lock) are added with stepAdd() and come out of the enclosing step's time.
//
// Off by default; then every entry point is one test of a module-level boolean, which the
// JIT keeps as cheap as an inlined field load: the hot path pays nothing measurable.

import { nowNs } from '../util/clock.js';

/** The steps, as results.json names them (results.ts's AttributionSchema); STEP below indexes them. */
export const STEP_NAMES = [
  'trap',
  'iomap_begin',
  'alloc+zero',
  'tree_lock wait',
  'entry-lock wait',
  'journal commit wait',
  'cache flush',
  'other',
] as const;
export type StepName = (typeof STEP_NAMES)[number];

/** Step indexes, for the hot path (STEP_NAMES[i] is the name). */
export const STEP = {
  trap: 0,
  iomap_begin: 1,
  alloc_zero: 2,
  tree_lock_wait: 3,
  entry_lock_wait: 4,
  journal_commit_wait: 5,
  cache_flush: 6,
  other: 7,
} as const;
export const STEP_COUNT = STEP_NAMES.length;
export type StepIndex = (typeof STEP)[keyof typeof STEP];

const MAX_DEPTH = 32;

/** Whether this thread attributes; read by every step hook before it does anything. */
export let attributing = false;

const stack = new Int32Array(MAX_DEPTH);
const startNs = new Float64Array(MAX_DEPTH);
const childNs = new Float64Array(MAX_DEPTH);
let depth = 0;
/** Exclusive ns per step of the operation in progress. */
const current = new Float64Array(STEP_COUNT);
let carriedOtherInodes = false;

/** Turns attribution on or off for this thread. */
export function setAttributing(on: boolean): void {
  attributing = on;
  depth = 0;
}

/** Starts an operation at t0 (the same clock reading its latency starts from); its own time is `other`. */
export function opBegin(t0: number): void {
  if (!attributing) return;
  current.fill(0);
  carriedOtherInodes = false;
  stack[0] = STEP.other;
  startNs[0] = t0;
  childNs[0] = 0;
  depth = 1;
}

/** Ends the operation at t1 (the reading its latency ends at); returns its exclusive ns per step (reused: copy it). */
export function opEnd(t1: number): Float64Array {
  if (!attributing) return current;
  if (depth !== 1) {
    // An exception unwound open steps: fold them into the operation.
    depth = 1;
  }
  current[STEP.other] += t1 - startNs[0] - childNs[0];
  depth = 0;
  return current;
}

/** Whether the commit the operation waited for also carried other inodes' metadata. */
export function opCommitCarriedOtherInodes(): boolean {
  return carriedOtherInodes;
}

/** Enters a step (no-op unless attributing inside an operation). */
export function stepEnter(step: StepIndex): void {
  if (!attributing || depth === 0 || depth === MAX_DEPTH) return;
  stack[depth] = step;
  startNs[depth] = nowNs();
  childNs[depth] = 0;
  depth++;
}

/** Leaves the innermost step. */
export function stepLeave(): void {
  if (!attributing || depth <= 1) return;
  depth--;
  const dt = nowNs() - startNs[depth];
  current[stack[depth]] += dt - childNs[depth];
  childNs[depth - 1] += dt;
}

/** Adds ns measured elsewhere (a contended lock's wait) as a step nested in the current one. */
export function stepAdd(step: StepIndex, ns: number): void {
  if (!attributing || depth === 0) return;
  current[step] += ns;
  childNs[depth - 1] += ns;
}

/** Notes that a commit this operation waited for carried other inodes. */
export function stepNoteCommitOthers(others: boolean): void {
  if (attributing && others) carriedOtherInodes = true;
}
