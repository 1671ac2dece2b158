// Joins the partial tunes of a sharded tune (daxlab tune --shard I/N, one per task) into the
// one answer the unsharded tune gives: every situation once, in the workload's order. Parts
// of different tunes (workload, seed, budget, objective, constraints, space) are refused.

import { isDeepStrictEqual } from 'node:util';
import type { TuneResults } from './result.js';

const SAME = ['format', 'workload', 'personality', 'seed', 'budget', 'objective', 'constraints', 'frontMetrics', 'space', 'situationCount'] as const;

export function mergeTunes(parts: readonly { where: string; tune: TuneResults }[]): TuneResults {
  if (parts.length === 0) throw new RangeError('tune --merge: no partial tune given');
  const first = parts[0];
  for (const p of parts.slice(1)) {
    for (const k of SAME) {
      if (!isDeepStrictEqual(p.tune[k], first.tune[k])) {
        throw new RangeError(`tune --merge: ${p.where} and ${first.where} are parts of different tunes (their ${k} differ: ${JSON.stringify(p.tune[k])} vs ${JSON.stringify(first.tune[k])})`);
      }
    }
  }
  const seen = new Map<number, string>();
  for (const p of parts) {
    for (const s of p.tune.situations) {
      const other = seen.get(s.index);
      if (other !== undefined) throw new RangeError(`tune --merge: situation ${s.name} is in both ${other} and ${p.where}`);
      seen.set(s.index, p.where);
    }
  }
  const situations = parts.flatMap((p) => p.tune.situations).sort((a, b) => a.index - b.index);
  if (situations.length !== first.tune.situationCount) {
    const have = new Set(situations.map((s) => s.index));
    const missing = Array.from({ length: first.tune.situationCount }, (_, i) => i).filter((i) => !have.has(i));
    throw new RangeError(`tune --merge: situations ${missing.map((i) => i + 1).join(', ')} of ${first.tune.situationCount} are in no part given (a shard is missing)`);
  }
  const { shard: _shard, ...rest } = first.tune;
  void _shard;
  return {
    ...rest,
    createdAt: new Date().toISOString(),
    runs: situations.reduce((n, s) => n + s.runs, 0),
    wallMs: parts.reduce((n, p) => n + p.tune.wallMs, 0),
    situations,
  };
}
