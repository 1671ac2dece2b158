import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_SHARDS, parseShard, shardFromEnv } from '../src/cli/shard_env.js';
import { UsageError } from '../src/cli/errors.js';

type Env = Record<string, string>;

/** The variables Slurm sets in each task of `sbatch --array=MIN-MAX:STEP`. */
function slurmTask(id: number, min: number, max: number, step = 1): Env {
  return {
    SLURM_ARRAY_JOB_ID: '4242',
    SLURM_ARRAY_TASK_ID: String(id),
    SLURM_ARRAY_TASK_MIN: String(min),
    SLURM_ARRAY_TASK_MAX: String(max),
    SLURM_ARRAY_TASK_STEP: String(step),
    SLURM_ARRAY_TASK_COUNT: String(Math.floor((max - min) / step) + 1),
  };
}

function refusal(env: Env, count?: number): string {
  try {
    shardFromEnv(env, count);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe('shardFromEnv', () => {
  it.each([
    ['a Slurm array from 1', slurmTask(3, 1, 8), undefined, 3, 8],
    ['a Slurm array from 0', slurmTask(0, 0, 7), undefined, 1, 8],
    ['a Slurm array from 5', slurmTask(7, 5, 12), undefined, 3, 8],
    ['a Slurm array with a step (--array=1-7:2)', slurmTask(5, 1, 7, 2), undefined, 3, 4],
    ['a Slurm array whose count comes from auto/N', { SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_MIN: '1' }, 4, 2, 4],
    ['a Slurm array agreeing with auto/N and DAXLAB_SHARD_COUNT', { ...slurmTask(2, 1, 4), DAXLAB_SHARD_COUNT: '4' }, 4, 2, 4],
    ['a Kubernetes Indexed Job, count from auto/N', { JOB_COMPLETION_INDEX: '0' }, 3, 1, 3],
    ['a Kubernetes Indexed Job, count from DAXLAB_SHARD_COUNT', { JOB_COMPLETION_INDEX: '2', DAXLAB_SHARD_COUNT: '3' }, undefined, 3, 3],
    ['a GitLab parallel job', { CI_NODE_INDEX: '2', CI_NODE_TOTAL: '4' }, undefined, 2, 4],
    ['a CI matrix through DAXLAB_SHARD_INDEX', { DAXLAB_SHARD_INDEX: '4', DAXLAB_SHARD_COUNT: '4' }, undefined, 4, 4],
    ['a GitLab job that is not parallel, with DAXLAB_SHARD_INDEX', { CI_NODE_TOTAL: '1', DAXLAB_SHARD_INDEX: '2', DAXLAB_SHARD_COUNT: '3' }, undefined, 2, 3],
  ])('reads %s', (_, env, count, index, n) => {
    expect(shardFromEnv(env, count)).toMatchObject({ index, count: n });
  });

  it('names every variable it read', () => {
    expect(shardFromEnv({ JOB_COMPLETION_INDEX: '2', DAXLAB_SHARD_COUNT: '8', HOME: '/root' }).from).toBe('JOB_COMPLETION_INDEX=2, DAXLAB_SHARD_COUNT=8');
    expect(shardFromEnv({ JOB_COMPLETION_INDEX: '2' }, 8).from).toBe('JOB_COMPLETION_INDEX=2, --shard auto/8');
    expect(shardFromEnv(slurmTask(5, 3, 10)).from).toBe(
      'SLURM_ARRAY_TASK_ID=5, SLURM_ARRAY_TASK_MIN=3, SLURM_ARRAY_TASK_STEP=1, SLURM_ARRAY_TASK_MAX=10, SLURM_ARRAY_TASK_COUNT=8',
    );
    expect(shardFromEnv({ CI_NODE_INDEX: '1', CI_NODE_TOTAL: '2' }).from).toBe('CI_NODE_INDEX=1, CI_NODE_TOTAL=2');
  });

  it.each([
    ['no scheduler', {}, undefined, /^--shard auto: no scheduler's shard variable is set \(SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX, CI_NODE_INDEX, DAXLAB_SHARD_INDEX\); pass --shard I\/N instead$/],
    ["GitLab's CI_NODE_TOTAL=1 of every job alone", { CI_NODE_TOTAL: '1' }, undefined, /no scheduler's shard variable is set/],
    ['an index with no count', { JOB_COMPLETION_INDEX: '1' }, undefined, /from JOB_COMPLETION_INDEX=1 the shard's index is known but not the number of shards: pass --shard auto\/N or set DAXLAB_SHARD_COUNT/],
    ['a Kubernetes index past the count', { JOB_COMPLETION_INDEX: '3' }, 3, /shard 4 of 3 from JOB_COMPLETION_INDEX=3, --shard auto\/3: expected 1 <= shard <= count/],
    ['a CI index of 0 (they count from 1)', { DAXLAB_SHARD_INDEX: '0', DAXLAB_SHARD_COUNT: '2' }, undefined, /shard 0 of 2 from DAXLAB_SHARD_INDEX=0, DAXLAB_SHARD_COUNT=2/],
    ['a count of 0', { DAXLAB_SHARD_INDEX: '1', DAXLAB_SHARD_COUNT: '0' }, undefined, /shard 1 of 0/],
    ['too many shards', { DAXLAB_SHARD_INDEX: '1', DAXLAB_SHARD_COUNT: String(MAX_SHARDS + 1) }, undefined, /count <= 100000/],
    ['a fraction', { DAXLAB_SHARD_INDEX: '1.5', DAXLAB_SHARD_COUNT: '2' }, undefined, /^--shard auto: DAXLAB_SHARD_INDEX="1.5" is not a whole number$/],
    ['an empty value', { CI_NODE_INDEX: '', CI_NODE_TOTAL: '2' }, undefined, /CI_NODE_INDEX="" is not a whole number/],
    ['a negative count', { JOB_COMPLETION_INDEX: '0', DAXLAB_SHARD_COUNT: '-2' }, undefined, /DAXLAB_SHARD_COUNT="-2" is not a whole number/],
    ['a Slurm ID without its minimum', { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '4' }, undefined, /SLURM_ARRAY_TASK_ID=3 is set but SLURM_ARRAY_TASK_MIN is not/],
    ['a Slurm ID off the step', { ...slurmTask(5, 1, 7, 2), SLURM_ARRAY_TASK_ID: '4' }, undefined, /the task ID is not the first one plus a multiple of the step \(SLURM_ARRAY_TASK_ID=4, .*--array=1-N\), or pass --shard I\/N\)$/],
    ['a Slurm ID below the minimum', slurmTask(0, 1, 4), undefined, /task ID is not the first one/],
    ['a Slurm list (--array=1,2,5)', { ...slurmTask(2, 1, 5), SLURM_ARRAY_TASK_COUNT: '3' }, undefined, /the tasks are not every step from the first to the last \(.*SLURM_ARRAY_TASK_COUNT=3: submit the array as a range/],
    ['a Slurm step of 0', { ...slurmTask(2, 1, 5), SLURM_ARRAY_TASK_STEP: '0' }, undefined, /SLURM_ARRAY_TASK_STEP=0 is no step/],
    ['a Slurm count that auto/N contradicts', slurmTask(3, 3, 4), 8, /the number of shards disagrees: 8 from --shard auto\/8, 2 from SLURM_ARRAY_TASK_ID=3, .* \(to re-run some tasks of a larger array, spell the shard out: --shard I\/N\)$/],
    ['two schedulers disagreeing on the index', { ...slurmTask(3, 1, 4), CI_NODE_INDEX: '2', CI_NODE_TOTAL: '4' }, undefined, /the schedulers disagree: SLURM_ARRAY_TASK_ID=3, .* make it shard 3, CI_NODE_INDEX=2, CI_NODE_TOTAL=4 shard 2$/],
    ['two schedulers disagreeing on the count', { CI_NODE_INDEX: '2', CI_NODE_TOTAL: '4', DAXLAB_SHARD_COUNT: '3' }, undefined, /the number of shards disagrees: 3 from DAXLAB_SHARD_COUNT=3, 4 from CI_NODE_INDEX=2, CI_NODE_TOTAL=4$/],
  ])('refuses %s, naming the variables, in one line', (_, env: Env, count, message) => {
    const m = refusal(env, count);
    expect(m).toMatch(message);
    expect(m).not.toMatch(/\n/);
  });

  it('gives each task of any Slurm array (any first ID, any step) its own shard of the array', () => {
    fc.assert(
      fc.property(fc.nat(1000), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 40 }), (min, step, count) => {
        const max = min + (count - 1) * step;
        const shards = Array.from({ length: count }, (_, k) => shardFromEnv(slurmTask(min + k * step, min, max, step)));
        expect(shards.map((s) => s.count)).toEqual(Array(count).fill(count));
        expect(shards.map((s) => s.index)).toEqual(Array.from({ length: count }, (_, k) => k + 1));
      }),
    );
  });

  it('gives each pod of any Indexed Job its own shard', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 500 }), (n) => {
        const indices = Array.from({ length: n }, (_, i) => shardFromEnv({ JOB_COMPLETION_INDEX: String(i) }, n).index);
        expect(indices).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      }),
    );
  });

  it('refuses any index value that is not a whole number, naming the variable', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('SLURM_ARRAY_TASK_ID', 'JOB_COMPLETION_INDEX', 'CI_NODE_INDEX', 'DAXLAB_SHARD_INDEX'),
        fc.string().filter((s) => !/^\d+$/.test(s)),
        (name, value) => {
          const m = refusal({ SLURM_ARRAY_TASK_MIN: '1', [name]: value }, 4);
          expect(m).toContain(`${name}=${JSON.stringify(value)} is not a whole number`);
        },
      ),
    );
  });
});

describe('parseShard', () => {
  it('takes I/N as written and auto, auto/N from the environment', () => {
    expect(parseShard(undefined, {})).toBeUndefined();
    expect(parseShard('2/4', { JOB_COMPLETION_INDEX: '0' })).toEqual({ index: 2, count: 4 });
    expect(parseShard('auto', { CI_NODE_INDEX: '3', CI_NODE_TOTAL: '3' })).toEqual({ index: 3, count: 3, from: 'CI_NODE_INDEX=3, CI_NODE_TOTAL=3' });
    expect(parseShard('auto/5', { JOB_COMPLETION_INDEX: '4' })).toEqual({ index: 5, count: 5, from: 'JOB_COMPLETION_INDEX=4, --shard auto/5' });
  });

  it.each(['0/3', '4/3', 'auto/0', 'auto/', 'auto/x', 'Auto', '1/100001', 'auto/100001', ''])('refuses %j', (text) => {
    expect(() => parseShard(text, { JOB_COMPLETION_INDEX: '0' })).toThrow(
      /^--shard: expected I\/N with 1 <= I <= N <= 100000 \(for example 2\/4\), auto or auto\/N, got /,
    );
  });
});
