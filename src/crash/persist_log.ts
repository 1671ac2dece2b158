// The lines each CPU wrote back since its last fence (clwb / non-temporal stores before the
// sfence): until the fence, the order in which they reach the persistence domain is not
// guaranteed, so a crash may find any subset of them still old on the media. The device
// (pmem/device.ts, through its writeback hook) reports each run of lines before it copies
// them; this log keeps, per line, the media's bytes before and the bytes written, and a
// fence empties the CPU's log. Shared memory, one section per CPU, read by the crash-image
// builder while the world is stopped.
//
// A section holds at most CAPACITY lines; past that the lines written back are not logged
// (treated as ordered, as if fenced) and the section counts them in `overflow`.

import { CACHELINE } from '../machine/layout.js';
import type { WritebackHook } from '../pmem/device.js';

/** Lines a CPU may write back between two fences before the log stops recording them. */
export const PERSIST_LOG_CAPACITY = 8192;
const HEADER = 2; // count, overflow
const SECTION_BYTES = HEADER * 4 + PERSIST_LOG_CAPACITY * (4 + 2 * CACHELINE);

export class PersistLog {
  constructor(
    readonly buffer: SharedArrayBuffer,
    readonly cpus: number,
  ) {
    if (buffer.byteLength !== cpus * SECTION_BYTES) throw new RangeError(`persist log: ${buffer.byteLength} bytes, expected ${cpus * SECTION_BYTES} for ${cpus} CPUs`);
  }

  static create(cpus: number): PersistLog {
    return new PersistLog(new SharedArrayBuffer(cpus * SECTION_BYTES), cpus);
  }

  section(cpu: number): PersistSection {
    return new PersistSection(this.buffer, cpu * SECTION_BYTES);
  }

  /** Lines not logged because a section was full, over all CPUs. */
  overflow(): number {
    let n = 0;
    for (let c = 0; c < this.cpus; c++) n += this.section(c).header[1];
    return n;
  }

  /** Empties every section (a new run). */
  clear(): void {
    for (let c = 0; c < this.cpus; c++) this.section(c).header.fill(0);
  }
}

/** One CPU's lines since its last fence; as a WritebackHook it is what that CPU's device reports to. */
export class PersistSection implements WritebackHook {
  readonly header: Int32Array;
  readonly lines: Int32Array;
  /** Per record: the media's line before (CACHELINE bytes), then the line written. */
  readonly bytes: Uint8Array;

  constructor(buffer: SharedArrayBuffer, offset: number) {
    this.header = new Int32Array(buffer, offset, HEADER);
    this.lines = new Int32Array(buffer, offset + HEADER * 4, PERSIST_LOG_CAPACITY);
    this.bytes = new Uint8Array(buffer, offset + HEADER * 4 + PERSIST_LOG_CAPACITY * 4, PERSIST_LOG_CAPACITY * 2 * CACHELINE);
  }

  get count(): number {
    return Atomics.load(this.header, 0);
  }

  wroteBack(base: number, bits: number, media: Uint8Array, data: Uint8Array): void {
    let n = this.header[0];
    while (bits !== 0) {
      const low = bits & -bits;
      bits ^= low;
      if (n >= PERSIST_LOG_CAPACITY) {
        this.header[1]++;
        continue;
      }
      const line = base + (31 - Math.clz32(low));
      const at = line * CACHELINE;
      this.lines[n] = line;
      this.bytes.set(media.subarray(at, at + CACHELINE), n * 2 * CACHELINE);
      this.bytes.set(data.subarray(at, at + CACHELINE), n * 2 * CACHELINE + CACHELINE);
      n++;
    }
    Atomics.store(this.header, 0, n);
  }

  fenced(): void {
    if (this.header[0] !== 0) Atomics.store(this.header, 0, 0);
  }
}
