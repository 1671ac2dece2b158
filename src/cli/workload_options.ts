// The options that decide which configurations a run makes (the workload, --set, --repeats,
// --seed, --clock, --shard), shared by `run` and `plan` so that plan lists exactly what run
// would run with the same arguments.

import type { Argv } from 'yargs';
import { CLOCKS, type ClockKind } from '../machine/layout.js';
import { parseAssignment } from '../workload/paths.js';
import { expandWorkload, readWorkload, type ExpandedWorkload } from '../workload/expand.js';
import { UsageError } from './errors.js';
import { parseShard, type Shard } from './shard_env.js';

export interface WorkloadArgs {
  workload: string;
  set: string[];
  repeats?: number;
  seed?: number;
  shard?: string;
  clock?: ClockKind;
  profile?: string;
}

export function workloadOptions<T>(y: Argv<T>): Argv<T & WorkloadArgs> {
  return y
    .positional('workload', { type: 'string', describe: 'a workload JSON file, or the name of a shipped one (daxlab list)', demandOption: true })
    .option('set', { type: 'string', array: true, default: [], describe: 'override a parameter: path=value (repeatable)' })
    .option('repeats', { type: 'number', describe: 'repeats of each configuration (overrides run.repeats)' })
    .option('seed', { type: 'number', describe: 'random seed (overrides run.seed)' })
    .option('profile', { type: 'string', requiresArg: true, describe: 'a shipped cost profile (daxlab list) or a profile file, such as one daxlab calibrate wrote (overrides profile)' })
    .option('shard', {
      type: 'string',
      describe:
        'only slice I of N of the configurations (I/N); auto or auto/N: I and N from a Slurm array, Kubernetes Indexed Job, GitLab parallel job or DAXLAB_SHARD_INDEX/DAXLAB_SHARD_COUNT; join slices with daxlab merge',
    })
    .option('clock', {
      choices: CLOCKS,
      describe:
        "virtual (the default): every figure is the model's, the same on any host; wall: the host's time, for measuring the simulator or contention on this host (overrides run.clock)",
    }) as unknown as Argv<T & WorkloadArgs>;
}

export function checkCount(flag: string, v: number | undefined, min: number, max: number): void {
  if (v !== undefined && (!Number.isInteger(v) || v < min || v > max)) throw new UsageError(`${flag}: expected an integer from ${min} to ${max}, got ${v}`);
}

/**
 * The workload the options describe, expanded, and the shard to run. A shard taken from the
 * environment is announced on stderr with the variables it came from, once the workload is
 * known to be good: a task that runs the wrong slice must say so in its log.
 */
export function shapeWorkload(argv: WorkloadArgs, env: NodeJS.ProcessEnv = process.env): { expanded: ExpandedWorkload; source: string; shard?: Shard } {
  const shard = parseShard(argv.shard, env);
  checkCount('--repeats', argv.repeats, 1, 1000);
  checkCount('--seed', argv.seed, 0, 2 ** 31 - 1);
  const sets = argv.set.map(parseAssignment);
  if (argv.profile !== undefined) sets.push({ path: 'profile', value: argv.profile });
  // Applied as the last override, so the workload's cross-field rules see it.
  if (argv.clock !== undefined) sets.push({ path: 'run.clock', value: argv.clock });
  const { raw, source } = readWorkload(argv.workload);
  const expanded = expandWorkload(raw, sets, source);
  if (shard?.from !== undefined) process.stderr.write(`daxlab: shard ${shard.index}/${shard.count} from ${shard.from}\n`);
  return { expanded, source, shard: shard && { index: shard.index, count: shard.count } };
}
