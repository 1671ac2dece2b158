// Stopping storing test CPUs between two of their stores, so a checking CPU can run the
// invariant checkers (which want no fault, store or writeback in flight) in the middle of a
// concurrent run, and let them go on afterwards.
//
// The pause word: Int32 [pause generation (0: none), acknowledgements made, then per storer k
// the last generation it acknowledged]. A storer acknowledges a generation only at its pause
// point, between two stores, and then stores nothing until the generation changes; so when
// every storer not done has acknowledged the current generation, none is storing. (A count of
// paused storers is not enough: a storer woken from one pause but not yet uncounted would be
// counted paused for the next while it stores.)

/** Int32 words of the pause word for `storers` storers. */
export const pauseWords = (storers: number): number => 2 + storers;

/** A storer's pause point, between two stores: if a pause is requested, acknowledges it and sleeps until it ends. */
export function pausePoint(pause: Int32Array, k: number): void {
  const g = Atomics.load(pause, 0);
  if (g === 0) return;
  Atomics.store(pause, 2 + k, g);
  Atomics.add(pause, 1, 1);
  Atomics.notify(pause, 1);
  while (Atomics.load(pause, 0) === g) Atomics.wait(pause, 0, g, 100);
}

/**
 * Requests pause generation g (non-zero, different from the last one) and returns once every
 * storer that is not done (`done`: Int32 [storers done]) acknowledged it.
 */
export function pauseStorers(pause: Int32Array, done: Int32Array, storers: number, g: number): void {
  Atomics.store(pause, 0, g);
  for (;;) {
    const acks = Atomics.load(pause, 1);
    let paused = 0;
    for (let k = 0; k < storers; k++) if (Atomics.load(pause, 2 + k) === g) paused++;
    if (paused + Atomics.load(done, 0) >= storers) return;
    Atomics.wait(pause, 1, acks, 100);
  }
}

/** Ends the pause: the storers go on storing. */
export function resumeStorers(pause: Int32Array): void {
  Atomics.store(pause, 0, 0);
  Atomics.notify(pause, 0);
}
