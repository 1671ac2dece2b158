// The mm invariants, checked over the whole machine while no CPU works (no fault, store,
// writeback, truncate or mmap in flight). Each check returns violation strings ([] when
// sound) and changes nothing.
//
//  checkMm        (a) the VMA table and page tables against the mapping index:
//                   - every writable PTE maps a block (not the zero page) of a VMA with
//                     VM_WRITE, and the index entry covering its page (the PTE entry at its
//                     index, or a PMD entry at index & ~511) exists, is a block entry (not
//                     EMPTY, not a zero-page entry), is unlocked, maps the same pfn and is
//                     tagged DIRTY: otherwise a store could change a page that writeback
//                     would skip;
//                   - every read-only PTE has such an entry too, unlocked, mapping the same
//                     pfn, or a zero-page entry when the PTE maps the zero page (a PTE left
//                     behind by truncate, or a zero page another VMA already replaced, would
//                     show stale data);
//                   - the 512 PTEs of a PMD mapping lie inside their VMA, all carry the PMD
//                     bit, map consecutive blocks and agree on writability;
//                   - bookkeeping: no VMA half unmapped (DYING) or pinned (users), PTE ranges
//                     inside the pool and disjoint, every PTE outside a live VMA is none,
//                     map_count and vmaHigh right, mmap_sem free.
//  checkSyncedRange (b) after msync or fsync of [start, end) returned and nothing was stored
//                   or changed since: no dirty cache line in the blocks that back the range
//                   (the inode's extents, written or unwritten), and the inode is not
//                   datasync-dirty (inode_datasync_dirty: for ext4 i_datasync_tid is
//                   committed, or fast-committed; for xfs not pinned with non-timestamp
//                   fields; without a journal no dirty buffer and no I_DIRTY_DATASYNC).
//                   While other CPUs store, `only` restricts it to the pages nothing was
//                   stored to since the sync began (test/workers/mm_scenarios.ts).
//  checkSyncMappings (c) MAP_SYNC's promise: for every writable PTE of a VM_SYNC VMA, the
//                   block it maps is in the inode's block map as a crash now would leave it:
//                   the device's media (no dirty line evicted) after journal recovery (and
//                   fast-commit replay) has the inode allocated and an extent mapping the
//                   PTE's file page, written (not unwritten), to exactly that block. This is
//                   what "the block map is durable" means, checked directly rather than
//                   through inode_datasync_dirty, which later unrelated changes of the inode
//                   turn true without breaking the promise.

import { PAGECACHE_TAG_DIRTY, MM, VMA, VMA_DYING, VMA_FREE, VMA_MAPPED, PAGE_SIZE } from '../machine/layout.js';
import { spin_is_locked } from '../sync/spinlock.js';
import { radix_tree_lookup, radix_tree_tag_get } from '../dax/radix_tree.js';
import { PG_PMD_COLOUR, PG_PMD_NR, dax_is_empty_entry, dax_is_pmd_entry, dax_is_zero_entry, dax_radix_pfn, daxEntryIsLocked, describeDaxEntry } from '../dax/dax_entry.js';
import { ZERO_PFN } from '../dax/fault.js';
import { inodeInfo, inode_datasync_dirty } from '../fs/inode.js';
import { EXTENT, EXTENTS_PER_BLOCK, EXTENT_HEADER, EXT_UNWRITTEN, INODE, WORDS_PER_BLOCK, extentBlock, extentWord, imageWords, inodeWord } from '../fs/ondisk.js';
import { ext4_fc_set_bitmaps_and_counters } from '../fs/fsck.js';
import { jbd2_journal_recover } from '../journal/recovery.js';
import type { Mm } from './mm.js';
import { VM_SYNC, VM_WRITE } from './mman.js';
import { describePte, pte_huge, pte_pfn, pte_present, pte_write } from './pte.js';

const MAX_REPORTS = 50;

/** (a): the VMA table, the page tables, and every present PTE against the mapping index. */
export function checkMm(mm: Mm): string[] {
  const out: string[] = [];
  const report = (s: string) => {
    if (out.length < MAX_REPORTS) out.push(s);
    else if (out.length === MAX_REPORTS) out.push('... more violations not listed');
  };
  const { vmas, ptes, st } = mm;
  const config = mm.cpu.machine.config;
  if (spin_is_locked(st, MM.lockState)) report('mm: mmap_sem is held');
  const high = st[MM.vmaHigh];
  if (high < 0 || high > config.vmas) report(`mm: vmaHigh ${high} outside 0..${config.vmas}`);
  const live: [number, number, number][] = [];
  let count = 0;
  for (let v = 0; v < config.vmas; v++) {
    const at = v * VMA.stride;
    const state = vmas[at + VMA.state];
    const users = vmas[at + VMA.users];
    if (users !== 0) report(`vma ${v}: ${users} users (a fault or rmap walk still pins it)`);
    if (state === VMA_FREE) continue;
    count++;
    if (v >= high) report(`vma ${v}: in use but at or above vmaHigh ${high} (rmap walks would miss it)`);
    if (state === VMA_DYING) report(`vma ${v}: DYING (munmap did not finish)`);
    else if (state !== VMA_MAPPED) report(`vma ${v}: bad state ${state}`);
    const base = vmas[at + VMA.pteBase];
    const pages = vmas[at + VMA.pages];
    const ino = vmas[at + VMA.ino];
    if (!(pages > 0 && base >= 0 && base + pages <= config.ptePages)) {
      report(`vma ${v}: PTE range [${base}, ${base + pages}) outside the pool (${config.ptePages})`);
      continue;
    }
    if (!(ino >= 0 && ino < config.mappings)) {
      report(`vma ${v}: inode ${ino} has no mapping index`);
      continue;
    }
    live.push([base, pages, v]);
    checkVmaPtes(mm, v, report);
  }
  if (count !== st[MM.mapCount]) report(`mm: map_count is ${st[MM.mapCount]}, ${count} VMAs are in use`);
  live.sort((a, b) => a[0] - b[0]);
  let end = 0;
  for (let k = 0; k < live.length; k++) {
    const [base, pages, v] = live[k];
    if (k > 0 && base < live[k - 1][0] + live[k - 1][1]) report(`vma ${v}: PTE range [${base}, ${base + pages}) overlaps vma ${live[k - 1][2]}'s`);
    for (let w = end; w < base; w++) if (ptes[w] !== 0) report(`pte pool: word ${w} belongs to no VMA but holds ${describePte(ptes[w])}`);
    end = Math.max(end, base + pages);
  }
  for (let w = end; w < config.ptePages; w++) {
    if (ptes[w] !== 0) report(`pte pool: word ${w} belongs to no VMA but holds ${describePte(ptes[w])}`);
  }
  return out;
}

function checkVmaPtes(mm: Mm, v: number, report: (s: string) => void): void {
  const { vmas, ptes } = mm;
  const at = v * VMA.stride;
  const ino = vmas[at + VMA.ino];
  const pgoff = vmas[at + VMA.pgoff];
  const pages = vmas[at + VMA.pages];
  const base = vmas[at + VMA.pteBase];
  const flags = vmas[at + VMA.flags];
  const tree = mm.mappingOf(mm.fs, ino).tree;
  const where = (p: number) => `vma ${v} (inode ${ino}) page ${pgoff + p}`;
  tree.treeLock();
  try {
    for (let p = 0; p < pages; p++) {
      const pte = ptes[base + p];
      if (pte === 0) continue;
      if (!pte_present(pte)) {
        report(`${where(p)}: malformed PTE ${pte}`);
        continue;
      }
      const index = pgoff + p;
      const pfn = pte_pfn(pte);
      const writable = pte_write(pte);
      if (writable && pfn === ZERO_PFN) report(`${where(p)}: the zero page is mapped writable`);
      if (writable && (flags & VM_WRITE) === 0) report(`${where(p)}: writable PTE in a VMA without VM_WRITE`);
      // The entry that covers the page: a PTE entry at index, else a PMD entry at index & ~511.
      let entry = radix_tree_lookup(tree, index);
      let eIndex = index;
      if (entry === 0 && (index & PG_PMD_COLOUR) !== 0) {
        const pmd = radix_tree_lookup(tree, index - (index & PG_PMD_COLOUR));
        if (pmd !== 0 && dax_is_pmd_entry(pmd)) {
          entry = pmd;
          eIndex = index - (index & PG_PMD_COLOUR);
        }
      }
      const kind = writable ? 'writable' : 'read-only';
      if (entry === 0) {
        report(`${where(p)}: ${kind} PTE (${describePte(pte)}) but no index entry covers the page`);
        continue;
      }
      if (daxEntryIsLocked(entry)) report(`${where(p)}: ${kind} PTE over a locked entry (${describeDaxEntry(entry)})`);
      if (dax_is_empty_entry(entry)) {
        report(`${where(p)}: ${kind} PTE (${describePte(pte)}) over an EMPTY entry`);
        continue;
      }
      if (dax_is_zero_entry(entry)) {
        if (pfn !== ZERO_PFN || writable) report(`${where(p)}: ${kind} PTE (${describePte(pte)}) over a zero-page entry`);
        continue;
      }
      const want = dax_radix_pfn(entry) + (index - eIndex);
      if (pfn !== want) report(`${where(p)}: ${kind} PTE maps ${pfn === ZERO_PFN ? 'the zero page' : `block ${pfn}`}, its entry (${describeDaxEntry(entry)}) block ${want}`);
      if (writable && !radix_tree_tag_get(tree, eIndex, PAGECACHE_TAG_DIRTY)) {
        report(`${where(p)}: writable PTE (${describePte(pte)}) but its entry at ${eIndex} is not tagged DIRTY`);
      }
      if (pte_huge(pte) && (index & PG_PMD_COLOUR) === 0) checkPmdGroup(ptes, base + p, p, pages, pte, where(p), report);
      else if (pte_huge(pte) && p < (index & PG_PMD_COLOUR)) report(`${where(p)}: PMD mapping starts before the VMA`);
    }
  } finally {
    tree.treeUnlock();
  }
}

function checkPmdGroup(ptes: Int32Array, w: number, p: number, pages: number, pte: number, where: string, report: (s: string) => void): void {
  if (p + PG_PMD_NR > pages) {
    report(`${where}: PMD mapping runs past the VMA`);
    return;
  }
  for (let k = 1; k < PG_PMD_NR; k++) {
    const q = ptes[w + k];
    if (!pte_present(q) || !pte_huge(q) || pte_pfn(q) !== pte_pfn(pte) + k || pte_write(q) !== pte_write(pte)) {
      report(`${where}: PMD mapping's PTE ${k} is ${describePte(q)}, expected pfn ${pte_pfn(pte) + k} ${pte_write(pte) ? 'rw' : 'ro'} pmd`);
      return;
    }
  }
}

export interface SyncedRangeOptions {
  /** Also require that the inode is not datasync-dirty (default true): what fdatasync promises besides data. */
  metadata?: boolean;
  /**
   * Look only at the file pages (lblk) this returns true for (default: every page of the
   * range). For a check while other CPUs store: pages stored to after the sync began may be
   * dirty again legitimately.
   */
  only?: (lblk: number) => boolean;
}

/**
 * (b): after msync or fsync of inode ino's bytes [start, end) returned and nothing changed
 * since, no cache line of a block backing the range is dirty (and the inode is not
 * datasync-dirty). Whole pages: writeback works in pages.
 */
export function checkSyncedRange(mm: Mm, ino: number, start: number, end: number, opts: SyncedRangeOptions = {}): string[] {
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && end >= start)) {
    throw new RangeError(`checkSyncedRange: expected integers 0 <= start <= end, got ${start}, ${end}`);
  }
  const out: string[] = [];
  if (end === start) return out;
  const first = Math.floor(start / PAGE_SIZE);
  const last = Math.floor((end - 1) / PAGE_SIZE);
  for (const e of inodeInfo(mm.fs, ino).extents) {
    const from = Math.max(first, e.lblk);
    const to = Math.min(last, e.lblk + e.len - 1);
    for (let lblk = from; lblk <= to; lblk++) {
      if (opts.only !== undefined && !opts.only(lblk)) continue;
      const block = e.pblk + lblk - e.lblk;
      const dirty = mm.dev.dirtyLines(block * PAGE_SIZE, PAGE_SIZE);
      if (dirty !== 0) out.push(`inode ${ino} page ${lblk} (block ${block}): ${dirty} dirty cache lines after the sync`);
    }
  }
  if (opts.metadata !== false && inode_datasync_dirty(mm.fs, ino)) out.push(`inode ${ino}: still datasync-dirty after the sync`);
  return out;
}

/**
 * (c): every writable PTE of a MAP_SYNC (VM_SYNC) VMA maps a block that the durable block
 * map (a crash image now, after journal recovery) maps, written, at that file page.
 */
export function checkSyncMappings(mm: Mm): string[] {
  const out: string[] = [];
  const { vmas, ptes } = mm;
  const config = mm.cpu.machine.config;
  let durable: DurableMap | null = null;
  for (let v = 0; v < config.vmas; v++) {
    const at = v * VMA.stride;
    if (vmas[at + VMA.state] === VMA_FREE || (vmas[at + VMA.flags] & VM_SYNC) === 0) continue;
    const ino = vmas[at + VMA.ino];
    const pgoff = vmas[at + VMA.pgoff];
    const base = vmas[at + VMA.pteBase];
    const pages = vmas[at + VMA.pages];
    for (let p = 0; p < pages; p++) {
      const pte = ptes[base + p];
      if (!pte_present(pte) || !pte_write(pte)) continue;
      durable ??= durableMap(mm);
      const got = durable.lookup(ino, pgoff + p);
      if (got !== pte_pfn(pte)) {
        const what = got === NOT_ALLOCATED ? 'the inode is not allocated' : got === HOLE ? 'a hole' : got === UNWRITTEN ? 'an unwritten extent' : `block ${got}`;
        if (out.length < MAX_REPORTS) {
          out.push(`vma ${v} (inode ${ino}, MAP_SYNC) page ${pgoff + p}: writable at block ${pte_pfn(pte)}, but after a crash the block map has ${what} there`);
        }
      }
    }
  }
  return out;
}

const HOLE = -2;
const UNWRITTEN = -3;
const NOT_ALLOCATED = -4;

interface DurableMap {
  /** The block the durable map has at (ino, lblk), or HOLE / UNWRITTEN / NOT_ALLOCATED. */
  lookup(ino: number, lblk: number): number;
}

/** The block maps a crash now would leave: media only, journal replayed. */
function durableMap(mm: Mm): DurableMap {
  const g = mm.fs.g;
  const image = mm.dev.crashImage(() => 1);
  if (mm.fs.journal !== null) jbd2_journal_recover(image, g, { afterFastCommitReplay: (img) => ext4_fc_set_bitmaps_and_counters(img, g) });
  const w = imageWords(image);
  return {
    lookup(ino, lblk) {
      if (w[inodeWord(g, ino) + INODE.i_mode] === 0) return NOT_ALLOCATED;
      for (let k = 0; k < g.extentBlocksPerInode; k++) {
        const entries = w[extentBlock(g, ino, k) * WORDS_PER_BLOCK + EXTENT_HEADER.eh_entries];
        for (let e = 0; e < Math.min(Math.max(entries, 0), EXTENTS_PER_BLOCK); e++) {
          const x = extentWord(g, ino, k * EXTENTS_PER_BLOCK + e);
          const b = w[x + EXTENT.ee_block];
          if (lblk >= b && lblk < b + w[x + EXTENT.ee_len]) {
            return (w[x + EXTENT.ee_flags] & EXT_UNWRITTEN) !== 0 ? UNWRITTEN : w[x + EXTENT.ee_start] + lblk - b;
          }
        }
        if (entries < EXTENTS_PER_BLOCK) break;
      }
      return HOLE;
    },
  };
}
