#!/usr/bin/env node
// daxlab: the command line. Bad usage exits 2 with one line naming the flag; a failed run exits 1.

import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { readFileSync } from 'node:fs';
import { EXIT_FAILED, EXIT_USAGE, isUsageError } from './errors.js';
import { layoutCommand } from './layout_cmd.js';
import { stressCommand } from './stress_cmd.js';
import { runCommand } from './run_cmd.js';
import { listCommand } from './list_cmd.js';
import { showCommand } from './show_cmd.js';
import { compareCommand } from './compare_cmd.js';
import { mergeCommand } from './merge_cmd.js';
import { planCommand } from './plan_cmd.js';
import { reportCommand } from './report_cmd.js';
import { crashtestCommand } from './crashtest_cmd.js';
import { probeCommand } from './probe_cmd.js';
import { tuneCommand } from './tune_cmd.js';
import { calibrateCommand } from './calibrate_cmd.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

/** A message longer than this is cut: a list of 70,000 names is no help on one line. */
const MAX_MESSAGE = 2000;

function fail(message: string, code: number): never {
  const text = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}... (${message.length - MAX_MESSAGE} more characters)` : message;
  process.stderr.write(`daxlab: ${text}\n`);
  process.exit(code);
}

try {
  await yargs(hideBin(process.argv))
    .scriptName('daxlab')
    .usage('$0 <command> [options]\n\nA lab that models and measures how Linux keeps memory-mapped persistent memory (DAX) durable.')
    .command(runCommand)
    .command(planCommand)
    .command(listCommand)
    .command(showCommand)
    .command(compareCommand)
    .command(mergeCommand)
    .command(reportCommand)
    .command(stressCommand)
    .command(crashtestCommand)
    .command(tuneCommand)
    .command(layoutCommand)
    .command(probeCommand)
    .command(calibrateCommand)
    .demandCommand(1, 'name a command (see --help)')
    .strict()
    .version(pkg.version)
    .help()
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err && !isUsageError(err)) throw err;
      // yargs words a bad choice over two lines ("Invalid values:\n  Argument: ..."): one line here.
      const text = (msg ?? err?.message ?? 'bad usage').replace(/:?\s*\n\s*/g, ': ');
      fail(`${text} (see daxlab --help)`, EXIT_USAGE);
    })
    .parseAsync();
} catch (err) {
  if (isUsageError(err)) fail(err.message, EXIT_USAGE);
  fail(err instanceof Error ? (err.stack ?? err.message) : String(err), EXIT_FAILED);
}
