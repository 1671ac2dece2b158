// Stopping storing test CPUs between two of their stores, so a checking CPU can run the
// invariant checkers (which want no fault, store or writeback in flight) in the middle of a
// concurrent run, and let them go on afterwards.
//
// The pause word: Int32 [pause generation (0: none), events (acknowledgements and departures),
// then per storer k: the last generation it acknowledged, the last one it left]. A storer
// acknowledges a generation only at its pause point, between two stores, and then stores
// nothing until the generation changes; so when every storer not done has acknowledged the
// current generation, none is storing. (A count of paused storers is not enough: a storer
// woken from one pause but not yet uncounted would be counted paused for the next while it
// stores.)
//
// Resuming waits until every storer has left the pause, so that whatever the checking CPU does
// next (a writeback) overlaps their stores again instead of finishing before they wake up:
// the races between writeback and faults must stay possible.

/** Int32 words of the pause word for `storers` storers. */
export const pauseWords = (storers: number): number => 2 + 2 * storers;

/** A storer's pause point, between two stores: if a pause is requested, acknowledges it and sleeps until it ends. */
export function pausePoint(pause: Int32Array, k: number): void {
  const g = Atomics.load(pause, 0);
  if (g === 0) return;
  Atomics.store(pause, 2 + 2 * k, g);
  Atomics.add(pause, 1, 1);
  Atomics.notify(pause, 1);
  while (Atomics.load(pause, 0) === g) Atomics.wait(pause, 0, g, 100);
  Atomics.store(pause, 3 + 2 * k, g);
  Atomics.add(pause, 1, 1);
  Atomics.notify(pause, 1);
}

/**
 * Requests pause generation g (non-zero, different from the last one) and returns once every
 * storer that is not done (`done`: Int32 [storers done]) acknowledged it.
 */
export function pauseStorers(pause: Int32Array, done: Int32Array, storers: number, g: number): void {
  Atomics.store(pause, 0, g);
  waitForAll(pause, done, storers, g, 0);
}

/** Ends pause generation g and returns once every storer not done has left it (is storing again). */
export function resumeStorers(pause: Int32Array, done: Int32Array, storers: number, g: number): void {
  Atomics.store(pause, 0, 0);
  Atomics.notify(pause, 0);
  waitForAll(pause, done, storers, g, 1);
}

/** Waits until every storer not done has recorded generation g in its word `which` (0: acknowledged, 1: left). */
function waitForAll(pause: Int32Array, done: Int32Array, storers: number, g: number, which: 0 | 1): void {
  for (;;) {
    const events = Atomics.load(pause, 1);
    let n = 0;
    for (let k = 0; k < storers; k++) if (Atomics.load(pause, 2 + 2 * k + which) === g) n++;
    if (n + Atomics.load(done, 0) >= storers) return;
    Atomics.wait(pause, 1, events, 100);
  }
}
