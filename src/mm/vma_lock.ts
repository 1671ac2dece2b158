// mmap_sem and the per-VMA pin (VMA.users): the two ways mm/ keeps a VMA from changing under
// a CPU. The rules are in mm.ts's header.

import { LOCK_CLASS, MM, VMA, VMA_MAPPED } from '../machine/layout.js';
import type { Cpu } from '../sync/cpu.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { vnotify, vwaitEvent } from '../sync/vclock.js';

/** down_write(&mm->mmap_sem): st is views.mmState. */
export function mmap_write_lock(cpu: Cpu, st: Int32Array): void {
  spin_lock(cpu, st, MM.lockState, LOCK_CLASS.mmap_sem);
}

/** up_write(&mm->mmap_sem). */
export function mmap_write_unlock(cpu: Cpu, st: Int32Array): void {
  spin_unlock(cpu, st, MM.lockState, LOCK_CLASS.mmap_sem);
}

/** vma_start_read(): pins VMA slot `at` (a word offset into views.mmVmas); the caller then checks its state. */
export function vma_start_read(vmas: Int32Array, at: number): void {
  Atomics.add(vmas, at + VMA.users, 1);
}

/** vma_end_read(): unpins; the last user of a VMA that is no longer MAPPED wakes its munmap. */
export function vma_end_read(cpu: Cpu, vmas: Int32Array, at: number): void {
  if (Atomics.sub(vmas, at + VMA.users, 1) === 1 && Atomics.load(vmas, at + VMA.state) !== VMA_MAPPED) {
    vnotify(cpu, vmas, at + VMA.users);
  }
}

/** Waits until nobody pins VMA slot `at` (munmap, holding mmap_sem, after it changed the VMA's state). */
export function vma_wait_users(cpu: Cpu, vmas: Int32Array, at: number): void {
  for (;;) {
    const users = Atomics.load(vmas, at + VMA.users);
    if (users === 0) return;
    if (users < 0) throw new Error(`vma ${at / VMA.stride}: users went negative (${users})`);
    vwaitEvent(cpu, vmas, at + VMA.users, users, 5);
  }
}
