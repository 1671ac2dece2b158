// The one table of shared memory. Every SharedArrayBuffer the CPUs share is a region
// declared here, every record inside a region is a struct declared here, and every
// typed view anywhere in the lab is built from these tables: no magic offsets elsewhere.
//
// Records that different CPUs write often (lock words, per-CPU counters, wait-queue
// buckets) are padded to 64 bytes so that one CPU's writes do not bounce another's line.

import { checkInt, checkMultiple, checkOneOf } from '../util/check.js';
import { ZERO_COSTS, resolveCosts, type Costs } from '../cost/costs.js';
import { ZERO_IDLE_WAKEUP, resolveIdleWakeup, type IdleWakeup } from '../cost/idle_wakeup.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;
export const PMD_SIZE = 2 * MiB;
export const CACHELINE = 64;
export const CACHELINE_SHIFT = 6;

/** Persistence domains: ADR needs a flush, eADR makes the caches persistent, ramdisk flushes free (seed 002). */
export const PMEM_MODES = ['adr', 'eadr', 'ramdisk'] as const;
export type PmemMode = (typeof PMEM_MODES)[number];

/**
 * How a CPU's time passes (sync/vclock.ts): `virtual`, each CPU keeps a clock in shared
 * memory that modeled costs advance and waits synchronise; `wall`, costs are busy-waits and
 * time is the host's.
 */
export const CLOCKS = ['virtual', 'wall'] as const;
export type ClockKind = (typeof CLOCKS)[number];

/** lock_stat classes, in the order their figures are stored. */
export const LOCK_CLASSES = [
  'tree_lock',
  'radix_node_pool',
  'dax_entry_lock',
  'j_state_lock',
  'i_data_sem',
  'ext4_group_lock',
  'mmap_sem',
  'i_mmap_sem',
] as const;
export type LockClassName = (typeof LOCK_CLASSES)[number];
export const LOCK_CLASS = {
  tree_lock: 0,
  radix_node_pool: 1,
  dax_entry_lock: 2,
  /** journal_t's j_state_lock (jbd2) or the XFS log's l_icloglock. */
  j_state_lock: 3,
  /** The per-inode lock over its extent map (ext4_inode_info.i_data_sem; XFS's ILOCK). */
  i_data_sem: 4,
  /** An allocation group's lock (ext4_lock_group(); XFS's AGF buffer lock): one class, a lock per group (FS_GROUP). */
  ext4_group_lock: 5,
  /** The VMA table's lock (mm_struct's mmap_sem, taken for write by mmap and munmap only). */
  mmap_sem: 6,
  /** ext4_inode_info.i_mmap_sem (XFS: MMAPLOCK): faults read it, truncate and punch write it. */
  i_mmap_sem: 7,
} as const satisfies Record<LockClassName, number>;

export interface MachineConfig {
  /** CPU slots: every worker, kernel thread and the main thread that takes locks or stores. */
  cpus: number;
  /** Size of the PMEM device in bytes, a multiple of 2 MiB. */
  pmemBytes: number;
  pmemMode: PmemMode;
  /** Mapping indexes (one per inode's address_space). */
  mappings: number;
  /** Capacity of the radix-tree node pool shared by all mapping indexes. */
  indexNodes: number;
  /** Measure lock hold times (two clock reads per acquisition, as CONFIG_LOCK_STAT costs the kernel). */
  lockStatHoldTimes: boolean;
  /** How long a CPU spins on a held lock before it sleeps in Atomics.wait (ns). */
  lockSpinNs: number;
  /** Inodes in the filesystem's inode table. */
  fsInodes: number;
  /** Extent blocks per inode (255 extents each). */
  fsExtentBlocksPerInode: number;
  /** Blocks of the journal area on the device (mkfs.ext4 -J size=); by default 1/32 of the device, 32 to 1024 (a workload's default is mke2fs's). */
  journalBlocks: number;
  /** VMA slots (struct vm_area_struct) shared by every CPU: mappings that can exist at once. */
  vmas: number;
  /** Page-table entries in the PTE pool, one Int32 per mapped 4 KiB page: the pages all VMAs can span together. */
  ptePages: number;
  /**
   * Injected cost per kernel or device step, ns (src/cost/costs.ts; a profile's constants,
   * src/cost/profile.ts). Every CPU charges these: they travel with the machine to each worker.
   */
  costs: Readonly<Costs>;
  /**
   * What waking a CPU that went idle costs beyond costs.wakeupNs: a seeded draw per wake-up
   * (src/cost/idle_wakeup.ts; the profile's idleWakeup), charged on the virtual clock.
   */
  idleWakeup: Readonly<IdleWakeup>;
  /**
   * The physical core each CPU slot is a hardware thread of (index: the slot); -1, or a slot
   * past the end: a core of its own. CPUs on one core are SMT siblings: the core's C-state is
   * the shallowest its threads ask for (Intel datasheets, "Core C-states"), so a CPU woken while a sibling ran leaves no deep idle
   * state (sync/vclock.ts chargeWakeup). Empty: every CPU a core of its own.
   */
  cpuCores: readonly number[];
  /** Virtual or wall time (sync/vclock.ts). */
  clock: ClockKind;
  /** Virtual clock only: how far (ns) a CPU may run ahead of the slowest CPU that holds time back. */
  windowNs: number;
}

/** What resolveConfig() and createMachine() accept: any field may be left out, and any cost (missing costs are 0). */
export type MachineConfigInput = Partial<Omit<MachineConfig, 'costs' | 'idleWakeup'>> & { costs?: Partial<Costs>; idleWakeup?: Partial<IdleWakeup> };

export const DEFAULT_CONFIG: MachineConfig = {
  cpus: 8,
  pmemBytes: 256 * MiB,
  pmemMode: 'adr',
  mappings: 16,
  indexNodes: 4096,
  lockStatHoldTimes: false,
  // A sleep and wake through Atomics.wait/notify costs about 10 µs each way on these
  // machines, as long as a whole page fault in the seed's table: spin through holds of a
  // few microseconds rather than pay it.
  lockSpinNs: 50_000,
  fsInodes: 64,
  fsExtentBlocksPerInode: 4,
  journalBlocks: 1024,
  vmas: 64,
  // 1 GiB of mappings (1 MiB of PTE words).
  ptePages: 1 << 18,
  // The machine's own default is the host's time, for unit tests of the primitives; every
  // shipped workload runs on the virtual clock (workload/schema.ts).
  clock: 'wall',
  windowNs: 250,
  // No idle wake-up cost beyond costs.wakeupNs, and no injected cost: the simulator measures itself (profile `zero`).
  idleWakeup: ZERO_IDLE_WAKEUP,
  // No SMT siblings: every CPU a core of its own.
  cpuCores: [],
  costs: ZERO_COSTS,
};

/** The largest mapping the lab makes: offsets inside a mapping stay below 2^32 (the store path shifts them). */
export const MAX_MAPPING_BYTES = 2 ** 32 - PAGE_SIZE;

export const LIMITS = {
  cpus: { min: 1, max: 64 },
  /** Core numbers a workload may place CPUs on (cpus[i].core, commitThread.core). */
  cores: { min: 0, max: 255 },
  pmemBytes: { min: 2 * MiB, max: 4 * GiB },
  mappings: { min: 1, max: 1 << 16 },
  indexNodes: { min: 2, max: 1 << 22 },
  lockSpinNs: { min: 0, max: 10_000_000 },
  fsInodes: { min: 2, max: 1 << 16 },
  fsExtentBlocksPerInode: { min: 1, max: 64 },
  journalBlocks: { min: 16, max: 1 << 18 },
  vmas: { min: 1, max: 1 << 16 },
  ptePages: { min: 512, max: 1 << 24 },
  windowNs: { min: 100, max: 1_000_000 },
} as const;

/** A record of named 32-bit or 64-bit words; `stride` is its size in words. */
export function struct<const F extends Record<string, number>>(fields: F, stride: number): F & { readonly stride: number } {
  return Object.freeze({ ...fields, stride });
}

// ---- pmem/ ----------------------------------------------------------------------------

/** Per-CPU device counters (Float64, one 64-byte line per CPU). */
export const PMEM_COUNTERS = struct(
  { linesStored: 0, linesFlushed: 1, linesWrittenBack: 2, fences: 3, storeOps: 4, flushOps: 5 },
  8,
);

// ---- sync/ ----------------------------------------------------------------------------

/** A spinlock's words: state (0 free, 1 held, 2 held with sleepers) and last owner (CPU + 1). */
export const LOCK_WORDS = struct({ state: 0, owner: 1 }, 2);

/** lock_stat figures per CPU and class (Float64), nanoseconds. */
export const LOCK_STAT = struct(
  {
    acquisitions: 0,
    contentions: 1,
    conBounces: 2,
    acqBounces: 3,
    waitNsMin: 4,
    waitNsMax: 5,
    waitNsTotal: 6,
    holdNsMin: 7,
    holdNsMax: 8,
    holdNsTotal: 9,
    sleeps: 10,
    holdSamples: 11,
  },
  16,
);

/**
 * Buckets of a lock wait-time histogram: bucket k counts contended waits of [2^k, 2^(k+1))
 * ns, bucket 0 those under 2 ns. 2^42 ns is 73 minutes, longer than any run survives the
 * watchdog, so the last bucket (which also takes anything longer) stays empty in practice.
 */
export const LOCK_WAIT_BUCKETS = 42;
/** One wait-time histogram per CPU and lock class (Float64 counts), padded to whole 64-byte lines. */
export const LOCK_WAIT_HIST = struct({ buckets: 0 }, 48);

/** One hashed wait queue (DAX_WAIT_TABLE_ENTRIES of them): an event count and its sleepers. */
export const WAIT_BUCKET = struct({ seq: 0, waiters: 1 }, 16);
export const WAIT_TABLE_BITS = 12;

/** Per-CPU scheduler-visible state, read by the watchdog: what this CPU waits on, if anything. */
export const CPU_STATE = struct(
  {
    waitKind: 0,
    waitRegion: 1,
    waitAt: 2,
    waitClass: 3,
    holding: 4,
    /** Virtual clock (sync/vclock.ts): the CPU's state (V_OFF, V_RUNNING, V_BLOCKED, V_TIMED, V_PARKED, V_READY). */
    vstate: 5,
    /** The word the CPU sleeps on in the host; bumped by whoever wakes it. */
    vwake: 6,
    /** Set by a waker: the event came, and the CPU's clock already reads its instant. */
    vstamped: 7,
    /** The word a blocked CPU waits on: its region number and word index (-1: none). */
    vkeyRegion: 8,
    vkeyAt: 9,
    /** 1 while the CPU sleeps because it ran a window ahead of the others. */
    vstall: 10,
  },
  16,
);

/**
 * Per-CPU virtual time (Float64, one 64-byte line per CPU): the clock, the instant a timed
 * sleep ends, and when a blocked CPU began waiting (who is served first on a lock hand-off).
 */
export const CPU_CLOCK = struct({ now: 0, deadline: 1, arrival: 2 }, 8);

/**
 * The virtual scheduler's words: a lock serialising sleeps and wake-ups (so that none is
 * lost between a sleeper's check and its sleep), the CPUs asleep on a word, and the CPUs
 * asleep waiting for time to pass (window stalls and timed sleeps).
 */
export const VSCHED = struct({ lockState: 0, lockOwner: 1, sleepers: 2, timeWaiters: 3 }, 16);

// ---- dax/ mapping index ---------------------------------------------------------------

export const RADIX_TREE_MAP_SHIFT = 6;
export const RADIX_TREE_MAP_SIZE = 1 << RADIX_TREE_MAP_SHIFT;
export const RADIX_TREE_MAX_TAGS = 2;
export const PAGECACHE_TAG_DIRTY = 0;
export const PAGECACHE_TAG_TOWRITE = 1;

/** Per-mapping root (struct address_space + radix_tree_root): tree_lock words first. */
export const INDEX_ROOT = struct(
  // pmdEntries: set (never cleared) once a PMD entry was inserted, so PTE faults of a file
  // that never had one skip the lookup for a covering PMD entry.
  // seq: even while rnode and shift agree, odd while a writer changes them (a seqcount, so a
  // lockless reader loads the pair consistently; the kernel tags the one rnode pointer instead).
  { lockState: 0, lockOwner: 1, rnode: 2, shift: 3, nrexceptional: 4, tags: 5, nodes: 6, pmdEntries: 7, seq: 8 },
  16,
);

/**
 * A radix_tree_node: 64 slots (a child node number in an interior node, a DAX entry in a
 * leaf, 0 when empty), one 64-bit bitmap per tag as two words, and the node's place in the tree.
 */
export const INDEX_NODE = struct(
  { slots: 0, tags: RADIX_TREE_MAP_SIZE, parent: 68, offset: 69, shift: 70, count: 71 },
  72,
);

/**
 * The node pool's header: its lock words, free list head, nodes in use, never-used watermark,
 * and the nodes freed while lockless readers may still be in them (linked through their
 * parent word, each stamped in its offset word with the RCU epoch of its free), waiting for
 * a grace period (node_pool.ts). Pending nodes count as used.
 */
export const INDEX_POOL = struct({ lockState: 0, lockOwner: 1, freeHead: 2, used: 3, highWater: 4, pendingHead: 5, pending: 6 }, 16);

/**
 * RCU (sync/rcu.ts): the header counts the CPUs inside rcu_read_lock() and holds the epoch
 * a free is stamped with; then one record per CPU, `epoch` = the epoch it read at
 * rcu_read_lock() + 1, or 0 outside a read-side critical section.
 */
export const RCU_STATE = struct({ readers: 0, epoch: 1 }, 16);
export const RCU_READER = struct({ epoch: 0 }, 16);

// ---- fs/ and journal/ ------------------------------------------------------------------

export const BLOCK_SIZE = PAGE_SIZE;
export const INODE_SIZE = 256;

/**
 * Where the filesystem keeps what on the device, in 4 KiB blocks: superblock, block
 * bitmap, inode table, extent blocks (the metadata blocks, cached in DRAM as fsMeta), then
 * the journal area, then data blocks. Blocks before journalStart are metadata.
 */
export interface FsGeometry {
  nblocks: number;
  sbBlock: number;
  bitmapStart: number;
  bitmapBlocks: number;
  inodeTableStart: number;
  inodeTableBlocks: number;
  extentStart: number;
  extentBlocks: number;
  inodes: number;
  extentBlocksPerInode: number;
  /** Metadata blocks: [0, metaBlocks). */
  metaBlocks: number;
  journalStart: number;
  journalBlocks: number;
  dataStart: number;
  dataBlocks: number;
}

export function fsGeometry(c: MachineConfig): FsGeometry {
  const nblocks = c.pmemBytes / BLOCK_SIZE;
  const bitmapStart = 1;
  const bitmapBlocks = Math.ceil(nblocks / BLOCKS_PER_GROUP);
  const inodeTableStart = bitmapStart + bitmapBlocks;
  const inodeTableBlocks = Math.ceil((c.fsInodes * INODE_SIZE) / BLOCK_SIZE);
  const extentStart = inodeTableStart + inodeTableBlocks;
  const extentBlocks = c.fsInodes * c.fsExtentBlocksPerInode;
  const journalStart = extentStart + extentBlocks;
  const dataStart = journalStart + c.journalBlocks;
  return {
    nblocks,
    sbBlock: 0,
    bitmapStart,
    bitmapBlocks,
    inodeTableStart,
    inodeTableBlocks,
    extentStart,
    extentBlocks,
    inodes: c.fsInodes,
    extentBlocksPerInode: c.fsExtentBlocksPerInode,
    metaBlocks: journalStart,
    journalStart,
    journalBlocks: c.journalBlocks,
    dataStart,
    dataBlocks: nblocks - dataStart,
  };
}

/**
 * Per metadata buffer (struct buffer_head / journal_head). With a journal: the transaction it
 * is filed in (b_transaction: the running or the committing one, 0 when none), the running
 * one that wants it while the committing one still owns it (b_next_transaction), which list
 * of its transaction it is on (jlist: BJ_* in journal/buffers.ts), the running tid whose
 * handle spent a credit on it (b_modified), the committed transaction whose checkpoint list
 * holds it (b_cp_transaction), and its frozen copy (slot + 1 in views.journalFrozen, 0:
 * none). Without one: its owner inode and BH_Dirty. flags holds the buffer-state bits of both.
 */
export const FS_BUF = struct(
  { transaction: 0, nextTransaction: 1, ownerInode: 2, flags: 3, jlist: 4, modifiedTid: 5, cpTid: 6, frozen: 7 },
  8,
);

/** Per inode, in DRAM (struct ext4_inode_info / xfs_inode_log_item): locks and sync state. */
export const FS_INODE = struct(
  {
    lockState: 0,
    lockOwner: 1,
    i_sync_tid: 2,
    i_datasync_tid: 3,
    /** XFS: the inode is pinned while its changes are in the log but not durable. */
    pinned: 4,
    /** XFS: ili_last_lsn, the sequence of its last logged change. */
    lastLsn: 5,
    /**
     * XFS: ili_fsync_fields, fields logged since the last log force (XFS_ILOG_*);
     * ext4-nojournal: the same bits stand for I_DIRTY_SYNC / I_DIRTY_DATASYNC.
     */
    fsyncFields: 6,
    /** ext4-nojournal: how many metadata buffers are on the inode's dirty list (FS_BUF.ownerInode). */
    dirtyBuffers: 8,
    /** ext4 fast commit: changes logged for this inode (bumped by jbd2_journal_add_inode). */
    fcSeq: 9,
    /** ext4 fast commit: the fcSeq its last fast or full commit made durable (clean when it reaches fcSeq). */
    fcDone: 10,
    /** The tid of the last transaction that logged this inode. */
    lastTid: 12,
    /** i_mmap_sem (rwsem.ts): readers held, or -1 for a writer; writers waiting. */
    mmapSemCount: 13,
    mmapSemWriters: 14,
  },
  16,
);

/**
 * The block allocator's DRAM state, changed with Atomics (no lock: ext4's percpu counters and
 * s_md_lock-guarded stream goal): free blocks, the stream goal (s_mb_last_group/start), busy
 * (freed, uncommitted) blocks and the newest tid that freed one.
 */
export const FS_ALLOC = struct({ freeBlocks: 2, goal: 3, busyBlocks: 4, busyTidMax: 5 }, 16);

/** Blocks per allocation group: one bitmap block's bits (ext4's 32768 blocks of 4 KiB, 128 MiB). */
export const BLOCKS_PER_GROUP = BLOCK_SIZE * 8;

/** Per allocation group (struct ext4_group_info): its lock, ext4_lock_group(), padded to 64 bytes. */
export const FS_GROUP = struct({ lockState: 0, lockOwner: 1 }, 16);

/** Allocation groups of a machine's device (the last may be partial). */
export function fsGroups(c: MachineConfig): number {
  return Math.ceil(c.pmemBytes / BLOCK_SIZE / BLOCKS_PER_GROUP);
}

/** The journal's shared state (journal_t): j_state_lock first, then the transaction state. */
export const JOURNAL = struct(
  {
    lockState: 0,
    lockOwner: 1,
    /** j_running_transaction's tid (0: none). */
    runningTid: 2,
    /** T_RUNNING (0) or T_LOCKED (1): whether new handles may join. */
    runningState: 3,
    /** t_updates of the running transaction: handles started and not stopped. */
    updates: 4,
    /** t_handle_count: handles ever joined to the running transaction. */
    handleCount: 5,
    /** t_nr_buffers: metadata blocks the running transaction's handles dirtied (credits spent). */
    nrBuffers: 6,
    committingTid: 7,
    /** j_commit_sequence: the last tid whose commit block is durable. Waiters sleep on it. */
    commitSequence: 8,
    /** j_commit_request: the highest tid someone asked to commit. */
    commitRequest: 9,
    /** The next tid to hand out (j_transaction_sequence). */
    nextTid: 10,
    /** j_head: the next log block a commit writes, relative to the full-commit area's first block. */
    head: 11,
    /** j_tail: where the oldest transaction still in the log starts (the superblock's s_start), relative. */
    tail: 12,
    /** Event count the commit thread sleeps on (j_wait_commit). */
    wakeSeq: 13,
    /** Set to stop the commit thread. */
    shutdown: 14,
    /** j_free: log blocks neither in use by a transaction nor reserved by the committing one. */
    free: 15,
    /** Number of commit records written to journalStats (a ring). */
    commits: 16,
    /** Inodes touched by the running transaction. */
    nrInodes: 17,
    /** j_tail_sequence: the tid of the oldest transaction in the log (the superblock's s_sequence). */
    tailTid: 18,
    /** ext4 fast commit: the tid marked ineligible (ext4_fc_mark_ineligible), 0 if none. */
    fcIneligibleTid: 19,
    /** j_last_sync_writer: the CPU (tag) that last stopped a synchronous handle. */
    lastSyncWriter: 20,
    /** Next free block of the fast-commit area (relative to its start). */
    fcHead: 21,
    /** Full commits that were asked for as fast commits (fallbacks). */
    fcFallbacks: 22,
    /** Fast commits done (inodes written by them). */
    fcCommits: 23,
    /** 1 while kjournald2 runs; without it, a CPU that needs a commit performs it itself. */
    threadRunning: 24,
    /**
     * t_outstanding_credits: the running transaction's blocks plus the credits its open
     * handles reserved and have not used; a handle joins only if this stays within the limit.
     */
    outstandingCredits: 25,
    /** The running tid once a handle was held back because it would outgrow the size limit (a size trigger). */
    sizeLimitTid: 26,
    /**
     * The CPU (tag: id + 1) performing a full or fast commit, 0 when none: one commit at a
     * time (JBD2_FULL_COMMIT_ONGOING / JBD2_FAST_COMMIT_ONGOING), whether kjournald2 or a CPU
     * committing inline takes it. COMMITTER_FULL_PENDING: a fast commit fell back and left
     * JBD2_FULL_COMMIT_ONGOING set for the full commit it asked for.
     */
    committer: 27,
    /** JBD2_ABORT: a commit failed part-way; handles get EROFS, commit waiters EIO. */
    aborted: 28,
    /** t_nr_buffers of the committing transaction (its blocks: views.journalCommitBuffers); 0 unless committingTid is set. */
    committingBuffers: 29,
    /** Entries of views.journalBuffers (the running transaction's buffers: reserved and dirtied). */
    listed: 30,
    /** j_checkpoint_mutex: the CPU (tag) checkpointing or moving the log tail, 0 when none. */
    checkpointMutex: 31,
    /** Frozen copies made for the committing transaction (slots used in views.journalFrozen). */
    frozenCount: 32,
    /** Tail moves (superblock writes) and checkpoints of a transaction, since mkfs. */
    tailUpdates: 33,
    checkpoints: 34,
    /** Metadata blocks the checkpoints wrote home. */
    checkpointBlocks: 35,
  },
  48,
);

/** JOURNAL.committer while a fallen-back fast commit waits for its full commit (JBD2_FULL_COMMIT_ONGOING alone). */
export const COMMITTER_FULL_PENDING = -1;

/**
 * Journal instants (Float64, monoNs, 0: none): the first commit request for the running
 * transaction (requestNs), its start (t_start_time), and j_average_commit_time (ns, not an
 * instant): the running average of full commits' durations that batching reads.
 */
/** XLOG_MAX_ICLOGS: the most in-core log buffers XFS takes (logbufs=8). */
export const XLOG_ICLOGS_MAX = 8;
/** CIL contexts whose log I/O completion time is remembered (a ring by sequence). */
export const XLOG_CTX_RING = 16;
/**
 * The xfs personality's log (journal/xfs_log.ts), in journalTimes after jbd2's instants:
 * iclogs submitted so far (their ring index is that count modulo logbufs), the waits for a
 * free iclog and their total ns, each iclog's I/O completion instant, and per CIL context
 * (ring by sequence) the instant its last iclog completes, with the sequence it belongs to.
 */
const XLOG_TIMES = {
  iclogsSubmitted: 3,
  iclogWaits: 4,
  iclogWaitNs: 5,
  iclogDoneNs: 8,
  ctxDoneNs: 8 + XLOG_ICLOGS_MAX,
  ctxDoneSeq: 8 + XLOG_ICLOGS_MAX + XLOG_CTX_RING,
} as const;
export const JOURNAL_TIMES = struct({ requestNs: 0, tStartNs: 1, averageCommitNs: 2, ...XLOG_TIMES }, 8 + 2 * XLOG_ICLOGS_MAX + 2 * XLOG_CTX_RING);

/**
 * A transaction in the log (the lab's transaction_t once it is committing or committed), in
 * views.journalLog at slot tid % journalBlocks: where its blocks start in the log ring, how
 * many it wrote (descriptors, copies, commit block) and how many buffers are still on its
 * checkpoint list (t_checkpoint_list). Transactions from JOURNAL.tailTid through the
 * committing one are in the log, so their slots never collide.
 */
export const LOG_TX = struct({ tid: 0, logStart: 1, logBlocks: 2, cpBuffers: 3 }, 4);

/** One commit's record (Float64), kept in a ring in journalStats. */
export const COMMIT_RECORD = struct(
  { tid: 0, kind: 1, blocks: 2, handles: 3, inodes: 4, requestNs: 5, startNs: 6, durableNs: 7 },
  8,
);
export const COMMIT_RECORDS = 1024;

// ---- mm/ ------------------------------------------------------------------------------

/**
 * The process's address space as every CPU shares it (struct mm_struct): all CPUs are
 * threads of one process, so a VMA one CPU maps is usable by all (attached by VMA id).
 * mmap_sem's lock words first, then map_count, the VMA slots ever used (rmap walks scan
 * slots [0, vmaHigh); it only grows), the PTE words handed out so far (a high-water mark),
 * and mm_cpumask: the CPUs that run a thread of the process (those that map or attach a VMA).
 */
export const MM = struct({ lockState: 0, lockOwner: 1, mapCount: 2, vmaHigh: 3, pteHigh: 4, cpumask: 5 }, 16);
/** Words of MM.cpumask (mm_cpumask: bit c of word c >> 5 is CPU c), one bit per possible CPU. */
export const MM_CPUMASK_WORDS = 2;

/** Per CPU (padded): remote TLB flushes it was sent and has not yet paid for (mm/tlb.ts). */
export const TLB_PENDING = struct({ flushes: 0 }, 16);

/** VMA.state: the slot is free, holds a live mapping, or is being unmapped (munmap in progress). */
export const VMA_FREE = 0;
export const VMA_MAPPED = 1;
export const VMA_DYING = 2;

/**
 * One VMA (struct vm_area_struct), padded to 64 bytes (`users` is written by every CPU that
 * faults through it). gen is the slot's incarnation, bumped by mmap and again by munmap: a
 * handle whose gen differs is a use after munmap. The VMA maps file pages [pgoff, pgoff +
 * pages) of inode ino; its page table is PTE words [pteBase, pteBase + pages) of mmPtes
 * (src/mm/pte.ts encodes them). flags are vm_flags (VM_READ, VM_WRITE, VM_SHARED, VM_SYNC,
 * ...; src/mm/mman.ts). users counts faults and rmap walks in progress on the VMA (the per-VMA
 * read lock of later kernels); munmap waits for it to drain.
 */
export const VMA = struct({ state: 0, gen: 1, ino: 2, pgoff: 3, pages: 4, flags: 5, pteBase: 6, users: 7 }, 16);

// ---- the region table ------------------------------------------------------------------

type ViewCtor = Uint8ArrayConstructor | Int32ArrayConstructor | Float64ArrayConstructor;

interface RegionSpec<C extends ViewCtor> {
  view: C;
  length(c: MachineConfig): number;
  doc: string;
}

function region<C extends ViewCtor>(view: C, length: (c: MachineConfig) => number, doc: string): RegionSpec<C> {
  return { view, length, doc };
}

export const REGIONS = {
  pmemData: region(Uint8Array, (c) => c.pmemBytes, 'device contents as CPUs see them (media + CPU caches)'),
  pmemMedia: region(Uint8Array, (c) => c.pmemBytes, 'device media: what survives power loss'),
  pmemDirty: region(Int32Array, (c) => c.pmemBytes / CACHELINE / 32, 'dirty cache-line bitmap'),
  pmemCounters: region(Float64Array, (c) => c.cpus * PMEM_COUNTERS.stride, 'per-CPU device counters'),
  lockStat: region(
    Float64Array,
    (c) => c.cpus * LOCK_CLASSES.length * LOCK_STAT.stride,
    'lock_stat figures per CPU and lock class',
  ),
  lockWaitHist: region(
    Float64Array,
    (c) => c.cpus * LOCK_CLASSES.length * LOCK_WAIT_HIST.stride,
    'lock_stat wait-time histograms per CPU and lock class (log2 ns buckets)',
  ),
  waitTable: region(Int32Array, () => (1 << WAIT_TABLE_BITS) * WAIT_BUCKET.stride, 'hashed entry wait queues'),
  cpuState: region(Int32Array, (c) => c.cpus * CPU_STATE.stride, 'what each CPU waits on (watchdog) and its virtual-clock state'),
  cpuClock: region(Float64Array, (c) => c.cpus * CPU_CLOCK.stride, 'per-CPU virtual clocks (sync/vclock.ts)'),
  vsched: region(Int32Array, () => VSCHED.stride, 'virtual scheduler: its lock and sleeper counts'),
  indexRoots: region(Int32Array, (c) => c.mappings * INDEX_ROOT.stride, 'mapping index roots and tree_locks'),
  indexNodes: region(Int32Array, (c) => (c.indexNodes + 1) * INDEX_NODE.stride, 'radix-tree node pool (node 0 is NULL)'),
  indexPool: region(Int32Array, () => INDEX_POOL.stride, 'node pool header'),
  rcu: region(Int32Array, (c) => RCU_STATE.stride + c.cpus * RCU_READER.stride, 'RCU readers and the epoch frees are stamped with'),
  fsMeta: region(Uint8Array, (c) => fsGeometry(c).metaBlocks * BLOCK_SIZE, 'metadata buffers in DRAM (the buffer cache)'),
  fsBufState: region(Int32Array, (c) => fsGeometry(c).metaBlocks * FS_BUF.stride, 'metadata buffer state (journal_head)'),
  fsInodeState: region(Int32Array, (c) => c.fsInodes * FS_INODE.stride, 'in-memory inode state and i_data_sem'),
  fsAlloc: region(Int32Array, () => FS_ALLOC.stride, 'block allocator state'),
  fsGroups: region(Int32Array, (c) => fsGroups(c) * FS_GROUP.stride, 'allocation groups and their locks (ext4_lock_group)'),
  fsBusy: region(Int32Array, (c) => Math.ceil(c.pmemBytes / BLOCK_SIZE / 32), 'blocks freed by a transaction not yet committed'),
  fsBusyTid: region(Int32Array, (c) => c.pmemBytes / BLOCK_SIZE, 'the tid that freed each busy block'),
  journalState: region(Int32Array, () => JOURNAL.stride, 'journal_t: transaction state and j_state_lock'),
  journalBuffers: region(Int32Array, (c) => fsGeometry(c).metaBlocks, "the running transaction's buffers in the order they were filed (t_reserved_list and t_buffers)"),
  journalCommitBuffers: region(Int32Array, (c) => c.journalBlocks, "the committing transaction's metadata blocks (its t_buffers), JOURNAL.committingBuffers of them"),
  journalFrozen: region(Uint8Array, (c) => Math.ceil(c.journalBlocks / 4) * BLOCK_SIZE, "frozen copies of the committing transaction's buffers (b_frozen_data)"),
  journalLog: region(Int32Array, (c) => c.journalBlocks * LOG_TX.stride, 'the transactions in the log and their checkpoint lists (LOG_TX)'),
  journalLogHomes: region(Int32Array, (c) => c.journalBlocks, 'per block of the log: the home block whose copy it holds (-1: a descriptor or commit block)'),
  journalTimes: region(Float64Array, () => JOURNAL_TIMES.stride, 'journal instants (commit request time, transaction start, average commit time)'),
  journalStats: region(Float64Array, () => COMMIT_RECORDS * COMMIT_RECORD.stride, 'per-commit records (a ring)'),
  xfsCilImage: region(Uint8Array, (c) => fsGeometry(c).metaBlocks * BLOCK_SIZE, 'xfs: each metadata block as its committed transactions left it (what the CIL formats; live fsMeta also holds open ones)'),
  mmState: region(Int32Array, () => MM.stride, 'mm_struct: mmap_sem and the VMA table header'),
  mmVmas: region(Int32Array, (c) => c.vmas * VMA.stride, 'VMA table (struct vm_area_struct per slot)'),
  mmPtes: region(Int32Array, (c) => c.ptePages, 'PTE pool: one page-table entry per mapped page'),
  mmTlbPending: region(Int32Array, (c) => c.cpus * TLB_PENDING.stride, 'remote TLB flushes each CPU received and has not paid for yet'),
} as const;

export type RegionName = keyof typeof REGIONS;
export const REGION_NAMES = Object.keys(REGIONS) as RegionName[];
export type MachineViews = { [K in RegionName]: InstanceType<(typeof REGIONS)[K]['view']> };

/** Bytes each region takes for a configuration. */
export function regionBytes(config: MachineConfig): Record<RegionName, number> {
  const out = {} as Record<RegionName, number>;
  for (const name of REGION_NAMES) {
    const spec = REGIONS[name];
    out[name] = spec.length(config) * spec.view.BYTES_PER_ELEMENT;
  }
  return out;
}

/**
 * The least journal a default gives: its transactions (a quarter of it, less the fast-commit
 * area) then hold one handle of the default geometry (an inode-table block, 4 extent blocks
 * and a bitmap block).
 */
export const MIN_DEFAULT_JOURNAL_BLOCKS = 32;

/** Fills defaults and rejects an impossible configuration with a RangeError naming the field. */
export function resolveConfig(partial: MachineConfigInput = {}): MachineConfig {
  // A misspelt field (pmemByte) would otherwise leave its default in place without a word.
  for (const key of Object.keys(partial)) {
    if (!Object.hasOwn(DEFAULT_CONFIG, key)) {
      throw new RangeError(`${key}: unknown machine configuration field; expected one of ${Object.keys(DEFAULT_CONFIG).join(', ')}`);
    }
  }
  const c: MachineConfig = { ...DEFAULT_CONFIG, ...partial, costs: resolveCosts(partial.costs), idleWakeup: resolveIdleWakeup(partial.idleWakeup) };
  if (partial.journalBlocks === undefined && Number.isInteger(c.pmemBytes)) {
    c.journalBlocks = Math.min(DEFAULT_CONFIG.journalBlocks, Math.max(MIN_DEFAULT_JOURNAL_BLOCKS, Math.floor(c.pmemBytes / BLOCK_SIZE / 32)));
  }
  checkInt('cpus', c.cpus, LIMITS.cpus.min, LIMITS.cpus.max);
  checkMultiple('pmemBytes', c.pmemBytes, PMD_SIZE, '2 MiB', LIMITS.pmemBytes.min, LIMITS.pmemBytes.max);
  checkOneOf('pmemMode', c.pmemMode, PMEM_MODES);
  checkInt('mappings', c.mappings, LIMITS.mappings.min, LIMITS.mappings.max);
  checkInt('indexNodes', c.indexNodes, LIMITS.indexNodes.min, LIMITS.indexNodes.max);
  checkInt('lockSpinNs', c.lockSpinNs, LIMITS.lockSpinNs.min, LIMITS.lockSpinNs.max);
  checkInt('fsInodes', c.fsInodes, LIMITS.fsInodes.min, LIMITS.fsInodes.max);
  checkInt('fsExtentBlocksPerInode', c.fsExtentBlocksPerInode, LIMITS.fsExtentBlocksPerInode.min, LIMITS.fsExtentBlocksPerInode.max);
  checkInt('journalBlocks', c.journalBlocks, LIMITS.journalBlocks.min, LIMITS.journalBlocks.max);
  checkInt('vmas', c.vmas, LIMITS.vmas.min, LIMITS.vmas.max);
  checkInt('ptePages', c.ptePages, LIMITS.ptePages.min, LIMITS.ptePages.max);
  checkOneOf('clock', c.clock, CLOCKS);
  checkInt('windowNs', c.windowNs, LIMITS.windowNs.min, LIMITS.windowNs.max);
  if (!Array.isArray(c.cpuCores) || c.cpuCores.length > c.cpus) {
    throw new RangeError(`cpuCores: expected an array of at most cpus (${c.cpus}) core numbers, got ${JSON.stringify(c.cpuCores)}`);
  }
  c.cpuCores.forEach((core, i) => checkInt(`cpuCores[${i}]`, core, -1, LIMITS.cores.max));
  const g = fsGeometry(c);
  if (g.dataBlocks < 16) {
    throw new RangeError(
      `pmemBytes: ${c.pmemBytes} leaves ${g.dataBlocks} data blocks after ${g.dataStart} blocks of metadata and journal; ` +
        `expected a larger device or fewer fsInodes / journalBlocks`,
    );
  }
  if (typeof c.lockStatHoldTimes !== 'boolean') {
    throw new RangeError(`lockStatHoldTimes: expected true or false, got ${String(c.lockStatHoldTimes)}`);
  }
  return c;
}
