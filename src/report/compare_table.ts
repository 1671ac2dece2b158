// The comparison table of `daxlab compare A B --report`: each row's verdict and intervals,
// straight from compareRuns (the figures the text comparison prints).

import type { Comparison, SideFigure } from '../measure/compare.js';
import type { Table } from './model.js';

const us = (ns: number) => (Number.isFinite(ns) ? `${(ns / 1000).toPrecision(4)} µs` : '–');
const side = (s: SideFigure) => (s.interval === null ? us(s.centerNs) : `${us(s.centerNs)} [${us(s.interval.lowNs)}, ${us(s.interval.highNs)}]`);
const ratio = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : String(x));

export function comparisonTable(c: Comparison): Table {
  const rows: (string | number)[][] = [];
  for (const r of c.rows) {
    for (const f of r.figures) {
      rows.push([
        r.config,
        r.kind,
        f.figure,
        side(f.a),
        side(f.b),
        ratio(f.ratio),
        f.ratioInterval === null ? '–' : `[${ratio(f.ratioInterval.low)}, ${ratio(f.ratioInterval.high)}]`,
        f.p === null ? '–' : f.p.toFixed(3),
        f.regression ? `${f.verdict} (regression)` : f.verdict,
      ]);
    }
  }
  const t = (label: string) => ({ label, numeric: false });
  return {
    id: 'table-compare',
    title: `Comparison: ${c.labels[0]} (a) against ${c.labels[1]} (b)`,
    columns: [t('configuration'), t('kind'), t('figure'), t('a: median [95 % interval]'), t('b: median [95 % interval]'), { label: 'b/a', numeric: true }, t('b/a interval'), { label: 'p', numeric: true }, t('verdict')],
    rows,
    caption: `medians over the repeats, Mann-Whitney U at alpha ${c.alpha}; ${c.judged} figures judged, ${c.regressions.length} regressions over ${c.thresholdPct} %`,
  };
}

/** What the comparison could not match, and its own notes, for the top of the page. */
export function comparisonNotes(c: Comparison): string[] {
  const notes = [...c.notes];
  if (c.onlyInA.length > 0) notes.push(`only in ${c.labels[0]}: ${c.onlyInA.join(', ')}`);
  if (c.onlyInB.length > 0) notes.push(`only in ${c.labels[1]}: ${c.onlyInB.join(', ')}`);
  return notes;
}
