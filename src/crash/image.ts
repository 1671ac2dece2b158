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

import { CACHELINE, type PmemMode } from '../machine/layout.js';
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
  const dirty = dev.dirty;
  for (let w = 0; w < dirty.length; w++) {
    let bits = Atomics.load(dirty, w);
    while (bits !== 0) {
      const low = bits & -bits;
      bits ^= low;
      s.dirtyLines++;
      if (rng() < evict) {
        const at = (w * 32 + (31 - Math.clz32(low))) * CACHELINE;
        image.set(dev.data.subarray(at, at + CACHELINE), at);
        s.evicted++;
      }
    }
  }
  return image;
}

function equalLine(a: Uint8Array, at: number, b: Uint8Array, bt: number): boolean {
  for (let i = 0; i < CACHELINE; i++) if (a[at + i] !== b[bt + i]) return false;
  return true;
}
