// Where tune spends its runs, for one situation (one point of the workload's own sweep).
//
// Rung 0 screens: the default policy, each knob moved alone from it (a one-factor-at-a-time
// design), then the policy a main-effects model of those runs predicts best (each knob at
// the value that did best alone, among those within the constraints), then a seeded random
// sample of the rest of the space to fill the rung. When the space has no more policies than
// rung 0 has room for, rung 0 is the whole grid.
// Then successive halving (Jamieson & Talwalkar 2016) with repeats as the resource: the best
// third (by the objective, those within the constraints first) get three runs, the best two
// six, the least from which the order statistics give a 95 % interval of the median. The
// default climbs every rung too, so the improvement over it has an interval. Whatever the
// rungs leave of the budget goes first to backward elimination: from the policy the
// recommendation would take, each knob it moves is put back to its default and measured on the
// same repeats (seeds); the revert is kept when the objective cannot be told from the best's
// (recommend.ts's rule) and every constraint holds, and the elimination starts again from the
// new recommendation until no knob can go. Random samples and the main-effects model carry
// knobs that do nothing, and the fewest-knobs rule can only choose among measured policies.
// Rung 0 leaves room for four such reverts when the budget affords the one-at-a-time screen,
// and the knobs whose screening moved the objective least are tried first.
// The rest goes where two candidates are too close to call: the best and the runner-up while
// the U test cannot separate them, then points a median says are dominated but no test has
// confirmed; then elimination once more, with what is left, if the close calls moved the
// recommendation.
//
// Every repeat r of every candidate runs with seed + r (common random numbers): candidates
// are compared on the same draws, and a knob that changes nothing gives identical figures.
// Hand-written: the npm registry has no maintained Hyperband or Bayesian optimiser, and a
// richer model of a categorical space of ~150 points whose evaluations take seconds each
// would cost more code than it saves runs.

import { seededRng } from '../util/rng.js';
import { median } from '../measure/repeat_stats.js';
import { evaluate, type Constraint, type LinearExpr } from './expr.js';
import { violation } from './feasible.js';
import type { Sample } from './metrics.js';
import { clearlyLower, frontStatus } from './pareto.js';
import { recommendedCandidate } from './recommend.js';
import { defaultPolicy, enumerate, policyChanges, policyKey, spaceSize, type Policy, type Space } from './space.js';

export interface RunRequest {
  policy: Policy;
  repeat: number;
}

/** Runs each request (a policy, a repeat index) and returns its sample, in order. */
export type Evaluator = (requests: RunRequest[]) => Promise<Sample[]>;

export interface Candidate {
  key: string;
  policy: Policy;
  /** samples[r]: repeat r's figures. */
  samples: Sample[];
}

export interface SearchOptions {
  space: Space;
  /** Most runs to spend. */
  budget: number;
  seed: number;
  objective: LinearExpr;
  constraints: readonly Constraint[];
  /** The metrics of the front (minimised), for the close-call repeats. */
  frontMetrics: readonly string[];
  onRuns?: (spent: number, budget: number, stage: string) => void;
}

export interface SearchResult {
  method: 'grid' | 'successive-halving';
  spaceSize: number;
  runs: number;
  budget: number;
  stages: { stage: string; candidates: number; runs: number }[];
  candidates: Candidate[];
}

export const RUNG_REPEATS = [1, 3, 6] as const;
/** Close calls stop here: more repeats than this rarely turn one at 95 %. */
export const MAX_REPEATS = 12;

/** The most runs the rungs can take with n candidates in rung 0 (the default among them). */
export function rungCost(n: number): number {
  const r1 = Math.min(n, Math.ceil(n / 3) + 1);
  const r2 = Math.min(n, 3);
  return n * RUNG_REPEATS[0] + r1 * (RUNG_REPEATS[1] - RUNG_REPEATS[0]) + r2 * (RUNG_REPEATS[2] - RUNG_REPEATS[1]);
}

/** Runs rung 0 leaves for backward elimination: four knobs put back at rung 2's repeats. */
export const ELIMINATION_RESERVE = 4 * RUNG_REPEATS[2];

/** The least budget a search takes: two candidates (the default and one other) through every rung. */
export const MIN_BUDGET = rungCost(2);

export async function search(evaluator: Evaluator, o: SearchOptions): Promise<SearchResult> {
  if (!(Number.isInteger(o.budget) && o.budget >= MIN_BUDGET)) throw new RangeError(`--budget: expected at least ${MIN_BUDGET} runs per situation, got ${o.budget}`);
  const size = spaceSize(o.space);
  // The one-at-a-time screen (with the default and the model's prediction) comes before the reserve.
  const screen = Math.min(size, 2 + oneAtATime(o.space, defaultPolicy(o.space)).length);
  const reserve = Math.max(0, Math.min(ELIMINATION_RESERVE, o.budget - rungCost(screen)));
  let n0 = 2;
  while (n0 < size && rungCost(n0 + 1) + reserve <= o.budget) n0++;
  // A grid that fits goes before the reserve: it has measured every revert once already.
  n0 = rungCost(size) <= o.budget ? size : Math.min(n0, size);
  const all = enumerate(o.space);
  const grid = n0 >= all.length;
  const cands: Candidate[] = [];
  const add = (ps: readonly Policy[]) => {
    for (const p of ps) if (cands.length < n0 && !cands.some((c) => c.key === policyKey(p))) cands.push({ key: policyKey(p), policy: p, samples: [] });
  };
  const stages: SearchResult['stages'] = [];
  let runs = 0;

  /** Brings each candidate to `repeats` runs, within the budget, in one batch. */
  const runTo = async (stage: string, which: readonly Candidate[], repeats: number): Promise<void> => {
    const todo: { c: Candidate; repeat: number }[] = [];
    for (const c of new Set(which)) for (let r = c.samples.length; r < repeats; r++) todo.push({ c, repeat: r });
    todo.splice(o.budget - runs);
    if (todo.length === 0) return;
    const got = await evaluator(todo.map((t) => ({ policy: t.c.policy, repeat: t.repeat })));
    todo.forEach((t, i) => (t.c.samples[t.repeat] = got[i]));
    runs += todo.length;
    const last = stages.at(-1);
    // Elimination measures one revert at a time: its batches make one stage.
    if (last?.stage === stage && stage === 'backward elimination') {
      last.candidates += new Set(todo.map((t) => t.c)).size;
      last.runs += todo.length;
    } else stages.push({ stage, candidates: new Set(todo.map((t) => t.c)).size, runs: todo.length });
    o.onRuns?.(runs, o.budget, stage);
  };
  const objective = (c: Candidate) => c.samples.map((s) => evaluate(o.objective, s));
  const ranked = (pool: readonly Candidate[]) => [...pool].sort((a, b) => rank(a) - rank(b) || median(objective(a)) - median(objective(b)));
  // Feasible first, then by how far over its bounds a candidate is.
  const rank = (c: Candidate) => violation(c.samples, o.constraints);

  if (grid) {
    add(all);
    await runTo('rung 0: the grid', cands, RUNG_REPEATS[0]);
  } else {
    const base = defaultPolicy(o.space);
    // One place is kept for the model's prediction.
    add([base, ...sample(oneAtATime(o.space, base), Math.max(1, n0 - 2), o.seed)]);
    await runTo('rung 0: each knob alone', cands, RUNG_REPEATS[0]);
    add([mainEffectsBest(o.space, cands, objective, o.constraints)]);
    add(sample(all, all.length, o.seed + 1));
    await runTo('rung 0: main-effects model and random sample', cands, RUNG_REPEATS[0]);
  }
  const def = cands[0];
  const r1 = ranked(cands).slice(0, Math.ceil(cands.length / 3));
  await runTo('rung 1', [...r1, def], RUNG_REPEATS[1]);
  const r2 = ranked(r1).slice(0, 2);
  await runTo('rung 2', [...r2, def], RUNG_REPEATS[2]);

  /** Puts the recommendation's knobs back to their defaults while the objective cannot tell (see the top). */
  const eliminate = async (): Promise<void> => {
    for (;;) {
      const rec = recommendedCandidate(o.space, cands, o.objective, o.constraints);
      if (rec === null) return;
      let moved = false;
      // The knobs whose screening run moved the objective least go first (the space's order
      // among equals): the budget may not last for all, and a knob that matters is the one
      // worth leaving untested. Repeat by repeat against the default's: on common random
      // numbers a knob that does nothing moves nothing.
      const effect = (path: string): number => {
        const alone = cands.find((x) => x.key === policyKey({ ...def.policy, [path]: rec.policy[path] }));
        const n = Math.min(alone?.samples.length ?? 0, def.samples.length);
        if (alone === undefined || n === 0) return Infinity;
        const [a, d] = [objective(alone), objective(def)];
        let sum = 0;
        for (let r = 0; r < n; r++) sum += Math.abs(a[r] - d[r]);
        return sum / n;
      };
      const order = policyChanges(o.space, rec.policy).sort((a, b) => effect(a.path) - effect(b.path));
      for (const ch of order) {
        const knob = o.space.knobs.find((k) => k.path === ch.path)!;
        const p = { ...rec.policy, [ch.path]: knob.default };
        let c = cands.find((x) => x.key === policyKey(p));
        const missing = rec.samples.length - (c?.samples.length ?? 0);
        // A revert measured on fewer repeats than the recommendation is no fair comparison.
        if (missing <= 0 || missing > o.budget - runs) continue;
        if (c === undefined) cands.push((c = { key: policyKey(p), policy: p, samples: [] }));
        await runTo('backward elimination', [c], rec.samples.length);
        // The recommendation changes only when the revert ties it: start again from the new one.
        if (recommendedCandidate(o.space, cands, o.objective, o.constraints) !== rec) {
          moved = true;
          break;
        }
      }
      if (!moved) return;
    }
  };
  await eliminate();

  // Close calls, two runs at a time, while the budget lasts.
  for (;;) {
    if (o.budget - runs < 1) break;
    const pair = closeCall(ranked(cands.filter((c) => c.samples.length >= RUNG_REPEATS[2])), objective);
    if (pair !== null) {
      await runTo('close call: best vs runner-up', pair, Math.min(MAX_REPEATS, Math.max(pair[0].samples.length, pair[1].samples.length) + 1));
      continue;
    }
    const unclear = unclearPoint(cands, o.frontMetrics);
    if (unclear === null) break;
    await runTo('close call: unconfirmed domination', unclear, Math.min(MAX_REPEATS, Math.max(...unclear.map((c) => c.samples.length)) + 1));
  }
  await eliminate();
  return { method: grid ? 'grid' : 'successive-halving', spaceSize: size, runs, budget: o.budget, stages, candidates: cands };
}

/** The default with one knob moved, for every knob and value. */
export function oneAtATime(space: Space, base: Policy): Policy[] {
  return space.knobs.flatMap((k) => k.values.filter((v) => v !== base[k.path]).map((v) => ({ ...base, [k.path]: v })));
}

/**
 * Each knob at the value whose one-at-a-time run did best on the objective (the default's
 * value unless a move within the constraints beat it): what an additive model of the
 * screening runs predicts is best.
 */
export function mainEffectsBest(space: Space, measured: readonly Candidate[], objective: (c: Candidate) => number[], constraints: readonly Constraint[]): Policy {
  const base = measured[0].policy;
  const at = (c: Candidate) => median(objective(c));
  const out: Policy = { ...base };
  for (const k of space.knobs) {
    let best = at(measured[0]);
    for (const c of measured) {
      const moved = space.knobs.filter((x) => c.policy[x.path] !== base[x.path]);
      if (moved.length !== 1 || moved[0].path !== k.path || violation(c.samples, constraints) > 0) continue;
      if (at(c) < best) {
        best = at(c);
        out[k.path] = c.policy[k.path];
      }
    }
  }
  return out;
}

/** The best two, when the test cannot tell them apart, their medians differ and repeats remain. */
function closeCall(ranked: readonly Candidate[], objective: (c: Candidate) => number[]): [Candidate, Candidate] | null {
  if (ranked.length < 2) return null;
  const [a, b] = ranked;
  const xa = objective(a);
  const xb = objective(b);
  if (median(xa) === median(xb) || clearlyLower(xa, xb) || clearlyLower(xb, xa)) return null;
  if (a.samples.length >= MAX_REPEATS && b.samples.length >= MAX_REPEATS) return null;
  return [a, b];
}

/** A point a median says is dominated while no test confirms it, and its dominator, with repeats left. */
function unclearPoint(cands: readonly Candidate[], metrics: readonly string[]): Candidate[] | null {
  const status = frontStatus(cands.map((c) => metrics.map((m) => c.samples.map((s) => s[m]))));
  let best: Candidate[] | null = null;
  status.forEach((st, i) => {
    if (st.status !== 'unclear' || st.by === null) return;
    const pair = [cands[i], cands[st.by]];
    if (pair.every((c) => c.samples.length >= MAX_REPEATS)) return;
    // The least-measured first: its next repeat says the most.
    if (best === null || cands[i].samples.length < best[0].samples.length) best = pair;
  });
  return best;
}

/** k of xs, chosen at random from the seed (a partial Fisher-Yates shuffle). */
function sample<T>(xs: readonly T[], k: number, seed: number): T[] {
  const a = [...xs];
  const rng = seededRng(seed);
  for (let i = 0; i < Math.min(k, a.length); i++) {
    const j = i + Math.floor(rng() * (a.length - i));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a.slice(0, k);
}
