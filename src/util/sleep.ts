// Sleeping a thread synchronously. Atomics.wait on a cell nobody notifies is Node's way to
// block a thread for a time; the cell is private to the thread, not state CPUs share (those
// all come from machine/).

const cell = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));

/** Blocks this thread for about `ms` milliseconds (Infinity: for good). */
export function sleepMs(ms: number): void {
  Atomics.wait(cell, 0, 0, ms);
}
