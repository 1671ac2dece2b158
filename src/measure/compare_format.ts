// `daxlab compare` as text: a header saying how each number was judged, one block per
// configuration and kind with a line per figure (columns aligned across blocks), then the
// geometric means of b/a and the verdicts summed up.

import { type Comparison, type FigureComparison, type SideFigure } from './compare.js';
import { formatAligned, formatUs } from './text_table.js';

export function formatComparison(c: Comparison): string {
  const [la, lb] = c.labels;
  const m = c.method;
  const head = [
    `a = ${la}`,
    `b = ${lb}`,
    ...c.notes.map((n) => `note: ${n}`),
    `samples: ${m.samples}; center: ${m.center}; times in µs`,
    `[CI]: ${m.interval}; b/a's: ${m.ratioInterval}`,
    `verdict: ${m.test}; ~: no significant difference; ?: too few repeats for any test at that alpha; ±x %: b/a - 1 where significant`,
    `regression: a figure of b significantly slower and more than ${c.thresholdPct} % above a's (a faster one never is)`,
    `multiple comparisons: ${m.multipleComparisons}`,
    ...(c.faultSameAs.length > 0 ? [`fault: left out where it holds the same faults as one other kind (${c.faultSameAs.join(', ')})`] : []),
    '',
  ].join('\n');
  const table: string[][] = [];
  for (const r of c.rows) {
    table.push([`${r.config} / ${r.kind}: ${r.repeatsA} vs ${r.repeatsB} repeats (${r.opsA} vs ${r.opsB} operations)`]);
    table.push(['', 'a', '[CI]', 'b', '[CI]', 'b/a', '[CI]', 'verdict']);
    for (const f of r.figures) {
      table.push([`  ${f.figure}`, us(f.a.centerNs), formatCi(f.a), us(f.b.centerNs), formatCi(f.b), formatRatio(f.ratio), formatRatioCi(f), formatVerdict(f)]);
    }
  }
  // Block titles are one long cell: align only the figure lines.
  const lines = formatAligned(
    table.map((row) => (row.length === 1 ? [] : row)),
    { indent: '', align: ['l', 'r', 'l', 'r', 'l', 'r', 'l', 'l'] },
  ).split('\n');
  const body = table.map((row, i) => (row.length === 1 ? `\n${row[0]}` : lines[i])).join('\n');
  return `${head}${body}\n\n${formatSummary(c)}`;
}

function formatSummary(c: Comparison): string {
  const all = c.rows.flatMap((r) => r.figures);
  const count = (v: FigureComparison['verdict']) => all.filter((f) => f.verdict === v).length;
  const geo = c.geomean.map((g) => `${g.figure} ${Number.isFinite(g.ratio) ? `${g.ratio.toFixed(2)}x` : '-'}`).join(', ');
  const rowsIn = Math.max(...c.geomean.map((g) => g.rows));
  const lines = [
    `geomean b/a over ${rowsIn} row${rowsIn === 1 ? '' : 's'}: ${geo}`,
    `${all.length} figures: ${count('slower')} slower, ${count('faster')} faster, ${count('~')} ~, ${count('too few repeats')} too few repeats to tell`,
  ];
  if (c.onlyInA.length > 0) lines.push(`only in a: ${c.onlyInA.join(', ')}`);
  if (c.onlyInB.length > 0) lines.push(`only in b: ${c.onlyInB.join(', ')}`);
  lines.push(
    c.regressions.length === 0
      ? `no regression over ${c.thresholdPct} %`
      : `${c.regressions.length} regression${c.regressions.length === 1 ? '' : 's'} over ${c.thresholdPct} %: ` +
          c.regressions.map((r) => `${r.config} / ${r.kind} ${r.figure} (${formatDelta(r.ratio)}, p = ${formatP(r.p)})`).join(', '),
  );
  return lines.join('\n') + '\n';
}

/** A side with no complete repeat has no center. */
function us(ns: number): string {
  return Number.isNaN(ns) ? '-' : formatUs(ns);
}

function formatCi(s: SideFigure): string {
  return s.interval === null ? '±∞' : `[${formatUs(s.interval.lowNs)}, ${formatUs(s.interval.highNs)}]`;
}

function formatRatio(x: number): string {
  return Number.isNaN(x) ? '-' : Number.isFinite(x) ? `${x.toFixed(2)}x` : 'inf';
}

function formatRatioCi(f: FigureComparison): string {
  return f.ratioInterval === null ? '±∞' : `[${f.ratioInterval.low.toFixed(2)}, ${f.ratioInterval.high.toFixed(2)}]`;
}

function formatVerdict(f: FigureComparison): string {
  if (f.p === null) return '?';
  const p = `(p = ${formatP(f.p)})`;
  if (f.verdict === '~') return `~ ${p}`;
  return `${formatDelta(f.ratio)} ${p}${f.regression ? '  REGRESSION' : ''}`;
}

function formatDelta(ratio: number): string {
  if (!Number.isFinite(ratio)) return '+inf %';
  const pct = (ratio - 1) * 100;
  // A significant shift below 0.1 % still shows its size.
  return `${pct >= 0 ? '+' : ''}${pct.toFixed(Math.abs(pct) < 0.1 ? 3 : 1)} %`;
}

function formatP(p: number): string {
  return p >= 0.001 ? p.toFixed(3) : p.toExponential(1);
}
