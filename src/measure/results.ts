// What a run returns and results.json holds: the one definition, as a zod schema, from which
// the TypeScript types and the JSON Schema in schema/results.schema.json are both derived
// (`npm run schema` regenerates the file; a test checks it is current).
//
// Times are nanoseconds (fields end in Ns) or whole microseconds for the seed's buckets
// (lowUs, highUs). Every configuration keeps its merged histograms in HdrHistogram's
// compressed encoding (`encoded`), so `daxlab merge` and `daxlab compare` work from the
// distributions, not from the summary figures.

import { z } from 'zod';
import { ENCODED_OPS_FORMAT, OP_KINDS } from './histogram.js';
import { formatPath } from '../util/format_path.js';
import { CLOCKS } from '../machine/layout.js';

export { formatPath };
import { STEP_NAMES, type StepName } from './steps.js';
import { jsonSchemaOf, parseJsonWith } from '../util/json_input.js';

export const RESULTS_FORMAT = 'daxlab-results-1';

const ns = z.number().nonnegative();
const count = z.number().int().nonnegative();

export const Log2BucketSchema = z.object({ lowUs: count, highUs: count, count });

export const OpStatsSchema = z.object({
  count,
  minNs: ns,
  meanNs: ns,
  maxNs: ns,
  p50Ns: ns,
  p90Ns: ns,
  p99Ns: ns,
  p999Ns: ns,
  buckets: z.array(Log2BucketSchema).describe("the seed's log2 microsecond buckets, non-empty ones, lowest first"),
});

const OpKindSchema = z.enum(OP_KINDS);

export const EncodedOpSchema = z.object({
  count,
  sumNs: ns,
  minNs: ns,
  maxNs: ns,
  outOfRange: count,
  histogram: z.string().describe('HdrHistogram V2 compressed encoding, base64'),
});

export const EncodedOpsSchema = z.object({
  format: z.literal(ENCODED_OPS_FORMAT),
  lowestNs: z.number(),
  highestNs: z.number(),
  significantDigits: z.number().int(),
  ops: z.partialRecord(OpKindSchema, EncodedOpSchema),
});

export const LockWaitBucketSchema = z.object({ lowNs: ns, highNs: ns, count });

export const LockFiguresSchema = z.object({
  acquisitions: count,
  contentions: count,
  conBounces: count,
  acqBounces: count,
  waitNsTotal: ns,
  waitNsMin: ns,
  waitNsMax: ns,
  holdNsTotal: ns,
  holdNsMin: ns,
  holdNsMax: ns,
  waitBuckets: z.array(LockWaitBucketSchema).describe('histogram of contended wait times, log2 nanosecond buckets, non-empty ones'),
});

/** Figures of one repeat of one configuration, for per-repeat statistics and confidence intervals. */
export const RepeatSchema = z.object({
  repeat: count,
  partial: z.boolean(),
  elapsedNs: ns,
  ops: z.partialRecord(OpKindSchema, z.object({ count, meanNs: ns, p50Ns: ns, p99Ns: ns, p999Ns: ns, maxNs: ns })),
});

export const IntervalSchema = z.object({
  startMs: z.number().nonnegative(),
  ops: z.partialRecord(OpKindSchema, z.object({ count, meanNs: ns, p50Ns: ns, p99Ns: ns, p999Ns: ns, maxNs: ns })),
});

// The step names live in steps.ts, which every CPU loads on its lock paths: it must not pull
// zod and the histogram's WebAssembly into each worker through this file.
export { STEP_NAMES, type StepName };

const StepRecord = z.partialRecord(z.enum(STEP_NAMES), ns);

export const AttributionSchema = z.object({
  count,
  meanNs: StepRecord.describe('mean time per operation in each step'),
  meanShare: z.partialRecord(z.enum(STEP_NAMES), z.number()).describe("each step's share of the mean latency (sums to 1)"),
  p99Share: z
    .partialRecord(z.enum(STEP_NAMES), z.number())
    .describe("each step's share of the latency of the operations at or above the p99 (sums to 1)"),
  slowest: z
    .array(
      z.object({
        latencyNs: ns,
        cpu: count,
        repeat: count,
        steps: StepRecord,
        commitCarriedOtherInodes: z.boolean().describe('the journal commit it waited for also carried other inodes'),
      }),
    )
    .describe('the slowest operations, slowest first, with their full breakdown'),
});

export const ConfigResultSchema = z.object({
  name: z.string(),
  params: z.record(z.string(), z.unknown()).describe('the sweep axis values and overrides that make this configuration'),
  repeats: count,
  partial: z.boolean(),
  elapsedNs: ns.describe('measured time, summed over repeats'),
  ops: z.partialRecord(OpKindSchema, OpStatsSchema),
  encoded: EncodedOpsSchema,
  perRepeat: z.array(RepeatSchema),
  locks: z
    .record(z.string(), LockFiguresSchema)
    .describe("lock_stat per lock class, summed over the repeats' measured phases: warm-up operations and warm-up repeats are not in it"),
  counters: z
    .record(z.string(), z.number())
    .describe("the model's counters over the repeats' measured phases (counts summed, ratios and means over them): warm-up operations and warm-up repeats are not in them"),
  intervals: z.array(IntervalSchema).optional(),
  attribution: z.partialRecord(OpKindSchema, AttributionSchema).optional(),
  violations: z.array(z.string()).describe("invariant checker findings after the run (empty when the model's invariants held)"),
});

export const MachineInfoSchema = z.object({
  cores: count,
  node: z.string(),
  platform: z.string(),
  arch: z.string(),
  cpuModel: z.string(),
  cpuWorkers: count.describe('worker threads one configuration runs (CPUs plus the commit thread)'),
  oversubscribed: z.boolean(),
});

export const RunResultsSchema = z.object({
  format: z.literal(RESULTS_FORMAT),
  daxlabVersion: z.string(),
  createdAt: z.string(),
  workload: z.object({ name: z.string(), description: z.string(), source: z.unknown().describe('the validated workload, overrides applied') }),
  profile: z.object({
    name: z.string(),
    costs: z.record(z.string(), z.number()),
    idleWakeup: z
      .object({ distribution: z.string(), medianNs: z.number(), sigma: z.number(), minIdleNs: z.number() })
      .optional()
      .describe('the idle wake-up distribution the run drew from (src/cost/idle_wakeup.ts); absent in results from before it'),
  }),
  variant: z.string(),
  seed: z.number().int(),
  clock: z
    .object({
      kind: z.enum(CLOCKS).describe("virtual: the model's time (the same on any host); wall: the host's"),
      windowNs: z.number().int().nullable().describe('the virtual clock\'s window (ns); null on the wall clock'),
    })
    .default({ kind: 'wall', windowNs: null })
    .describe('the clock every figure is in; results written before the virtual clock have none and were on the wall clock'),
  machine: MachineInfoSchema,
  partial: z.boolean().describe('true when the run was interrupted (Ctrl-C, SIGTERM) or a CPU failed, and holds what was gathered so far'),
  failure: z
    .string()
    .optional()
    .describe('what ended the run early: the signal or errno a simulated CPU got (a SIGBUS when a fault found no free block), naming the CPU, its role and the configuration'),
  warmupExcluded: z
    .boolean()
    .optional()
    .describe(
      "true: every config's counters and locks leave out the warm-up (run.warmupOps and run.warmupRepeats). " +
        "Absent in results written before: there the per-CPU counters (faults, writeback entries, kjournald2.*) include each CPU's run.warmupOps operations",
    ),
  shard: z.object({ index: z.number().int().positive(), count: z.number().int().positive() }).optional(),
  warnings: z.array(z.string()),
  configs: z.array(ConfigResultSchema),
});

export type OpStatsJson = z.infer<typeof OpStatsSchema>;
export type LockFigures = z.infer<typeof LockFiguresSchema>;
export type RepeatResult = z.infer<typeof RepeatSchema>;
export type IntervalResult = z.infer<typeof IntervalSchema>;
export type Attribution = z.infer<typeof AttributionSchema>;
export type ConfigResult = z.infer<typeof ConfigResultSchema>;
export type MachineInfo = z.infer<typeof MachineInfoSchema>;
export type RunResults = z.infer<typeof RunResultsSchema>;

/** The JSON Schema (draft 2020-12) of results.json. */
export function resultsJsonSchema(): object {
  return jsonSchemaOf(RunResultsSchema, 'results.schema.json', 'daxlab results.json');
}

/** Parses a results.json text; the error names the first field that does not fit. */
export function parseResults(text: string, where = 'results.json'): RunResults {
  return parseJsonWith(RunResultsSchema, text, where);
}
