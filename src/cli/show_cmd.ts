// `daxlab show`: a run's tables again (what table.txt holds), from results.json or a run
// folder; --json prints the figures without the encoded histograms, for scripts.

import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { formatRunTables } from '../measure/export.js';
import type { RunResults } from '../measure/results.js';
import { readResultsArg } from './results_input.js';

interface ShowArgs {
  results: string;
  json: boolean;
  wide: boolean;
}

/** What a script wants from a run: the summary figures, not the histograms, buckets or per-repeat detail. */
export function summarizeResults(r: RunResults): object {
  return {
    workload: r.workload.name,
    profile: r.profile.name,
    variant: r.variant,
    seed: r.seed,
    daxlabVersion: r.daxlabVersion,
    createdAt: r.createdAt,
    machine: r.machine,
    partial: r.partial,
    ...(r.shard === undefined ? {} : { shard: r.shard }),
    warnings: r.warnings,
    configs: r.configs.map((c) => ({
      name: c.name,
      params: c.params,
      repeats: c.repeats,
      partial: c.partial,
      elapsedNs: c.elapsedNs,
      ops: Object.fromEntries(Object.entries(c.ops).map(([kind, { buckets: _buckets, ...figures }]) => [kind, figures])),
      locks: Object.fromEntries(Object.entries(c.locks).map(([cls, { waitBuckets: _waits, ...figures }]) => [cls, figures])),
      counters: c.counters,
      violations: c.violations,
    })),
  };
}

export const showCommand: CommandModule<object, ShowArgs> = {
  command: 'show <results>',
  describe: "Print a run's tables again: latency percentiles, the seed's buckets, lock_stat, counters, attribution",
  builder: (y: Argv) =>
    y
      .positional('results', { type: 'string', demandOption: true, describe: 'a results.json file or a run folder' })
      .option('json', { type: 'boolean', default: false, describe: 'print the summary figures as JSON (no histograms)' })
      .option('wide', { type: 'boolean', default: false, describe: "lock_stat in /proc/lock_stat's full layout (221 columns; default: 7 columns within 120)" })
      .example('$0 show results/kara-2017', 'the tables of a run folder (or of the one run a folder holds)')
      .example('$0 show results/kara-2017 --wide', "lock_stat in /proc/lock_stat's full layout")
      .example('$0 show results/kara-2017 --json | jq ".configs[].ops.fault.p99Ns"', 'one figure per configuration, for scripts') as unknown as Argv<
      ShowArgs>,
  handler: (argv: ArgumentsCamelCase<ShowArgs>) => {
    const r = readResultsArg(argv.results);
    if (argv.json) console.log(JSON.stringify(summarizeResults(r), null, 2));
    else process.stdout.write(formatRunTables(r, { wide: argv.wide }));
  },
};
