// `--shard`: which slice of a sweep this process runs. `I/N` names it; `auto` and `auto/N`
// read it from the environment a scheduler gives each of its tasks, so that one job script
// serves every task of an array:
//   Slurm job arrays     SLURM_ARRAY_TASK_ID from SLURM_ARRAY_TASK_MIN in SLURM_ARRAY_TASK_STEP
//                        steps, SLURM_ARRAY_TASK_COUNT tasks (or up to SLURM_ARRAY_TASK_MAX);
//   Kubernetes Indexed   JOB_COMPLETION_INDEX, from 0; Kubernetes exports no count, so it
//   Jobs                 comes from auto/N or DAXLAB_SHARD_COUNT;
//   GitLab CI parallel:  CI_NODE_INDEX, from 1, of CI_NODE_TOTAL;
//   any CI matrix        DAXLAB_SHARD_INDEX, from 1, of DAXLAB_SHARD_COUNT, set from the matrix.
// Every source present must agree: a Slurm job submitted from a CI job inherits the CI
// job's variables, and guessing which one was meant would run a shard twice and another never.

import { UsageError } from './errors.js';

/** More shards than this is a typo: no sweep has that many configurations. */
export const MAX_SHARDS = 100_000;

export interface Shard {
  index: number;
  count: number;
}

/** A shard read from the environment, and the variables (NAME=value) it was read from. */
export interface EnvShard extends Shard {
  from: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** One scheduler's say: the shard's 1-based index, the count if it knows it, and its variables. */
interface Reading {
  index: number;
  count?: number;
  vars: string[];
}

/** The variables that name a shard's index, one per scheduler, in the order they are read. */
export const INDEX_VARIABLES = ['SLURM_ARRAY_TASK_ID', 'JOB_COMPLETION_INDEX', 'CI_NODE_INDEX', 'DAXLAB_SHARD_INDEX'] as const;

const FLAG = '--shard auto';

function fail(message: string): never {
  throw new UsageError(`${FLAG}: ${message}`);
}

const show = (name: string, env: Env) => `${name}=${env[name]}`;

/** A variable's whole-number value, or undefined when unset. */
function whole(env: Env, name: string): number | undefined {
  const text = env[name];
  if (text === undefined) return undefined;
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n)) fail(`${name}=${JSON.stringify(text)} is not a whole number`);
  return n;
}

function slurm(env: Env): Reading | null {
  const id = whole(env, 'SLURM_ARRAY_TASK_ID');
  if (id === undefined) return null;
  const min = whole(env, 'SLURM_ARRAY_TASK_MIN');
  if (min === undefined) fail(`${show('SLURM_ARRAY_TASK_ID', env)} is set but SLURM_ARRAY_TASK_MIN is not, so the first task's ID is unknown`);
  const step = whole(env, 'SLURM_ARRAY_TASK_STEP') ?? 1;
  const max = whole(env, 'SLURM_ARRAY_TASK_MAX');
  const count = whole(env, 'SLURM_ARRAY_TASK_COUNT');
  const vars = ['SLURM_ARRAY_TASK_ID', 'SLURM_ARRAY_TASK_MIN', 'SLURM_ARRAY_TASK_STEP', 'SLURM_ARRAY_TASK_MAX', 'SLURM_ARRAY_TASK_COUNT']
    .filter((v) => env[v] !== undefined)
    .map((v) => show(v, env));
  const range = `${vars.join(', ')}: submit the array as a range (sbatch --array=1-N), or pass --shard I/N`;
  if (step === 0) fail(`${show('SLURM_ARRAY_TASK_STEP', env)} is no step`);
  if (id < min || (id - min) % step !== 0) fail(`the task ID is not the first one plus a multiple of the step (${range})`);
  // A list such as --array=1,2,5 has no step that reaches every task: its IDs do not say
  // which shard each is, and numbering them anyway would skip a shard.
  const spanned = max === undefined ? undefined : (max - min) / step + 1;
  if (spanned !== undefined && (!Number.isInteger(spanned) || (count !== undefined && count !== spanned))) {
    fail(`the tasks are not every step from the first to the last (${range})`);
  }
  return { index: (id - min) / step + 1, count: count ?? spanned, vars };
}

function kubernetes(env: Env): Reading | null {
  const i = whole(env, 'JOB_COMPLETION_INDEX');
  return i === undefined ? null : { index: i + 1, vars: [show('JOB_COMPLETION_INDEX', env)] };
}

function gitlab(env: Env): Reading | null {
  const i = whole(env, 'CI_NODE_INDEX');
  if (i === undefined) return null;
  // GitLab sets CI_NODE_TOTAL=1 on every job; it counts shards only beside CI_NODE_INDEX.
  const total = whole(env, 'CI_NODE_TOTAL');
  const vars = [show('CI_NODE_INDEX', env), ...(total === undefined ? [] : [show('CI_NODE_TOTAL', env)])];
  return { index: i, count: total, vars };
}

function daxlab(env: Env): Reading | null {
  const i = whole(env, 'DAXLAB_SHARD_INDEX');
  return i === undefined ? null : { index: i, vars: [show('DAXLAB_SHARD_INDEX', env)] };
}

/**
 * The shard a scheduler's task runs, from its environment; `count` is N of `auto/N`.
 * Throws a UsageError naming the variables when none is set, a value is not a whole number,
 * the index is out of range, or two sources disagree.
 */
export function shardFromEnv(env: Env, count?: number): EnvShard {
  const readings = [slurm(env), kubernetes(env), gitlab(env), daxlab(env)].filter((r): r is Reading => r !== null);
  if (readings.length === 0) {
    fail(`no scheduler's shard variable is set (${INDEX_VARIABLES.join(', ')}); pass --shard I/N instead`);
  }
  const first = readings[0];
  const odd = readings.find((r) => r.index !== first.index);
  if (odd !== undefined) {
    fail(`the schedulers disagree: ${first.vars.join(', ')} make it shard ${first.index}, ${odd.vars.join(', ')} shard ${odd.index}`);
  }
  const counts: { count: number; vars: string[] }[] = [];
  if (count !== undefined) counts.push({ count, vars: [`${FLAG}/${count}`] });
  const envCount = whole(env, 'DAXLAB_SHARD_COUNT');
  if (envCount !== undefined) counts.push({ count: envCount, vars: [show('DAXLAB_SHARD_COUNT', env)] });
  for (const r of readings) if (r.count !== undefined) counts.push({ count: r.count, vars: r.vars });
  if (counts.length === 0) {
    fail(`from ${first.vars.join(', ')} the shard's index is known but not the number of shards: pass --shard auto/N or set DAXLAB_SHARD_COUNT`);
  }
  const other = counts.find((c) => c.count !== counts[0].count);
  if (other !== undefined) {
    const tip = env.SLURM_ARRAY_TASK_ID !== undefined ? ' (to re-run some tasks of a larger array, spell the shard out: --shard I/N)' : '';
    fail(`the number of shards disagrees: ${counts[0].count} from ${counts[0].vars.join(', ')}, ${other.count} from ${other.vars.join(', ')}${tip}`);
  }
  const n = counts[0].count;
  const vars = [...new Set([...readings.flatMap((r) => r.vars), ...counts.flatMap((c) => c.vars)])];
  if (n < 1 || n > MAX_SHARDS || first.index < 1 || first.index > n) {
    fail(`shard ${first.index} of ${n} from ${vars.join(', ')}: expected 1 <= shard <= count <= ${MAX_SHARDS}`);
  }
  return { index: first.index, count: n, from: vars.join(', ') };
}

/**
 * The shard `--shard` asks for: none, `I/N`, or from the environment with `auto` or
 * `auto/N` (then `from` names the variables read).
 */
export function parseShard(text: string | undefined, env: Env = process.env): (Shard & { from?: string }) | undefined {
  if (text === undefined) return undefined;
  const auto = /^auto(?:\/(\d+))?$/.exec(text);
  const m = auto ? null : /^(\d+)\/(\d+)$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : auto?.[1] !== undefined ? Number(auto[1]) : auto ? 1 : NaN;
  if ((!m && !auto) || !(count >= 1 && count <= MAX_SHARDS) || (m && (index < 1 || index > count))) {
    throw new UsageError(`--shard: expected I/N with 1 <= I <= N <= ${MAX_SHARDS} (for example 2/4), auto or auto/N, got ${JSON.stringify(text)}`);
  }
  if (auto) return shardFromEnv(env, auto[1] === undefined ? undefined : count);
  return { index, count };
}
