// Plain-text tables for `daxlab show` and `daxlab compare`: columns padded to their widest
// cell, so the output stays readable in a terminal, a CI log and a diff alike.

/** Rows of cells as aligned lines; numeric-looking columns are right-aligned unless `align` says otherwise. */
export function formatAligned(rows: readonly (readonly string[])[], options: { indent?: string; align?: readonly ('l' | 'r')[] } = {}): string {
  if (rows.length === 0) return '';
  const cols = Math.max(...rows.map((r) => r.length));
  const width = Array.from({ length: cols }, (_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const align = Array.from({ length: cols }, (_, c) => options.align?.[c] ?? (c === 0 ? 'l' : 'r'));
  const indent = options.indent ?? '';
  return rows
    .map((r) => indent + r.map((cell, c) => (align[c] === 'l' ? cell.padEnd(width[c]) : cell.padStart(width[c]))).join('  ').trimEnd())
    .join('\n') + '\n';
}

/**
 * Nanoseconds as microseconds with about three significant digits: the resolution the HDR
 * histograms keep (0.1 %), so more digits would print noise and fewer would hide a 1 % shift.
 */
export function formatUs(ns: number): string {
  if (!Number.isFinite(ns)) return String(ns);
  const us = ns / 1000;
  const a = Math.abs(us);
  return us.toFixed(a >= 1000 ? 0 : a >= 100 ? 1 : a >= 10 ? 2 : 3);
}

/** A share (0..1) as a percentage with one decimal. */
export function formatPct(share: number): string {
  return `${(share * 100).toFixed(1)} %`;
}
