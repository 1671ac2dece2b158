// A run folder: results.json, ops.csv, locks.csv, hgrm/<config>/<kind>.hgrm, table.txt and
// report.html (the plots, src/report/).
//
// Written atomically, as DESIGN.md section 5 asks: every file goes into a temporary sibling
// folder, which is renamed to the destination only when complete, so a reader (or a crash)
// sees either no folder or a whole one. An existing non-empty folder is an earlier result:
// it is kept unless the caller forces, and then it is renamed away, the new one renamed in,
// and only then the old one removed, so a failure in between leaves one of the two whole.

import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { formatLocksCsv, formatOpsCsv } from './csv_export.js';
import { formatHgrm } from './hgrm.js';
import { MergedOps } from './histogram.js';
import { reportedKinds } from './reported_kinds.js';
import type { RunResults } from './results.js';
import { formatRunTables } from './run_tables.js';
import { reportHtml } from '../report/write.js';

export { formatRunTables };

export const EXPORT_FORMATS = ['json', 'csv', 'hgrm', 'table', 'html'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface WriteRunFolderOptions {
  formats: ReadonlySet<ExportFormat>;
  /** Replace an existing non-empty folder. */
  force: boolean;
  /** table.txt with lock_stat in the kernel's full layout (formatRunTables' option). */
  wide?: boolean;
  /** Told when report.html could not be made: the run's other files are still written. */
  onWarning?: (message: string) => void;
}

/** The destination holds an earlier result and the caller did not force: bad usage (exit 2), not a failed run. */
export class OutputExistsError extends RangeError {
  override name = 'OutputExistsError';
  constructor(readonly dir: string) {
    super(`--out: ${dir} holds an earlier result; choose another --out, or pass --force to replace it`);
  }
}

/** What a run folder holds (writeFiles below): all that --force may replace. */
const RESULT_ENTRIES = new Set(['results.json', 'ops.csv', 'locks.csv', 'table.txt', 'hgrm', 'report.html']);
/** Kernel file systems: nothing of a result belongs there, and writing may do harm. */
const SYSTEM_ROOTS = ['/proc', '/sys', '/dev'];

/**
 * Checks a results destination before any work, so that a run is never lost at its end and
 * nothing of the user's is ever replaced: a name (an empty one would mean the current
 * folder), not under /proc, /sys or /dev, not a file, somewhere writable, and either missing,
 * empty, or, with `force`, an earlier daxlab result (results.json and nothing daxlab did not
 * write). Throws a RangeError naming `flag` and what is in the way.
 */
export function checkOutput(dir: string, force: boolean, flag = '--out'): void {
  if (typeof dir !== 'string' || dir.trim() === '') {
    throw new RangeError(`${flag}: expected a folder for the results, got ${JSON.stringify(dir)} (an empty name would be the current folder)`);
  }
  const dest = path.resolve(dir);
  for (const root of SYSTEM_ROOTS) {
    if (dest === root || dest.startsWith(root + path.sep)) throw new RangeError(`${flag}: ${dir} is under ${root}, where no results can go; choose another folder`);
  }
  let isDir: boolean;
  try {
    isDir = statSync(dest).isDirectory();
  } catch (e) {
    if (!isCode(e, 'ENOENT')) throw new RangeError(`${flag}: ${dir}: ${(e as Error).message}`);
    checkWritable(nearestExisting(dest), dir, flag);
    return;
  }
  if (!isDir) throw new RangeError(`${flag}: ${dir} is a file, not a folder; choose another --out`);
  const writer = liveWriter(dest);
  if (writer !== null && writer !== process.pid) {
    throw new RangeError(`${flag}: another daxlab (pid ${writer}) is writing its results to ${dir}; choose another --out`);
  }
  const entries = readdirSync(dest).filter((e) => e !== WRITING);
  if (entries.length > 0) {
    const foreign = entries.filter((e) => !RESULT_ENTRIES.has(e) || (e === 'hgrm' && !holdsOnlyHgrm(path.join(dest, e))));
    if (foreign.length > 0 || !entries.includes('results.json')) {
      const what = foreign.length > 0 ? `files daxlab did not write (${foreign.slice(0, 5).join(', ')}${foreign.length > 5 ? ', ...' : ''})` : 'no results.json';
      throw new RangeError(`${flag}: ${dir} is not an earlier daxlab result: it holds ${what}; --force replaces only a daxlab result or an empty folder, so choose another --out`);
    }
    if (!force) throw new OutputExistsError(dir);
  }
  checkWritable(path.dirname(dest), dir, flag);
}

/** The marker a run leaves in its destination while it runs (reserveOutput): the writer's pid. */
const WRITING = '.daxlab-writing';

/** The pid of the live process that reserved dest, or null (none, or one that is gone). */
function liveWriter(dest: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(dest, WRITING), 'utf8'));
  } catch {
    return null;
  }
  return Number.isInteger(pid) && pid > 0 && processAlive(pid) ? pid : null;
}

/**
 * Reserves a checked destination for this process until its results are written: a second
 * run into the same folder is refused before it runs (checkOutput). Returns the release,
 * which also removes the folder if the reservation made it and nothing was written.
 */
export function reserveOutput(dir: string): () => void {
  const dest = path.resolve(dir);
  const made = !exists(dest);
  mkdirSync(dest, { recursive: true });
  const marker = path.join(dest, WRITING);
  try {
    writeFileSync(marker, String(process.pid), { flag: 'wx' });
  } catch (e) {
    if (!isCode(e, 'EEXIST')) throw e;
    const writer = liveWriter(dest);
    if (writer !== null && writer !== process.pid) throw new RangeError(`--out: another daxlab (pid ${writer}) is writing its results to ${dir}; choose another --out`);
    writeFileSync(marker, String(process.pid)); // a killed run's: take it over
  }
  return () => {
    try {
      if (readFileSync(marker, 'utf8') === String(process.pid)) rmSync(marker);
      if (made && readdirSync(dest).length === 0) rmdirSync(dest);
    } catch {
      // written over by the results, or gone: nothing to release
    }
  };
}

/** The deepest existing folder on the way to p. */
function nearestExisting(p: string): string {
  let d = path.dirname(p);
  while (!exists(d) && path.dirname(d) !== d) d = path.dirname(d);
  return d;
}

function checkWritable(folder: string, dir: string, flag: string): void {
  try {
    if (!statSync(folder).isDirectory()) throw new RangeError(`${flag}: ${dir}: ${folder} is a file, not a folder`);
    accessSync(folder, constants.W_OK);
  } catch (e) {
    if (e instanceof RangeError) throw e;
    throw new RangeError(`${flag}: ${dir}: cannot write in ${folder} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); choose another folder`);
  }
}

/** Whether an hgrm/ folder holds only <config>/<kind>.hgrm files, as writeFiles makes it. */
function holdsOnlyHgrm(dir: string): boolean {
  try {
    return readdirSync(dir, { withFileTypes: true }).every(
      (d) => d.isDirectory() && readdirSync(path.join(dir, d.name), { withFileTypes: true }).every((f) => f.isFile() && f.name.endsWith('.hgrm')),
    );
  } catch {
    return false;
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
  checkOutput(dir, opts.force);
  mkdirSync(path.dirname(dest), { recursive: true });
  removeStale(dest);
  const tmp = `${dest}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  let written: string[];
  try {
    mkdirSync(tmp);
    written = writeFiles(results, tmp, opts);
    install(tmp, dest, dir, opts.force);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return written.map((rel) => path.join(dir, rel));
}

/**
 * Removes the temporary and old folders an earlier write to dest left when it was killed
 * (`<dest>.tmp-<pid>-<hex>`, `<dest>.old-<pid>-<hex>`): only those of processes that are gone.
 */
function removeStale(dest: string): void {
  const parent = path.dirname(dest);
  const re = new RegExp(`^${escapeRegExp(path.basename(dest))}\\.(tmp|old)-(\\d+)-[0-9a-f]{8}$`);
  for (const name of readdirSync(parent)) {
    const m = re.exec(name);
    if (m === null || processAlive(Number(m[2]))) continue;
    rmSync(path.join(parent, name), { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return isCode(e, 'EPERM');
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Writes every file of the formats under root; returns their paths relative to root. */
function writeFiles(results: RunResults, root: string, { formats, wide, onWarning }: WriteRunFolderOptions): string[] {
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
      const shown = reportedKinds(c.ops);
      for (const kind of ops.kinds().filter((k) => shown.includes(k))) put(path.join('hgrm', folder, `${kind}.hgrm`), formatHgrm(ops.get(kind)!));
    }
  }
  if (formats.has('table')) put('table.txt', formatRunTables(results, { wide }));
  if (formats.has('html')) {
    // The pictures are a view of the results: a failure to draw them must not lose a run.
    let html: string | null = null;
    try {
      html = reportHtml([{ label: 'this run', results }]);
    } catch (e) {
      onWarning?.(`report.html not written: ${(e as Error).message} (daxlab report <folder> makes it later)`);
    }
    if (html !== null) put('report.html', html);
  }
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
  // This process's reservation is no result: it goes as the results come in.
  if (liveWriter(dest) === process.pid) rmSync(path.join(dest, WRITING), { force: true });
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
