// The workload file: what a run sets up and what each CPU does. One zod schema is both the
// validator (messages name the field: `files[0].size: expected a multiple of 4096, got 1000`)
// and the TypeScript type. Cross-field rules (a mapping names a file that exists, MAP_SYNC
// needs a DAX file) are checked after the shape, in
// check.ts, so each message can name both fields.
//
// A file is a single configuration plus, optionally, named configurations (`configs`, each
// a set of overrides) and sweep axes (`sweep`: a list of values per parameter path); the run
// is configs × the cartesian product of the axes (expand.ts).

import { z } from 'zod';
import { CLOCKS, DEFAULT_CONFIG, LIMITS, PAGE_SIZE, PMD_SIZE, PMEM_MODES } from '../machine/layout.js';
import { FS_PERSONALITIES } from '../fs/ondisk.js';
import { WRITEBACK_MODES } from '../dax/writeback.js';
import { DAX_VARIANTS } from '../dax/variant.js';
import { parseSize } from '../util/size.js';
import { REMOVED_JOURNAL_KNOBS } from '../journal/policy.js';

/** A byte size: a number, or a string such as "4KiB", "2MiB". */
function size(multiple: number, what: string, min = multiple) {
  return z.union([z.number(), z.string()]).transform((v, ctx) => {
    let n: number;
    try {
      n = parseSize('size', v);
    } catch {
      ctx.addIssue({ code: 'custom', message: `expected a size such as ${multiple}, 4KiB, 2MiB or 1GiB, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    if (!Number.isInteger(n) || n % multiple !== 0) {
      ctx.addIssue({ code: 'custom', message: `expected a multiple of ${what}, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    if (n < min) {
      ctx.addIssue({ code: 'custom', message: `expected at least ${min} bytes, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return n;
  });
}

const int = (min: number, max: number) => z.number().int().min(min).max(max);
const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'expected a name of letters, digits, ".", "_" or "-"');

export const MAP_FLAG_NAMES = ['MAP_SHARED', 'MAP_PRIVATE', 'MAP_SHARED_VALIDATE', 'MAP_SYNC', 'MAP_POPULATE'] as const;
export const PROT_NAMES = ['PROT_READ', 'PROT_WRITE'] as const;

export const FileSchema = z.strictObject({
  name,
  size: size(PAGE_SIZE, '4096'),
  state: z.enum(['empty', 'fallocated', 'written']).describe('empty: a hole; fallocated: unwritten extents; written: data blocks'),
  dax: z.boolean().default(true).describe('false: the file lives on a mount without DAX (MAP_SYNC is refused)'),
});

export const MappingSchema = z.strictObject({
  name,
  file: name,
  flags: z.array(z.enum(MAP_FLAG_NAMES)).min(1).default(['MAP_SHARED']),
  prot: z.array(z.enum(PROT_NAMES)).min(1).default(['PROT_READ', 'PROT_WRITE']),
  madvise: z
    .enum(['MADV_HUGEPAGE', 'MADV_NOHUGEPAGE'])
    .optional()
    .describe(
      "madvise(2) on the whole mapping after mmap; without it, the kernel's default: a DAX mapping is VM_HUGEPAGE, so a fault in a 2 MiB of file that the mapping covers whole tries a PMD first. MADV_NOHUGEPAGE: every fault maps 4 KiB",
    ),
  offset: size(PAGE_SIZE, '4096', 0).default(0),
  length: size(PAGE_SIZE, '4096').optional().describe('default: the file from offset to its end'),
});

const enabled = z.boolean().default(true).describe('false: this CPU sits the configuration out');
const core = int(LIMITS.cores.min, LIMITS.cores.max)
  .optional()
  .describe(
    "the physical core this CPU is a hardware thread of (taskset): CPUs given the same core are SMT siblings, and one woken while a sibling runs leaves no deep idle state, since a core's C-state is the shallowest its threads ask for; default: a core of its own",
  );
const ops = int(1, 1e9).optional().describe('operations to time; default run.ops; without either the role runs until the run stops');
const order = z.enum(['sequential', 'random']).default('sequential');

export const FaulterSchema = z.strictObject({
  role: z.literal('faulter'),
  enabled,
  core,
  mapping: name,
  access: z.enum(['read', 'write', 'read-write']).default('write').describe('read-write: a read fault, then a write fault on each page'),
  pages: int(1, 1 << 24).optional().describe('pages to fault; default every page of the mapping'),
  order,
  intervalUs: z.number().min(0).max(60e6).default(0).describe('pause between faults (a fixed rate); 0: back to back'),
});

export const StorerSchema = z.strictObject({
  role: z.literal('storer'),
  enabled,
  core,
  mapping: name,
  ops,
  bytes: int(1, PAGE_SIZE).default(8).describe('bytes per store, within one page'),
  order,
  rateHz: z.number().min(0).max(1e9).default(0).describe('stores per second (latencies corrected for coordinated omission); 0: flat out'),
  flushUser: z.boolean().default(false).describe('clwb + sfence after each store (MAP_SYNC style)'),
  fsyncEvery: int(0, 1e9).default(0).describe('fsync the file after every this many stores (recorded as fsync); 0: never'),
  punchEvery: int(0, 1e9).default(0).describe('punch a one-page hole (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) at a random page of the mapping after every this many stores (counted as punches, not timed); 0: never'),
  punchPmdEvery: int(0, 1e9)
    .default(0)
    .describe('after every this many punches, punch the whole 2 MiB-aligned range around the last one (counted as pmdPunches): the next store there faults into a hole and maps a fresh 2 MiB extent by PMD, so later punches fall inside a PMD-mapped dirty range again; 0: never'),
});

export const SyncerSchema = z.strictObject({
  role: z.literal('syncer'),
  enabled,
  core,
  mapping: name.optional().describe('msync this mapping'),
  file: name.optional().describe('fsync / fdatasync this file'),
  call: z.enum(['msync', 'fsync', 'fdatasync']).default('msync'),
  ops,
  everyStores: int(1, 1e9).optional().describe('sync after every this many stores of the storers'),
  everyUs: z.number().min(1).max(60e6).optional().describe('sync every this many microseconds'),
});

export const BackgroundCopySchema = z.strictObject({
  role: z.literal('background-copy'),
  enabled,
  core,
  file: name.describe('the file it writes over and over (truncated to 0 and written again)'),
  chunk: size(PAGE_SIZE, '4096').default(64 * 1024).describe('bytes per write(2)'),
  fsyncEvery: int(0, 1e9).default(0).describe('fsync after this many writes; 0: never (as a plain cp)'),
});

export const MetadataDirtierSchema = z.strictObject({
  role: z.literal('metadata-dirtier'),
  enabled,
  core,
  ops,
  files: int(1, 60_000).default(1024).describe('files it creates at the start and then chmods in turn, never syncing them'),
  rateHz: z.number().min(0).max(1e9).default(0).describe('chmods per second; 0: flat out'),
});

export const RoleSchema = z.discriminatedUnion('role', [FaulterSchema, StorerSchema, SyncerSchema, BackgroundCopySchema, MetadataDirtierSchema]);
export const ROLE_NAMES = ['faulter', 'storer', 'syncer', 'background-copy', 'metadata-dirtier'] as const;

/** A knob the lab once had and no kernel has: refused with what replaced it (journal/policy.ts). */
function removedKnob(key: keyof typeof REMOVED_JOURNAL_KNOBS) {
  return z
    .unknown()
    .optional()
    .superRefine((v, ctx) => {
      if (v !== undefined) ctx.addIssue({ code: 'custom', message: REMOVED_JOURNAL_KNOBS[key] });
    });
}

/** mke2fs's bounds on -J size=: 1,024 to 10,240,000 filesystem blocks (the lab's machine takes at most LIMITS.journalBlocks). */
const JOURNAL_MIN_BLOCKS = 1024;

/**
 * The journal's knobs, each the mount option or mkfs flag a user sets on ext4. Keys are
 * JSON-friendly; the descriptions name what each stands for. Every key is optional: absent,
 * ext4's default. Under xfs only `size` (mkfs.xfs -l size=) and `commitIntervalMs` (the log
 * worker's period, fs.xfs.xfssyncd_centisecs) mean something; check.ts refuses the others.
 */
export const JournalSchema = z.strictObject({
  commitIntervalMs: int(1, 3_600_000)
    .optional()
    .describe("commit=: commit a transaction this long after it started, ms (ext4 takes whole seconds, commit=5 by default; a value that is not a multiple of 1000 is the lab's own)"),
  minBatchTimeUs: int(0, 10_000_000).optional().describe('min_batch_time=: the least a synchronous handle waits for others to join its transaction, µs (default 0)'),
  maxBatchTimeUs: int(0, 10_000_000)
    .optional()
    .describe("max_batch_time=: the most it waits, µs (default 15000; 0: no batching). Only synchronous handles batch: an fsync or a MAP_SYNC fault never does"),
  fastCommit: z.boolean().optional().describe('mkfs.ext4 -O fast_commit: an fsync logs the changed inodes alone when it can (default false)'),
  asyncCommit: z.boolean().optional().describe('journal_async_commit: the commit block goes out without waiting for the flush of the blocks before it (default false)'),
  size: size(PAGE_SIZE, '4096', JOURNAL_MIN_BLOCKS * PAGE_SIZE)
    .pipe(z.number().max(LIMITS.journalBlocks.max * PAGE_SIZE))
    .optional()
    .describe("mkfs.ext4 -J size=: the journal's size (at least 4MiB, as mke2fs requires; default mke2fs's for the device: 4MiB below 128MiB, 16MiB below 1GiB, ...)"),
  batchWindowUs: removedKnob('batchWindowUs'),
  maxTransactionBlocks: removedKnob('maxTransactionBlocks'),
});

/** mount -o logbsize=: the sizes XFS accepts for an in-core log buffer (xfs_super.c, XLOG_MIN/MAX_RECORD_BSIZE, powers of two). */
export const XFS_LOGBSIZES = [16384, 32768, 65536, 131072, 262144] as const;

/**
 * XFS's log mount options (xfs personality only; check.ts refuses them elsewhere): the
 * in-core log buffers a CIL push writes through (struct xlog_in_core, xfs_log.c).
 */
export const XfsLogSchema = z.strictObject({
  logbsize: z
    .union([z.number(), z.string()])
    .transform((v, ctx) => {
      let n: number;
      try {
        n = parseSize('logbsize', v);
      } catch {
        n = NaN;
      }
      if (!(XFS_LOGBSIZES as readonly number[]).includes(n)) {
        ctx.addIssue({ code: 'custom', message: `expected one of ${XFS_LOGBSIZES.join(', ')} bytes (16k to 256k, a power of two), got ${JSON.stringify(v)}` });
        return z.NEVER;
      }
      return n;
    })
    .optional()
    .describe('logbsize=: bytes per in-core log buffer, 16k to 256k, a power of two (default 32768)'),
  logbufs: int(2, 8).optional().describe('logbufs=: in-core log buffers, 2 to 8 (default 8)'),
});

export const RunSchema = z.strictObject({
  ops: int(1, 1e9).optional().describe('operations each timed CPU performs'),
  durationMs: int(1, 86_400_000).optional().describe('stop after this long, whatever the counts'),
  warmupOps: int(0, 1e9).default(0).describe('operations each timed CPU performs first, unrecorded'),
  repeats: int(1, 1000).default(1),
  warmupRepeats: int(0, 100).default(0).describe('whole repeats run first and discarded, on the same worker threads (they settle the JIT and the host)'),
  seed: int(0, 2 ** 31 - 1).default(1),
  watchdogMs: int(100, 3_600_000).default(10_000).describe('abort when no CPU makes progress for this long'),
  logIntervalMs: int(0, 3_600_000).default(0).describe('also keep a histogram per interval; 0: off'),
  coordinatedOmission: z.boolean().default(true).describe('correct fixed-rate latencies for coordinated omission'),
  attribute: z.boolean().default(false).describe('split every timed operation into kernel steps'),
  clock: z
    .enum(CLOCKS)
    .default('virtual')
    .describe("virtual: every figure is the model's (each CPU's clock advanced by modeled costs); wall: the host's time, costs busy-waited"),
  windowNs: int(LIMITS.windowNs.min, LIMITS.windowNs.max)
    .optional()
    .describe(`virtual clock only: how far (ns) a CPU may run ahead of the slowest; smaller is more exact and slower (default ${DEFAULT_CONFIG.windowNs})`),
});

export const WorkloadSchema = z.strictObject({
  name,
  description: z.string().default(''),
  device: z
    .strictObject({ size: size(PMD_SIZE, '2 MiB').default(256 * 1024 * 1024), mode: z.enum(PMEM_MODES).default('adr') })
    .default({ size: 256 * 1024 * 1024, mode: 'adr' }),
  fs: z
    .strictObject({ personality: z.enum(FS_PERSONALITIES).default('ext4'), writeback: z.enum(WRITEBACK_MODES).default('tracked') })
    .default({ personality: 'ext4', writeback: 'tracked' }),
  journal: JournalSchema.default({}),
  log: XfsLogSchema.default({}).describe('xfs only: the log mount options logbsize= and logbufs='),
  commitThread: z
    .strictObject({ core })
    .default({})
    .describe('the CPU of kjournald2 (ext4) or of the xfs log pushes: core, as a role\'s'),
  files: z.array(FileSchema).min(1),
  mappings: z.array(MappingSchema).default([]),
  cpus: z.array(RoleSchema).min(1),
  profile: z.string().default('optane-adr').describe('a shipped cost profile name or a profile file path'),
  variant: z.enum(DAX_VARIANTS).default('none'),
  run: RunSchema.default({ warmupOps: 0, repeats: 1, warmupRepeats: 0, seed: 1, watchdogMs: 10_000, logIntervalMs: 0, coordinatedOmission: true, attribute: false, clock: 'virtual' }),
  configs: z
    .array(z.strictObject({ name, set: z.record(z.string(), z.unknown()).default({}) }))
    .optional()
    .describe('named configurations, each a set of overrides (parameter path: value)'),
  sweep: z
    .record(z.string(), z.array(z.unknown()).min(1))
    .optional()
    .describe('axes: parameter path -> values; the run is their cartesian product'),
});

export type Workload = z.infer<typeof WorkloadSchema>;
export type WorkloadFile = z.infer<typeof FileSchema>;
export type WorkloadMapping = z.infer<typeof MappingSchema>;
export type Role = z.infer<typeof RoleSchema>;
export type FaulterRole = z.infer<typeof FaulterSchema>;
export type StorerRole = z.infer<typeof StorerSchema>;
export type SyncerRole = z.infer<typeof SyncerSchema>;
export type BackgroundCopyRole = z.infer<typeof BackgroundCopySchema>;
export type MetadataDirtierRole = z.infer<typeof MetadataDirtierSchema>;
export type RunSettings = z.infer<typeof RunSchema>;
