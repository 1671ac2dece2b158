// A report's data from one or several runs (and, from `daxlab compare --report`, their
// comparison): what the page draws. Several runs are overlaid, each configuration's label
// prefixed with its run's; what not every run has is left out and said so at the top.

import type { Comparison } from '../measure/compare.js';
import type { RunResults } from '../measure/results.js';
import { attributionCharts } from './attribution.js';
import { runBanner } from './banner.js';
import { comparisonNotes, comparisonTable } from './compare_table.js';
import { latencySection, type LabelledRun } from './latency.js';
import type { Plot, ReportData, Section } from './model.js';
import { sweepSection } from './sweeps.js';
import { counterTable, lockTable } from './tables.js';

export interface ReportRun {
  /** How the run is named on the page (its path, as given). */
  label: string;
  results: RunResults;
}

export function buildReport(runs: readonly ReportRun[], options: { comparison?: Comparison; version?: string } = {}): ReportData {
  if (runs.length === 0) throw new RangeError('report: no run to report');
  const labelled: LabelledRun[] = runs.map((r) => ({ prefix: runs.length === 1 ? '' : `${r.label}: `, results: r.results }));
  const notes: string[] = [];
  const workloads = [...new Set(runs.map((r) => r.results.workload.name))];
  if (workloads.length > 1) notes.push(`runs of different workloads (${workloads.join(', ')}): only what they share is overlaid; no sweep plot`);
  const sections: Section[] = [latencySection(labelled)];
  const sweep = sweepSection(labelled);
  if (sweep !== null) sections.push(sweep);
  for (const s of sections) s.plots = s.plots.map(fitLogAxes);
  const tables = [lockTable(labelled), counterTable(labelled)];
  if (options.comparison !== undefined) {
    tables.unshift(comparisonTable(options.comparison));
    notes.push(...comparisonNotes(options.comparison));
  }
  const partial = runs.filter((r) => r.results.partial || r.results.configs.some((c) => c.partial));
  return {
    title: runs.length === 1 ? `daxlab: ${runs[0].results.workload.name}` : `daxlab: ${runs.map((r) => r.label).join(' vs ')}`,
    generator: `daxlab ${options.version ?? runs[0].results.daxlabVersion}`,
    runs: runs.map((r) => runBanner(r.label, r.results)),
    notes: partial.length > 0 ? [`partial: ${partial.map((r) => r.label).join(', ')} holds what was gathered before it stopped`, ...notes] : notes,
    sections,
    attribution: attributionCharts(labelled),
    tables,
  };
}

/** A log axis has no place for 0 or less: such points are left out (x) or gaps (y), not drawn wrong. */
export function fitLogAxes(plot: Plot): Plot {
  if (!plot.xLog && !plot.yLog) return plot;
  return {
    ...plot,
    series: plot.series.map((s) => {
      const keep = s.x.map((x) => !plot.xLog || x > 0);
      const pick = <T>(xs: readonly T[]) => xs.filter((_, i) => keep[i]);
      const out = { ...s, x: pick(s.x), y: pick(s.y).map((y) => (plot.yLog && y !== null && y <= 0 ? null : y)) };
      if (s.notes !== undefined) out.notes = pick(s.notes);
      if (s.marks !== undefined) out.marks = s.marks.filter((m) => (!plot.xLog || m.x > 0) && (!plot.yLog || m.y > 0));
      return out;
    }),
  };
}
