// Formats merged lock_stat figures (sync/lockstat.ts) as the kernel's /proc/lock_stat
// (kernel/locking/lockdep_proc.c, Documentation/locking/lockstat.rst): the same header,
// the same columns at the same widths, times in microseconds with two decimals rounded as
// the kernel rounds them, and classes sorted by contentions, most first.
//
// Differences from the kernel, all forced by the model: every lock is exclusive, so no
// "-W"/"-R" rows; no contention-point lines (call sites are not recorded); a hold time is
// averaged over the acquisitions whose hold was timed (holdSamples), which are all of
// them when the machine measures hold times and none otherwise (the hold columns are then
// 0.00). Classes with neither acquisitions nor contentions are left out, as the kernel
// leaves out classes never acquired. Ties in contentions keep the input order.
//
// formatLockStatNarrow prints the same figures in at most 120 columns, for terminals and logs.
//
// Pure functions of their arguments: no locks, no shared memory.

import type { LockStatFigures } from '../sync/lockstat.js';

export interface LockStatFormatOptions {
  /** Also print classes with no acquisitions and no contentions. */
  includeIdle?: boolean;
}

/** Width of a table line: the class name, a colon, then 12 columns of 14 and a space. */
const LINE = 40 + 1 + 12 * (14 + 1);

const COLUMNS = [
  'con-bounces',
  'contentions',
  'waittime-min',
  'waittime-max',
  'waittime-total',
  'waittime-avg',
  'acq-bounces',
  'acquisitions',
  'holdtime-min',
  'holdtime-max',
  'holdtime-total',
  'holdtime-avg',
] as const;

const pad = (s: string, width: number) => s.padStart(width);

/** Whole nanoseconds as the kernel keeps them (s64); negative figures cannot occur, print 0. */
function ns(x: number): number {
  return Number.isFinite(x) && x > 0 ? Math.round(x) : 0;
}

/** snprint_time(): nanoseconds as microseconds with two decimals ("1234.57"), rounded as the kernel does. */
export function formatLockTime(nanoseconds: number): string {
  const n = ns(nanoseconds) + 5;
  const div = Math.floor(n / 1000);
  const rem = n % 1000;
  return `${div}.${String(Math.floor(rem / 10)).padStart(2, '0')}`;
}

/** seq_lock_time(): a count then min, max, total and average times. */
function lockTime(nr: number, min: number, max: number, total: number, samples: number): string {
  const avg = samples > 0 ? Math.floor(ns(total) / samples) : 0;
  return (
    pad(String(nr), 14) +
    ' ' + pad(formatLockTime(min), 14) +
    ' ' + pad(formatLockTime(max), 14) +
    ' ' + pad(formatLockTime(total), 14) +
    ' ' + pad(formatLockTime(avg), 14)
  );
}

/** seq_header(): the version line and the column header between two rules. */
export function formatLockStatHeader(): string {
  const rule = '-'.repeat(LINE);
  return `lock_stat version 0.4\n${rule}\n${pad('class name', 40)}${COLUMNS.map((c) => ' ' + pad(c, 14)).join('')}\n${rule}\n\n`;
}

/** seq_stats(): one class's row. Names longer than 37 characters are cut, as the kernel cuts them. */
export function formatLockStatRow(name: string, f: LockStatFigures): string {
  return (
    pad(name.slice(0, 37), 40) + ':' +
    pad(String(f.conBounces), 14) + ' ' +
    lockTime(f.contentions, f.waitNsMin, f.waitNsMax, f.waitNsTotal, f.contentions) +
    ' ' + pad(String(f.acqBounces), 14) + ' ' +
    lockTime(f.acquisitions, f.holdNsMin, f.holdNsMax, f.holdNsTotal, f.holdSamples) +
    '\n'
  );
}

/** The classes a table prints, most contended first (ties in input order). */
function sortedRows(table: Readonly<Record<string, LockStatFigures>>, options: LockStatFormatOptions): { name: string; f: LockStatFigures }[] {
  return Object.entries(table)
    .filter(([, f]) => options.includeIdle || f.acquisitions > 0 || f.contentions > 0)
    .map(([name, f], order) => ({ name, f, order }))
    .sort((a, b) => b.f.contentions - a.f.contentions || a.order - b.order);
}

/** The whole /proc/lock_stat text for a table of classes (name -> merged figures). */
export function formatLockStat(
  table: Readonly<Record<string, LockStatFigures>>,
  options: LockStatFormatOptions = {},
): string {
  return formatLockStatHeader() + sortedRows(table, options).map((r) => formatLockStatRow(r.name, r.f)).join('');
}

// The kernel's layout is 221 columns wide. The narrow table keeps the columns that say
// whether a lock is contended and what that costs (bounces, contentions, the wait's total,
// average and worst, and the hold per acquisition), in the kernel's order, names and units,
// each column as wide as its widest cell.
const NARROW_COLUMNS = ['con-bounces', 'contentions', 'waittime-max', 'waittime-total', 'waittime-avg', 'acquisitions', 'holdtime-avg'] as const;
const LEFT_OUT = COLUMNS.filter((c) => !(NARROW_COLUMNS as readonly string[]).includes(c));
/** Line width of the narrow table. */
export const NARROW_WIDTH = 120;
/** A class name is never cut shorter than this (the widest kernel class names are far longer). */
const MIN_NAME = 12;

function narrowCells(f: LockStatFigures): string[] {
  const waitAvg = f.contentions > 0 ? Math.floor(ns(f.waitNsTotal) / f.contentions) : 0;
  const holdAvg = f.holdSamples > 0 ? Math.floor(ns(f.holdNsTotal) / f.holdSamples) : 0;
  return [
    String(f.conBounces),
    String(f.contentions),
    formatLockTime(f.waitNsMax),
    formatLockTime(f.waitNsTotal),
    formatLockTime(waitAvg),
    String(f.acquisitions),
    formatLockTime(holdAvg),
  ];
}

/**
 * lock_stat in at most NARROW_WIDTH columns: the kernel's row order and figures, seven of its
 * twelve columns, class names cut (ending in '…') only when the line would not fit
 * otherwise, and a last line naming the columns left out.
 */
export function formatLockStatNarrow(table: Readonly<Record<string, LockStatFigures>>, options: LockStatFormatOptions = {}): string {
  const rows = sortedRows(table, options).map((r) => ({ name: r.name, cells: narrowCells(r.f) }));
  const widths = NARROW_COLUMNS.map((h, i) => Math.max(h.length, ...rows.map((r) => r.cells[i].length)));
  const rest = widths.reduce((sum, w) => sum + 2 + w, 0);
  const longest = Math.max('class name'.length, ...rows.map((r) => r.name.length));
  const nameWidth = Math.max(MIN_NAME, Math.min(longest, NARROW_WIDTH - 1 - rest));
  const name = (n: string) => (n.length <= nameWidth ? n : n.slice(0, nameWidth - 1) + '…').padStart(nameWidth);
  const line = (first: string, sep: string, cells: readonly string[]) => first + sep + cells.map((c, i) => '  ' + pad(c, widths[i])).join('') + '\n';
  return (
    line(pad('class name', nameWidth), ' ', NARROW_COLUMNS) +
    rows.map((r) => line(name(r.name), ':', r.cells)).join('') +
    `(left out: ${LEFT_OUT.join(', ')}; --wide prints all ${COLUMNS.length})\n`
  );
}
