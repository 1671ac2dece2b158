// The small shared blocks a run or a test job needs beside the machine, laid out here so
// that every SharedArrayBuffer CPUs share comes from machine/ (the machine's own regions are
// in layout.ts). They are per run, not per machine: a machine is reused across repeats.
//
// The run control block: the main thread and the CPU workers agree on phases and on when to
// stop through it, and each CPU counts its operations in it (the progress bar and the
// watchdog read them). lab/control.ts is its one user.

export const CONTROL = {
  arrived: 0,
  phase: 1,
  stop: 2,
  /** Stores done by every storer so far (a syncer's everyStores counts these). */
  stores: 3,
  warmedUp: 4,
  finished: 5,
  /** Storers still storing: a syncer paced by their stores stops once none is left. */
  storersActive: 6,
  /** The CPUs that meet at the barriers (the main thread sets it before they start). */
  participants: 7,
  /**
   * On the virtual clock, each barrier's arrivals counted before the one the main thread
   * watches: the CPU that makes it `participants` lines everyone's clocks up, then counts
   * itself in `arrived` / `warmedUp` (lab/control.ts).
   */
  alignArrived: 8,
  alignWarmedUp: 9,
  /** The roles that end on a count (the main thread sets it): the last of them to finish counts `finished` up to it. */
  counted: 10,
  /** Each CPU's record (CPU_CONTROL) from here. */
  progressBase: 12,
} as const;

/**
 * A CPU's words in the control block: its operation count; the length of the paced pause it
 * sleeps through now (0 when none), so the watchdog does not call a faulter paced at 15 s
 * stuck; and whether its role has ended, after which nobody waits for it.
 */
export const CPU_CONTROL = { progress: 0, pausedMs: 1, done: 2, stride: 4 } as const;

/** Where word `field` of `cpu`'s record is. */
export function cpuControlWord(cpu: number, field: Exclude<keyof typeof CPU_CONTROL, 'stride'>): number {
  return CONTROL.progressBase + cpu * CPU_CONTROL.stride + CPU_CONTROL[field];
}

/** The control block of a run with `cpus` CPUs. */
export function createControl(cpus: number): SharedArrayBuffer {
  if (!(Number.isInteger(cpus) && cpus >= 1)) throw new RangeError(`cpus: expected an integer >= 1, got ${cpus}`);
  return new SharedArrayBuffer((CONTROL.progressBase + cpus * CPU_CONTROL.stride) * Int32Array.BYTES_PER_ELEMENT);
}

/** The start gate of lab/cpus.ts: CPU threads count themselves in, then sleep until it opens. */
export const GATE = {
  arrived: 0,
  open: 1,
} as const;

export function createStartGate(): SharedArrayBuffer {
  return new SharedArrayBuffer(Object.keys(GATE).length * Int32Array.BYTES_PER_ELEMENT);
}
