// The lab's one clock. On the virtual clock (sync/vclock.ts binds a thread's CPU) it reads
// that CPU's virtual time, which every thread shares. On the wall clock it is the host's:
// performance.now() costs about 90 ns on these machines, so hot paths read it as rarely as
// they can, and its origin differs per worker thread: use durations within a thread, or
// monoNs() to compare instants across threads.

let vclock: Float64Array | null = null;
let vat = 0;

/** Makes nowNs() and monoNs() read clock[at] (sync/vclock.ts's bindThreadCpu()). */
export function setThreadClock(clock: Float64Array, at: number): void {
  vclock = clock;
  vat = at;
}

/** Back to the host's time. */
export function clearThreadClock(): void {
  vclock = null;
}

export function nowNs(): number {
  return vclock !== null ? vclock[vat] : performance.now() * 1e6;
}

/** An instant every thread agrees on: the virtual clock, or CLOCK_MONOTONIC in ns (slower: allocates a BigInt). */
export function monoNs(): number {
  return vclock !== null ? vclock[vat] : Number(process.hrtime.bigint());
}
