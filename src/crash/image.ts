// Crash images: the device as a power failure at this instant may leave it. The media
// (everything written back), with two kinds of luck drawn from a seeded generator:
//   - each dirty cache line may have been evicted, and so written back whole (probability
//     `evict`);
//   - each line a CPU wrote back since its last fence may not have reached the persistence
//     domain yet, and so be old on the media (probability `reorder`): before the fence their
//     order is not guaranteed (persist_log.ts). A line another CPU wrote back again since is
//     left as the media holds it.
// Under eADR the caches are inside the persistence domain: the image is what the CPUs see.
// Read only while the world is stopped (points.ts); the draws are made in a fixed order
// (CPU, then log order; then dirty lines by address), so one seed gives one image.

import { BLOCK_SIZE, CACHELINE, type PmemMode } from '../machine/layout.js';

const BLOCK_BYTES = BLOCK_SIZE;
import type { Machine } from '../machine/machine.js';
import type { Rng } from '../util/rng.js';
import type { PersistLog } from './persist_log.js';

export interface DeviceState {
  mode: PmemMode;
  /** The bytes CPUs see (media + caches). */
  data: Uint8Array;
  /** What survives power loss. */
  media: Uint8Array;
  /** The dirty cache-line bitmap (pmem/device.ts). */
  dirty: Int32Array;
}

export function deviceState(machine: Machine): DeviceState {
  const v = machine.views;
  return { mode: machine.config.pmemMode, data: v.pmemData, media: v.pmemMedia, dirty: v.pmemDirty };
}

export interface ImageOptions {
  /** Probability that a dirty line was evicted to the media (default 0.5). */
  evict?: number;
  /** Probability that a line written back since its CPU's last fence did not reach the media (default 0.5). */
  reorder?: number;
}

export interface ImageStats {
  dirtyLines: number;
  evicted: number;
  unfencedLines: number;
  reverted: number;
}

/** One crash image of the device (a fresh array); `stats`, when given, says what the draws did. */
export function buildImage(dev: DeviceState, log: PersistLog | null, rng: Rng, opts: ImageOptions = {}, stats?: ImageStats): Uint8Array {
  const evict = opts.evict ?? 0.5;
  const reorder = opts.reorder ?? 0.5;
  for (const [name, p] of [['evict', evict], ['reorder', reorder]] as const) {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`${name}: expected a probability from 0 to 1, got ${p}`);
  }
  const s: ImageStats = stats ?? { dirtyLines: 0, evicted: 0, unfencedLines: 0, reverted: 0 };
  s.dirtyLines = s.evicted = s.unfencedLines = s.reverted = 0;
  if (dev.mode === 'eadr') return dev.data.slice();
  const image = dev.media.slice();
  if (log !== null) {
    for (let c = 0; c < log.cpus; c++) {
      const sec = log.section(c);
      const n = sec.count;
      s.unfencedLines += n;
      // Latest first, so the oldest record of a line logged twice decides what it reverts to.
      for (let k = n - 1; k >= 0; k--) {
        if (!(rng() < reorder)) continue;
        const at = sec.lines[k] * CACHELINE;
        const rec = k * 2 * CACHELINE;
        if (!equalLine(image, at, sec.bytes, rec + CACHELINE)) continue; // written back again since: as the media holds it
        image.set(sec.bytes.subarray(rec, rec + CACHELINE), at);
        s.reverted++;
      }
    }
  }
  for (const line of dirtyLines(dev.dirty)) {
    s.dirtyLines++;
    if (rng() < evict) {
      const at = line * CACHELINE;
      image.set(dev.data.subarray(at, at + CACHELINE), at);
      s.evicted++;
    }
  }
  return image;
}

function equalLine(a: Uint8Array, at: number, b: Uint8Array, bt: number): boolean {
  for (let i = 0; i < CACHELINE; i++) if (a[at + i] !== b[bt + i]) return false;
  return true;
}

/**
 * The same image as buildImage (the same draws, in the same order), built lazily for speed:
 * the blocks before `prefixBlocks` (metadata and journal, what recovery and fsck read) are
 * copied at once into a buffer reused from one image to the next; a data block is copied
 * from the media, with the draws that fell on it, only when ensureBlock() asks for it. Until
 * then the buffer holds whatever an earlier image left there: read no data block unasked.
 */
export class SparseImage {
  readonly bytes: Uint8Array;
  private readonly prefixEnd: number;
  /** Per data block: the overlay lines drawn on it, as (line, source array, source offset). */
  private overlay = new Map<number, { line: number; src: Uint8Array; at: number }[]>();
  private readonly ready: Uint8Array;
  private readyList: number[] = [];
  private dev: DeviceState | null = null;

  constructor(size: number, prefixBlocks: number) {
    this.bytes = new Uint8Array(size);
    this.prefixEnd = prefixBlocks * BLOCK_BYTES;
    this.ready = new Uint8Array(size / BLOCK_BYTES);
  }

  /** Draws a new image of `dev` (see buildImage); the previous one is gone. */
  draw(dev: DeviceState, log: PersistLog | null, rng: Rng, opts: ImageOptions = {}): this {
    const evict = opts.evict ?? 0.5;
    const reorder = opts.reorder ?? 0.5;
    this.dev = dev;
    this.overlay.clear();
    for (const b of this.readyList) this.ready[b] = 0;
    this.readyList = [];
    const img = this.bytes;
    const end = this.prefixEnd;
    if (dev.mode === 'eadr') {
      img.set(dev.data.subarray(0, end));
      return this;
    }
    img.set(dev.media.subarray(0, end));
    // Lines past the prefix as the draws left them so far (absent: as on the media).
    const current = new Map<number, { src: Uint8Array; at: number }>();
    if (log !== null) {
      for (let c = 0; c < log.cpus; c++) {
        const sec = log.section(c);
        for (let k = sec.count - 1; k >= 0; k--) {
          if (!(rng() < reorder)) continue;
          const line = sec.lines[k];
          const at = line * CACHELINE;
          const rec = k * 2 * CACHELINE;
          if (at < end) {
            if (equalLine(img, at, sec.bytes, rec + CACHELINE)) img.set(sec.bytes.subarray(rec, rec + CACHELINE), at);
            continue;
          }
          const cur = current.get(line) ?? { src: dev.media, at };
          if (equalLine(cur.src, cur.at, sec.bytes, rec + CACHELINE)) current.set(line, { src: sec.bytes, at: rec });
        }
      }
    }
    for (const line of dirtyLines(dev.dirty)) {
      if (!(rng() < evict)) continue;
      const at = line * CACHELINE;
      if (at < end) img.set(dev.data.subarray(at, at + CACHELINE), at);
      else current.set(line, { src: dev.data, at });
    }
    for (const [line, v] of current) {
      const block = Math.floor((line * CACHELINE) / BLOCK_BYTES);
      let list = this.overlay.get(block);
      if (list === undefined) this.overlay.set(block, (list = []));
      list.push({ line, src: v.src, at: v.at });
    }
    return this;
  }

  /** Makes data block b of the image readable in `bytes`. */
  ensureBlock(b: number): void {
    if (this.ready[b] !== 0 || b * BLOCK_BYTES < this.prefixEnd) return;
    const dev = this.dev!;
    const at = b * BLOCK_BYTES;
    this.bytes.set((dev.mode === 'eadr' ? dev.data : dev.media).subarray(at, at + BLOCK_BYTES), at);
    for (const o of this.overlay.get(b) ?? []) this.bytes.set(o.src.subarray(o.at, o.at + CACHELINE), o.line * CACHELINE);
    this.ready[b] = 1;
    this.readyList.push(b);
  }
}

/** The dirty lines of a device's bitmap, lowest first: the order both image builders draw in. */
function* dirtyLines(dirty: Int32Array): Generator<number> {
  for (let w = 0; w < dirty.length; w++) {
    let bits = Atomics.load(dirty, w);
    while (bits !== 0) {
      const low = bits & -bits;
      bits ^= low;
      yield w * 32 + (31 - Math.clz32(low));
    }
  }
}
