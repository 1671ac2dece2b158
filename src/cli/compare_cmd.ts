// `daxlab compare a b`: two runs side by side per configuration and kind, with confidence
// intervals and a Mann-Whitney verdict; --fail-on-regression makes a tail regression fail a
// CI job (exit 1).

import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { compareRuns, formatComparison } from '../measure/compare.js';
import { EXIT_FAILED, UsageError } from './errors.js';
import { readResultsArg } from './results_input.js';

interface CompareArgs {
  a: string;
  b: string;
  failOnRegression?: number;
  alpha: number;
  json: boolean;
}

export const compareCommand: CommandModule<object, CompareArgs> = {
  command: 'compare <a> <b>',
  describe: 'Compare two runs per configuration and kind: p50/p99/p99.9 with 95 % intervals, ratios, a Mann-Whitney U verdict',
  builder: (y: Argv) =>
    y
      .positional('a', { type: 'string', demandOption: true, describe: 'the baseline: results.json or a run folder' })
      .positional('b', { type: 'string', demandOption: true, describe: 'the candidate: results.json or a run folder' })
      .option('fail-on-regression', {
        type: 'number',
        describe: 'exit 1 when a p99 or p99.9 of b exceeds a by more than PCT percent and the U test says they differ',
        requiresArg: true,
      })
      .option('alpha', { type: 'number', default: 0.05, describe: 'significance level of the U test' })
      .option('json', { type: 'boolean', default: false, describe: 'print the comparison as JSON' })
      .example('$0 compare results/before results/after', 'side by side, with verdicts')
      .example('$0 compare base.json new.json --fail-on-regression 10', 'fail a CI job when a tail grows by more than 10 %') as unknown as Argv<
      CompareArgs>,
  handler: (argv: ArgumentsCamelCase<CompareArgs>) => {
    const pct = argv.failOnRegression;
    if (pct !== undefined && !(Number.isFinite(pct) && pct >= 0)) {
      throw new UsageError(`--fail-on-regression: expected a percentage of 0 or more, got ${pct}`);
    }
    if (!(argv.alpha > 0 && argv.alpha < 1)) throw new UsageError(`--alpha: expected a number between 0 and 1, got ${argv.alpha}`);
    const a = readResultsArg(argv.a);
    const b = readResultsArg(argv.b);
    const c = compareRuns(a, b, { failOnRegressionPct: pct, alpha: argv.alpha, labels: [argv.a, argv.b] });
    if (argv.json) {
      console.log(JSON.stringify(c, (_k, v: unknown) => (v === Infinity ? 'inf' : v), 2));
      // The text report carries its notes in its header; beside JSON they would go unseen.
      for (const n of c.notes) process.stderr.write(`daxlab: warning: ${n}\n`);
    } else process.stdout.write(formatComparison(c));
    if (pct !== undefined && c.regressions.length > 0) {
      process.stderr.write(`daxlab: ${c.regressions.length} tail regression${c.regressions.length === 1 ? '' : 's'} over ${pct} %\n`);
      process.exitCode = EXIT_FAILED;
    }
  },
};
