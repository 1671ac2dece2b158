// A run folder: results.json, ops.csv, locks.csv, hgrm/<config>/<kind>.hgrm and table.txt.
//
// Written atomically, as DESIGN.md section 5 asks: every file goes into a temporary sibling
// folder, which is renamed to the destination only when complete, so a reader (or a crash)
// sees either no folder or a whole one. An existing non-empty folder is an earlier result:
// it is kept unless the caller forces, and then it is renamed away, the new one renamed in,
// and only then the old one removed, so a failure in between leaves one of the two whole.

import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { formatLocksCsv, formatOpsCsv } from './csv_export.js';
import { formatHgrm } from './hgrm.js';
import { MergedOps } from './histogram.js';
import type { RunResults } from './results.js';
import { formatRunTables } from './run_tables.js';

export { formatRunTables };

export const EXPORT_FORMATS = ['json', 'csv', 'hgrm', 'table'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface WriteRunFolderOptions {
  formats: ReadonlySet<ExportFormat>;
  /** Replace an existing non-empty folder. */
  force: boolean;
}

/** The destination holds an earlier result and the caller did not force: bad usage (exit 2), not a failed run. */
export class OutputExistsError extends RangeError {
  override name = 'OutputExistsError';
  constructor(readonly dir: string) {
    super(`${dir}: the folder exists and is not empty; choose another --out or pass --force to replace it`);
  }
}

/** `--format json,csv` (or repeated flags) as a set; unknown names are a RangeError naming them. */
export function parseExportFormats(value: string | readonly string[]): Set<ExportFormat> {
  const names = (typeof value === 'string' ? [value] : value).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  const out = new Set<ExportFormat>();
  for (const n of names) {
    if (!(EXPORT_FORMATS as readonly string[]).includes(n)) {
      throw new RangeError(`--format: expected some of ${EXPORT_FORMATS.join(',')}, got ${JSON.stringify(n)}`);
    }
    out.add(n as ExportFormat);
  }
  if (out.size === 0) throw new RangeError(`--format: name at least one of ${EXPORT_FORMATS.join(',')}`);
  return out;
}

/**
 * A name usable as one path component everywhere (Linux, macOS, Windows, a zip): characters
 * outside [A-Za-z0-9._=+-] become '_', and names that would be special ('.', '..', '') or
 * too long are changed. Different configurations can map to the same name, so callers
 * must still make the results unique.
 */
export function safeFileName(name: string): string {
  let s = name.replace(/[^A-Za-z0-9._=+-]/g, '_').slice(0, 120);
  if (/^\.*$/.test(s)) s = `_${s}`;
  return s;
}

/** Writes the run folder; returns the paths written (under `dir`), in writing order. */
export function writeRunFolder(results: RunResults, dir: string, opts: WriteRunFolderOptions): string[] {
  if (opts.formats.size === 0) throw new RangeError('writeRunFolder: no export format');
  const dest = path.resolve(dir);
  if (!opts.force && !isEmptyOrMissing(dest)) throw new OutputExistsError(dir);
  mkdirSync(path.dirname(dest), { recursive: true });
  const tmp = `${dest}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  let written: string[];
  try {
    mkdirSync(tmp);
    written = writeFiles(results, tmp, opts.formats);
    install(tmp, dest, dir, opts.force);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return written.map((rel) => path.join(dir, rel));
}

/** Writes every file of the formats under root; returns their paths relative to root. */
function writeFiles(results: RunResults, root: string, formats: ReadonlySet<ExportFormat>): string[] {
  const written: string[] = [];
  const put = (rel: string, text: string) => {
    const file = path.join(root, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
    written.push(rel);
  };
  if (formats.has('json')) put('results.json', JSON.stringify(results, null, 2) + '\n');
  if (formats.has('csv')) {
    put('ops.csv', formatOpsCsv(results));
    put('locks.csv', formatLocksCsv(results));
  }
  if (formats.has('hgrm')) {
    const taken = new Set<string>();
    for (const c of results.configs) {
      const folder = uniqueName(safeFileName(c.name), taken);
      const ops = MergedOps.merge([c.encoded]);
      for (const kind of ops.kinds()) put(path.join('hgrm', folder, `${kind}.hgrm`), formatHgrm(ops.get(kind)!));
    }
  }
  if (formats.has('table')) put('table.txt', formatRunTables(results));
  return written;
}

function uniqueName(base: string, taken: Set<string>): string {
  let name = base;
  // Case-insensitive file systems (macOS, Windows) would merge names differing in case.
  for (let i = 2; taken.has(name.toLowerCase()); i++) name = `${base}-${i}`;
  taken.add(name.toLowerCase());
  return name;
}

/** Moves the finished temporary folder to dest, replacing an earlier result only when forced. */
function install(tmp: string, dest: string, shown: string, force: boolean): void {
  if (isEmptyOrMissing(dest)) {
    if (exists(dest)) rmdirSync(dest); // an empty folder holds no result; rename cannot replace a folder everywhere
    try {
      renameSync(tmp, dest);
      return;
    } catch (e) {
      if (!isCode(e, 'ENOTEMPTY', 'EEXIST')) throw e;
      if (!force) throw new OutputExistsError(shown); // filled by someone else since the check
    }
  } else if (!force) {
    throw new OutputExistsError(shown);
  }
  const old = `${dest}.old-${process.pid}-${randomBytes(4).toString('hex')}`;
  renameSync(dest, old);
  try {
    renameSync(tmp, dest);
  } catch (e) {
    renameSync(old, dest);
    throw e;
  }
  rmSync(old, { recursive: true, force: true });
}

function exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch (e) {
    if (isCode(e, 'ENOENT')) return false;
    throw e;
  }
}

/** True when p is missing or an empty folder; a file there counts as occupied. */
function isEmptyOrMissing(p: string): boolean {
  try {
    return statSync(p).isDirectory() && readdirSync(p).length === 0;
  } catch (e) {
    if (isCode(e, 'ENOENT')) return true;
    throw e;
  }
}

function isCode(e: unknown, ...codes: string[]): boolean {
  return e instanceof Error && codes.includes((e as NodeJS.ErrnoException).code ?? '');
}
