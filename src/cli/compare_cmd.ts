// `daxlab compare a b`: two runs side by side per configuration, kind and figure, judged over
// their repeats as benchstat does; --fail-on-regression makes a regression fail a CI job
// (exit 1). Two runs with nothing in common are a usage error (exit 2), and so is a gate
// that could judge nothing, so that a CI job never passes on an empty comparison.

import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { compareRuns } from '../measure/compare.js';
import { formatComparison } from '../measure/compare_format.js';
import { smallestP } from '../measure/repeat_stats.js';
import { EXIT_FAILED, UsageError } from './errors.js';
import { readResultsArg } from './results_input.js';
import { checkReportFile, writeReport } from './report_cmd.js';

interface CompareArgs {
  a: string;
  b: string;
  failOnRegression?: number;
  alpha: number;
  json: boolean;
  report?: string;
}

export const compareCommand: CommandModule<object, CompareArgs> = {
  command: 'compare <a> <b>',
  describe: 'Compare two runs per configuration and kind: mean/p50/p99/p99.9 over the repeats, with intervals, b/a, a Mann-Whitney verdict and geomeans',
  builder: (y: Argv) =>
    y
      .positional('a', { type: 'string', demandOption: true, describe: 'the baseline: results.json or a run folder' })
      .positional('b', { type: 'string', demandOption: true, describe: 'the candidate: results.json or a run folder' })
      .option('fail-on-regression', {
        type: 'number',
        describe: 'exit 1 when a figure (mean, p50, p99, p99.9) of b is significantly slower than a\'s over the repeats and by more than PCT percent',
        requiresArg: true,
      })
      .option('alpha', { type: 'number', default: 0.05, describe: 'significance level of the U test over the repeats' })
      .option('json', { type: 'boolean', default: false, describe: 'print the comparison as JSON' })
      .option('report', { type: 'string', requiresArg: true, describe: "also write an HTML report: both runs overlaid, each row's verdict and interval" })
      .example('$0 compare results/before results/after', 'side by side, with verdicts')
      .example('$0 compare base.json new.json --fail-on-regression 10', 'fail a CI job when a figure grows by more than 10 %') as unknown as Argv<
      CompareArgs>,
  handler: (argv: ArgumentsCamelCase<CompareArgs>) => {
    const pct = argv.failOnRegression;
    if (pct !== undefined && !(Number.isFinite(pct) && pct >= 0)) {
      throw new UsageError(`--fail-on-regression: expected a percentage of 0 or more, got ${pct}`);
    }
    if (!(argv.alpha > 0 && argv.alpha < 1)) throw new UsageError(`--alpha: expected a number between 0 and 1, got ${argv.alpha}`);
    if (argv.report !== undefined) checkReportFile(argv.report, '--report');
    const a = readResultsArg(argv.a);
    const b = readResultsArg(argv.b);
    const c = compareRuns(a, b, { failOnRegressionPct: pct, alpha: argv.alpha, labels: [argv.a, argv.b] });
    if (pct !== undefined && c.judged === 0) {
      // A gate that can call nothing would pass whatever b does.
      const r = c.rows[0];
      throw new UsageError(
        `--fail-on-regression: no figure can be judged: ${argv.a} has ${r.repeatsA} and ${argv.b} ${r.repeatsB} repeats of ${r.config} / ${r.kind} ` +
          `(the smallest p the test can give is then ${smallestP(r.repeatsA, r.repeatsB).toFixed(2)}, not below --alpha ${argv.alpha}); re-run both with more --repeats (4 or more at 0.05)`,
      );
    }
    if (argv.json) {
      console.log(JSON.stringify(c, (_k, v: unknown) => (v === Infinity ? 'inf' : v), 2));
      // The text report carries its notes in its header; beside JSON they would go unseen.
      for (const n of c.notes) process.stderr.write(`daxlab: warning: ${n}\n`);
    } else process.stdout.write(formatComparison(c));
    if (argv.report !== undefined) {
      writeReport(argv.report, [{ label: argv.a, results: a }, { label: argv.b, results: b }], c);
      process.stderr.write(`daxlab: report: ${argv.report}\n`);
    }
    if (pct !== undefined && c.regressions.length > 0) {
      process.stderr.write(`daxlab: ${c.regressions.length} regression${c.regressions.length === 1 ? '' : 's'} over ${pct} %\n`);
      process.exitCode = EXIT_FAILED;
    }
  },
};
