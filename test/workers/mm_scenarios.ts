// Test CPUs for mm/ (test/mm_workers.test.ts, test/dax_writeback.test.ts): storers that fault
// and store through a shared mapping, and a CPU that msyncs it (or only writes its DAX entries
// back) over and over and runs every invariant checker after each pass. Every CPU mounts the file system and attaches the address space itself, then
// attaches the mapping the main thread made.
//
// How the checks after an msync stay sound while storers keep storing:
//  - the msync itself runs while the storers store (the race between writeback and write
//    faults is what remove-on-writeback gets wrong, so it must stay possible);
//  - then the msync CPU stops the storers through a shared pause word they poll between two
//    stores (never inside a store or fault; see pause.ts), so no fault, store or writeback
//    is in flight for the checkers (kjournald2 may still commit: that only makes more durable).
//    checkIndex, checkMm and checkSyncMappings hold at any such quiet point;
//  - checkSyncedRange (no dirty line in the range after msync returned, "nothing stored
//    since") is asked only of the pages no store finished on after the msync began: each storer
//    marks a page in `touched` after its store to it returns, and the msync CPU clears every
//    mark before it calls msync. A page left unmarked had all its stores finish before the
//    msync began, so the msync must have made it clean; a marked page may legitimately be
//    dirty again and is skipped. The inode-level half (not datasync-dirty) is asked when no
//    page was marked, and always for a MAP_SYNC mapping, where every write fault that
//    allocated or converted a block synced it before returning.

import type { Cpu } from '../../src/sync/cpu.js';
import type { JournalPolicy } from '../../src/journal/policy.js';
import { mountFs } from '../../src/fs/super.js';
import type { DaxVariant } from '../../src/dax/variant.js';
import { attachMm, type MmCounters } from '../../src/mm/mm.js';
import { attachVma } from '../../src/mm/mmap.js';
import type { VmaRef } from '../../src/mm/memory.js';
import { checkMm, checkSyncMappings, checkSyncedRange } from '../../src/mm/check.js';
import { checkIndex } from '../../src/dax/radix_tree_check.js';
import { dax_writeback_mapping_range } from '../../src/dax/writeback.js';
import { PAGE_SIZE } from '../../src/machine/layout.js';
import { pausePoint, pauseStorers, resumeStorers } from './pause.js';

export const LINE = 64;

export interface StorerArgs {
  ref: VmaRef;
  /** Storer number k of `storers`: it owns the cache lines whose number is k modulo storers. */
  k: number;
  storers: number;
  rounds: number;
  /** Flush each store from userspace (clwb + fence) every this many stores; 0: never. */
  flushEvery: number;
  policy: Partial<JournalPolicy>;
  /** A known-bad DAX variant this CPU's mappings run (default none). */
  variant?: DaxVariant;
  /** Int32 [storers done]. */
  done: SharedArrayBuffer;
  /** Int32 [pauseWords(storers)]: the msync CPU stops the storers to check invariants (pause.ts). */
  pause: SharedArrayBuffer;
  /** Int32 per page of the mapping: set to 1 after each store to the page returns (the msync CPU clears them). */
  touched: SharedArrayBuffer;
}

export interface StorerResult {
  /** The byte each line of the mapping holds last (0: never stored by this CPU). */
  last: Uint8Array;
  counters: MmCounters;
}

/** Stores 64-byte lines it owns at random, each line filled with its own rising counter (1..255). */
export function storer(cpu: Cpu, a: StorerArgs): StorerResult {
  const fs = mountFs(cpu, { journalPolicy: a.policy });
  const mm = attachMm(cpu, fs, { variant: a.variant ?? 'none' });
  const vma = attachVma(mm, a.ref);
  const lines = vma.length / LINE;
  const last = new Uint8Array(lines);
  const bufs = Array.from({ length: 256 }, (_, v) => new Uint8Array(LINE).fill(v));
  const check = new Uint8Array(LINE);
  let x = (cpu.id * 2654435761) >>> 0 || 1;
  try {
    const pause = new Int32Array(a.pause);
    const touched = new Int32Array(a.touched);
    for (let r = 0; r < a.rounds; r++) {
      pausePoint(pause, a.k);
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      const line = Math.floor((x % Math.floor(lines / a.storers)) * a.storers + a.k);
      const v = (last[line] % 255) + 1;
      vma.store(line * LINE, bufs[v]);
      Atomics.store(touched, Math.floor((line * LINE) / PAGE_SIZE), 1);
      last[line] = v;
      if (a.flushEvery > 0 && r % a.flushEvery === 0) vma.flushUser(line * LINE, LINE);
      if ((r & 63) === 0) {
        vma.loadInto(line * LINE, check);
        if (check[0] !== v || check[LINE - 1] !== v) throw new Error(`cpu ${cpu.id}: line ${line} reads ${check[0]}, stored ${v}`);
      }
    }
  } finally {
    Atomics.add(new Int32Array(a.done), 0, 1);
  }
  return { last, counters: mm.counters };
}

export interface MsyncerArgs {
  ref: VmaRef;
  storers: number;
  policy: Partial<JournalPolicy>;
  variant?: DaxVariant;
  done: SharedArrayBuffer;
  pause: SharedArrayBuffer;
  touched: SharedArrayBuffer;
  /**
   * 'range': each pass is dax_writeback_mapping_range over the mapping's pages on this CPU's
   * DaxMapping (mkclean through the rmap) rather than msync: DAX writeback alone, no journal,
   * so the inode's datasync state is never checked. Default 'msync'.
   */
  writeback?: 'msync' | 'range';
}

export interface MsyncerResult {
  passes: number;
  /** Entries this CPU's writebacks flushed (DaxMapping.written). */
  written: number;
  /** Checks run (one after every msync), and in how many of them checkSyncedRange had pages to look at. */
  checks: number;
  rangeChecks: number;
  /** Pages checkSyncedRange looked at over the run, and checks that included the inode's datasync state. */
  pagesChecked: number;
  metadataChecks: number;
  /** What the checkers found (first few), each prefixed with the pass it was found after. */
  violations: string[];
}

/**
 * msync(MS_SYNC) of the whole mapping until every storer is done; after each msync it stops
 * the storers between two stores and runs every invariant checker (see the header for why
 * each check is sound there): checkIndex, checkMm (no writable page without a DIRTY entry),
 * checkSyncMappings (every writable MAP_SYNC page durable) and checkSyncedRange over the
 * pages no store finished on since the msync began.
 */
export function msyncer(cpu: Cpu, a: MsyncerArgs): MsyncerResult {
  const fs = mountFs(cpu, { journalPolicy: a.policy });
  const mm = attachMm(cpu, fs, { variant: a.variant ?? 'none' });
  const vma = attachVma(mm, a.ref);
  const done = new Int32Array(a.done);
  const pause = new Int32Array(a.pause);
  const touched = new Int32Array(a.touched);
  const range = a.writeback === 'range';
  const out: MsyncerResult = { passes: 0, written: 0, checks: 0, rangeChecks: 0, pagesChecked: 0, metadataChecks: 0, violations: [] };
  while (Atomics.load(done, 0) < a.storers) {
    for (let p = 0; p < vma.pages; p++) Atomics.store(touched, p, 0);
    if (range) dax_writeback_mapping_range(mm.mappingOf(fs, vma.ino), vma.pgoff * PAGE_SIZE, vma.pgoff * PAGE_SIZE + vma.length - 1);
    else vma.msync(0, vma.length);
    out.passes++;
    pauseStorers(pause, done, a.storers, out.passes);
    const found = [...checkIndex(cpu.machine), ...checkMm(mm), ...checkSyncMappings(mm)];
    // checkSyncedRange over the pages untouched since the msync began (the header says why).
    let marked = 0;
    for (let p = 0; p < vma.pages; p++) if (Atomics.load(touched, p) !== 0) marked++;
    const metadata = !range && (marked === 0 || vma.sync);
    const untouched = (lblk: number) => Atomics.load(touched, lblk - vma.pgoff) === 0;
    const start = vma.pgoff * PAGE_SIZE;
    found.push(...checkSyncedRange(mm, vma.ino, start, start + vma.length, { metadata, only: untouched }));
    if (metadata) out.metadataChecks++;
    if (marked < vma.pages) out.rangeChecks++;
    out.pagesChecked += vma.pages - marked;
    out.checks++;
    resumeStorers(pause, done, a.storers, out.passes);
    for (const v of found) if (out.violations.length < 10) out.violations.push(`after ${range ? 'writeback' : 'msync'} ${out.passes}: ${v}`);
  }
  out.written = mm.mappingOf(fs, vma.ino).written;
  return out;
}
