// `daxlab merge`: joins the shards of one sweep (`run --shard I/N` on N machines) into the
// result the unsharded run would have written. Shard I of N runs every N-th configuration
// of the sweep from the I-th on (workload/expand.ts, shardConfigs), so the sweep's order is
// restored by dealing the shards' configurations out again round by round: the first of
// shard 1, of shard 2, ..., of shard N, then the second of each. A shard interrupted by
// Ctrl-C ran a prefix of its slice, and dealing keeps what it has in order too.
// Histograms are kept as each shard merged them. What can differ between machines without
// making the shards foreign to each other (daxlab version, machine) becomes a warning, not
// an error.

import { isDeepStrictEqual } from 'node:util';
import type { ConfigResult, RunResults } from './results.js';
import { checkSameClock } from './compare.js';

/**
 * Joins the shards of one sweep. Shards whose workload (with its overrides), repeats, seed,
 * cost profile or variant differ are not one sweep: refused, unless `allowDifferent`, when the
 * differences become warnings. Differences of machine or version are warnings either way.
 */
export function mergeRuns(runs: readonly RunResults[], { allowDifferent = false }: { allowDifferent?: boolean } = {}): RunResults {
  if (runs.length === 0) throw new RangeError('merge: no results to merge');
  if (runs.length === 1 && runs[0].shard === undefined) return structuredClone(runs[0]);
  const shards = checkShards(runs);
  const first = shards[0];
  for (const r of shards) {
    checkSameClock('merge', first, r, [`shard ${label(first)}`, `shard ${label(r)}`]);
    if (r.clock.windowNs !== first.clock.windowNs) {
      throw new RangeError(
        `merge: shard ${label(r)} ran with a ${r.clock.windowNs} ns window, shard ${label(first)} with ${first.clock.windowNs} ns: ` +
          'the shards of one sweep need one window (run.windowNs)',
      );
    }
    if (r.workload.name !== first.workload.name) {
      throw new RangeError(`merge: shard ${label(r)} is of workload ${r.workload.name}, shard ${label(first)} of ${first.workload.name}: not one sweep`);
    }
  }
  const configs: ConfigResult[] = [];
  const from = new Map<string, string>();
  const rounds = Math.max(...shards.map((r) => r.configs.length));
  for (let k = 0; k < rounds; k++) {
    for (const r of shards) {
      const c = r.configs[k];
      if (c === undefined) continue;
      const seen = from.get(c.name);
      if (seen !== undefined) throw new RangeError(`merge: configuration ${c.name} is in shard ${seen} and in shard ${label(r)}`);
      from.set(c.name, label(r));
      configs.push(structuredClone(c));
    }
  }
  const { shard: _dropped, failure: _failure, ...rest } = structuredClone(first);
  const failures = shards.flatMap((r) => (r.failure === undefined ? [] : [`shard ${label(r)}: ${r.failure}`]));
  return {
    ...rest,
    // The newest shard's time: the merged result is complete only from then on.
    createdAt: shards.map((r) => r.createdAt).reduce((a, b) => (Date.parse(b) > Date.parse(a) ? b : a)),
    machine: { ...first.machine, oversubscribed: shards.some((r) => r.machine.oversubscribed) },
    partial: shards.some((r) => r.partial),
    ...(failures.length === 0 ? {} : { failure: failures.join('; ') }),
    warnings: mergedWarnings(shards, allowDifferent),
    configs,
  };
}

/** The shards ordered 1..N; a RangeError names any shard missing, duplicated, or of another split. */
function checkShards(runs: readonly RunResults[]): RunResults[] {
  const unsharded = runs.findIndex((r) => r.shard === undefined);
  if (unsharded >= 0) throw new RangeError(`merge: input ${unsharded + 1} is not a shard (it was run without --shard)`);
  const count = runs[0].shard!.count;
  const other = runs.find((r) => r.shard!.count !== count);
  if (other !== undefined) throw new RangeError(`merge: shards of different splits: ${label(runs[0])} and ${label(other)}`);
  const byIndex = new Map<number, RunResults>();
  const problems: string[] = [];
  for (const r of runs) {
    const i = r.shard!.index;
    if (i > count) problems.push(`shard ${label(r)} is out of range`);
    else if (byIndex.has(i)) problems.push(`shard ${label(r)} is given twice`);
    else byIndex.set(i, r);
  }
  const missing = Array.from({ length: count }, (_, k) => k + 1).filter((i) => !byIndex.has(i));
  if (missing.length > 0) problems.push(`missing shard${missing.length === 1 ? '' : 's'} ${missing.map((i) => `${i}/${count}`).join(', ')}`);
  if (problems.length > 0) throw new RangeError(`merge: ${problems.join('; ')}`);
  return Array.from({ length: count }, (_, k) => byIndex.get(k + 1)!);
}

function label(r: RunResults): string {
  return r.shard === undefined ? 'unsharded' : `${r.shard.index}/${r.shard.count}`;
}

/** Every shard's warnings once each, then what makes shards less comparable than one run's configurations. */
function mergedWarnings(shards: readonly RunResults[], allowDifferent: boolean): string[] {
  const out = new Set<string>();
  for (const r of shards) for (const w of r.warnings) out.add(w);
  const differ = (what: string, get: (r: RunResults) => unknown, refuse = false, among = shards) => {
    const odd = among.filter((r) => !isDeepStrictEqual(get(r), get(among[0])));
    if (odd.length === 0) return;
    const text = `merge: shards ${odd.map(label).join(', ')} differ from shard ${label(among[0])} in ${what}`;
    if (refuse && !allowDifferent) throw new RangeError(`${text}: not one sweep (pass --allow-different to merge them anyway)`);
    out.add(text);
  };
  differ('daxlab version', (r) => r.daxlabVersion);
  differ('machine (cores, CPU model, Node version)', ({ machine: m }) => [m.cores, m.cpuModel, m.node, m.platform, m.arch]);
  differ('cost profile', (r) => r.profile, true);
  differ('variant', (r) => r.variant, true);
  differ('workload (overrides)', (r) => r.workload, true);
  differ('seed', (r) => r.seed, true);
  // Only shards with a complete configuration say what --repeats was: an empty shard ran
  // none, and a partial configuration may have fewer.
  const told = shards.filter((r) => r.configs.some((c) => !c.partial));
  if (told.length > 0) differ('repeats', repeatsOverride, true, told);
  return [...out];
}

/**
 * What --repeats made of a shard's complete configurations: the repeats of those that ran
 * other than their workload declares, 'as declared' for the rest. A sweep may vary
 * run.repeats (then a configuration's params hold it), so shards may differ in repeats run
 * and still be one sweep.
 */
function repeatsOverride(r: RunResults): (number | 'as declared')[] {
  const source = r.workload.source as { run?: { repeats?: unknown } } | null;
  const kinds = new Set<number | 'as declared'>();
  for (const c of r.configs) {
    if (c.partial) continue;
    const declared = c.params['run.repeats'] ?? source?.run?.repeats;
    kinds.add(c.repeats === declared ? 'as declared' : c.repeats);
  }
  return [...kinds].sort();
}
