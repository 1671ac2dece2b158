// Reading a results argument: a results.json file, a run folder that holds one, or a folder
// holding exactly one such run folder (results/kara-2017 holds reference/). A path that is
// missing or unreadable is the user's mistake (exit 2), as is a file that does not parse.

import { decodeConfigOps } from '../measure/compare.js';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseResults, type RunResults } from '../measure/results.js';
import { UsageError } from './errors.js';

/**
 * The results.json a path names: the path itself, results.json inside a folder, or, in a
 * folder without one, that of its only subfolder holding one. A folder with several is
 * ambiguous: the error names them.
 */
export function resultsFileOf(arg: string): string {
  let st;
  try {
    st = statSync(arg);
  } catch {
    throw new UsageError(`${arg}: no such file or folder`);
  }
  if (!st.isDirectory()) return arg;
  const own = path.join(arg, 'results.json');
  if (existsSync(own)) return own;
  const runs = resultSubfolders(arg);
  if (runs.length === 1) return path.join(arg, runs[0], 'results.json');
  if (runs.length > 1) {
    const shown = runs.slice(0, 10).map((d) => path.join(arg, d));
    throw new UsageError(`${arg}: no results.json in this folder; it holds ${runs.length} runs, name one: ${shown.join(', ')}${runs.length > 10 ? ', ...' : ''}`);
  }
  return own;
}

/** The subfolders of dir that hold a results.json, sorted. */
function resultSubfolders(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(path.join(dir, d.name, 'results.json')))
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
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
