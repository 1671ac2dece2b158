// The lab's one clock. performance.now() costs about 90 ns on these machines, so hot
// paths read it as rarely as they can. Its origin differs per worker thread: use
// durations within a thread, or wallNs() to compare instants across threads.

export function nowNs(): number {
  return performance.now() * 1e6;
}

/** Nanoseconds since the Unix epoch (to about a microsecond), comparable across workers. */
export function wallNs(): number {
  return (performance.timeOrigin + performance.now()) * 1e6;
}
