// The injected costs: one named constant per kernel or device step that a JavaScript
// simulation does not pay by itself, in nanoseconds. A constant is the cost of one step
// (one trap, one block zeroed, one line flushed), never a per-configuration fudge: a fault
// that zeroes 512 blocks pays zeroBlockNs 512 times.
//
// The machine carries them (MachineConfig.costs), so every CPU worker sees the same costs
// through attachMachine(); each module copies the ones it charges into its per-CPU
// instance once (PmemDevice, Fs, Journal, Vma) and tests `> 0` before charging, so the
// zero-cost path stays as fast as without costs. Profiles (profile.ts) are files of these
// constants, each with its kind and source; the cost of waking an idle CPU is a distribution,
// not a constant (idle_wakeup.ts).
//
// No dependencies here: layout.ts imports this file, and every worker loads layout.ts.

/** Every cost, in the order profiles and reports list them. */
export const COST_NAMES = [
  'trapNs',
  'syscallNs',
  'zeroBlockNs',
  'allocNs',
  'flushLineNs',
  'fenceNs',
  'storeLineNs',
  'copyBlockNs',
  'journalBlockWriteNs',
  'journalFlushNs',
  'commitNs',
  'lockNs',
  'lockHandoffNs',
  'wakeupNs',
  'radixLevelNs',
  'tagNs',
  'pteNs',
  'iomapNs',
  'handleNs',
  'tlbShootdownNs',
  'tlbShootdownTargetNs',
  'tlbFlushIrqNs',
  'mbSearchNs',
  'allocJournalNs',
  'extentNs',
] as const;
export type CostName = (typeof COST_NAMES)[number];

/** Injected cost per step, ns. */
export type Costs = Record<CostName, number>;

/** What each cost is the cost of, and where the lab charges it. */
export const COST_MEANINGS: Readonly<Record<CostName, string>> = {
  trapNs: 'page-fault exception entry/exit and the handle_mm_fault walk, per fault (exc_page_fault in mm/memory.ts)',
  syscallNs: 'system-call entry/exit, per write/read/fsync/fdatasync/fallocate/truncate/creat/msync call (entry_SYSCALL_64)',
  zeroBlockNs: 'zeroing one 4 KiB block for IOMAP_F_NEW with non-temporal stores, per block (ext4_issue_zeroout; a PMD fault pays 512)',
  allocNs:
    "one block-allocation call's own work outside the group lock: the allocation context, the request's normalisation, the preallocation lookup, loading the buddy, quota (ext4_mb_new_blocks; the search, the journalling and the extent are apart: mbSearchNs, allocJournalNs, extentNs)",
  flushLineNs: 'clwb of one 64-byte line, per line of the flushed range (arch_wb_cache_pmem: writeback, flushUser, metadata)',
  fenceNs: 'sfence/wmb after flushes, per fence (pmem fence)',
  storeLineNs: "a user store's 64-byte line reaching the device's write-pending queue, per line stored (Vma.store)",
  copyBlockNs: 'copying 4 KiB with copy_from_iter_flushcache in write(2) (background copy), pro rata per byte',
  journalBlockWriteNs: 'writing one journal block: descriptor, metadata copy, commit block or fast-commit block (submit_bh); xfs: one log block copied into an iclog (xlog_write)',
  journalFlushNs: 'the REQ_PREFLUSH/REQ_FUA that makes a commit durable, per flush (the pmem driver: nvdimm_flush); xfs: each iclog write has one, and completes that long after it was submitted (xlog_sync)',
  commitNs: "jbd2_journal_commit_transaction's own work per full commit, beside its block writes and flush: switching transactions, walking the buffer lists, the journal superblock; xfs: a CIL push's (xlog_cil_push_work)",
  lockNs: 'an uncontended lock taken and released: spin_lock/spin_unlock, down_read/up_read, down_write/up_write, per acquisition (sync/spinlock.ts, sync/rwsem.ts)',
  lockHandoffNs: "a contended lock's cache line moving to the next holder, per hand-over (the qspinlock queue's hand-off; sync/vclock.ts)",
  wakeupNs: 'a CPU that slept on a wait queue or futex running again: try_to_wake_up() and the context switch, per wake-up by an event (sync/vclock.ts vwait)',
  radixLevelNs: 'one radix-tree level walked by a lookup, insert or tagged walk, per node visited (radix_tree_descend)',
  tagNs: 'setting or clearing a DIRTY/TOWRITE tag on an entry and its path to the root, per call (radix_tree_tag_set / radix_tree_tag_clear)',
  pteNs: 'writing one page-table entry: set_pte_at for a fault, the write-protect or clear of a mapped page by writeback or unmap with its TLB flush (mm/)',
  iomapNs: "iomap_begin's extent lookup: ext4_map_blocks / xfs_bmapi_read finding the mapping, per call, beside any allocation (allocNs)",
  handleNs: 'a journal handle started and stopped: jbd2__journal_start + jbd2_journal_stop, per handle (start_this_handle)',
  tlbShootdownNs:
    "a remote TLB flush's round trip: the IPI, the remote flush_tlb_func in its interrupt and the wait for the acknowledgement, once per flush that has a target (the targets answer at once); flush_tlb_mm_range for a write-protect in writeback, a zap in truncate, punch or munmap (mm/tlb.ts)",
  tlbShootdownTargetNs:
    "sending a remote TLB flush to one more CPU running the mm: its call queued and its IPI sent, per target CPU per flush (smp_call_function_many; mm/tlb.ts)",
  tlbFlushIrqNs:
    "a CPU interrupted by a remote TLB flush: the interrupt's entry and exit and flush_tlb_func's invlpg, per flush received, paid by that CPU at its next entry to the kernel through a mapping (a fault or msync; mm/tlb.ts)",
  mbSearchNs:
    "mballoc's search of one allocation group under its ext4_lock_group, with the found blocks marked used and the bitmap checksummed, per group searched (ext4_mb_find_by_goal / ext4_mb_simple_scan_group / ext4_mb_complex_scan_group, mb_mark_used, ext4_mb_mark_diskspace_used's mb_set_bits; fs/balloc.ts)",
  allocJournalNs:
    "journalling an allocation's or a free's block bitmap and group descriptor: their get_write_access and handle_dirty_metadata, after the group lock, per allocation or freed range (ext4_mb_mark_diskspace_used, ext4_free_blocks)",
  extentNs:
    'one change of an inode\'s extent map: an extent inserted, converted from unwritten or removed, its path and the inode marked dirty and the extent status tree updated, per change (ext4_ext_insert_extent, ext4_ext_convert_to_initialized, ext4_ext_remove_space; fs/extents.ts)',
};

/**
 * Where a profile's value comes from. The kind is part of every constant (profile.ts), so a
 * reader of the cost table (`daxlab list`, the README) sees which figures are measurements,
 * which are borrowed, which were fitted to the seed's table, and which are guesses.
 */
export const COST_KINDS = ['measured', 'published', 'fitted', 'estimated', 'none'] as const;
export type CostKind = (typeof COST_KINDS)[number];

export const COST_KIND_MEANINGS: Readonly<Record<CostKind, string>> = {
  measured: 'measured on a real kernel or machine; the source says where and how',
  published: 'a published figure or the kernel source; the source cites it',
  fitted: "fitted to rows of a seed's table; the constant names the rows",
  estimated: 'neither measured, published nor fitted: an estimate, whose source gives the reasoning',
  none: 'no cost injected (the zero profile measures the simulator itself); always 0',
};

/**
 * The kernel step behind each cost, for the cost table: a short name, the Linux 4.14
 * function that does the step (and today's, where it changed), and where the lab charges it.
 * A new cost needs an entry here, in COST_MEANINGS, and a {ns, kind, source} in every profile.
 */
export interface CostStep {
  step: string;
  kernel: string;
  chargedIn: string;
}

export const COST_STEPS: Readonly<Record<CostName, CostStep>> = {
  trapNs: { step: 'page-fault trap and walk', kernel: 'do_page_fault, handle_mm_fault (exc_page_fault since 5.8)', chargedIn: 'mm/memory.ts exc_page_fault' },
  syscallNs: { step: 'system-call entry and exit', kernel: 'entry_SYSCALL_64', chargedIn: 'fs/inode.ts entry_SYSCALL_64' },
  zeroBlockNs: { step: 'zeroing a new block', kernel: 'ext4_issue_zeroout', chargedIn: 'fs/extents.ts ext4_issue_zeroout' },
  allocNs: { step: 'block allocation', kernel: 'ext4_mb_new_blocks', chargedIn: 'fs/balloc.ts ext4_mb_regular_allocator' },
  flushLineNs: { step: 'cache-line write-back (clwb)', kernel: 'arch_wb_cache_pmem', chargedIn: 'pmem/device.ts flush' },
  fenceNs: { step: 'store fence (sfence)', kernel: 'wmb after arch_wb_cache_pmem', chargedIn: 'pmem/device.ts fence' },
  storeLineNs: { step: "a user store's line reaching the device", kernel: '(user space)', chargedIn: 'mm/memory.ts Vma.store' },
  copyBlockNs: { step: 'write(2) data copy', kernel: 'dax_iomap_actor, copy_from_iter_flushcache', chargedIn: 'fs/inode.ts dax_copy_from_iter' },
  journalBlockWriteNs: { step: 'journal block write', kernel: 'jbd2_journal_commit_transaction: submit_bh; xfs: xlog_write', chargedIn: 'journal/commit.ts writeJournalBlock' },
  journalFlushNs: {
    step: "a commit's cache flush (xfs: an iclog's I/O)",
    kernel: 'REQ_PREFLUSH / REQ_FUA (pmem: nvdimm_flush); xfs: xlog_sync per iclog',
    chargedIn: 'journal/commit.ts flushJournalBlocks; xfs: journal/xfs_log.ts IclogWriter (a wait for the I/O)',
  },
  commitNs: { step: "a full commit's own work (xfs: a CIL push's)", kernel: 'jbd2_journal_commit_transaction; xfs: xlog_cil_push_work', chargedIn: 'journal/commit.ts writeCommit' },
  lockNs: { step: 'uncontended lock and unlock', kernel: 'spin_lock, down_read, down_write and their unlocks', chargedIn: 'sync/spinlock.ts, sync/rwsem.ts' },
  lockHandoffNs: { step: 'contended lock hand-over', kernel: 'queued_spin_lock_slowpath (the MCS queue)', chargedIn: 'sync/vclock.ts vspinUnlockContended' },
  wakeupNs: { step: 'waking a sleeping task', kernel: 'try_to_wake_up, __schedule', chargedIn: 'sync/vclock.ts vwait' },
  radixLevelNs: { step: 'radix-tree level walked', kernel: 'radix_tree_descend (XArray: xas_descend)', chargedIn: 'dax/radix_tree.ts radix_tree_descend' },
  tagNs: { step: 'radix-tree tag set or cleared', kernel: 'radix_tree_tag_set, radix_tree_tag_clear (XArray: xas_set_mark)', chargedIn: 'dax/radix_tree.ts node_tag_set, node_tag_clear' },
  pteNs: { step: 'page-table entry written', kernel: 'vm_insert_mixed, dax_mapping_entry_mkclean, zap_page_range (set_pte_at, ptep_clear_flush)', chargedIn: 'mm/memory.ts insertPfn, mm/rmap.ts' },
  iomapNs: { step: 'extent lookup', kernel: 'ext4_iomap_begin: ext4_map_blocks (xfs_bmapi_read)', chargedIn: 'fs/inode.ts iomap_begin' },
  handleNs: { step: 'journal handle start and stop', kernel: 'jbd2__journal_start, jbd2_journal_stop', chargedIn: 'journal/journal.ts jbd2_journal_start' },
  tlbShootdownNs: { step: 'remote TLB flush round trip', kernel: 'flush_tlb_mm_range: smp_call_function_many', chargedIn: 'mm/tlb.ts flush_tlb_mm_range' },
  tlbShootdownTargetNs: { step: 'TLB flush IPI queued and sent, per target', kernel: 'native_flush_tlb_others: smp_call_function_many', chargedIn: 'mm/tlb.ts flush_tlb_mm_range' },
  tlbFlushIrqNs: { step: 'TLB flush interrupt on a target CPU', kernel: 'flush_tlb_func (call_function interrupt)', chargedIn: 'mm/tlb.ts tlb_flush_received' },
  mbSearchNs: { step: 'free-space search in one group, under its lock', kernel: 'ext4_mb_find_by_goal, ext4_mb_simple_scan_group, ext4_mb_complex_scan_group', chargedIn: 'fs/balloc.ts ext4_mb_regular_allocator' },
  allocJournalNs: { step: 'bitmap and group descriptor journalled', kernel: 'ext4_mb_mark_diskspace_used, ext4_free_blocks', chargedIn: 'fs/balloc.ts ext4_mb_mark_diskspace_used, ext4_free_blocks' },
  extentNs: { step: 'extent-map change', kernel: 'ext4_ext_insert_extent, ext4_ext_convert_to_initialized, ext4_ext_remove_space', chargedIn: 'fs/extents.ts extSplice' },
};

/** No injected cost anywhere: the simulator measures itself. */
export const ZERO_COSTS: Readonly<Costs> = Object.freeze(
  Object.fromEntries(COST_NAMES.map((n) => [n, 0])) as Costs,
);

/** The largest cost one step may have: one second. */
export const MAX_COST_NS = 1e9;

export function isCostName(x: unknown): x is CostName {
  return typeof x === 'string' && (COST_NAMES as readonly string[]).includes(x);
}

/**
 * Fills missing costs with 0 and rejects anything else with a RangeError naming the field
 * (`costs.trapNs: expected a number from 0 to 1000000000 (ns), got -1`). Returns a new frozen object.
 */
export function resolveCosts(partial: Partial<Costs> | undefined, field = 'costs'): Readonly<Costs> {
  if (partial === undefined) return ZERO_COSTS;
  if (partial === null || typeof partial !== 'object' || Array.isArray(partial)) {
    throw new RangeError(`${field}: expected an object of costs in ns (${COST_NAMES.join(', ')}), got ${JSON.stringify(partial)}`);
  }
  for (const k of Object.keys(partial)) {
    if (!isCostName(k)) throw new RangeError(`${field}.${k}: unknown cost (known: ${COST_NAMES.join(', ')})`);
  }
  const out = { ...ZERO_COSTS };
  for (const name of COST_NAMES) {
    const v = partial[name];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > MAX_COST_NS) {
      throw new RangeError(`${field}.${name}: expected a number from 0 to ${MAX_COST_NS} (ns), got ${JSON.stringify(v)}`);
    }
    out[name] = v;
  }
  return Object.freeze(out);
}

/** Whether any cost is charged. */
export function anyCost(c: Readonly<Costs>): boolean {
  return COST_NAMES.some((n) => c[n] > 0);
}
