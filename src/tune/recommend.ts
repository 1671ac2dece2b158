// The recommendation: among the candidates every repeat of which meets every constraint, the
// lowest objective; among those that cannot be told from it (their median within its 95 %
// interval, or the U test not finding it clearly lower), the one that changes fewest knobs
// from the default, a user's least work. The search's backward elimination (search.ts) uses
// the same rule to drop knobs that do nothing.
// Written as the commands a user types, with the improvement over the default policy and its
// interval (the seeded bootstrap of the ratio of medians, as `daxlab compare` gives it).

import { bootstrapRatioInterval, median, seedOf, type Interval } from '../measure/repeat_stats.js';
import { evaluate, type Constraint, type LinearExpr } from './expr.js';
import { violation } from './feasible.js';
import { clearlyLower, estimate, type Estimate } from './pareto.js';
import type { Candidate } from './search.js';
import { defaultPolicy, policyChanges, policyKey, policyLabel, type Policy, type Space } from './space.js';

export interface Commands {
  /** The mount command, every option that differs from the default plus dax. */
  mount: string;
  /** The mkfs command, or null when the filesystem needs no re-format (no format-time knob changed). */
  mkfs: string | null;
}

export interface Recommendation {
  policy: Policy;
  label: string;
  commands: Commands;
  objective: Estimate;
  defaultObjective: Estimate | null;
  /** Recommended / default objective (below 1: better), with the bootstrap's 95 % interval (null below 6 repeats a side). */
  ratio: number | null;
  ratioInterval: Interval | null;
  /** Default minus recommended objective, in the objective's units. */
  improvement: number | null;
  /** True when the default policy itself breaks a constraint. */
  defaultInfeasible: boolean;
}

export function commandsFor(space: Space, p: Policy): Commands {
  const changes = policyChanges(space, p);
  const spelled = (kind: 'mount' | 'mkfs') =>
    changes
      .map((c) => space.knobs.find((k) => k.path === c.path)!)
      .filter((k) => k.kind === kind)
      .map((k) => k.spell(p[k.path] ?? null))
      .filter((s): s is string => s !== null);
  const mount = ['dax', ...spelled('mount')].join(',');
  const mkfs = spelled('mkfs');
  const fs = space.personality === 'xfs' ? 'xfs' : 'ext4';
  return {
    mount: `mount -t ${fs} -o ${mount} DEVICE MOUNTPOINT`,
    mkfs: mkfs.length === 0 ? null : `mkfs.${fs} ${mkfs.join(' ')} DEVICE`,
  };
}

/**
 * Whether `other`'s objective repeats cannot be told from `best`'s: its median within best's
 * interval, or, with six repeats a side (fewer never reach significance), the U test not
 * finding best clearly lower.
 */
export function indistinguishable(best: readonly number[], other: readonly number[]): boolean {
  if (median(other) <= estimate(best).high) return true;
  return best.length >= 6 && other.length >= 6 && !clearlyLower(best, other);
}

/** The candidate recommended (see the top of this file), or null when none meets every constraint on every repeat. */
export function recommendedCandidate(space: Space, cands: readonly Candidate[], objective: LinearExpr, constraints: readonly Constraint[]): Candidate | null {
  const obj = (c: Candidate) => c.samples.map((s) => evaluate(objective, s));
  const feasible = cands.filter((c) => c.samples.length > 0 && violation(c.samples, constraints) === 0);
  if (feasible.length === 0) return null;
  // The best measured most: a single lucky repeat does not outrank six.
  const most = Math.max(...feasible.map((c) => c.samples.length));
  const finalists = feasible.filter((c) => c.samples.length >= Math.min(most, 6));
  const best = finalists.reduce((a, b) => (median(obj(b)) < median(obj(a)) ? b : a));
  const ties = finalists.filter((c) => indistinguishable(obj(best), obj(c)));
  return ties.reduce((a, b) => {
    const d = policyChanges(space, b.policy).length - policyChanges(space, a.policy).length;
    return d < 0 || (d === 0 && median(obj(b)) < median(obj(a))) ? b : a;
  });
}

/** The recommendation, or null when no candidate meets every constraint on every repeat. */
export function recommend(space: Space, cands: readonly Candidate[], objective: LinearExpr, constraints: readonly Constraint[]): Recommendation | null {
  const obj = (c: Candidate) => c.samples.map((s) => evaluate(objective, s));
  const pick = recommendedCandidate(space, cands, objective, constraints);
  if (pick === null) return null;
  const def = cands.find((c) => c.key === policyKey(defaultPolicy(space)));
  const pickObj = obj(pick);
  const defObj = def !== undefined && def.samples.length > 0 ? obj(def) : null;
  const ratio = defObj !== null && median(defObj) !== 0 ? median(pickObj) / median(defObj) : null;
  return {
    policy: pick.policy,
    label: policyLabel(space, pick.policy),
    commands: commandsFor(space, pick.policy),
    objective: estimate(pickObj),
    defaultObjective: defObj === null ? null : estimate(defObj),
    ratio,
    ratioInterval: defObj === null ? null : bootstrapRatioInterval(defObj, pickObj, seedOf(`${objective.text}|${pick.key}`)),
    improvement: defObj === null ? null : median(defObj) - median(pickObj),
    defaultInfeasible: def !== undefined && def.samples.length > 0 && violation(def.samples, constraints) > 0,
  };
}
