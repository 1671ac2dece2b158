// probe.json: what `daxlab probe` measured on a real kernel, the one definition (zod) from
// which the TypeScript types and schema/probe.schema.json are derived (`npm run schema`
// regenerates it; a test checks it is current). `daxlab calibrate` reads the same file.
//
// Times are nanoseconds (fields end in Ns), except the seed's log2 buckets (lowUs, highUs,
// whole microseconds, as src/measure/buckets.ts cuts them). Every measured series keeps its
// HDR histogram (hdr-histogram-js compressed base64 of nanoseconds, 1 ns to one hour, 3
// significant digits: the lab's own shape, so `show` and `compare` merge it with a run's).
//
// Row names follow seed 002 and KERNEL-REF.md, `<prep>-<bg|nobg>-<sync|nosync>[-pmd]`, where
// prep "prealloc" is a *fallocated* file (unwritten extents). The lab's kara-2017 workload
// names its written file "prealloc-*" (the 2017 table's preallocated file must have been
// written, KERNEL-REF says) and its fallocated one "fallocated-*": match rows to the lab's
// configurations by prep, mapSync, bg and huge (labConfigName in src/probe/lab_names.ts),
// not by the name string.

import { z } from 'zod';
import { jsonSchemaOf, parseJsonWith, validateJson } from '../util/json_input.js';

export const PROBE_FORMAT = 'daxlab-probe/1';

const ns = z.number().nonnegative();
const count = z.number().int().nonnegative();

export const PROBE_PREPS = ['prealloc', 'empty', 'written'] as const;
export type ProbePrep = (typeof PROBE_PREPS)[number];
export const PROBE_PAUSES_MS = [0, 10, 100] as const;

export const ProbeStatsSchema = z.object({
  count: count.describe('timed operations, over all repeats'),
  meanNs: ns,
  p50Ns: ns,
  p99Ns: ns,
  minNs: ns,
  maxNs: ns,
  repeatMeansNs: z.array(ns).describe('the mean of each repeat, in the order they ran'),
  buckets: z
    .array(z.object({ lowUs: count, highUs: count, count }))
    .describe("the lab's log2 microsecond buckets (src/measure/buckets.ts), non-empty ones, lowest first"),
  hdr: z.string().describe('HdrHistogram V2 compressed encoding, base64, of the nanosecond values (1 ns .. 1 h, 3 significant digits)'),
  perRepeat: z
    .array(z.object({ count, meanNs: ns, p50Ns: ns, p99Ns: ns, p999Ns: ns, maxNs: ns }))
    .optional()
    .describe("each repeat's figures, in the order they ran: `daxlab compare` judges over them as over a run's repeats (optional: without them it shows the figures but judges none)"),
});

const status = z.enum(['measured', 'unsupported']);
const reason = z.string().optional().describe('why the series is unsupported (the errno and what it means)');

export const ProbeDeviceSchema = z.object({
  name: z.string().describe('the block device under the mount, as /sys/block names it (pmem0)'),
  queueDax: z.boolean().nullable().describe('/sys/block/<dev>/queue/dax; null where unreadable'),
  daxWriteCache: z.boolean().nullable().describe('/sys/block/<dev>/dax/write_cache; null where absent'),
  namespace: z.string().nullable().describe('the nvdimm namespace behind the device (namespace0.0); null where none'),
  namespaceMode: z.string().nullable().describe("the namespace's mode (fsdax, devdax, sector, raw); null where unreadable"),
});

export const ProbeSetupSchema = z.object({
  kernel: z.string().describe('uname: sysname release version machine'),
  mount: z.object({
    source: z.string(),
    fstype: z.string(),
    options: z.array(z.string()).describe('the /proc/mounts options of the mount holding --dir'),
  }),
  statxDax: z.boolean().nullable().describe('statx reported STATX_ATTR_DAX on the probe file; null where statx cannot say'),
  device: ProbeDeviceSchema.nullable().describe('null when the mount is not on a block device (tmpfs, overlay)'),
  cpu: z.string(),
  cpus: z.number().int().positive().optional().describe('CPUs online where the probe ran'),
  clocksource: z.string().nullable().describe('/sys/devices/system/clocksource/clocksource0/current_clocksource'),
  timerNs: ns
    .optional()
    .describe('median cost of a clock_gettime(CLOCK_MONOTONIC) pair with nothing between: every timed figure includes it once'),
  pages: count.optional().describe('4 KiB faults per repeat of a fault row (probes before this field have none)'),
  taxFaults: count.optional().describe('paced faults per repeat of an ordering-tax row (probes before this field have none)'),
  dirtierFiles: count.optional().describe('files the ordering tax\'s metadata dirtier chmods in turn (probes before this field have none)'),
});

export const CopyPlacementSchema = z
  .object({ sameCpu: count, smtSibling: count, otherCore: count, unknown: count })
  .describe(
    "where the background copy ran at each timed fault (its CPU at its last write against the faulter's, by /sys/devices/system/cpu/cpuN/topology): time-sharing the faulter's CPU, on its SMT sibling, on another core, or not known (the copy had not written yet, or no topology)",
  );

export const ProbeRowSchema = z.object({
  name: z.string(),
  prep: z.enum(PROBE_PREPS).describe('prealloc: fallocate (unwritten extents); empty: ftruncate (a hole); written: pwrite'),
  mapSync: z.boolean().describe('MAP_SHARED_VALIDATE | MAP_SYNC rather than MAP_SHARED'),
  bg: z.boolean().describe('a second process copying a file on the same filesystem'),
  huge: z.boolean().describe('MADV_HUGEPAGE on a 2 MiB aligned mapping (a PMD fault per 2 MiB) rather than MADV_NOHUGEPAGE'),
  status,
  reason,
  repeats: count,
  rusageFaults: count.optional().describe('page faults getrusage counted during the timed stores, summed over repeats'),
  fault: ProbeStatsSchema.optional().describe('the time of each first store to a page (one fault each)'),
  copyPlacement: CopyPlacementSchema.optional().describe('bg rows: where the copy ran, fault by fault, summed over repeats (probes before this field have none)'),
});

export const ProbeFsyncSchema = z.object({
  dirtyPages: count,
  status,
  reason,
  fsync: ProbeStatsSchema.optional(),
});

export const ProbeOrderingTaxSchema = z.object({
  pauseMs: z.union(PROBE_PAUSES_MS.map((p) => z.literal(p))),
  mapSync: z.boolean(),
  status,
  reason,
  fault: ProbeStatsSchema.optional(),
});

export const ProbeSchema = z.object({
  schema: z.literal(PROBE_FORMAT),
  createdAt: z.iso.datetime(),
  quick: z.boolean(),
  setup: ProbeSetupSchema,
  dax: z.object({ isDax: z.boolean(), reason: z.string().nullable().describe('why the filesystem is not DAX; null when it is') }),
  rows: z.array(ProbeRowSchema),
  fsync: z.array(ProbeFsyncSchema).describe('fsync after k dirty pages of a written file'),
  orderingTax: z
    .array(ProbeOrderingTaxSchema)
    .describe('write faults paced pauseMs apart on an empty file, beside a process dirtying inodes (chmod) without syncing'),
  baseline: z.object({
    nullSyscallNs: ns.nullable().describe('getppid() round trip'),
    pageCacheFaultNs: ns
      .nullable()
      .describe("a read fault on a page already in a tmpfs file's page cache (MAP_SHARED, MADV_RANDOM), as bench/native/kernel_costs.c measures it"),
  }),
});

export type ProbeStats = z.infer<typeof ProbeStatsSchema>;
export type ProbeSetup = z.infer<typeof ProbeSetupSchema>;
export type ProbeDevice = z.infer<typeof ProbeDeviceSchema>;
export type ProbeRow = z.infer<typeof ProbeRowSchema>;
export type CopyPlacement = z.infer<typeof CopyPlacementSchema>;
export type ProbeFsync = z.infer<typeof ProbeFsyncSchema>;
export type ProbeOrderingTax = z.infer<typeof ProbeOrderingTaxSchema>;
export type Probe = z.infer<typeof ProbeSchema>;

/** The JSON Schema (draft 2020-12) of probe.json. */
export function probeJsonSchema(): object {
  return jsonSchemaOf(ProbeSchema, 'probe.schema.json', 'daxlab probe.json');
}

/** True when the parsed JSON claims to be a probe (its `schema` field), before full validation. */
export function looksLikeProbe(data: unknown): boolean {
  return typeof data === 'object' && data !== null && typeof (data as { schema?: unknown }).schema === 'string' && (data as { schema: string }).schema.startsWith('daxlab-probe/');
}

/** Validates parsed probe.json data; the error is one line naming the first field that does not fit. */
export function parseProbeData(data: unknown, where = 'probe.json'): Probe {
  return validateJson(ProbeSchema, data, where);
}

/** Parses a probe.json text. */
export function parseProbe(text: string, where = 'probe.json'): Probe {
  return parseJsonWith(ProbeSchema, text, where);
}
