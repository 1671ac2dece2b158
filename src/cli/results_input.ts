// Reading a results argument: a results.json file or a run folder that holds one. A path that
// is missing or unreadable is the user's mistake (exit 2), as is a file that does not parse.

import { decodeConfigOps } from '../measure/compare.js';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseResults, type RunResults } from '../measure/results.js';
import { UsageError } from './errors.js';

/** The results.json a path names: the path itself, or results.json inside a folder. */
export function resultsFileOf(arg: string): string {
  let st;
  try {
    st = statSync(arg);
  } catch {
    throw new UsageError(`${arg}: no such file or folder`);
  }
  return st.isDirectory() ? path.join(arg, 'results.json') : arg;
}

/** Reads and validates the results a path names; a bad file throws a RangeError naming it and the field. */
export function readResultsArg(arg: string): RunResults {
  const file = resultsFileOf(arg);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === 'ENOENT' ? `${arg}: no results.json in this folder (was it written with --format json?)` : `${file}: ${(e as Error).message}`,
    );
  }
  const r = parseResults(text, file);
  // Histograms that do not decode are a bad input file, said now in one line, not a stack
  // trace from whichever command reads them first.
  for (const c of r.configs) decodeConfigOps(c, file);
  return r;
}
