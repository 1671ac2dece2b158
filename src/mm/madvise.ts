// madvise(2) of a whole mapping, for the advice that decides whether its faults try a PMD
// (mm/madvise.c -> hugepage_madvise() in mm/khugepaged.c, Linux 4.14 and today).
//
// Locking rules: as mm.ts. The VMA's flags word changes under mmap_sem (madvise takes it for
// write when the advice changes vm_flags, as here); a fault reads the word when it decides
// its size, so a fault already past that point keeps the size it chose, as in the kernel.
// Mappings already made huge stay huge: the advice is for the faults to come.

import { VMA, VMA_MAPPED } from '../machine/layout.js';
import { FsError } from '../fs/errno.js';
import { entry_SYSCALL_64 } from '../fs/inode.js';
import type { Vma } from './memory.js';
import { mmap_write_lock, mmap_write_unlock } from './vma_lock.js';
import { MADV_HUGEPAGE, MADV_NOHUGEPAGE, VM_HUGEPAGE, VM_NOHUGEPAGE } from './mman.js';

/** The advice the lab takes, by name (the workload's `madvise` field). */
export const MADV_NAMES = { MADV_HUGEPAGE, MADV_NOHUGEPAGE } as const;
export type MadvName = keyof typeof MADV_NAMES;

/**
 * madvise(addr, length, advice) over the whole of `vma`. MADV_HUGEPAGE sets VM_HUGEPAGE and
 * clears VM_NOHUGEPAGE; MADV_NOHUGEPAGE does the reverse (hugepage_madvise). EINVAL for any
 * other advice; ENOMEM when the mapping is gone (munmap), as for an unmapped range.
 */
export function madvise(vma: Vma, advice: number): void {
  entry_SYSCALL_64(vma.mm.fs);
  if (advice !== MADV_HUGEPAGE && advice !== MADV_NOHUGEPAGE) {
    throw new FsError('EINVAL', `madvise: advice ${String(advice)}: the lab takes MADV_HUGEPAGE (${MADV_HUGEPAGE}) and MADV_NOHUGEPAGE (${MADV_NOHUGEPAGE})`);
  }
  const mm = vma.mm;
  const { vmas, st } = mm;
  const at = vma.id * VMA.stride;
  mmap_write_lock(mm.cpu, st);
  try {
    if (Atomics.load(vmas, at + VMA.state) !== VMA_MAPPED || Atomics.load(vmas, at + VMA.gen) !== vma.gen) {
      throw new FsError('ENOMEM', `madvise: vma ${vma.id} is not mapped (munmap)`);
    }
    const flags = Atomics.load(vmas, at + VMA.flags);
    const next = advice === MADV_HUGEPAGE ? (flags & ~VM_NOHUGEPAGE) | VM_HUGEPAGE : (flags & ~VM_HUGEPAGE) | VM_NOHUGEPAGE;
    Atomics.store(vmas, at + VMA.flags, next);
  } finally {
    mmap_write_unlock(mm.cpu, st);
  }
}
