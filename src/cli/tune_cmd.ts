// `daxlab tune <workload>`: searches the journal commit policy space of the workload's
// filesystem personality, per situation (each point of the workload's own sweep), and writes
// the Pareto front, the recommendation as the commands a user types, and the table (JSON,
// CSV, HTML). `--shard I/N` tunes a share of the situations; `--merge` joins the shares.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { UsageError } from './errors.js';
import { startProgress } from './progress.js';
import { parseShard } from './shard_env.js';
import { checkCount } from './workload_options.js';
import { CLOCKS, type ClockKind } from '../machine/layout.js';
import { readWorkload } from '../workload/expand.js';
import { parseAssignment } from '../workload/paths.js';
import { parseConstraint, parseObjective } from '../tune/expr.js';
import { mainLatencyKind } from '../tune/metrics.js';
import { mergeTunes } from '../tune/merge.js';
import { checkTuneOutput, writeTuneFolder } from '../tune/output.js';
import { parseTuneResults, type TuneResults } from '../tune/result.js';
import { labEvaluator, TunePool } from '../tune/run_eval.js';
import { MIN_BUDGET } from '../tune/search.js';
import { prepareTune } from '../tune/situations.js';
import { runTune } from '../tune/tune.js';
import { formatTuneText } from '../tune/format.js';

interface TuneArgs {
  workload?: string;
  set: string[];
  config?: string;
  objective?: string;
  constraint: string[];
  front?: string;
  budget: number;
  space: string[];
  seed?: number;
  shard?: string;
  clock?: ClockKind;
  merge?: string[];
  out?: string;
  force: boolean;
  quiet: boolean;
  statusInterval: number;
}

/** Runs per situation when --budget is not given: the rungs (31, with 12 policies in rung 0) and backward elimination (25), ordering-tax's three dirtying rates in a few minutes. */
export const DEFAULT_BUDGET = 56;

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

export const tuneCommand: CommandModule<object, TuneArgs> = {
  command: 'tune [workload]',
  describe: "search the journal commit policy for a workload: the Pareto front, and the mount/mkfs options to use",
  builder: (y: Argv) =>
    y
      .positional('workload', { type: 'string', describe: 'a workload JSON file, or the name of a shipped one (daxlab list)' })
      .option('set', { type: 'string', array: true, default: [], describe: 'override a parameter: path=value (repeatable); pinning a sweep axis tunes that value alone' })
      .option('config', { type: 'string', describe: "start from this named configuration's overrides (default: the workload as written)" })
      .option('objective', { type: 'string', describe: 'what to minimise, e.g. p99:sync-fault or p99:fsync + 0.01*journalBlocksPerSec (default: p99 of the latency the workload measures)' })
      .option('constraint', { type: 'string', array: true, default: [], describe: "a bound every repeat of the recommendation meets, e.g. 'commitsPerSec<=50' or 'p99:sync-fault<200us' (repeatable)" })
      .option('front', { type: 'string', describe: 'the metrics the Pareto front trades, comma-separated (default: the p99, journalBlocksPerSec, commitsPerSec)' })
      .option('budget', { type: 'number', default: DEFAULT_BUDGET, describe: `runs per situation (at least ${MIN_BUDGET})` })
      .option('space', { type: 'string', array: true, default: [], describe: 'the values tried for a policy field: FIELD=v1,v2 (one value pins it; repeatable)' })
      .option('seed', { type: 'number', describe: 'seed of the search and of the runs (default: run.seed)' })
      .option('shard', { type: 'string', describe: 'tune only share I of N of the situations (I/N, auto or auto/N, as run --shard); join the shares with --merge' })
      .option('clock', { choices: CLOCKS, describe: 'virtual (default) or wall (overrides run.clock)' })
      .option('merge', { type: 'string', array: true, describe: 'join the partial tunes in these folders (or tune.json files) into one; no workload is run' })
      .option('out', { type: 'string', describe: 'the folder to write (default: results/runs/<workload>-tune-<time>)' })
      .option('force', { type: 'boolean', default: false, describe: 'replace --out if it holds an earlier tune' })
      .option('quiet', { type: 'boolean', default: false, describe: 'print only where the tune went' })
      .option('status-interval', { type: 'number', default: 5, describe: 'off a terminal, a status line every this many seconds; 0: none' })
      .example('$0 tune ordering-tax --set cpus[0].intervalUs=10000', 'tune each dirtying rate of ordering-tax, faults 10 ms apart')
      .example("$0 tune ordering-tax --objective p99:sync-fault --constraint 'commitsPerSec<=50'", 'the lowest p99 within a commit rate')
      .example('$0 tune ordering-tax --shard auto --out tune/$SLURM_ARRAY_TASK_ID', "a Slurm array task's share of the situations")
      .example('$0 tune --merge tune/1 tune/2 --out tune/all', 'join the shares into one answer') as unknown as Argv<TuneArgs>,
  handler: async (argv: ArgumentsCamelCase<TuneArgs>) => {
    if (argv.merge !== undefined) return mergeHandler(argv);
    if (argv.workload === undefined) throw new UsageError('tune: name a workload (or join partial tunes with --merge)');
    checkCount('--budget', argv.budget, MIN_BUDGET, 100_000);
    checkCount('--seed', argv.seed, 0, 2 ** 31 - 1);
    if (!(Number.isFinite(argv.statusInterval) && argv.statusInterval >= 0 && argv.statusInterval <= 86_400)) {
      throw new UsageError(`--status-interval: expected seconds from 0 to 86400, got ${argv.statusInterval}`);
    }
    const shard = parseShard(argv.shard);
    const sets = argv.set.map(parseAssignment);
    if (argv.clock !== undefined) sets.push({ path: 'run.clock', value: argv.clock });
    // The expressions first: a typo there is reported before the workload is looked at.
    const asked = argv.objective === undefined ? undefined : parseObjective(argv.objective);
    const constraints = argv.constraint.map((c) => parseConstraint(c));
    const askedFront = argv.front?.split(',').map((m) => m.trim());
    for (const m of askedFront ?? []) parseObjective(m, '--front');
    const { raw, source } = readWorkload(argv.workload);
    const setup = prepareTune(raw, sets, source, { config: argv.config, space: argv.space });
    const latency = `p99:${mainLatencyKind(setup.workload)}`;
    const objective = asked ?? parseObjective(latency);
    const frontMetrics = askedFront ?? [latency, 'journalBlocksPerSec', 'commitsPerSec'];
    if (argv.out !== undefined) checkTuneOutput(argv.out, argv.force);
    const out = argv.out ?? defaultOut(setup.workload.name);
    const seed = argv.seed ?? setup.workload.run.seed;
    for (const n of setup.notes) process.stderr.write(`daxlab: note: ${n}\n`);
    if (shard?.from !== undefined) process.stderr.write(`daxlab: shard ${shard.index}/${shard.count} from ${shard.from}\n`);
    const progress = startProgress(process.stderr, argv.quiet ? 0 : argv.statusInterval * 1000);
    let status = '';
    let result: TuneResults;
    // One pool of CPU threads for every batch; a failed run exits the process, threads and all.
    const pool = new TunePool();
    try {
      result = await runTune(setup, {
        source,
        config: argv.config ?? null,
        seed,
        budget: argv.budget,
        objective,
        constraints,
        frontMetrics,
        shard: shard && { index: shard.index, count: shard.count },
        version: pkg.version,
        evaluatorFor: (s) =>
          labEvaluator(setup, s, { seed, version: pkg.version, where: source, pool, onProgress: (p) => progress.update({ ...p, config: `${status} ${p.config}` }) }),
        onRuns: (s, spent, budget, stage) => (status = `${s.name}: ${stage}, ${spent}/${budget} runs;`),
      });
      await pool.destroy();
    } finally {
      progress.stop();
    }
    const files = writeTuneFolder(result, out);
    if (!argv.quiet) process.stdout.write(formatTuneText(result));
    process.stderr.write(`daxlab: tune written to ${out} (${files.length} files)\ndaxlab: report: ${path.join(out, 'report.html')}\n`);
  },
};

function mergeHandler(argv: ArgumentsCamelCase<TuneArgs>): void {
  if (argv.workload !== undefined) throw new UsageError('--merge: joins partial tunes; name no workload with it');
  if (argv.out === undefined) throw new UsageError('--merge: name the folder to write with --out');
  checkTuneOutput(argv.out, argv.force);
  const parts = argv.merge!.map((p) => {
    const file = p.endsWith('.json') ? p : path.join(p, 'tune.json');
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new UsageError(`--merge: ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    return { where: p, tune: parseTuneResults(text, file) };
  });
  const merged = mergeTunes(parts);
  const files = writeTuneFolder(merged, argv.out);
  if (!argv.quiet) process.stdout.write(formatTuneText(merged));
  process.stderr.write(`daxlab: merged ${parts.length} partial tunes into ${argv.out} (${files.length} files)\n`);
}

/** results/runs/<workload>-tune-<time>, never one that exists (ignored by git, as run's). */
function defaultOut(name: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  const base = path.join('results', 'runs', `${name}-tune-${stamp}`);
  for (let i = 1; ; i++) {
    const dir = i === 1 ? base : `${base}-${i}`;
    if (!existsSync(dir)) return dir;
  }
}
