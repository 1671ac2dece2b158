// tune's search on synthetic objectives (the evaluator is injected, no lab runs): it finds a
// known optimum within a budget far below the grid's, serves a small space as a grid, never
// spends past the budget, and puts its spare runs on the two candidates too close to call.
import { describe, expect, it } from 'vitest';
import { parseConstraint, parseObjective } from '../src/tune/expr.js';
import type { Sample } from '../src/tune/metrics.js';
import { recommend } from '../src/tune/recommend.js';
import { MIN_BUDGET, search, type Evaluator } from '../src/tune/search.js';
import { policyKey, policyLabel, restrictSpace, spaceFor, spaceSize, type Policy } from '../src/tune/space.js';
import { seedOf } from '../src/measure/repeat_stats.js';

const ext4 = spaceFor('ext4');

/** Repeat r's noise: a fixed small wobble, the same for every policy (common random numbers). */
const noise = (r: number) => [0, 0.3, -0.2, 0.1, -0.1, 0.2, -0.3, 0.05, -0.05, 0.15, -0.15, 0.25][r % 12];

/**
 * An additive latency: 100 µs, less 60 with fast_commit, less 10 with commit=1, less 5 with a
 * 4 MiB journal, plus 3 with max_batch_time=0; min_batch_time and journal_async_commit do
 * nothing. Its optimum is fast_commit, commit=1, the 4 MiB journal and the rest at defaults
 * (or async commit too, which changes nothing). Journal blocks cost: 1000, more with fast_commit.
 */
function latency(p: Policy): number {
  return 100 - (p['journal.fastCommit'] ? 60 : 0) - (p['journal.commitIntervalMs'] === 1000 ? 10 : 0) - (p['journal.size'] === '4MiB' ? 5 : 0) + (p['journal.maxBatchTimeUs'] === 0 ? 3 : 0);
}

function synthetic(log: { policy: Policy; repeat: number }[] = []): Evaluator {
  return async (reqs) =>
    reqs.map((r): Sample => {
      log.push(r);
      return {
        'p99:sync-fault': latency(r.policy) + noise(r.repeat),
        journalBlocksPerSec: 1000 + (r.policy['journal.fastCommit'] ? 400 : 0) + (r.policy['journal.commitIntervalMs'] === 1000 ? 50 : 0),
        commitsPerSec: r.policy['journal.commitIntervalMs'] === 1000 ? 40 : 30,
      };
    });
}

const objective = parseObjective('p99:sync-fault');
const front = ['p99:sync-fault', 'journalBlocksPerSec', 'commitsPerSec'];

describe('tune search', () => {
  it('finds the known optimum of a 144-policy space within 32 runs, with an interval on its improvement', async () => {
    expect(spaceSize(ext4)).toBe(144);
    for (const seed of [1, 2, 3]) {
      const log: { policy: Policy; repeat: number }[] = [];
      const r = await search(synthetic(log), { space: ext4, budget: 32, seed, objective, constraints: [], frontMetrics: front });
      expect(r.method).toBe('successive-halving');
      expect(r.runs).toBeLessThanOrEqual(32);
      expect(log.length).toBe(r.runs);
      const rec = recommend(ext4, r.candidates, objective, [])!;
      expect(latency(rec.policy)).toBe(25);
      // The fewest knobs that reach it: async commit changes nothing and is left alone.
      expect(rec.label).toBe('commitIntervalMs=1000,fastCommit=true,size=4MiB');
      expect(rec.commands).toEqual({ mount: 'mount -t ext4 -o dax,commit=1 DEVICE MOUNTPOINT', mkfs: 'mkfs.ext4 -O fast_commit -J size=4 DEVICE' });
      expect(rec.ratio).toBeCloseTo(25 / 100, 2);
      expect(rec.ratioInterval).not.toBeNull();
      expect(rec.objective.n).toBeGreaterThanOrEqual(6);
      expect(rec.defaultObjective!.n).toBeGreaterThanOrEqual(6);
    }
  });

  it('serves a small space as a grid, every policy measured', async () => {
    const small = restrictSpace(ext4, ['journal.commitIntervalMs=5000', 'journal.minBatchTimeUs=0', 'journal.maxBatchTimeUs=15000', 'journal.asyncCommit=false']);
    expect(spaceSize(small)).toBe(6);
    const r = await search(synthetic(), { space: small, budget: 40, seed: 1, objective, constraints: [], frontMetrics: front });
    expect(r.method).toBe('grid');
    expect(r.candidates.map((c) => policyLabel(small, c.policy)).sort()).toEqual(['default', 'fastCommit=true', 'fastCommit=true,size=32MiB', 'fastCommit=true,size=4MiB', 'size=32MiB', 'size=4MiB']);
    expect(recommend(small, r.candidates, objective, [])!.label).toBe('fastCommit=true,size=4MiB');
  });

  it('honours constraints while searching and recommending', async () => {
    const c = [parseConstraint('journalBlocksPerSec<=1100')];
    const r = await search(synthetic(), { space: ext4, budget: 32, seed: 1, objective, constraints: c, frontMetrics: front });
    const rec = recommend(ext4, r.candidates, objective, c)!;
    // fast_commit's blocks break the bound: the best left is commit=1 (50 blocks more, within it) with the 4 MiB journal.
    expect(rec.policy['journal.fastCommit']).toBe(false);
    expect(latency(rec.policy)).toBe(85);
  });

  it('spends spare runs on the two best when the test cannot separate them', async () => {
    // Two policies 0.1 µs apart under noise of ±0.3: six repeats do not separate them.
    const tiny = restrictSpace(ext4, ['journal.commitIntervalMs=5000', 'journal.minBatchTimeUs=0', 'journal.maxBatchTimeUs=15000', 'journal.fastCommit=false', 'journal.size=default']);
    const log: { policy: Policy; repeat: number }[] = [];
    const ev: Evaluator = async (reqs) =>
      reqs.map((q) => {
        log.push(q);
        return { 'p99:sync-fault': 50 + (q.policy['journal.asyncCommit'] ? -0.1 : 0) + noise(q.repeat) * (q.policy['journal.asyncCommit'] ? -1 : 1), journalBlocksPerSec: 1, commitsPerSec: 1 };
      });
    const r = await search(ev, { space: tiny, budget: 30, seed: 1, objective, constraints: [], frontMetrics: front });
    expect(r.stages.some((s) => s.stage.startsWith('close call'))).toBe(true);
    expect(Math.min(...r.candidates.map((c) => c.samples.length))).toBeGreaterThan(6);
    expect(r.runs).toBeLessThanOrEqual(30);
  });

  it('drops every knob that does nothing from the recommendation (backward elimination), within the budget', async () => {
    // Only fast_commit and commit=1 matter; every other knob is inert. A run's figure also
    // wobbles by up to ±1 µs with the policy and the repeat (the lab's host order within the
    // virtual clock's window), so an inert knob's screening run can look better than the
    // default, the main-effects model and random samples carry inert knobs, and only
    // measuring their reverts tells they do nothing.
    const wobble = (p: Policy, r: number) => ((seedOf(`${policyKey(p)}|${r}`) % 2001) - 1000) / 1000;
    const useful = (p: Policy) => 100 - (p['journal.fastCommit'] ? 60 : 0) - (p['journal.commitIntervalMs'] === 1000 ? 10 : 0);
    const ev: Evaluator = async (reqs) => reqs.map((q) => ({ 'p99:sync-fault': useful(q.policy) + wobble(q.policy, q.repeat), journalBlocksPerSec: 1, commitsPerSec: 1 }));
    for (const seed of [1, 2, 3]) {
      const r = await search(ev, { space: ext4, budget: 56, seed, objective, constraints: [], frontMetrics: front });
      expect(r.runs).toBeLessThanOrEqual(56);
      expect(r.stages.reduce((n, st) => n + st.runs, 0)).toBe(r.runs);
      expect(recommend(ext4, r.candidates, objective, [])!.label).toBe('commitIntervalMs=1000,fastCommit=true');
    }
  });

  it('keeps a knob that matters only beside another: fast commit with the journal it needs, nothing else', async () => {
    // ordering-tax at 5,000 chmods/s: fast commit helps only with a 32 MiB journal (with a smaller
    // one a fast commit falls back to a full one), the journal size alone does nothing, and the
    // mount options do nothing at all.
    const lat = (p: Policy) => (p['journal.fastCommit'] ? (p['journal.size'] === '32MiB' ? 30 : 250) : 170);
    const ev: Evaluator = async (reqs) => reqs.map((q) => ({ 'p99:sync-fault': lat(q.policy) + noise(q.repeat) * 10, journalBlocksPerSec: 1, commitsPerSec: 1 }));
    for (const seed of [1, 5]) {
      const r = await search(ev, { space: ext4, budget: 56, seed, objective, constraints: [], frontMetrics: front });
      expect(r.stages.some((st) => st.stage === 'backward elimination')).toBe(true);
      expect(recommend(ext4, r.candidates, objective, [])!.label).toBe('fastCommit=true,size=32MiB');
    }
  });

  it('refuses a budget below what one search needs', async () => {
    await expect(search(synthetic(), { space: ext4, budget: MIN_BUDGET - 1, seed: 1, objective, constraints: [], frontMetrics: front })).rejects.toThrow(/--budget: expected at least/);
  });
});
