// The recommendation: every repeat of it meets every constraint (a property over random
// candidates and bounds), null when no candidate does; and the commands a user types.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { evaluate, parseConstraint, parseObjective, satisfies } from '../src/tune/expr.js';
import { recommend, commandsFor } from '../src/tune/recommend.js';
import type { Candidate } from '../src/tune/search.js';
import { enumerate, policyKey, spaceFor } from '../src/tune/space.js';

const ext4 = spaceFor('ext4');
const policies = enumerate(ext4);
const objective = parseObjective('p99:sync-fault');

const sampleArb = fc.record({ 'p99:sync-fault': fc.integer({ min: 1, max: 300 }), commitsPerSec: fc.integer({ min: 0, max: 100 }), journalBlocksPerSec: fc.integer({ min: 0, max: 5000 }) });
const candidatesArb = fc
  .array(fc.array(sampleArb, { minLength: 1, maxLength: 7 }), { minLength: 1, maxLength: 12 })
  .map((sets): Candidate[] => sets.map((samples, i) => ({ key: policyKey(policies[i]), policy: policies[i], samples })));
const constraintArb = fc.oneof(
  fc.integer({ min: 0, max: 100 }).map((b) => `commitsPerSec<=${b}`),
  fc.integer({ min: 0, max: 5000 }).map((b) => `journalBlocksPerSec < ${b}`),
  fc.integer({ min: 1, max: 300 }).map((b) => `p99:sync-fault <= ${b}us`),
  fc.integer({ min: 0, max: 50 }).map((b) => `commitsPerSec >= ${b}`),
);

describe('tune recommendation', () => {
  it('respects every constraint on every repeat, or recommends nothing when nothing does', () => {
    fc.assert(
      fc.property(candidatesArb, fc.array(constraintArb, { maxLength: 3 }), (cands, texts) => {
        const cs = texts.map((t) => parseConstraint(t));
        const rec = recommend(ext4, cands, objective, cs);
        const meets = (c: Candidate) => c.samples.every((s) => cs.every((k) => satisfies(k, evaluate(k.expr, s))));
        if (rec === null) {
          expect(cands.some(meets)).toBe(false);
          return;
        }
        const chosen = cands.find((c) => c.key === policyKey(rec.policy))!;
        expect(meets(chosen)).toBe(true);
      }),
    );
  });

  it('takes the fewer knobs when the U test cannot tell them from the best, even with the median past its interval', () => {
    const best = [10, 10.1, 10.2, 10.3, 10.4, 10.5];
    // Median 10.65, above the best's six repeats, but two low repeats leave the U test at p > 0.05.
    const fewer = [1, 2, 10.6, 10.7, 12, 13];
    const of = (p: (typeof policies)[number], xs: number[]): Candidate => ({ key: policyKey(p), policy: p, samples: xs.map((x) => ({ 'p99:sync-fault': x })) });
    const two = { ...policies[0], 'journal.fastCommit': true, 'journal.size': '32MiB' };
    const one = { ...policies[0], 'journal.fastCommit': true };
    expect(recommend(ext4, [of(two, best), of(one, fewer)], objective, [])!.label).toBe('fastCommit=true');
    // A clear difference keeps the knob.
    expect(recommend(ext4, [of(two, best), of(one, best.map((x) => x + 1))], objective, [])!.label).toBe('fastCommit=true,size=32MiB');
  });

  it('spells mount options and mkfs flags as a user types them', () => {
    const p = { ...policies[0], 'journal.commitIntervalMs': 1000, 'journal.maxBatchTimeUs': 0, 'journal.asyncCommit': true, 'journal.fastCommit': true, 'journal.size': '32MiB' };
    expect(commandsFor(ext4, p)).toEqual({
      mount: 'mount -t ext4 -o dax,commit=1,max_batch_time=0,journal_async_commit DEVICE MOUNTPOINT',
      mkfs: 'mkfs.ext4 -O fast_commit -J size=32 DEVICE',
    });
    expect(commandsFor(ext4, policies[0])).toEqual({ mount: 'mount -t ext4 -o dax DEVICE MOUNTPOINT', mkfs: null });
    const xfs = spaceFor('xfs');
    expect(commandsFor(xfs, { 'log.logbsize': 262144, 'log.logbufs': 4 }).mount).toBe('mount -t xfs -o dax,logbsize=256k,logbufs=4 DEVICE MOUNTPOINT');
  });
});
