// What `daxlab tune` writes (tune.json): the one definition, as a zod schema, from which the
// type and schema/tune.schema.json are derived (`npm run schema`; a test keeps them in step).

import { z } from 'zod';
import { jsonSchemaOf, parseJsonWith } from '../util/json_input.js';

export const TUNE_FORMAT = 'daxlab-tune-1';

const EstimateSchema = z
  .object({
    median: z.number(),
    low: z.number(),
    high: z.number(),
    confidence: z.number().describe("the interval's coverage of the true median: 0.95 from 6 repeats on; below, [min, max] of the repeats, whose coverage is 1 - 2^(1-n)"),
    n: z.number().int().nonnegative(),
  })
  .describe('median of the repeats and its distribution-free interval');

export const PointSchema = z.object({
  label: z.string().describe('the knobs it changes from the default, or "default"'),
  policy: z.record(z.string(), z.unknown()).describe('every knob of the space by workload path (null: left to mkfs)'),
  repeats: z.number().int().nonnegative(),
  status: z
    .enum(['front', 'unclear', 'dominated'])
    .describe('front: no point is better by medians; unclear: one is, but no test confirms it (kept); dominated: one is, and the U test confirms it on a metric'),
  dominatedBy: z.string().nullable(),
  feasible: z.boolean().describe('every repeat meets every constraint'),
  objective: EstimateSchema,
  metrics: z.record(z.string(), EstimateSchema).describe('the front metrics (latencies in µs, rates per second of virtual time)'),
});

export const RecommendationSchema = z.object({
  label: z.string(),
  policy: z.record(z.string(), z.unknown()),
  commands: z.object({ mount: z.string(), mkfs: z.string().nullable().describe('null: no format-time knob changes, keep the filesystem') }),
  objective: EstimateSchema,
  defaultObjective: EstimateSchema.nullable(),
  ratio: z.number().nullable().describe('recommended / default objective'),
  ratioInterval: z.object({ low: z.number(), high: z.number() }).nullable().describe('95 % bootstrap interval of the ratio (null below 6 repeats a side)'),
  improvement: z.number().nullable().describe('default minus recommended objective'),
  defaultInfeasible: z.boolean(),
});

export const SituationSchema = z.object({
  index: z.number().int().nonnegative().describe("its place among the workload's situations (a shard holds some)"),
  name: z.string(),
  params: z.record(z.string(), z.unknown()).describe("the workload's own sweep values that make this situation"),
  method: z.enum(['grid', 'successive-halving']),
  spaceSize: z.number().int().positive(),
  budget: z.number().int().positive(),
  runs: z.number().int().nonnegative().describe('runs spent'),
  wallMs: z.number().nonnegative(),
  stages: z.array(z.object({ stage: z.string(), candidates: z.number().int(), runs: z.number().int() })),
  points: z.array(PointSchema),
  recommendation: RecommendationSchema.nullable().describe('null: no candidate met every constraint'),
});

export const TuneResultsSchema = z.object({
  format: z.literal(TUNE_FORMAT),
  daxlabVersion: z.string(),
  createdAt: z.string(),
  workload: z.object({ name: z.string(), source: z.string(), config: z.string().nullable() }),
  personality: z.string(),
  seed: z.number().int(),
  budget: z.number().int().positive().describe('runs per situation'),
  objective: z.string(),
  constraints: z.array(z.string()),
  frontMetrics: z.array(z.string()),
  space: z.array(z.object({ path: z.string(), kind: z.enum(['mount', 'mkfs']), default: z.unknown(), values: z.array(z.unknown()) })),
  situationCount: z.number().int().nonnegative(),
  shard: z.object({ index: z.number().int().positive(), count: z.number().int().positive() }).optional(),
  runs: z.number().int().nonnegative(),
  wallMs: z.number().nonnegative(),
  situations: z.array(SituationSchema),
});

export type TuneResults = z.infer<typeof TuneResultsSchema>;
export type TunePoint = z.infer<typeof PointSchema>;
export type TuneSituation = z.infer<typeof SituationSchema>;

export function tuneJsonSchema(): object {
  return jsonSchemaOf(TuneResultsSchema, 'tune.schema.json', 'daxlab tune.json');
}

export function parseTuneResults(text: string, where = 'tune.json'): TuneResults {
  return parseJsonWith(TuneResultsSchema, text, where);
}
