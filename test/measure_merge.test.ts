import { describe, expect, it } from 'vitest';
import { mergeRuns } from '../src/measure/merge.js';
import { RunResultsSchema, type RunResults } from '../src/measure/results.js';
import { shardConfigs } from '../src/workload/expand.js';
import { makeConfig, makeRun } from './support/run_results.js';

const cfg = (name: string, base: number) => makeConfig(name, { 'write-fault': [base, base + 1000, base + 2000] });

function shard(index: number, count: number, names: string[], over: Partial<RunResults> = {}): RunResults {
  return makeRun(
    names.map((n, i) => cfg(n, 10_000 * (i + 1))),
    { shard: { index, count }, ...over },
  );
}

describe('mergeRuns', () => {
  it("restores the sweep's order from shards sliced as run slices them, whatever order they are given in", () => {
    const sweep = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7'];
    for (const count of [1, 2, 3, 7]) {
      const shards = Array.from({ length: count }, (_, i) => shard(i + 1, count, shardConfigs(sweep, i + 1, count)));
      expect(mergeRuns(shards.reverse()).configs.map((c) => c.name)).toEqual(sweep);
    }
  });

  it('joins two shards: configurations as recorded, shard dropped, partial and warnings carried', () => {
    const s1 = shard(1, 2, ['c1', 'c3']);
    const s2 = shard(2, 2, ['c2'], { partial: true, warnings: ['3 CPU workers on 2 cores'] });
    const m = mergeRuns([s2, s1]);
    expect(m.configs.map((c) => c.name)).toEqual(['c1', 'c2', 'c3']);
    expect(m.configs[0]).toEqual(s1.configs[0]);
    expect(m.configs[1]).toEqual(s2.configs[0]);
    expect(m.shard).toBeUndefined();
    expect('shard' in m).toBe(false);
    expect(m.partial).toBe(true);
    expect(m.warnings).toEqual(['3 CPU workers on 2 cores']);
    expect(RunResultsSchema.parse(m)).toEqual(m);
    // A CPU's failure in any shard stays in the merged result, naming the shard.
    expect(m.failure).toBeUndefined();
    const failed = mergeRuns([s1, shard(2, 2, ['c2'], { partial: true, failure: 'configuration c2, repeat 1: cpu 0 (faulter): SIGBUS' })]);
    expect(failed.failure).toBe('shard 2/2: configuration c2, repeat 1: cpu 0 (faulter): SIGBUS');
    // The inputs are left as they were.
    expect(s1.shard).toEqual({ index: 1, count: 2 });
  });

  it('refuses shards on different clocks or windows', () => {
    const wall = { clock: { kind: 'wall' as const, windowNs: null } };
    expect(() => mergeRuns([shard(1, 2, ['a']), shard(2, 2, ['b'], wall)])).toThrow(
      /^merge: shard 1\/2 ran on the virtual clock \(window 2000 ns\) and shard 2\/2 on the wall clock; figures from the two are not comparable/,
    );
    const wide = { clock: { kind: 'virtual' as const, windowNs: 500 } };
    expect(() => mergeRuns([shard(1, 2, ['a']), shard(2, 2, ['b'], wide)])).toThrow(/^merge: shard 2\/2 ran with a 500 ns window, shard 1\/2 with 2000 ns/);
  });

  it('names a missing shard', () => {
    expect(() => mergeRuns([shard(1, 3, ['a']), shard(3, 3, ['c'])])).toThrow(/missing shard 2\/3/);
    expect(() => mergeRuns([shard(2, 2, ['b'])])).toThrow(/missing shard 1\/2/);
  });

  it('names a duplicated shard, a foreign split and an unsharded run', () => {
    expect(() => mergeRuns([shard(1, 2, ['a']), shard(1, 2, ['a2']), shard(2, 2, ['b'])])).toThrow(/shard 1\/2 is given twice/);
    expect(() => mergeRuns([shard(1, 2, ['a']), shard(2, 3, ['b'])])).toThrow(/different splits: 1\/2 and 2\/3/);
    expect(() => mergeRuns([shard(1, 2, ['a']), makeRun([cfg('b', 1)])])).toThrow(/input 2 is not a shard/);
    expect(() => mergeRuns([])).toThrow(RangeError);
  });

  it('refuses shards of different sweeps and repeated configuration names', () => {
    const other = shard(2, 2, ['b']);
    other.workload = { ...other.workload, name: 'other' };
    expect(() => mergeRuns([shard(1, 2, ['a']), other])).toThrow(/workload other/);
    expect(() => mergeRuns([shard(1, 2, ['a', 'b']), shard(2, 2, ['a'])])).toThrow(/configuration a is in shard 1\/2 and in shard 2\/2/);
  });

  it('refuses shards whose overrides, repeats, profile or variant differ, unless allowed, then warns', () => {
    const overridden = shard(2, 2, ['b']);
    overridden.workload = { ...overridden.workload, source: { ...(overridden.workload.source as object), journal: { commitIntervalMs: 1000 } } };
    expect(() => mergeRuns([shard(1, 2, ['a']), overridden])).toThrow(
      /^merge: shards 2\/2 differ from shard 1\/2 in workload \(overrides\): not one sweep \(pass --allow-different to merge them anyway\)$/,
    );
    const more = shard(2, 2, ['b']);
    more.configs[0] = { ...more.configs[0], repeats: 7 };
    expect(() => mergeRuns([shard(1, 2, ['a']), more])).toThrow(/differ from shard 1\/2 in repeats: not one sweep/);
    expect(() => mergeRuns([shard(1, 2, ['a']), shard(2, 2, ['b'], { variant: 'remove-on-writeback' })])).toThrow(/in variant: not one sweep/);
    const m = mergeRuns([shard(1, 2, ['a']), overridden], { allowDifferent: true });
    expect(m.warnings).toEqual(['merge: shards 2/2 differ from shard 1/2 in workload (overrides)']);
  });

  it('refuses shards run with different seeds unless allowed, then warns', () => {
    const seeded = () => [shard(1, 2, ['a']), shard(2, 2, ['b'], { seed: 2 })];
    expect(() => mergeRuns(seeded())).toThrow(/^merge: shards 2\/2 differ from shard 1\/2 in seed: not one sweep \(pass --allow-different to merge them anyway\)$/);
    const m = mergeRuns(seeded(), { allowDifferent: true });
    expect(m.configs.map((c) => c.name)).toEqual(['a', 'b']);
    expect(m.warnings).toEqual(['merge: shards 2/2 differ from shard 1/2 in seed']);
  });

  it('takes an empty shard (more shards than configurations) as agreeing on repeats', () => {
    const twice = (names: string[]) => names.map((n) => ({ ...cfg(n, 1000), repeats: 2 }));
    const m = mergeRuns([makeRun(twice(['a']), { shard: { index: 1, count: 3 } }), makeRun(twice(['b']), { shard: { index: 2, count: 3 } }), shard(3, 3, [])]);
    expect(m.configs.map((c) => c.name)).toEqual(['a', 'b']);
    expect(m.warnings).toEqual([]);
  });

  it('takes repeats that a sweep varies as one sweep, and refuses --repeats given to one shard only', () => {
    const swept = (name: string, repeats: number, ran = repeats) => ({ ...cfg(name, 1000), repeats: ran, params: { 'run.repeats': repeats } });
    const s1 = makeRun([swept('r1', 1)], { shard: { index: 1, count: 2 } });
    const s2 = makeRun([swept('r3', 3)], { shard: { index: 2, count: 2 } });
    expect(mergeRuns([s1, s2]).configs.map((c) => c.repeats)).toEqual([1, 3]);
    // The second shard ran with --repeats 5: its configuration did not run what it declares.
    const forced = makeRun([swept('r3', 3, 5)], { shard: { index: 2, count: 2 } });
    expect(() => mergeRuns([s1, forced])).toThrow(/differ from shard 1\/2 in repeats: not one sweep/);
  });

  it('warns when shards ran on different machines or versions', () => {
    const s2 = shard(2, 2, ['b'], { daxlabVersion: '0.2.0' });
    s2.machine = { ...s2.machine, cores: 64, oversubscribed: false };
    const m = mergeRuns([shard(1, 2, ['a']), s2]);
    expect(m.warnings).toEqual([
      'merge: shards 2/2 differ from shard 1/2 in daxlab version',
      'merge: shards 2/2 differ from shard 1/2 in machine (cores, CPU model, Node version)',
    ]);
    expect(m.machine.oversubscribed).toBe(true);
  });

  it('returns an unsharded run as it is', () => {
    const r = makeRun([cfg('a', 1)]);
    expect(mergeRuns([r])).toEqual(r);
  });
});
