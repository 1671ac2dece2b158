// mmap(2) and munmap(2) (mm/mmap.c do_mmap / mmap_region / do_munmap, Linux 4.15 with the
// MAP_SYNC series, and the ->mmap of ext4 and xfs), and attaching a mapping made on another CPU.
//
// Locking rules: as mm.ts. mmap and munmap hold mmap_sem for the whole change of the VMA
// table; munmap sleeps inside it until the VMA's faults and rmap walks have drained. A new VMA
// is published by its state word (Atomics.store of VMA_MAPPED after every other field), so a
// CPU that sees it MAPPED sees its fields.
//
// What mmap checks, in the kernel's order (FsError codes):
//   EINVAL       offset not a multiple of the page size (sys_mmap); a length of 0; a
//                mapping type (flags & MAP_TYPE) other than MAP_SHARED, MAP_PRIVATE or
//                MAP_SHARED_VALIDATE; MAP_GROWSDOWN on a file; MAP_HUGETLB on a file that is
//                not hugetlbfs; arguments that are not non-negative integers, and an
//                openFlags other than O_RDONLY, O_WRONLY or O_RDWR (the lab's).
//   ENOENT       no such inode (the lab's file handle is an inode number; the kernel says EBADF).
//   EOVERFLOW    offset + length past the largest file (file_mmap_ok).
//   EOPNOTSUPP   MAP_SHARED_VALIDATE with a flag outside LEGACY_MAP_MASK | MAP_SYNC (ext4's
//                and xfs's mmap_supported_flags); MAP_SYNC on a file that is not DAX
//                (ext4_file_mmap / xfs_file_mmap refuse VM_SYNC there).
//   EACCES       PROT_WRITE on a shared mapping of a file not opened for writing; any
//                mapping of a file not opened for reading.
//   ENOMEM       no free VMA slot (map_count over its limit) or no room in the PTE pool.
//   ENODEV       the inode has no mapping index (inode >= the machine's `mappings`).
// MAP_SYNC with plain MAP_SHARED is silently ignored: no VM_SYNC, and no EOPNOTSUPP on a
// file that is not DAX. That is the documented behaviour issue 6 asks for (mmap(2); patch 12
// of seed 002, "mm: Define MAP_SYNC and VM_SYNC flags": "silently ignored for everything
// else"), but not what the kernel's code does. do_mmap() computes vm_flags with
// calc_vm_flag_bits(flags) before its MAP_SHARED case masks flags with LEGACY_MAP_MASK, and
// calc_vm_flag_bits() has turned MAP_SYNC into VM_SYNC since that patch (4.15); the mask only
// keeps MAP_SHARED clear of the EOPNOTSUPP check of unknown flags. So on 4.15 and on today's
// kernels MAP_SHARED | MAP_SYNC does set VM_SYNC: a DAX file gets synchronous faults, and
// ->mmap refuses a file that is not DAX with EOPNOTSUPP (ext4_file_mmap's and xfs_file_mmap's
// IS_DAX test in 4.15, daxdev_mapping_supported() today). The lab masks before it computes
// vm_flags instead (see vmFlagsFrom in mmap()). MAP_PRIVATE validates no flags at all; MAP_SYNC
// there sets VM_SYNC as calc_vm_flag_bits() does (EOPNOTSUPP on a non-DAX file, harmless on a
// DAX one: private write faults copy, they never take the synchronous path).
//
// Lab limits, reported as EOPNOTSUPP: MAP_ANONYMOUS (no anonymous memory), and MAP_PRIVATE
// with PROT_WRITE (copy-on-write of a DAX page into anonymous memory is not modelled).
// MAP_FIXED and the other legacy flags are accepted and ignored (there is no address space
// to place a mapping in); MAP_POPULATE read-faults the pages below i_size, as mm_populate does
// for a shared mapping. A `dax: false` file only changes the checks above: the lab has no page
// cache, so its faults still go through DAX.

import { MM, PAGE_SIZE, VMA, VMA_DYING, VMA_FREE, VMA_MAPPED } from '../machine/layout.js';
import { FsError } from '../fs/errno.js';
import { checkInUse, checkIno, lockInode, unlockInode } from '../fs/super.js';
import { FS_MAX_BYTES, inodeWord, readSize } from '../fs/ondisk.js';
import type { Mm } from './mm.js';
import { Vma, type VmaRef } from './memory.js';
import { mmap_write_lock, mmap_write_unlock, vma_end_read, vma_start_read, vma_wait_users } from './vma_lock.js';
import {
  FS_MMAP_SUPPORTED_FLAGS,
  LEGACY_MAP_MASK,
  MAP_ANONYMOUS,
  MAP_GROWSDOWN,
  MAP_HUGETLB,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_SYNC,
  MAP_TYPE,
  MAP_LOCKED,
  MmFault,
  O_ACCMODE,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  VM_EXEC,
  VM_GROWSDOWN,
  VM_HUGEPAGE,
  VM_LOCKED,
  VM_MIXEDMAP,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_READ,
  VM_SHARED,
  VM_SYNC,
  VM_WRITE,
} from './mman.js';
import { zap_page_range_single } from './rmap.js';
import { MAX_MAPPING_BYTES } from '../machine/layout.js';

export { MAX_MAPPING_BYTES };

export interface MmapOptions {
  /** Whether the file is DAX (default true). false models a file on a non-DAX mount: MAP_SYNC is EOPNOTSUPP. */
  dax?: boolean;
  /** The file's open(2) access mode: O_RDONLY, O_WRONLY or O_RDWR (default). */
  openFlags?: number;
}

function checkArg(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new FsError('EINVAL', `mmap: ${name}: expected an integer from 0 to ${max}, got ${String(v)}`);
}

/** calc_vm_prot_bits(). */
function calc_vm_prot_bits(prot: number): number {
  return (prot & PROT_READ ? VM_READ : 0) | (prot & PROT_WRITE ? VM_WRITE : 0) | (prot & PROT_EXEC ? VM_EXEC : 0);
}

/** calc_vm_flag_bits(). */
function calc_vm_flag_bits(flags: number): number {
  return (flags & MAP_GROWSDOWN ? VM_GROWSDOWN : 0) | (flags & MAP_LOCKED ? VM_LOCKED : 0) | (flags & MAP_SYNC ? VM_SYNC : 0);
}

/**
 * mmap(2) of `length` bytes of inode ino from byte `offset`, on this CPU: validates as
 * do_mmap() does, makes the VMA (no page is mapped until it is touched) and returns this
 * CPU's handle. Other CPUs attach with attachVma(mm, vma.ref).
 */
export function mmap(mm: Mm, ino: number, length: number, prot: number, flags: number, offset: number, opts: MmapOptions = {}): Vma {
  // sys_mmap / ksys_mmap_pgoff
  checkArg('length', length, Number.MAX_SAFE_INTEGER);
  checkArg('prot', prot, 0xffffffff);
  checkArg('flags', flags, 0xffffffff);
  checkArg('offset', offset, Number.MAX_SAFE_INTEGER);
  const openFlags = opts.openFlags ?? O_RDWR;
  if (openFlags !== O_RDONLY && openFlags !== O_WRONLY && openFlags !== O_RDWR) {
    throw new FsError('EINVAL', `mmap: openFlags: expected O_RDONLY, O_WRONLY or O_RDWR, got ${String(openFlags)}`);
  }
  const fmodeRead = (openFlags & O_ACCMODE) !== O_WRONLY;
  const fmodeWrite = (openFlags & O_ACCMODE) !== O_RDONLY;
  const dax = opts.dax ?? true;
  if (offset % PAGE_SIZE !== 0) throw new FsError('EINVAL', `mmap: offset ${offset} is not a multiple of the page size (${PAGE_SIZE})`);
  const fs = mm.fs;
  checkIno(fs, ino);
  lockInode(fs, ino);
  try {
    checkInUse(fs, ino);
  } finally {
    unlockInode(fs, ino);
  }
  if ((flags & MAP_ANONYMOUS) !== 0) throw new FsError('EOPNOTSUPP', 'mmap: MAP_ANONYMOUS: the lab has no anonymous memory');
  if ((flags & MAP_HUGETLB) !== 0) throw new FsError('EINVAL', `mmap: MAP_HUGETLB on inode ${ino}, which is not a hugetlbfs file`);

  // do_mmap
  if (length === 0) throw new FsError('EINVAL', 'mmap: length 0');
  const len = Math.ceil(length / PAGE_SIZE) * PAGE_SIZE;
  if (len > MAX_MAPPING_BYTES) throw new FsError('ENOMEM', `mmap: ${len} bytes is more than the lab maps at once (${MAX_MAPPING_BYTES})`);
  const type = flags & MAP_TYPE;
  // The lab's order, not do_mmap's: plain MAP_SHARED drops the flags outside LEGACY_MAP_MASK
  // (MAP_SYNC among them) before vm_flags are made, so MAP_SYNC is ignored as documented. The
  // kernel masks only after calc_vm_flag_bits() and so sets VM_SYNC (see the header).
  const vmFlagsFrom = type === MAP_SHARED ? (flags & LEGACY_MAP_MASK) >>> 0 : flags;
  let vmFlags = calc_vm_prot_bits(prot) | calc_vm_flag_bits(vmFlagsFrom) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
  // file_mmap_ok
  if (offset + len > FS_MAX_BYTES) throw new FsError('EOVERFLOW', `mmap: [${offset}, ${offset + len}) runs past the largest file (${FS_MAX_BYTES} bytes)`);
  // The switch on the mapping type, MAP_SHARED falling through to MAP_SHARED_VALIDATE and both to MAP_PRIVATE.
  if (type !== MAP_SHARED && type !== MAP_SHARED_VALIDATE && type !== MAP_PRIVATE) {
    throw new FsError('EINVAL', `mmap: mapping type 0x${type.toString(16)} is none of MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE`);
  }
  if (type !== MAP_PRIVATE) {
    const unknown = (vmFlagsFrom & ~(LEGACY_MAP_MASK | FS_MMAP_SUPPORTED_FLAGS)) >>> 0;
    if (unknown !== 0) throw new FsError('EOPNOTSUPP', `mmap: MAP_SHARED_VALIDATE with unknown flags 0x${unknown.toString(16)}`);
    if ((prot & PROT_WRITE) !== 0 && !fmodeWrite) throw new FsError('EACCES', 'mmap: PROT_WRITE on a shared mapping of a file not open for writing');
    vmFlags |= VM_SHARED | VM_MAYSHARE;
    if (!fmodeWrite) vmFlags &= ~(VM_MAYWRITE | VM_SHARED);
  }
  if (!fmodeRead) throw new FsError('EACCES', 'mmap: the file is not open for reading');
  if ((vmFlags & VM_GROWSDOWN) !== 0) throw new FsError('EINVAL', 'mmap: MAP_GROWSDOWN on a file mapping');
  // ->mmap: ext4_file_mmap / xfs_file_mmap
  if (!dax && (vmFlags & VM_SYNC) !== 0) throw new FsError('EOPNOTSUPP', 'mmap: MAP_SYNC on a file that is not DAX');
  // A DAX VMA gets VM_HUGEPAGE whatever the program asked (ext4_file_mmap and xfs_file_mmap,
  // 4.14 and today): its faults try a PMD first unless the program refuses with
  // madvise(MADV_NOHUGEPAGE). The address is 2 MiB-congruent with the file offset
  // (thp_get_unmapped_area, ext4's and xfs's get_unmapped_area), so the lab's PMD test on file
  // offsets (Vma.pmdFits) is the kernel's on addresses.
  if (dax) vmFlags |= VM_MIXEDMAP | VM_HUGEPAGE;
  if (type === MAP_PRIVATE && (prot & PROT_WRITE) !== 0) {
    throw new FsError('EOPNOTSUPP', 'mmap: MAP_PRIVATE with PROT_WRITE: copy-on-write of DAX pages is not modelled');
  }
  if (ino >= mm.cpu.machine.config.mappings) {
    throw new FsError('ENODEV', `mmap: inode ${ino} has no mapping index (the machine has ${mm.cpu.machine.config.mappings} mappings)`);
  }
  const vma = mmap_region(mm, ino, offset / PAGE_SIZE, len / PAGE_SIZE, vmFlags);
  if ((flags & MAP_POPULATE) !== 0) mm_populate(vma);
  return vma;
}

/**
 * mmap_region(): under mmap_sem, takes the lowest free VMA slot and the first PTE range
 * that fits (get_unmapped_area's job here), fills the slot and publishes it.
 */
export function mmap_region(mm: Mm, ino: number, pgoff: number, pages: number, vmFlags: number): Vma {
  const { vmas, st, ptes } = mm;
  const slots = mm.cpu.machine.config.vmas;
  mmap_write_lock(mm.cpu, st);
  try {
    let id = -1;
    for (let v = 0; v < slots && id < 0; v++) if (Atomics.load(vmas, v * VMA.stride + VMA.state) === VMA_FREE) id = v;
    if (id < 0) throw new FsError('ENOMEM', `mmap: all ${slots} VMA slots are in use`);
    const base = get_unmapped_area(mm, pages);
    const at = id * VMA.stride;
    ptes.fill(0, base, base + pages);
    vmas[at + VMA.ino] = ino;
    vmas[at + VMA.pgoff] = pgoff;
    vmas[at + VMA.pages] = pages;
    vmas[at + VMA.flags] = vmFlags;
    vmas[at + VMA.pteBase] = base;
    const gen = (vmas[at + VMA.gen] + 1) | 0;
    Atomics.store(vmas, at + VMA.gen, gen);
    Atomics.store(vmas, at + VMA.state, VMA_MAPPED);
    st[MM.mapCount]++;
    if (id + 1 > st[MM.vmaHigh]) Atomics.store(st, MM.vmaHigh, id + 1);
    if (base + pages > st[MM.pteHigh]) st[MM.pteHigh] = base + pages;
    return new Vma(mm, id, gen, ino, pgoff, pages, vmFlags, base);
  } finally {
    mmap_write_unlock(mm.cpu, st);
  }
}

/** The first gap of `pages` PTE words between the live VMAs' ranges (mmap_sem held); ENOMEM when none. */
function get_unmapped_area(mm: Mm, pages: number): number {
  const { vmas } = mm;
  const high = mm.st[MM.vmaHigh];
  const ranges: [number, number][] = [];
  for (let v = 0; v < high; v++) {
    const at = v * VMA.stride;
    if (vmas[at + VMA.state] !== VMA_FREE) ranges.push([vmas[at + VMA.pteBase], vmas[at + VMA.pages]]);
  }
  ranges.sort((a, b) => a[0] - b[0]);
  let base = 0;
  for (const [b, n] of ranges) {
    if (b - base >= pages) break;
    base = Math.max(base, b + n);
  }
  const pool = mm.cpu.machine.config.ptePages;
  if (base + pages > pool) {
    throw new FsError('ENOMEM', `mmap: no room for ${pages} page-table entries in the PTE pool (${pool} entries; config ptePages)`);
  }
  return base;
}

/** mm_populate() of a shared mapping: read-faults every page below i_size (MAP_POPULATE), stopping at the first failure. */
function mm_populate(vma: Vma): void {
  const fs = vma.mm.fs;
  const size = readSize(fs.mw, inodeWord(fs.g, vma.ino));
  const pages = Math.min(vma.pages, Math.ceil(size / PAGE_SIZE) - vma.pgoff);
  const one = new Uint8Array(1);
  try {
    for (let p = 0; p < pages; p++) vma.loadInto(p * PAGE_SIZE, one);
  } catch (e) {
    if (!(e instanceof MmFault)) throw e;
  }
}

/**
 * Attaches this CPU to a mapping made on another CPU (threads of one process share their
 * mappings). SIGSEGV as an MmFault when it is not mapped any more, or the reference names no
 * VMA slot at all (a reference is the lab's stand-in for an address in the mapping).
 */
export function attachVma(mm: Mm, ref: VmaRef): Vma {
  const slots = mm.cpu.machine.config.vmas;
  if (!Number.isInteger(ref.id) || ref.id < 0 || ref.id >= slots) {
    throw new MmFault('SIGSEGV', 'SEGV_MAPERR', 0, `vma ${String(ref.id)} is no VMA slot (the machine has ${slots}, 0 to ${slots - 1}): nothing is mapped there`);
  }
  const vmas = mm.vmas;
  const at = ref.id * VMA.stride;
  vma_start_read(vmas, at);
  try {
    if (Atomics.load(vmas, at + VMA.state) !== VMA_MAPPED || Atomics.load(vmas, at + VMA.gen) !== ref.gen) {
      throw new MmFault('SIGSEGV', 'SEGV_MAPERR', 0, `vma ${ref.id} (generation ${ref.gen}) is not mapped`);
    }
    return new Vma(mm, ref.id, ref.gen, vmas[at + VMA.ino], vmas[at + VMA.pgoff], vmas[at + VMA.pages], vmas[at + VMA.flags], vmas[at + VMA.pteBase]);
  } finally {
    vma_end_read(mm.cpu, vmas, at);
  }
}

/**
 * munmap(2) of the whole mapping (do_munmap): under mmap_sem, retires the VMA (every CPU's
 * handle then gets SIGSEGV), waits for its faults and rmap walks, zaps its PTEs and frees
 * the slot. Unmapping what is not mapped any more does nothing, as munmap of a hole succeeds.
 */
export function munmap(vma: Vma): void {
  const mm = vma.mm;
  const { vmas, st } = mm;
  const at = vma.id * VMA.stride;
  mmap_write_lock(mm.cpu, st);
  try {
    if (Atomics.load(vmas, at + VMA.state) !== VMA_MAPPED || Atomics.load(vmas, at + VMA.gen) !== vma.gen) return;
    Atomics.store(vmas, at + VMA.gen, (vma.gen + 1) | 0);
    Atomics.store(vmas, at + VMA.state, VMA_DYING);
    vma_wait_users(mm.cpu, vmas, at);
    zap_page_range_single(mm, at, vma.pgoff, vma.pages);
    Atomics.store(vmas, at + VMA.state, VMA_FREE);
    // rmap walkers that pinned the slot while it was DYING finish before it can be reused.
    vma_wait_users(mm.cpu, vmas, at);
    st[MM.mapCount]--;
  } finally {
    mmap_write_unlock(mm.cpu, st);
  }
}
