// Reading a results argument: a results.json file, a run folder that holds one, or a folder
// holding exactly one such run folder (results/kara-2017 holds reference/). A probe.json
// (`daxlab probe`) is read as a run through src/probe/to_results.ts. A path that is
// missing or unreadable is the user's mistake (exit 2), as is a file that does not parse.

import { decodeConfigOps } from '../measure/compare.js';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseResults, type RunResults } from '../measure/results.js';
import { UsageError } from './errors.js';
import { looksLikeProbe, parseProbe } from '../probe/schema.js';
import { probeToRunResults } from '../probe/to_results.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

/** A probe.json (daxlab probe's output) rather than a run's results: read through the probe adapter. */
function looksLikeProbeText(text: string): boolean {
  try {
    return looksLikeProbe(JSON.parse(text));
  } catch {
    return false;
  }
}

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
  const probe = path.join(arg, 'probe.json');
  if (existsSync(probe)) return probe;
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
  const r = looksLikeProbeText(text) ? probeToRunResults(parseProbe(text, file), pkg.version, file) : parseResults(text, file);
  // Histograms that do not decode are a bad input file, said now in one line, not a stack
  // trace from whichever command reads them first.
  for (const c of r.configs) decodeConfigOps(c, file);
  return r;
}
