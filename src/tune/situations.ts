// From a workload to what tune tunes: the base workload (a named configuration picked with
// --config, the policy knobs cleared so each candidate sets its own), the policy space of its
// filesystem personality, and the situations: the points of the workload's own sweep over
// anything but the policy (ordering-tax's dirtying rates and fault spacings), each tuned on
// its own. A sweep axis over a policy knob gives that knob's values instead.

import { UsageError } from '../util/usage_error.js';
import { expandWorkload } from '../workload/expand.js';
import { parsePath, setPath } from '../workload/paths.js';
import type { Workload } from '../workload/schema.js';
import { restrictSpace, spaceFor, type Space } from './space.js';

export interface Situation {
  index: number;
  name: string;
  params: Record<string, unknown>;
}

export interface TuneSetup {
  /** The workload's JSON, --set and --config applied, without configs, sweep or policy knobs. */
  raw: Record<string, unknown>;
  /** The validated base (the first situation's). */
  workload: Workload;
  space: Space;
  situations: Situation[];
  notes: string[];
}

export function prepareTune(rawIn: Record<string, unknown>, sets: { path: string; value: unknown }[], where: string, opts: { config?: string; space?: readonly string[] }): TuneSetup {
  const notes: string[] = [];
  const expanded = expandWorkload(rawIn, sets, where);
  const raw = structuredClone(rawIn);
  for (const s of sets) setPath(raw, s.path, s.value);
  const named = expanded.base.configs ?? [];
  if (opts.config !== undefined) {
    const c = named.find((x) => x.name === opts.config);
    if (c === undefined) throw new UsageError(`--config: ${JSON.stringify(opts.config)} is no configuration of ${expanded.base.name} (it has ${named.map((x) => x.name).join(', ') || 'none'})`);
    for (const [path, value] of Object.entries(c.set)) setPath(raw, path, value);
  } else if (named.length > 0) {
    notes.push(`tuned the workload as written; its ${named.length} named configurations are not tuned (pick one with --config)`);
  }
  delete raw.configs;
  const sweep = Object.entries(expanded.base.sweep ?? {}).filter(([path]) => !sets.some((s) => s.path === path));
  delete raw.sweep;
  const base = expandWorkload(raw, [], where).base;
  let space = restrictSpace(spaceFor(base.fs.personality), opts.space ?? []);
  const policyAxes = sweep.filter(([path]) => space.knobs.some((k) => k.path === path));
  if (policyAxes.length > 0) {
    space = restrictSpace(space, policyAxes.map(([path, values]) => `${path}=${values.map((v) => JSON.stringify(v)).join(',')}`));
    notes.push(`the sweep's policy axes give the values tried: ${policyAxes.map(([p]) => p).join(', ')}`);
  }
  for (const k of space.knobs) deletePath(raw, k.path);
  const asked = new Set([...(opts.space ?? []), ...policyAxes.map(([p]) => p)].map((x) => x.split('=')[0]));
  checkSpaceFields(raw, space, where, asked, notes);
  const axes = sweep.filter(([path]) => !space.knobs.some((k) => k.path === path));
  let points: [string, unknown][][] = [[]];
  for (const [path, values] of axes) points = points.flatMap((p) => values.map((v) => [...p, [path, v] as [string, unknown]]));
  const situations = points.map((pt, index) => ({
    index,
    name: pt.length === 0 ? base.name : pt.map(([p, v]) => `${p}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(','),
    params: Object.fromEntries(pt),
  }));
  return { raw, workload: base, space, situations, notes };
}

/** The workload's JSON for one situation and one policy (null values left unset). */
export function situationWorkload(setup: TuneSetup, s: Situation, policy: Record<string, unknown>): Record<string, unknown> {
  const raw = structuredClone(setup.raw);
  for (const [path, value] of Object.entries(s.params)) setPath(raw, path, value);
  for (const [path, value] of Object.entries(policy)) if (value !== null && value !== undefined) setPath(raw, path, value);
  return raw;
}

/**
 * Every value tried must be one the workload takes. A knob whose default it refuses is no
 * field of this build's workload (xfs's log.* before they land) and exits 2 naming it, as
 * does a value the user asked for with --space; a value of the built-in space that does not
 * fit this workload (a journal larger than half its device) is left out, with a note.
 */
function checkSpaceFields(raw: Record<string, unknown>, space: Space, where: string, asked: ReadonlySet<string>, notes: string[]): void {
  for (const k of space.knobs) {
    const kept: unknown[] = [];
    for (const v of k.values) {
      const why = refusal(raw, k.path, v, where);
      if (why === null) kept.push(v);
      else if (asked.has(k.path) || v === k.default) throw new UsageError(`--space: ${k.path}=${JSON.stringify(v)}: the workload does not take it (${why})`);
      else notes.push(`${k.path}=${JSON.stringify(v)} left out of the space: the workload does not take it (${why})`);
    }
    k.values = kept;
  }
}

function refusal(raw: Record<string, unknown>, path: string, v: unknown, where: string): string | null {
  if (v === null) return null;
  const one = structuredClone(raw);
  setPath(one, path, v);
  try {
    expandWorkload(one, [], where);
    return null;
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    return e.message.split('\n')[0];
  }
}

function deletePath(raw: Record<string, unknown>, path: string): void {
  const keys = parsePath(path);
  let at: unknown = raw;
  for (const k of keys.slice(0, -1)) {
    if (at === null || typeof at !== 'object') return;
    at = (at as Record<string | number, unknown>)[k];
  }
  if (at !== null && typeof at === 'object') delete (at as Record<string | number, unknown>)[keys[keys.length - 1]];
}
