// The lab's one clock. performance.now() costs about 90 ns on these machines, so hot
// paths read it as rarely as they can. Its origin differs per worker thread: use
// durations within a thread, or monoNs() to compare instants across threads.

export function nowNs(): number {
  return performance.now() * 1e6;
}

/** CLOCK_MONOTONIC in nanoseconds, one clock for every thread of the process (slower: allocates a BigInt). */
export function monoNs(): number {
  return Number(process.hrtime.bigint());
}
