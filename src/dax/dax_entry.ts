// A DAX entry: what fs/dax.c keeps in a mapping-index slot, packed into one Int32 the way
// Linux 4.14-4.19 pack it into an exceptional radix-tree entry:
//
//   bit 0        RADIX_TREE_EXCEPTIONAL_ENTRY: set in every entry, so a present entry is never 0
//   bit 1        RADIX_DAX_ENTRY_LOCK: the entry lock (sleepers wait on a hashed wait queue)
//   bit 2        RADIX_DAX_PMD: a 2 MiB entry (otherwise 4 KiB)
//   bit 3        RADIX_DAX_ZERO_PAGE: a read-only hole mapped to the zero page
//   bit 4        RADIX_DAX_EMPTY: a locked placeholder with no block yet
//   bits 5..30   the pfn (RADIX_DAX_SHIFT), up to DAX_MAX_PFN
//
// Differences from the kernel: the kernel's exceptional marker is bit 1 (bit 0 marks an
// internal node pointer there), so its RADIX_TREE_EXCEPTIONAL_SHIFT is 2 and RADIX_DAX_SHIFT 6;
// here a slot's meaning comes from its node's shift, so bit 0 is free for the marker. 4.14
// stored a sector in the entry; 4.16 switched to the pfn (dax_radix_pfn), which is what we
// keep. Today's kernel (XArray) packs the same bits as a value entry: DAX_LOCKED, DAX_PMD,
// DAX_ZERO_PAGE, DAX_EMPTY, pfn above DAX_SHIFT (dax_make_entry, dax_to_pfn).
//
// No locks here: these are pure functions of a value. The lock bit is only changed under
// the mapping's tree_lock (see radix_tree.ts).

export const RADIX_TREE_EXCEPTIONAL_ENTRY = 1;
export const RADIX_TREE_EXCEPTIONAL_SHIFT = 1;

export const RADIX_DAX_ENTRY_LOCK = 1 << RADIX_TREE_EXCEPTIONAL_SHIFT;
export const RADIX_DAX_PMD = 1 << (RADIX_TREE_EXCEPTIONAL_SHIFT + 1);
export const RADIX_DAX_ZERO_PAGE = 1 << (RADIX_TREE_EXCEPTIONAL_SHIFT + 2);
export const RADIX_DAX_EMPTY = 1 << (RADIX_TREE_EXCEPTIONAL_SHIFT + 3);
export const RADIX_DAX_SHIFT = RADIX_TREE_EXCEPTIONAL_SHIFT + 4;

/** The flag bits a caller may pass to dax_radix_locked_entry (the lock bit is always set). */
export const RADIX_DAX_FLAGS = RADIX_DAX_ENTRY_LOCK | RADIX_DAX_PMD | RADIX_DAX_ZERO_PAGE | RADIX_DAX_EMPTY;
/** Largest pfn an entry can hold: 2^26 - 1 pages (256 GiB of 4 KiB pages); the entry stays a positive Int32. */
export const DAX_MAX_PFN = 2 ** (31 - RADIX_DAX_SHIFT) - 1;

/** PMD_SHIFT - PAGE_SHIFT: a PMD entry covers 512 pages. */
export const PMD_ORDER = 9;
/** PG_PMD_COLOUR: the page-index bits inside one PMD. */
export const PG_PMD_COLOUR = (1 << PMD_ORDER) - 1;
/** PG_PMD_NR: pages per PMD entry. */
export const PG_PMD_NR = 1 << PMD_ORDER;

/** dax_radix_locked_entry(): a new entry for pfn with flags (RADIX_DAX_PMD / _ZERO_PAGE / _EMPTY), locked. */
export function dax_radix_locked_entry(pfn: number, flags: number): number {
  if (!Number.isInteger(pfn) || pfn < 0 || pfn > DAX_MAX_PFN) {
    throw new RangeError(`pfn: expected an integer from 0 to ${DAX_MAX_PFN}, got ${String(pfn)}`);
  }
  if (!Number.isInteger(flags) || (flags & ~RADIX_DAX_FLAGS) !== 0 || flags < 0) {
    throw new RangeError(
      `flags: expected a combination of RADIX_DAX_PMD (${RADIX_DAX_PMD}), RADIX_DAX_ZERO_PAGE (${RADIX_DAX_ZERO_PAGE}), ` +
        `RADIX_DAX_EMPTY (${RADIX_DAX_EMPTY}) and RADIX_DAX_ENTRY_LOCK (${RADIX_DAX_ENTRY_LOCK}), got ${String(flags)}`,
    );
  }
  return RADIX_TREE_EXCEPTIONAL_ENTRY | flags | (pfn << RADIX_DAX_SHIFT) | RADIX_DAX_ENTRY_LOCK;
}

/** dax_radix_pfn(): the pfn an entry maps. */
export function dax_radix_pfn(entry: number): number {
  return entry >>> RADIX_DAX_SHIFT;
}

/** dax_radix_order(): log2 of the pages the entry covers (9 for a PMD entry, else 0). */
export function dax_radix_order(entry: number): number {
  return (entry & RADIX_DAX_PMD) !== 0 ? PMD_ORDER : 0;
}

/** dax_is_pmd_entry(). */
export function dax_is_pmd_entry(entry: number): boolean {
  return (entry & RADIX_DAX_PMD) !== 0;
}

/** dax_is_pte_entry(). */
export function dax_is_pte_entry(entry: number): boolean {
  return (entry & RADIX_DAX_PMD) === 0;
}

/** dax_is_zero_entry(). */
export function dax_is_zero_entry(entry: number): boolean {
  return (entry & RADIX_DAX_ZERO_PAGE) !== 0;
}

/** dax_is_empty_entry(). */
export function dax_is_empty_entry(entry: number): boolean {
  return (entry & RADIX_DAX_EMPTY) !== 0;
}

/** radix_tree_exceptional_entry(): true for every DAX entry (the marker bit). */
export function radix_tree_exceptional_entry(entry: number): boolean {
  return (entry & RADIX_TREE_EXCEPTIONAL_ENTRY) !== 0;
}

/** Whether an entry's lock bit is set (the value half of fs/dax.c's slot_locked()). */
export function daxEntryIsLocked(entry: number): boolean {
  return (entry & RADIX_DAX_ENTRY_LOCK) !== 0;
}

/** The entry with its lock bit set (the value half of lock_slot()). */
export function daxEntryLock(entry: number): number {
  return entry | RADIX_DAX_ENTRY_LOCK;
}

/** The entry with its lock bit clear (the value half of unlock_slot()). */
export function daxEntryUnlock(entry: number): number {
  return entry & ~RADIX_DAX_ENTRY_LOCK;
}

/** The entry's flag bits (RADIX_DAX_PMD | _ZERO_PAGE | _EMPTY), without the lock bit. */
export function daxEntryFlags(entry: number): number {
  return entry & (RADIX_DAX_PMD | RADIX_DAX_ZERO_PAGE | RADIX_DAX_EMPTY);
}

/** Whether a value is a well-formed entry: a positive Int32 with the exceptional marker set. */
export function isDaxEntry(value: number): boolean {
  return (value | 0) === value && value > 0 && (value & RADIX_TREE_EXCEPTIONAL_ENTRY) !== 0;
}

/** Throws a RangeError naming `name` unless `value` is a well-formed entry. */
export function checkDaxEntry(name: string, value: number): number {
  if ((value | 0) !== value || value <= 0 || (value & RADIX_TREE_EXCEPTIONAL_ENTRY) === 0) {
    throw new RangeError(
      `${name}: expected a DAX entry (an odd Int32 from 1 to 2147483647, as dax_radix_locked_entry makes), got ${String(value)}`,
    );
  }
  return value;
}

/** A readable form of an entry, for checker messages and test failures. */
export function describeDaxEntry(entry: number): string {
  if (!isDaxEntry(entry)) return `bad entry ${entry}`;
  const f: string[] = [];
  if (entry & RADIX_DAX_ENTRY_LOCK) f.push('LOCK');
  if (entry & RADIX_DAX_PMD) f.push('PMD');
  if (entry & RADIX_DAX_ZERO_PAGE) f.push('ZERO_PAGE');
  if (entry & RADIX_DAX_EMPTY) f.push('EMPTY');
  return `pfn ${dax_radix_pfn(entry)}${f.length ? ' ' + f.join('|') : ''}`;
}
