// One tune: every situation of the workload (or a shard's share of them) searched on its own,
// summarised as its points (the front's statuses and estimates) and its recommendation.
// The runs themselves come from an evaluator, so tests can give a synthetic objective.

import { evaluate, type Constraint, type LinearExpr } from './expr.js';
import { estimate, frontStatus } from './pareto.js';
import { recommend } from './recommend.js';
import { TUNE_FORMAT, type TunePoint, type TuneResults, type TuneSituation } from './result.js';
import { violation } from './feasible.js';
import { search, type Evaluator } from './search.js';
import type { Situation, TuneSetup } from './situations.js';
import { policyLabel } from './space.js';
import { shardConfigs } from '../workload/expand.js';

export interface TuneOptions {
  source: string;
  config: string | null;
  seed: number;
  budget: number;
  objective: LinearExpr;
  constraints: Constraint[];
  frontMetrics: string[];
  shard?: { index: number; count: number };
  version: string;
  /** The evaluator for a situation. */
  evaluatorFor: (s: Situation) => Evaluator;
  onRuns?: (situation: Situation, spent: number, budget: number, stage: string) => void;
  now?: () => number;
}

export async function runTune(setup: TuneSetup, o: TuneOptions): Promise<TuneResults> {
  const now = o.now ?? Date.now;
  const t0 = now();
  const mine = o.shard ? shardConfigs(setup.situations, o.shard.index, o.shard.count) : setup.situations;
  const situations: TuneSituation[] = [];
  for (const s of mine) {
    const ts = now();
    const r = await search(o.evaluatorFor(s), {
      space: setup.space,
      budget: o.budget,
      seed: o.seed + s.index,
      objective: o.objective,
      constraints: o.constraints,
      frontMetrics: o.frontMetrics,
      onRuns: (spent, budget, stage) => o.onRuns?.(s, spent, budget, stage),
    });
    const measured = r.candidates.filter((c) => c.samples.length > 0);
    const status = frontStatus(measured.map((c) => o.frontMetrics.map((m) => c.samples.map((x) => x[m]))));
    const points: TunePoint[] = measured.map((c, i) => ({
      label: policyLabel(setup.space, c.policy),
      policy: c.policy,
      repeats: c.samples.length,
      status: status[i].status,
      dominatedBy: status[i].by === null ? null : policyLabel(setup.space, measured[status[i].by!].policy),
      feasible: violation(c.samples, o.constraints) === 0,
      objective: estimate(c.samples.map((x) => evaluate(o.objective, x))),
      metrics: Object.fromEntries(o.frontMetrics.map((m) => [m, estimate(c.samples.map((x) => x[m]))])),
    }));
    situations.push({
      index: s.index,
      name: s.name,
      params: s.params,
      method: r.method,
      spaceSize: r.spaceSize,
      budget: r.budget,
      runs: r.runs,
      wallMs: now() - ts,
      stages: r.stages,
      points,
      recommendation: recommend(setup.space, measured, o.objective, o.constraints),
    });
  }
  return {
    format: TUNE_FORMAT,
    daxlabVersion: o.version,
    createdAt: new Date().toISOString(),
    workload: { name: setup.workload.name, source: o.source, config: o.config },
    personality: setup.space.personality,
    seed: o.seed,
    budget: o.budget,
    objective: o.objective.text,
    constraints: o.constraints.map((c) => c.text),
    frontMetrics: o.frontMetrics,
    space: setup.space.knobs.map((k) => ({ path: k.path, kind: k.kind, default: k.default, values: k.values })),
    situationCount: setup.situations.length,
    ...(o.shard ? { shard: o.shard } : {}),
    runs: situations.reduce((n, s) => n + s.runs, 0),
    wallMs: now() - t0,
    situations,
  };
}
