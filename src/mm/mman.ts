// The user-visible constants of mmap(2), msync(2) and the vm_flags they turn into, with the
// kernel's values (x86-64: include/uapi/asm-generic/mman-common.h, mman.h,
// include/uapi/linux/mman.h, include/linux/mman.h and include/linux/mm.h of Linux 4.15), and
// the typed signal a bad access raises. No state and no locks here.

// ---- prot ------------------------------------------------------------------------------

export const PROT_NONE = 0x0;
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const PROT_EXEC = 0x4;
/** PROT_GROWSDOWN / PROT_GROWSUP are mprotect-only; mmap ignores them, as do we. */
export const PROT_GROWSDOWN = 0x01000000;
export const PROT_GROWSUP = 0x02000000;

// ---- flags -----------------------------------------------------------------------------

export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
/** MAP_SHARED with validation of every other flag (4.15): unknown flags are EOPNOTSUPP. */
export const MAP_SHARED_VALIDATE = 0x03;
/** The mapping-type field of the flags. */
export const MAP_TYPE = 0x0f;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
export const MAP_32BIT = 0x40;
export const MAP_GROWSDOWN = 0x0100;
export const MAP_DENYWRITE = 0x0800;
export const MAP_EXECUTABLE = 0x1000;
export const MAP_LOCKED = 0x2000;
export const MAP_NORESERVE = 0x4000;
export const MAP_POPULATE = 0x8000;
export const MAP_NONBLOCK = 0x10000;
export const MAP_STACK = 0x20000;
export const MAP_HUGETLB = 0x40000;
/** Synchronous page faults for a DAX file (4.15): a write fault returns with the block map durable. */
export const MAP_SYNC = 0x80000;
/** 4.17; not in LEGACY_MAP_MASK, so MAP_SHARED_VALIDATE rejects it like any unknown flag. */
export const MAP_FIXED_NOREPLACE = 0x100000;
/** 0 unless CONFIG_MMAP_ALLOW_UNINITIALIZED; its bit 26 is inside MAP_HUGE_* anyway. */
export const MAP_UNINITIALIZED = 0x4000000;
export const MAP_HUGE_SHIFT = 26;
export const MAP_HUGE_2MB = 21 << MAP_HUGE_SHIFT;
export const MAP_HUGE_1GB = 30 << MAP_HUGE_SHIFT;

/**
 * LEGACY_MAP_MASK (include/linux/mman.h): the flags every mmap implementation accepted before
 * MAP_SHARED_VALIDATE; plain MAP_SHARED drops everything else without a word.
 */
export const LEGACY_MAP_MASK =
  (MAP_SHARED |
    MAP_PRIVATE |
    MAP_FIXED |
    MAP_ANONYMOUS |
    MAP_DENYWRITE |
    MAP_EXECUTABLE |
    MAP_UNINITIALIZED |
    MAP_GROWSDOWN |
    MAP_LOCKED |
    MAP_NORESERVE |
    MAP_POPULATE |
    MAP_NONBLOCK |
    MAP_STACK |
    MAP_HUGETLB |
    MAP_32BIT |
    MAP_HUGE_2MB |
    MAP_HUGE_1GB) >>>
  0;

/** file_operations.mmap_supported_flags of ext4 and xfs (4.15): MAP_SYNC. */
export const FS_MMAP_SUPPORTED_FLAGS = MAP_SYNC;

// ---- msync -----------------------------------------------------------------------------

export const MS_ASYNC = 1;
export const MS_INVALIDATE = 2;
export const MS_SYNC = 4;

// ---- open(2) access modes (the file a mapping is made from) -----------------------------

export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_ACCMODE = 3;

// ---- vm_flags (include/linux/mm.h) ------------------------------------------------------

export const VM_READ = 0x00000001;
export const VM_WRITE = 0x00000002;
export const VM_EXEC = 0x00000004;
export const VM_SHARED = 0x00000008;
export const VM_MAYREAD = 0x00000010;
export const VM_MAYWRITE = 0x00000020;
export const VM_MAYEXEC = 0x00000040;
export const VM_MAYSHARE = 0x00000080;
export const VM_GROWSDOWN = 0x00000100;
export const VM_LOCKED = 0x00002000;
/** Synchronous page faults (MAP_SYNC). */
export const VM_SYNC = 0x00800000;
/** A mapping of pfns without struct pages here: ext4_file_mmap / xfs_file_mmap set it on every DAX VMA (4.14). */
export const VM_MIXEDMAP = 0x10000000;
/** Faults try a PMD first: set on every DAX VMA by ext4_file_mmap / xfs_file_mmap, and by MADV_HUGEPAGE. */
export const VM_HUGEPAGE = 0x20000000;
/** MADV_NOHUGEPAGE: no PMD fault in this VMA, whatever VM_HUGEPAGE says (transparent_hugepage_enabled). */
export const VM_NOHUGEPAGE = 0x40000000;

// ---- madvise(2) advice (include/uapi/asm-generic/mman-common.h) ------------------------------

export const MADV_HUGEPAGE = 14;
export const MADV_NOHUGEPAGE = 15;

/** FAULT_FLAG_WRITE (include/linux/mm.h). */
export const FAULT_FLAG_WRITE = 0x01;

// ---- signals -----------------------------------------------------------------------------

export type MmSignal = 'SIGSEGV' | 'SIGBUS';
/** si_code: SEGV_MAPERR (no mapping there), SEGV_ACCERR (the mapping forbids the access), BUS_ADRERR (the fault failed). */
export type MmSiCode = 'SEGV_MAPERR' | 'SEGV_ACCERR' | 'BUS_ADRERR';

/**
 * What a CPU gets instead of a completed load or store: the signal the kernel would deliver.
 * `offset` is the faulting byte's offset in the mapping (si_addr minus the mapping's start);
 * `cause` is the filesystem error behind a SIGBUS (ENOSPC, EIO, ...), when there is one.
 */
export class MmFault extends Error {
  readonly signal: MmSignal;
  readonly siCode: MmSiCode;
  readonly offset: number;

  constructor(signal: MmSignal, siCode: MmSiCode, offset: number, message: string, cause?: unknown) {
    super(`${signal} (${siCode}) at offset ${offset}: ${message}`, cause === undefined ? undefined : { cause });
    this.name = 'MmFault';
    this.signal = signal;
    this.siCode = siCode;
    this.offset = offset;
  }
}

/** Whether `e` is an MmFault, optionally with a given signal. */
export function isMmFault(e: unknown, signal?: MmSignal): e is MmFault {
  return e instanceof MmFault && (signal === undefined || e.signal === signal);
}
