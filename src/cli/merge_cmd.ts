// `daxlab merge`: joins the shards of one sweep (run --shard I/N on N machines) into one run
// folder, as the unsharded run would have written it.

import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { EXPORT_FORMATS, parseExportFormats, writeRunFolder, checkOutput } from '../measure/export.js';
import { mergeRuns } from '../measure/merge.js';
import { readResultsArg } from './results_input.js';

interface MergeArgs {
  inputs: string[];
  out: string;
  force: boolean;
  allowDifferent: boolean;
  format: string[];
}

export const mergeCommand: CommandModule<object, MergeArgs> = {
  command: 'merge <inputs..>',
  describe: 'Join the shards of a sweep (run --shard I/N) into one run folder',
  builder: (y: Argv) =>
    y
      .positional('inputs', { type: 'string', array: true, demandOption: true, describe: 'run folders or results.json files, one per shard' })
      .option('out', { type: 'string', demandOption: true, requiresArg: true, describe: 'the merged run folder to write' })
      .option('force', { type: 'boolean', default: false, describe: 'replace --out if it holds an earlier result' })
      .option('allow-different', {
        type: 'boolean',
        default: false,
        describe: 'merge shards whose workload, overrides, repeats, seed, profile or variant differ (a warning each), which are refused otherwise',
      })
      .option('format', {
        type: 'string',
        array: true,
        default: [EXPORT_FORMATS.join(',')],
        describe: `exports to write, comma-separated: ${EXPORT_FORMATS.join(', ')}`,
      })
      .example('$0 merge shard-1 shard-2 shard-3 --out results/sweep', 'three shards of a sweep into one folder')
      .example('$0 merge runs/*/results.json --out merged --format json,csv', 'only results.json and the CSV files') as unknown as Argv<MergeArgs>,
  handler: (argv: ArgumentsCamelCase<MergeArgs>) => {
    const formats = parseExportFormats(argv.format);
    checkOutput(argv.out, argv.force);
    const merged = mergeRuns(argv.inputs.map(readResultsArg), { allowDifferent: argv.allowDifferent });
    const files = writeRunFolder(merged, argv.out, { formats, force: argv.force, onWarning: (w) => process.stderr.write(`daxlab: warning: ${w}\n`) });
    const n = argv.inputs.length;
    console.log(`merged ${n} shard${n === 1 ? '' : 's'}, ${merged.configs.length} configurations, into ${argv.out} (${files.length} files)`);
    for (const w of merged.warnings.filter((x) => x.startsWith('merge:'))) process.stderr.write(`daxlab: warning: ${w}\n`);
    if (merged.partial) process.stderr.write('daxlab: warning: a shard was interrupted; the merged result is partial\n');
  },
};
