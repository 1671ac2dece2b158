// A tune's folder: tune.json, tune.csv, tune.txt and report.html. A destination is checked
// before any run (a tune is never lost at its end) and a user's files are never replaced: an
// existing folder must be empty, or, with --force, an earlier tune's and nothing else.

import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { writeFileWhole } from '../report/write.js';
import { formatTuneCsv, formatTuneText } from './format.js';
import { tuneReportHtml } from './report.js';
import type { TuneResults } from './result.js';

export const TUNE_FILES = ['tune.json', 'tune.csv', 'tune.txt', 'report.html'] as const;

export function checkTuneOutput(dir: string, force: boolean): void {
  if (dir.trim() === '') throw new RangeError('--out: expected a folder for the tune, got ""');
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new RangeError(`--out: ${dir} is a file, not a folder; choose another --out`);
  const entries = readdirSync(dir);
  if (entries.length === 0) return;
  const foreign = entries.filter((e) => !(TUNE_FILES as readonly string[]).includes(e));
  if (foreign.length > 0 || !entries.includes('tune.json')) {
    throw new RangeError(`--out: ${dir} is not an earlier tune: it holds ${foreign.length > 0 ? `files tune did not write (${foreign.slice(0, 5).join(', ')})` : 'no tune.json'}; choose another --out`);
  }
  if (!force) throw new RangeError(`--out: ${dir} holds an earlier tune; choose another --out, or pass --force to replace it`);
}

export function writeTuneFolder(r: TuneResults, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const files: [string, string][] = [
    ['tune.json', JSON.stringify(r, null, 2) + '\n'],
    ['tune.csv', formatTuneCsv(r)],
    ['tune.txt', formatTuneText(r)],
    ['report.html', tuneReportHtml(r)],
  ];
  // tune.json last: its presence says the folder is whole.
  files.push(files.shift()!);
  for (const [name, text] of files) writeFileWhole(path.join(dir, name), text);
  return files.map(([name]) => path.join(dir, name));
}
