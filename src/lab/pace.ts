// Waiting for the next start of a fixed-rate loop: sleep through most of a long pause
// (Atomics.wait wakes ~10 µs late on these machines), then spin to the instant, so paced
// operations start on time without burning a core through long pauses.

import { nowNs } from '../util/clock.js';
import { sleepMs } from '../util/sleep.js';
import { isVirtual, vsleepUntil } from '../sync/vclock.js';

const SPIN_NS = 200_000;

/** Where a paced CPU says how long it will sleep (lab/control.ts's Control), for the watchdog. */
export interface PauseBoard {
  pausing(ns: number): void;
}

/**
 * Returns at `untilNs` (nowNs time), or early once `stop()` says so. On the virtual clock it
 * sleeps until exactly that virtual instant (a stop reaches it once the others let time pass).
 * `board` hears of the pause while it lasts: a CPU paced slower than the watchdog's period
 * is not stuck.
 */
export function sleepUntil(untilNs: number, stop: () => boolean, board?: PauseBoard): void {
  board?.pausing(untilNs - nowNs());
  try {
    if (isVirtual()) {
      if (!stop()) vsleepUntil(untilNs);
      return;
    }
    for (;;) {
      const left = untilNs - nowNs();
      if (left <= 0 || stop()) return;
      if (left > SPIN_NS) sleepMs(Math.min(100, (left - SPIN_NS) / 1e6));
    }
  } finally {
    board?.pausing(0);
  }
}
