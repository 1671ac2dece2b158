// Writing a report file: the page built from the runs, put in place whole (a temporary
// sibling renamed over it), so a reader never opens half a report.

import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import type { Comparison } from '../measure/compare.js';
import { buildReport, type ReportRun } from './build.js';
import { renderReportHtml } from './html.js';

export function reportHtml(runs: readonly ReportRun[], options: { comparison?: Comparison } = {}): string {
  return renderReportHtml(buildReport(runs, options));
}

export function writeFileWhole(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
