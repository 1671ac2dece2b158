// The persistent-memory device: media, the CPU caches in front of it, flush and fence.
//
// Two byte regions: pmemData is what CPUs load and store (media as seen through coherent
// caches), pmemMedia is what survives power loss. A store writes pmemData and then sets its
// 64-byte lines in the dirty bitmap; a flush clears a line's dirty bit and then copies the
// line to the media. With that order a store racing a flush is never lost: either the copy
// sees its bytes or the line is left dirty again. Bitmap words change only with Atomics,
// so any CPU may store or flush any line at any time; no lock is taken here. Offsets stay
// below 4 GiB (LIMITS.pmemBytes), so `>>>` turns them into line numbers.
//
// Persistence domains:
//   adr      a line is durable once flushed (clwb reaches the memory controller's WPQ,
//            which ADR drains on power loss); the fence orders and is counted.
//   eadr     the caches are inside the persistence domain: every store is durable at once,
//            flushes have nothing to do (the kernel disables them for
//            ND_REGION_PERSIST_CACHE regions: dax_write_cache(dax_dev, false)).
//   ramdisk  the seed 002 setup: flushes cost nothing (the cost profile charges zero),
//            durability is tracked as under ADR so crash checks still mean something.
//
// Injected costs (MachineConfig.costs): flush() charges flushLineNs per line of its range
// (a clwb is issued per line, dirty or not) and fence() fenceNs, on the calling CPU, inside
// whatever locks it holds, in every mode (the profile says what a flush costs: optane-eadr
// charges nothing); both are the `cache flush` step of an attributed operation.
// flushcache() is the durability of non-temporal stores (the pmem driver's
// memcpy_flushcache, copy_from_iter_flushcache): it writes the lines back without a clwb,
// so its caller charges its own per-block cost (zeroBlockNs, copyBlockNs, journalBlockWriteNs).

import { CACHELINE, CACHELINE_SHIFT, PMEM_COUNTERS, type PmemMode } from '../machine/layout.js';
import type { Machine } from '../machine/machine.js';
import type { Cpu } from '../sync/cpu.js';
import type { Rng } from '../util/rng.js';
import { ndelayCalibrated } from '../cost/delay.js';
import { charge } from '../sync/vclock.js';
import { anyCost } from '../cost/costs.js';
import { STEP, attributing, stepEnter, stepLeave } from '../measure/steps.js';

/**
 * Crashtest's record of write-backs a fence has not yet ordered (crash/persist_log.ts), per
 * thread (each thread is one CPU): told of each run of lines before it reaches the media, and
 * of each fence. Null outside crashtest, where it costs one test per write-back and fence.
 */
export interface WritebackHook {
  wroteBack(base: number, bits: number, media: Uint8Array, data: Uint8Array): void;
  fenced(): void;
}
let writebackHook: WritebackHook | null = null;

export function setWritebackHook(h: WritebackHook | null): void {
  writebackHook = h;
}

export interface PmemCounters {
  linesStored: number;
  linesFlushed: number;
  linesWrittenBack: number;
  fences: number;
  storeOps: number;
  flushOps: number;
}

export class PmemDevice {
  readonly size: number;
  readonly mode: PmemMode;
  private readonly data: Uint8Array;
  private readonly media: Uint8Array;
  // Float64 views of the same bytes: same-type set() copies bits exactly and runs 2x
  // faster than a Uint8Array copy between SharedArrayBuffers; fill() 7x.
  private readonly data64: Float64Array;
  private readonly media64: Float64Array;
  private readonly dirty: Int32Array;
  private readonly counters: Float64Array;
  private readonly c: number;
  private readonly tracksDirty: boolean;
  /** Injected costs (MachineConfig.costs), ns: per line flushed, per fence. */
  readonly flushLineNs: number;
  readonly fenceNs: number;

  constructor(cpu: Cpu) {
    const { views, config } = cpu.machine;
    this.size = config.pmemBytes;
    this.mode = config.pmemMode;
    this.data = views.pmemData;
    this.media = views.pmemMedia;
    this.data64 = new Float64Array(this.data.buffer, this.data.byteOffset, this.data.length / 8);
    this.media64 = new Float64Array(this.media.buffer, this.media.byteOffset, this.media.length / 8);
    this.dirty = views.pmemDirty;
    this.counters = views.pmemCounters;
    this.c = cpu.countersBase;
    this.tracksDirty = config.pmemMode !== 'eadr';
    this.flushLineNs = config.costs.flushLineNs;
    this.fenceNs = config.costs.fenceNs;
    // Every CPU makes its device first: calibrate the delays here, not in a timed operation.
    if (anyCost(config.costs) && config.clock === 'wall') ndelayCalibrated();
  }

  /** A CPU store of `src` at `offset`: lands in the caches, its lines turn dirty. */
  store(offset: number, src: Uint8Array): void {
    const len = src.length;
    this.checkRange(offset, len);
    this.data.set(src, offset);
    this.counters[this.c + PMEM_COUNTERS.storeOps]++;
    if (len === 0) return;
    const first = offset >>> CACHELINE_SHIFT;
    const last = (offset + len - 1) >>> CACHELINE_SHIFT;
    this.counters[this.c + PMEM_COUNTERS.linesStored] += last - first + 1;
    if (this.tracksDirty) this.markDirty(first, last);
  }

  /** Stores zeroes over a range (clear_pmem / memset before a block is handed out). */
  zero(offset: number, length: number): void {
    this.checkRange(offset, length);
    if ((offset & 7) === 0 && (length & 7) === 0) this.data64.fill(0, offset / 8, (offset + length) / 8);
    else this.data.fill(0, offset, offset + length);
    this.counters[this.c + PMEM_COUNTERS.storeOps]++;
    if (length === 0) return;
    const first = offset >>> CACHELINE_SHIFT;
    const last = (offset + length - 1) >>> CACHELINE_SHIFT;
    this.counters[this.c + PMEM_COUNTERS.linesStored] += last - first + 1;
    if (this.tracksDirty) this.markDirty(first, last);
  }

  /**
   * A CPU load of n bytes at offset into dst at `at`. Small loads copy byte by byte: a
   * subarray view for them would cost an allocation per load, more than the copy.
   */
  loadInto(offset: number, dst: Uint8Array, at: number, n: number): void {
    // One integer test and one bound per argument (device offsets and dst positions stay
    // below 2^32); the full check, with its message, only when that fails.
    if (!((offset >>> 0) === offset && (n >>> 0) === n && (at >>> 0) === at && offset + n <= this.size && at + n <= dst.length)) {
      this.checkLoad(offset, dst, at, n);
    }
    if (n <= 32) {
      const data = this.data;
      for (let i = 0; i < n; i++) dst[at + i] = data[offset + i];
      return;
    }
    dst.set(this.data.subarray(offset, offset + n), at);
  }

  /** Throws a RangeError naming what is wrong with a loadInto call, if anything is. */
  private checkLoad(offset: number, dst: Uint8Array, at: number, n: number): void {
    if (!(Number.isInteger(n) && n >= 0)) throw new RangeError(`n: expected an integer byte count >= 0, got ${String(n)}`);
    this.checkRange(offset, n);
    if (n > dst.length) throw new RangeError(`n: expected at most ${dst.length} (dst.length), got ${n}`);
    if (!(Number.isInteger(at) && at >= 0 && at + n <= dst.length)) {
      throw new RangeError(`at: expected an integer from 0 to ${dst.length - n} (dst.length ${dst.length} - n ${n}), got ${String(at)}`);
    }
  }

  /** A view of the bytes a CPU would load (no copy: do not keep it across stores). */
  load(offset: number, length: number): Uint8Array {
    this.checkRange(offset, length);
    return this.data.subarray(offset, offset + length);
  }

  /**
   * Writes back every cache line the range touches (arch_wb_cache_pmem: a clwb per line),
   * charging flushLineNs per line. Returns how many dirty lines reached the media.
   */
  flush(offset: number, length: number): number {
    this.checkRange(offset, length);
    this.counters[this.c + PMEM_COUNTERS.flushOps]++;
    if (length === 0) return 0;
    if (attributing) stepEnter(STEP.cache_flush);
    const lines = ((offset + length - 1) >>> CACHELINE_SHIFT) - (offset >>> CACHELINE_SHIFT) + 1;
    this.counters[this.c + PMEM_COUNTERS.linesFlushed] += lines;
    const written = this.tracksDirty ? this.writeBack(offset, length) : 0;
    if (this.flushLineNs > 0) charge(lines * this.flushLineNs);
    if (attributing) stepLeave();
    return written;
  }

  /**
   * Makes a range durable as non-temporal stores leave it (memcpy_flushcache: the pmem
   * driver's writes, copy_from_iter_flushcache of a DAX write): its dirty lines reach the
   * media with no clwb issued, so nothing is charged or counted as flushed here; the caller
   * charges its per-block cost. Returns how many dirty lines reached the media.
   */
  flushcache(offset: number, length: number): number {
    this.checkRange(offset, length);
    if (length === 0 || !this.tracksDirty) return 0;
    return this.writeBack(offset, length);
  }

  /** Copies the dirty lines of [offset, offset + length) (length > 0) to the media, clearing their dirty bits. */
  private writeBack(offset: number, length: number): number {
    let line = offset >>> CACHELINE_SHIFT;
    const last = (offset + length - 1) >>> CACHELINE_SHIFT;
    let written = 0;
    const dirty = this.dirty;
    while (line <= last) {
      const w = line >>> 5;
      const b0 = line & 31;
      const n = Math.min(32 - b0, last - line + 1);
      const mask = (0xffffffff >>> (32 - n)) << b0;
      if ((Atomics.load(dirty, w) & mask) !== 0) {
        const taken = Atomics.and(dirty, w, ~mask) & mask;
        if (writebackHook !== null && taken !== 0) writebackHook.wroteBack(w * 32, taken, this.media, this.data);
        written += this.copyLines(w * 32, taken);
      }
      line += n;
    }
    this.counters[this.c + PMEM_COUNTERS.linesWrittenBack] += written;
    return written;
  }

  /** Orders earlier flushes before later stores (wmb()/sfence; seed 000's wmb_pmem). */
  fence(): void {
    this.counters[this.c + PMEM_COUNTERS.fences]++;
    if (writebackHook !== null) writebackHook.fenced();
    if (this.fenceNs > 0) {
      stepEnter(STEP.cache_flush);
      charge(this.fenceNs);
      stepLeave();
    }
  }

  /** Dirty (not yet durable) cache lines in a range. */
  dirtyLines(offset: number, length: number): number {
    this.checkRange(offset, length);
    if (!this.tracksDirty || length === 0) return 0;
    let line = offset >>> CACHELINE_SHIFT;
    const last = (offset + length - 1) >>> CACHELINE_SHIFT;
    let count = 0;
    while (line <= last) {
      const b0 = line & 31;
      const n = Math.min(32 - b0, last - line + 1);
      const mask = (0xffffffff >>> (32 - n)) << b0;
      count += popcount(Atomics.load(this.dirty, line >>> 5) & mask);
      line += n;
    }
    return count;
  }

  /**
   * The media as a power failure now would leave it: everything flushed, plus each dirty
   * line that the caches happened to evict, chosen with probability `evict` from `rng`.
   * Under eADR the caches are persistent, so every store survives.
   */
  crashImage(rng: Rng, evict = 0.5): Uint8Array {
    if (!(evict >= 0 && evict <= 1)) throw new RangeError(`evict: expected a probability from 0 to 1, got ${evict}`);
    if (!this.tracksDirty) return this.data.slice();
    const image = this.media.slice();
    const dirty = this.dirty;
    for (let w = 0; w < dirty.length; w++) {
      let bits = Atomics.load(dirty, w);
      while (bits !== 0) {
        const low = bits & -bits;
        const line = w * 32 + (31 - Math.clz32(low));
        bits ^= low;
        if (rng() < evict) {
          const at = line * CACHELINE;
          image.set(this.data.subarray(at, at + CACHELINE), at);
        }
      }
    }
    return image;
  }

  private markDirty(first: number, last: number): void {
    const dirty = this.dirty;
    let line = first;
    while (line <= last) {
      const w = line >>> 5;
      const b0 = line & 31;
      const n = Math.min(32 - b0, last - line + 1);
      const mask = (0xffffffff >>> (32 - n)) << b0;
      // Skip the locked RMW when every line is already dirty: the common case for
      // repeated stores to one page, and it keeps the line from bouncing between CPUs.
      if ((Atomics.load(dirty, w) & mask) !== mask) Atomics.or(dirty, w, mask);
      line += n;
    }
  }

  /** Copies the lines whose bits are set in `bits` (lines base..base+31) to the media, in runs. */
  private copyLines(base: number, bits: number): number {
    let copied = 0;
    while (bits !== 0) {
      const start = 31 - Math.clz32(bits & -bits);
      let end = start;
      while (end < 31 && (bits & (1 << (end + 1))) !== 0) end++;
      const from = ((base + start) * CACHELINE) / 8;
      const to = ((base + end + 1) * CACHELINE) / 8;
      this.media64.set(this.data64.subarray(from, to), from);
      copied += end - start + 1;
      bits = end === 31 ? 0 : bits & ~((0xffffffff >>> (31 - end)) | 0);
    }
    return copied;
  }

  private checkRange(offset: number, length: number): void {
    if (!(Number.isInteger(offset) && Number.isInteger(length) && offset >= 0 && length >= 0 && offset + length <= this.size)) {
      throw new RangeError(
        `pmem range: expected 0 <= offset and offset + length <= ${this.size} (device size), got offset ${offset}, length ${length}`,
      );
    }
  }
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Device counters summed over all CPUs. */
export function readPmemCounters(machine: Machine): PmemCounters {
  const v = machine.views.pmemCounters;
  const out: PmemCounters = { linesStored: 0, linesFlushed: 0, linesWrittenBack: 0, fences: 0, storeOps: 0, flushOps: 0 };
  for (let cpu = 0; cpu < machine.config.cpus; cpu++) {
    const b = cpu * PMEM_COUNTERS.stride;
    for (const k of Object.keys(out) as (keyof PmemCounters)[]) out[k] += v[b + PMEM_COUNTERS[k]];
  }
  return out;
}
