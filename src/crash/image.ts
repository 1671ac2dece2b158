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
  // The overlay, per line past the prefix, without an allocation per draw: the draw that set
  // it (lineGen === gen), its source (SRC_MEDIA, SRC_DATA, or SRC_LOG + CPU) and, for a log
  // record, where its bytes start in that CPU's section.
  private readonly lineGen: Int32Array;
  private readonly lineSrc: Int32Array;
  private readonly lineAt: Int32Array;
  private readonly blockGen: Int32Array;
  private gen = 0;
  private sections: Uint8Array[] = [];
  private dev: DeviceState | null = null;

  constructor(size: number, prefixBlocks: number) {
    this.bytes = new Uint8Array(size);
    this.prefixEnd = prefixBlocks * BLOCK_BYTES;
    const lines = size / CACHELINE;
    this.lineGen = new Int32Array(lines);
    this.lineSrc = new Int32Array(lines);
    this.lineAt = new Int32Array(lines);
    this.blockGen = new Int32Array(size / BLOCK_BYTES);
  }

  private source(src: number): Uint8Array {
    const dev = this.dev!;
    return src === SRC_MEDIA ? dev.media : src === SRC_DATA ? dev.data : this.sections[src - SRC_LOG];
  }

  /** Draws a new image of `dev` (see buildImage); the previous one is gone. */
  draw(dev: DeviceState, log: PersistLog | null, rng: Rng, opts: ImageOptions = {}): this {
    const evict = opts.evict ?? 0.5;
    const reorder = opts.reorder ?? 0.5;
    this.dev = dev;
    const gen = ++this.gen;
    const img = this.bytes;
    const end = this.prefixEnd;
    if (dev.mode === 'eadr') {
      img.set(dev.data.subarray(0, end));
      return this;
    }
    img.set(dev.media.subarray(0, end));
    const { lineGen, lineSrc, lineAt } = this;
    if (log !== null) {
      this.sections.length = 0;
      for (let c = 0; c < log.cpus; c++) {
        const sec = log.section(c);
        this.sections.push(sec.bytes);
        for (let k = sec.count - 1; k >= 0; k--) {
          if (!(rng() < reorder)) continue;
          const line = sec.lines[k];
          const at = line * CACHELINE;
          const rec = k * 2 * CACHELINE;
          if (at < end) {
            if (equalLine(img, at, sec.bytes, rec + CACHELINE)) img.set(sec.bytes.subarray(rec, rec + CACHELINE), at);
            continue;
          }
          // Lines past the prefix as the draws left them so far (unset: as on the media).
          const set = lineGen[line] === gen;
          const cur = set ? this.source(lineSrc[line]) : dev.media;
          if (!equalLine(cur, set ? lineAt[line] : at, sec.bytes, rec + CACHELINE)) continue;
          lineGen[line] = gen;
          lineSrc[line] = SRC_LOG + c;
          lineAt[line] = rec;
        }
      }
    }
    for (const line of dirtyLines(dev.dirty)) {
      if (!(rng() < evict)) continue;
      const at = line * CACHELINE;
      if (at < end) img.set(dev.data.subarray(at, at + CACHELINE), at);
      else {
        lineGen[line] = gen;
        lineSrc[line] = SRC_DATA;
        lineAt[line] = at;
      }
    }
    return this;
  }

  /** Makes data block b of the image readable in `bytes`. */
  ensureBlock(b: number): void {
    const gen = this.gen;
    if (this.blockGen[b] === gen || b * BLOCK_BYTES < this.prefixEnd) return;
    const dev = this.dev!;
    const at = b * BLOCK_BYTES;
    this.bytes.set((dev.mode === 'eadr' ? dev.data : dev.media).subarray(at, at + BLOCK_BYTES), at);
    if (dev.mode !== 'eadr') {
      const first = at / CACHELINE;
      for (let line = first; line < first + LINES_PER_BLOCK; line++) {
        if (this.lineGen[line] !== gen) continue;
        const src = this.source(this.lineSrc[line]);
        const from = this.lineAt[line];
        this.bytes.set(src.subarray(from, from + CACHELINE), line * CACHELINE);
      }
    }
    this.blockGen[b] = gen;
  }
}

const SRC_MEDIA = 0;
const SRC_DATA = 1;
const SRC_LOG = 2;
const LINES_PER_BLOCK = BLOCK_BYTES / CACHELINE;

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
