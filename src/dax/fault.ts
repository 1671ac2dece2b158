// DAX page faults (fs/dax.c and ext4's fault handler, Linux 4.14 with the MAP_SYNC series of
// seed 002): a fault maps the file's block straight into the page tables, records the page in
// the mapping index (dirty for a write), and, on a MAP_SYNC mapping whose block map is not
// yet durable, makes it durable before mapping the page writable.
//
// Locking rules (as fs/dax.c):
//  - A fault holds the index entry of its page locked (grab_mapping_entry) from before
//    iomap_begin() until the page-table entry is in place; writeback and truncate wait for it.
//  - iomap_begin() takes the inode's i_data_sem and, for a write, runs inside the journal
//    handle the fault opened (ext4_dax_huge_fault starts it before dax_iomap_fault).
//  - A MAP_SYNC fault stops its handle and drops the entry lock before it syncs
//    (dax_finish_sync_fault -> vfs_fsync_range), then relocks the entry to map the page.
//  - The page tables belong to mm/: this file changes them only through the DaxVma the
//    fault came in on.
//
// Today's kernel: dax_iomap_pte_fault()/dax_iomap_pmd_fault() with grab_mapping_entry()
// replaced by dax_grab_entry()/xas, and dax_insert_pfn_mkwrite() unchanged in spirit.

import { PAGECACHE_TAG_DIRTY, PAGE_SIZE, PMD_SIZE } from '../machine/layout.js';
import type { Fs } from '../fs/super.js';
import { ext4_journal_stop } from '../fs/super.js';
import {
  IOMAP_F_DIRTY,
  IOMAP_F_NEW,
  IOMAP_HOLE,
  IOMAP_MAPPED,
  IOMAP_UNWRITTEN,
  IOMAP_WRITE,
  Iomap,
  down_read_i_mmap_sem,
  file_update_time,
  iomap_begin,
  up_read_i_mmap_sem,
  vfs_fsync_range,
} from '../fs/inode.js';
import { ext4_should_retry_alloc } from '../fs/balloc.js';
import { isFsError } from '../fs/errno.js';
import {
  PG_PMD_COLOUR,
  PG_PMD_NR,
  RADIX_DAX_EMPTY,
  RADIX_DAX_PMD,
  RADIX_DAX_ZERO_PAGE,
  dax_is_empty_entry,
  dax_is_pmd_entry,
  dax_is_zero_entry,
  dax_radix_locked_entry,
} from './dax_entry.js';
import { find_get_entries, radix_tree_delete, radix_tree_insert, radix_tree_tag_set, radixTreeReplace } from './radix_tree.js';
import {
  dax_wake_mapping_entry_waiter,
  get_unlocked_mapping_entry,
  lock_slot,
  put_locked_mapping_entry,
  put_unlocked_mapping_entry,
} from './entry_lock.js';
import { entryLockAcquired, entryLockReleased } from '../sync/waitqueue.js';
import { inodeWord, readSize } from '../fs/ondisk.js';
import { STEP, stepEnter, stepLeave } from '../measure/steps.js';
import type { DaxMapping } from './writeback.js';
import { dax_entry_index } from './entry_index.js';

// vm_fault_t bits (include/linux/mm.h, 4.14).
export const VM_FAULT_SIGBUS = 0x0002;
export const VM_FAULT_MAJOR = 0x0004;
export const VM_FAULT_NOPAGE = 0x0100;
export const VM_FAULT_FALLBACK = 0x0800;
export const VM_FAULT_NEEDDSYNC = 0x2000;
export const VM_FAULT_ERROR = VM_FAULT_SIGBUS;

export const PE_SIZE_PTE = 0;
export const PE_SIZE_PMD = 1;
export type PeSize = typeof PE_SIZE_PTE | typeof PE_SIZE_PMD;

/** The page frame the zero page stands for in page tables (never a device block). */
export const ZERO_PFN = -1;

/** What the fault handler needs of the VMA it came in on (struct vm_area_struct); mm/ implements it. */
export interface DaxVma {
  /** VM_SYNC: the mapping was made with MAP_SYNC. */
  readonly sync: boolean;
  /** vm_insert_mixed(_mkwrite) / vmf_insert_pfn_pmd: maps `pages` pages from pgoff to pfn (ZERO_PFN: the zero page). */
  insertPfn(pgoff: number, pfn: number, pages: number, writable: boolean): void;
}

/** struct vm_fault: one fault, reusable by its CPU. */
export class VmFault {
  vma!: DaxVma;
  mapping!: DaxMapping;
  fs!: Fs;
  ino = 0;
  pgoff = 0;
  write = false;
  /** Set by dax_iomap_fault when it returns NEEDDSYNC: what to map once synced. */
  pfn = 0;
  syncIndex = 0;
  syncPages = 1;
  /** Where the entry grab_mapping_entry() locked sits: the page's index, or its PMD entry's. */
  entryIndex = 0;
  /** Faults of this CPU that returned VM_FAULT_NEEDDSYNC (synchronous faults). */
  needDsync = 0;
  /** The step that failed, for the caller's error message. */
  error: unknown = null;
  readonly iomap = new Iomap();
  readonly gangIdx = new Float64Array(1);
  readonly gangEnt = new Int32Array(1);
}

/**
 * ext4_dax_huge_fault() (xfs_filemap_huge_fault alike): a write fault opens a journal handle
 * around dax_iomap_fault(), retries after ENOSPC when committed frees may help, and finishes
 * a synchronous fault. Returns the VM_FAULT_* result.
 */
export function ext4_dax_huge_fault(vmf: VmFault, pe: PeSize): number {
  // i_mmap_sem for read: a truncate or punch (which take it for write) cannot free the
  // blocks between this fault's iomap_begin and its page-table update.
  down_read_i_mmap_sem(vmf.fs, vmf.ino);
  try {
    return ext4_dax_fault_locked(vmf, pe);
  } finally {
    up_read_i_mmap_sem(vmf.fs, vmf.ino);
  }
}

function ext4_dax_fault_locked(vmf: VmFault, pe: PeSize): number {
  for (let retries = 0; ; retries++) {
    let result: number;
    if (vmf.write) {
      file_update_time(vmf.fs, vmf.ino);
      const h = vmf.fs.ops.journal_start_for_fault(vmf.fs);
      try {
        result = dax_iomap_fault(vmf, pe);
      } finally {
        ext4_journal_stop(vmf.fs, h);
      }
      if ((result & VM_FAULT_ERROR) !== 0 && isFsError(vmf.error, 'ENOSPC') && ext4_should_retry_alloc(vmf.fs, retries)) continue;
      if ((result & VM_FAULT_NEEDDSYNC) !== 0) result = dax_finish_sync_fault(vmf, pe);
    } else {
      result = dax_iomap_fault(vmf, pe);
    }
    return result;
  }
}

/**
 * dax_iomap_fault(): the fault at the size asked. A PMD fault that cannot map 2 MiB returns
 * VM_FAULT_FALLBACK; the caller (handle_mm_fault) retries it at PE_SIZE_PTE.
 */
export function dax_iomap_fault(vmf: VmFault, pe: PeSize): number {
  return pe === PE_SIZE_PMD ? dax_iomap_pmd_fault(vmf) : dax_iomap_pte_fault(vmf);
}

function fsFault(vmf: VmFault, e: unknown): number {
  vmf.error = e;
  return VM_FAULT_SIGBUS;
}

/** dax_fault_is_synchronous(): a write through a MAP_SYNC mapping to blocks whose mapping is not durable. */
function dax_fault_is_synchronous(vmf: VmFault, flags: number): boolean {
  // Known bad: mapsync-no-sync maps the page writable without making its block map durable.
  return vmf.write && vmf.vma.sync && (flags & IOMAP_F_DIRTY) !== 0 && vmf.mapping.variant !== 'mapsync-no-sync';
}

/**
 * grab_mapping_entry(): the locked entry covering index, inserting a locked empty one (of
 * the given size) when there is none; vmf.entryIndex says where the entry sits. A PTE
 * fault locks a covering PMD entry (and maps one page of it), or first deletes it when it
 * is empty or the zero page (pmd_downgrade). Returns 0 when a PMD is wanted but a PTE entry
 * already covers part of its range (-EEXIST in the kernel: the caller falls back).
 */
export function grab_mapping_entry(vmf: VmFault, index: number, pmd: boolean): number {
  const tree = vmf.mapping.tree;
  for (;;) {
    tree.treeLock();
    const slot = pmd ? index : dax_entry_index(tree, index);
    let entry = get_unlocked_mapping_entry(tree, slot);
    // Slept with tree_lock dropped: the covering entry may have changed (a PMD entry deleted,
    // or a PMD entry inserted over a hole we saw): look again (the kernel's goto restart).
    if (!pmd && dax_entry_index(tree, index) !== slot) {
      tree.treeUnlock();
      put_unlocked_mapping_entry(tree, slot, entry);
      continue;
    }
    if (pmd) {
      if (entry !== 0 && !dax_is_pmd_entry(entry)) {
        tree.treeUnlock();
        put_unlocked_mapping_entry(tree, index, entry);
        return 0;
      }
      // A PMD entry may not cover pages that have PTE entries of their own.
      if (entry === 0 && find_get_entries(tree, index + 1, 1, vmf.gangIdx, vmf.gangEnt) === 1 && vmf.gangIdx[0] < index + PG_PMD_NR) {
        tree.treeUnlock();
        return 0;
      }
    } else if (entry !== 0 && dax_is_pmd_entry(entry) && (dax_is_empty_entry(entry) || dax_is_zero_entry(entry))) {
      dax_pmd_downgrade(vmf, slot);
      entry = 0;
    }
    vmf.entryIndex = entry === 0 ? index : slot;
    if (entry === 0) {
      entry = dax_radix_locked_entry(0, RADIX_DAX_EMPTY | (pmd ? RADIX_DAX_PMD : 0));
      if (pmd) tree.markPmdEntries();
      radix_tree_insert(tree, index, entry);
      tree.treeUnlock();
      entryLockAcquired(tree.cpu); // the empty entry is inserted locked: ours
      return entry;
    }
    entry = lock_slot(tree, slot);
    tree.treeUnlock();
    return entry;
  }
}

/**
 * The pmd_downgrade of grab_mapping_entry() (tree_lock held, and held again on return): an
 * empty or zero-page PMD entry over a page faulted as a PTE is locked, the huge zero page
 * unmapped, and the entry deleted, so PTE entries can take its place. Nobody can insert in
 * its range meanwhile: they find the PMD entry locked and wait for it.
 */
function dax_pmd_downgrade(vmf: VmFault, head: number): void {
  const tree = vmf.mapping.tree;
  const entry = lock_slot(tree, head);
  tree.treeUnlock();
  if (dax_is_zero_entry(entry)) vmf.mapping.unmap?.(head, PG_PMD_NR);
  tree.treeLock();
  radix_tree_delete(tree, head);
  entryLockReleased(tree.cpu);
  dax_wake_mapping_entry_waiter(tree, head, entry, true);
}

/**
 * dax_insert_mapping_entry(): replaces an empty or zero-page entry with one for the block
 * (a real PTE or PMD entry already there stays), and tags it DIRTY when `dirty` (patch 11 of
 * seed 002: a MAP_SYNC fault inserts it clean and dirties it only once synced).
 */
export function dax_insert_mapping_entry(vmf: VmFault, index: number, entry: number, pfn: number, flags: number, dirty: boolean): number {
  const tree = vmf.mapping.tree;
  if (dax_is_zero_entry(entry) && (flags & RADIX_DAX_ZERO_PAGE) === 0) {
    // A block replaces the zero page: every VMA that mapped the hole must fault again
    // (unmap_mapping_range), or it would keep reading zeroes.
    vmf.mapping.unmap?.(index, dax_is_pmd_entry(entry) ? PG_PMD_NR : 1);
  }
  tree.treeLock();
  if (dax_is_zero_entry(entry) || dax_is_empty_entry(entry)) {
    const next = dax_radix_locked_entry(pfn, flags);
    radixTreeReplace(tree, index, next);
    entry = next;
  }
  if (dirty) radix_tree_tag_set(tree, index, PAGECACHE_TAG_DIRTY);
  tree.treeUnlock();
  return entry;
}

/** dax_load_hole() / dax_pmd_load_hole(): a read of a hole maps the zero page (the huge zero page for 512 pages) read-only behind a zero-page entry. */
function dax_load_hole(vmf: VmFault, index: number, entry: number, pages: number): number {
  dax_insert_mapping_entry(vmf, index, entry, 0, RADIX_DAX_ZERO_PAGE | (pages > 1 ? RADIX_DAX_PMD : 0), false);
  vmf.vma.insertPfn(index, ZERO_PFN, pages, false);
  return VM_FAULT_NOPAGE;
}

/** dax_iomap_pte_fault(): maps one page; a PMD entry covering it stays and is dirtied (fs/dax.c leaves it in the tree). */
export function dax_iomap_pte_fault(vmf: VmFault): number {
  return faultOn(vmf, vmf.pgoff, 1, false);
}

/**
 * dax_iomap_pmd_fault(): maps 2 MiB at once: a block extent that is 2 MiB long and aligned
 * (dax_pmd_insert_mapping), or, for a read of a hole or unwritten extent covering the 2 MiB,
 * the huge zero page (dax_pmd_load_hole). Anything else falls back: an iomap shorter than
 * 2 MiB, a misaligned extent, or a device whose pages cannot be mapped by PMD (brd).
 */
export function dax_iomap_pmd_fault(vmf: VmFault): number {
  return faultOn(vmf, vmf.pgoff & ~PG_PMD_COLOUR, PG_PMD_NR, true);
}

/** The common body of the PTE and PMD faults on `pages` pages from `index`. */
function faultOn(vmf: VmFault, index: number, pages: number, pmd: boolean): number {
  const pos = index * PAGE_SIZE;
  const maxPgoff = Math.ceil(readSize(vmf.fs.mw, inodeWord(vmf.fs.g, vmf.ino)) / PAGE_SIZE);
  if (index >= maxPgoff) return VM_FAULT_SIGBUS;
  // A PMD that would extend beyond the file size falls back (dax_iomap_pmd_fault).
  if (pmd && index + PG_PMD_NR > maxPgoff) return VM_FAULT_FALLBACK;
  const entry = grab_mapping_entry(vmf, index, pmd);
  if (entry === 0) return VM_FAULT_FALLBACK;
  const slot = vmf.entryIndex;
  const iomap = vmf.iomap;
  let keep = true;
  try {
    // ops->iomap_begin(): the `iomap_begin` step of an attributed fault (allocation and
    // zeroing inside it are steps of their own).
    stepEnter(STEP.iomap_begin);
    try {
      iomap_begin(vmf.fs, vmf.ino, pos, pages * PAGE_SIZE, vmf.write ? IOMAP_WRITE : 0, iomap);
    } catch (e) {
      stepLeave();
      return fsFault(vmf, e);
    }
    stepLeave();
    if (pmd && (iomap.offset + iomap.length < pos + PMD_SIZE || (iomap.type === IOMAP_MAPPED && !dax_iomap_pfn_pmd(vmf, iomap.blockno + (pos - iomap.offset) / PAGE_SIZE)))) {
      if (dax_is_empty_entry(entry)) keep = !dropLockedEntry(vmf, index);
      return VM_FAULT_FALLBACK;
    }
    const major = (iomap.flags & IOMAP_F_NEW) !== 0 ? VM_FAULT_MAJOR : 0;
    if (iomap.type === IOMAP_MAPPED) {
      const pfn = iomap.blockno + (pos - iomap.offset) / PAGE_SIZE;
      const sync = dax_fault_is_synchronous(vmf, iomap.flags);
      dax_insert_mapping_entry(vmf, slot, entry, pfn, pmd ? RADIX_DAX_PMD : 0, vmf.write && !sync);
      if (sync) {
        // Map nothing yet: the caller syncs the block map, then dax_finish_sync_fault maps it.
        vmf.pfn = pfn;
        vmf.syncIndex = index;
        vmf.syncPages = pages;
        vmf.needDsync++;
        return VM_FAULT_NEEDDSYNC | major;
      }
      vmf.vma.insertPfn(index, pfn, pages, vmf.write);
      return VM_FAULT_NOPAGE | major;
    }
    if ((iomap.type === IOMAP_HOLE || iomap.type === IOMAP_UNWRITTEN) && !vmf.write) {
      return dax_load_hole(vmf, index, entry, pages);
    }
    return fsFault(vmf, new Error(`dax fault: unexpected iomap type ${iomap.type} for a ${vmf.write ? 'write' : 'read'}`));
  } finally {
    if (keep) put_locked_mapping_entry(vmf.mapping.tree, slot);
  }
}

/**
 * dax_iomap_pfn() at PMD size: whether the device can map the 2 MiB from block `pfn` with
 * one PMD. The pfn must be 2 MiB aligned, and the driver must hand out the whole range with
 * struct pages (pfn_t_devmap): pmem does; brd (the `ramdisk` device of seed 002) gives one
 * page per dax_direct_access and no PFN_DEV|PFN_MAP (4.14), so its PMD faults always fall back.
 */
function dax_iomap_pfn_pmd(vmf: VmFault, pfn: number): boolean {
  return pfn % PG_PMD_NR === 0 && vmf.fs.dev.mode !== 'ramdisk';
}

/** Deletes the locked empty entry a fault inserted and abandoned, waking its waiters; true when deleted. */
function dropLockedEntry(vmf: VmFault, index: number): boolean {
  const tree = vmf.mapping.tree;
  tree.treeLock();
  const entry = radix_tree_delete(tree, index);
  tree.treeUnlock();
  entryLockReleased(tree.cpu);
  dax_wake_mapping_entry_waiter(tree, index, entry, true);
  return entry !== 0;
}

/**
 * dax_finish_sync_fault(): fdatasync the faulted range (the metadata side of fdatasync on a
 * page fault, seed 001), then dax_insert_pfn_mkwrite(): dirty the entry and map the page writable.
 */
export function dax_finish_sync_fault(vmf: VmFault, pe: PeSize): number {
  void pe; // the size the fault was finished at is in syncPages
  const index = vmf.syncIndex;
  const pages = vmf.syncPages;
  try {
    vfs_fsync_range(vmf.fs, vmf.ino, index * PAGE_SIZE, (index + pages) * PAGE_SIZE - 1, true);
  } catch (e) {
    return fsFault(vmf, e);
  }
  return dax_insert_pfn_mkwrite(vmf, index, pages);
}

/** dax_insert_pfn_mkwrite(): under the entry lock, tag DIRTY and map the synced pfn writable. */
export function dax_insert_pfn_mkwrite(vmf: VmFault, index: number, pages: number): number {
  const tree = vmf.mapping.tree;
  tree.treeLock();
  const entry = get_unlocked_mapping_entry(tree, index);
  // Raced with a truncate or a split: let the fault be retried.
  if (entry === 0 || dax_is_empty_entry(entry) || dax_is_zero_entry(entry) || (pages > 1) !== dax_is_pmd_entry(entry)) {
    tree.treeUnlock();
    put_unlocked_mapping_entry(tree, index, entry);
    return VM_FAULT_NOPAGE;
  }
  radix_tree_tag_set(tree, index, PAGECACHE_TAG_DIRTY);
  lock_slot(tree, index);
  tree.treeUnlock();
  vmf.vma.insertPfn(index, vmf.pfn, pages, true);
  put_locked_mapping_entry(tree, index);
  return VM_FAULT_NOPAGE;
}
