// A shared word that only grows (the highest tid that freed a still-busy block): raised by
// compare-and-swap, so concurrent raisers never lower it whatever their order.

/** Sets arr[idx] to value unless it already holds as much or more. */
export function atomicMax(arr: Int32Array, idx: number, value: number): void {
  for (let max = Atomics.load(arr, idx); value > max; ) {
    const seen = Atomics.compareExchange(arr, idx, max, value);
    if (seen === max) return;
    max = seen;
  }
}
