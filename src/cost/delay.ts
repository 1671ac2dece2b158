// The delay injector: device and kernel costs a JavaScript simulation does not pay by
// itself (a trap, zeroing a block, a journal block write) are charged by busy-waiting on
// the clock, on the CPU that pays them and inside whatever locks it holds, so contention
// is physical rather than computed. Sleeping is never used for a cost: a sleep and wake
// cost ~10 µs on these machines, as long as a whole page fault.

import { nowNs } from '../util/clock.js';

/** Busy-waits for `ns` nanoseconds (ndelay()); returns at once for 0 or less. */
export function ndelay(ns: number): void {
  if (!(ns > 0)) return;
  const until = nowNs() + ns;
  while (nowNs() < until) {
    /* spin: the cost is the time */
  }
}
