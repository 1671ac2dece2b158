// `daxlab report <run...> [-o file.html]`: the HTML report of existing runs, one page for
// one run or several overlaid. One run's report goes beside its results.json by default;
// several need -o. The path written is printed.

import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { Comparison } from '../measure/compare.js';
import type { ReportRun } from '../report/build.js';
import { reportHtml, writeFileWhole } from '../report/write.js';
import { UsageError } from './errors.js';
import { readResultsArg, resultsFileOf } from './results_input.js';

interface ReportArgs {
  runs: string[];
  out?: string;
}

/** Checks a report destination: a file name, not a folder, under no system folder. */
export function checkReportFile(file: string, flag: string): void {
  if (file.trim() === '') throw new UsageError(`${flag}: expected a file name for the report, got ""`);
  let st;
  try {
    st = statSync(file);
  } catch {
    return;
  }
  if (st.isDirectory()) throw new UsageError(`${flag}: ${file} is a folder; name a file, e.g. ${path.join(file, 'report.html')}`);
}

/** Writes the report of runs (and their comparison) to file, making its folder. */
export function writeReport(file: string, runs: readonly ReportRun[], comparison?: Comparison): void {
  const html = reportHtml(runs, comparison !== undefined ? { comparison } : {});
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileWhole(file, html);
}

export const reportCommand: CommandModule<object, ReportArgs> = {
  command: 'report <runs..>',
  describe: 'write the HTML report (plots, tables, metadata) of one run, or of several overlaid',
  builder: (y: Argv) =>
    y
      .positional('runs', { type: 'string', array: true, demandOption: true, describe: 'results.json files or run folders' })
      .option('out', { alias: 'o', type: 'string', requiresArg: true, describe: 'the HTML file to write (default for one run: report.html beside its results.json)' })
      .example('$0 report results/ordering-tax/reference', 'writes results/ordering-tax/reference/report.html')
      .example('$0 report results/runs/a results/runs/b -o ab.html', 'two runs overlaid on one page') as unknown as Argv<ReportArgs>,
  handler: (argv: ArgumentsCamelCase<ReportArgs>) => {
    const runs = argv.runs.map(String);
    if (runs.length > 1 && argv.out === undefined) throw new UsageError('--out: name the file for a report of several runs (-o file.html)');
    const out = argv.out ?? path.join(path.dirname(resultsFileOf(runs[0])), 'report.html');
    checkReportFile(out, '--out');
    writeReport(out, runs.map((r) => ({ label: r, results: readResultsArg(r) })));
    console.log(out);
  },
};
