// results.json keeps lock figures without the two bookkeeping fields of sync/lockstat.ts
// (sleeps, holdSamples); this rebuilds what the kernel-layout formatter and the CSV averages
// need from what results.json has, so the formatter is reused rather than copied.

import type { LockStatFigures } from '../sync/lockstat.js';
import type { LockFigures } from './results.js';

/**
 * Hold times are timed for every acquisition or for none (machine.lockStatHoldTimes), so the
 * timed holds are all acquisitions exactly when any hold figure is non-zero.
 */
export function holdSamplesOf(f: LockFigures): number {
  return f.holdNsTotal > 0 || f.holdNsMax > 0 ? f.acquisitions : 0;
}

/** The figures in the shape formatLockStat takes. */
export function lockStatFiguresOf(f: LockFigures): LockStatFigures {
  return {
    acquisitions: f.acquisitions,
    contentions: f.contentions,
    conBounces: f.conBounces,
    acqBounces: f.acqBounces,
    waitNsMin: f.waitNsMin,
    waitNsMax: f.waitNsMax,
    waitNsTotal: f.waitNsTotal,
    holdNsMin: f.holdNsMin,
    holdNsMax: f.holdNsMax,
    holdNsTotal: f.holdNsTotal,
    sleeps: 0, // not kept in results.json; the formatter does not print it
    holdSamples: holdSamplesOf(f),
    extremesExact: true,
  };
}

/** lock_stat's averages: wait per contention, hold per timed acquisition (0 when there are none). */
export function lockAverages(f: LockFigures): { waitNsAvg: number; holdNsAvg: number } {
  const held = holdSamplesOf(f);
  return {
    waitNsAvg: f.contentions > 0 ? f.waitNsTotal / f.contentions : 0,
    holdNsAvg: held > 0 ? f.holdNsTotal / held : 0,
  };
}
