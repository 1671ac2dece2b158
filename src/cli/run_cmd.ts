// `daxlab run <workload>`: expands the workload (overrides, named configurations, sweep),
// runs it, prints the tables and writes the run folder. Ctrl-C stops the CPUs and writes
// what was gathered, marked partial; a second Ctrl-C quits at once.

import { mkdirSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { expandWorkload } from '../workload/expand.js';
import { runWorkload, RunStalledError } from '../lab/run.js';
import { EXPORT_FORMATS, checkOutput, formatRunTables, parseExportFormats, reserveOutput, writeRunFolder } from '../measure/export.js';
import { EXIT_FAILED, UsageError } from './errors.js';
import { startProgress } from './progress.js';
import type { Shard } from './shard_env.js';
import { checkCount, shapeWorkload, workloadOptions, type WorkloadArgs } from './workload_options.js';


interface RunArgs extends WorkloadArgs {
  out?: string;
  force: boolean;
  format: string;
  attribute: boolean;
  logIntervalMs?: number;
  holdTimes: boolean;
  quiet: boolean;
  wide: boolean;
  statusInterval: number;
}

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

/**
 * A new folder under results/runs/ (ignored by git: the reference results beside it are the
 * tracked ones) named after the workload and the time, never one that exists. It is made
 * empty at once, so that a second run started in the same second takes the next name; the
 * run's results replace it (an empty folder holds no result).
 */
function reserveDefaultOut(name: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  const base = path.join('results', 'runs', `${name}-${stamp}`);
  mkdirSync(path.dirname(base), { recursive: true });
  for (let i = 1; ; i++) {
    const dir = i === 1 ? base : `${base}-${i}`;
    try {
      mkdirSync(dir);
      return dir;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/** Removes a folder this run reserved if the run wrote nothing into it. */
function releaseReserved(dir: string): void {
  try {
    if (readdirSync(dir).length === 0) rmdirSync(dir);
  } catch {
    // gone or filled: nothing to release
  }
}

export const runCommand: CommandModule<object, RunArgs> = {
  command: 'run <workload>',
  describe: 'run a workload file (or a shipped workload by name); print the tables and write a results folder',
  builder: (y: Argv) =>
    workloadOptions(y)
      .option('out', { type: 'string', describe: 'the run folder to write (default: results/runs/<workload>-<time>)' })
      .option('force', { type: 'boolean', default: false, describe: 'replace --out if it exists' })
      .option('format', { type: 'string', default: EXPORT_FORMATS.join(','), describe: `exports to write: ${EXPORT_FORMATS.join(', ')}` })
      .option('attribute', { type: 'boolean', default: false, describe: 'split each timed operation into the kernel steps it passed through' })
      .option('log-interval-ms', { type: 'number', describe: 'also keep a histogram per interval of this many ms' })
      .option('hold-times', { type: 'boolean', default: false, describe: 'measure lock hold times (two clock reads per lock acquisition)' })
      .option('quiet', { type: 'boolean', default: false, describe: 'print only where the results went' })
      .option('wide', { type: 'boolean', default: false, describe: "lock_stat in /proc/lock_stat's full layout (221 columns; default: 7 columns within 120)" })
      .option('status-interval', {
        type: 'number',
        default: 5,
        describe: 'off a terminal (CI logs, pipes), print a one-line status every this many seconds; 0: none (--quiet: none)',
      })
      .example('$0 run kara-2017', "the seed's MAP_SYNC fault latency table")
      .example('$0 run workloads/examples/my.json --set journal.commitIntervalMs=1000 --repeats 5', 'override a parameter, five repeats')
      .example('$0 run workloads/examples/sweep.json --shard 2/4 --out part2', 'the second quarter of a sweep (then daxlab merge)')
      .example('$0 run workloads/examples/sweep.json --shard auto --out shards/$SLURM_ARRAY_TASK_ID', "a Slurm array task's slice of a sweep")
      .example('$0 run workloads/examples/my.json --attribute --format json,table', 'where the time of each operation went')
      .example('$0 run kara-2017 --clock wall', "the host's time instead of the model's (results differ by host)") as unknown as Argv<RunArgs>,
  handler: async (argv: ArgumentsCamelCase<RunArgs>) => {
    const formats = parseExportFormats(argv.format);
    checkCount('--log-interval-ms', argv.logIntervalMs, 0, 3_600_000);
    if (!(Number.isFinite(argv.statusInterval) && argv.statusInterval >= 0 && argv.statusInterval <= 86_400)) {
      throw new UsageError(`--status-interval: expected seconds from 0 to 86400, got ${argv.statusInterval}`);
    }
    const { expanded, shard } = shapeWorkload(argv);
    // The destination is checked before the run, so a run is never lost at its end.
    if (argv.out !== undefined) checkOutput(argv.out, argv.force);
    const out = argv.out ?? reserveDefaultOut(expanded.base.name);
    // A second run into the same folder is refused before it runs, until this one has written.
    const release = reserveOutput(out);
    const cleanup = () => {
      release();
      if (argv.out === undefined) releaseReserved(out);
    };
    try {
      await runAndWrite(argv, expanded, shard, formats, out, cleanup);
    } finally {
      cleanup();
    }
  },
};

async function runAndWrite(
  argv: ArgumentsCamelCase<RunArgs>,
  expanded: ReturnType<typeof expandWorkload>,
  shard: Shard | undefined,
  formats: ReturnType<typeof parseExportFormats>,
  out: string,
  cleanup: () => void,
): Promise<void> {
  const ac = new AbortController();
  // Ctrl-C and SIGTERM (a scheduler's or a timeout's kill) alike stop the CPUs and write
  // what was gathered; a second signal quits at once. The exit code is the first signal's.
  let signalled: 'SIGINT' | 'SIGTERM' | null = null;
  const onSignal = (sig: 'SIGINT' | 'SIGTERM') => {
    if (signalled !== null) process.exit(128 + SIGNAL_NUMBERS[sig]);
    signalled = sig;
    process.stderr.write(`\ndaxlab: ${sig === 'SIGINT' ? 'interrupted' : 'terminated'}: stopping the CPUs and writing the results so far (a second signal quits now)\n`);
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const progress = startProgress(process.stderr, argv.quiet ? 0 : argv.statusInterval * 1000);
  let results;
  try {
    results = await runWorkload(expanded, {
      shard,
      repeats: argv.repeats,
      seed: argv.seed,
      attribute: argv.attribute || undefined,
      logIntervalMs: argv.logIntervalMs,
      lockHoldTimes: argv.holdTimes,
      signal: ac.signal,
      onProgress: progress.update,
      onWarning: (w) => progress.log(`daxlab: warning: ${w}`),
      version: pkg.version,
    });
  } catch (e) {
    progress.stop();
    if (e instanceof RunStalledError) {
      process.stderr.write(`daxlab: run failed: ${e.message}\n`);
      cleanup();
      process.exit(EXIT_FAILED);
    }
    throw e;
  } finally {
    progress.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const files = writeRunFolder(results, out, {
    formats,
    force: argv.force,
    wide: argv.wide,
    onWarning: (w) => process.stderr.write(`daxlab: warning: ${w}\n`),
  });
  if (!argv.quiet) process.stdout.write(formatRunTables(results, { wide: argv.wide }));
  const violations = results.configs.reduce((n, c) => n + c.violations.length, 0);
  if (violations > 0) process.stderr.write(`daxlab: the invariant checker found ${violations} violations (see results.json configs[].violations)\n`);
  // The failure itself was printed as a warning when it happened.
  const what = results.failure !== undefined ? 'partial results (a CPU failed, see the warning)' : results.partial ? 'partial results' : 'results';
  process.stderr.write(`daxlab: ${what} written to ${out} (${files.length} files)\n`);
  // The report's path last: what a person opens next.
  const report = files.find((f) => path.basename(f) === 'report.html');
  if (report !== undefined) process.stderr.write(`daxlab: report: ${report}\n`);
  if (results.partial) process.exitCode = signalled === 'SIGTERM' ? 128 + SIGNAL_NUMBERS.SIGTERM : EXIT_FAILED;
  // CPUs stuck in a wait when the signal came keep their threads, and the process, alive.
  if (signalled !== null) {
    cleanup();
    process.exit();
  }
}

/** The signals a run stops on, with their numbers (an exit code of 128 + n says which). */
const SIGNAL_NUMBERS = { SIGINT: 2, SIGTERM: 15 } as const;
