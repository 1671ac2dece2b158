// tune's HTML report: per situation, the policies measured on the plane a user trades on
// (the latency metric against journal blocks written per second), the front's points apart
// from the dominated ones, and the table. The page is the lab's report page (uPlot inlined).

import { renderReportHtml } from '../report/html.js';
import type { Plot, ReportData, Section, Series, Table } from '../report/model.js';
import type { TuneResults, TuneSituation } from './result.js';

/** One point per x in a series (uPlot joins series on x): of policies at the same cost, the lowest latency, its note saying how many. */
function scatterSeries(label: string, pts: { x: number; y: number; note: string }[], colorKey: string): Series {
  const byX = new Map<number, { y: number; notes: string[] }>();
  for (const p of pts) {
    const have = byX.get(p.x);
    if (have === undefined) byX.set(p.x, { y: p.y, notes: [p.note] });
    else {
      if (p.y < have.y) have.notes.unshift(p.note);
      else have.notes.push(p.note);
      have.y = Math.min(have.y, p.y);
    }
  }
  const xs = [...byX.keys()].sort((a, b) => a - b);
  return {
    label,
    x: xs,
    y: xs.map((x) => byX.get(x)!.y),
    colorKey,
    notes: xs.map((x) => {
      const n = byX.get(x)!.notes;
      return n.length === 1 ? n[0] : `${n[0]} (+${n.length - 1} at this cost)`;
    }),
  };
}

function frontPlot(r: TuneResults, s: TuneSituation): Plot {
  const [lat, cost] = [r.frontMetrics[0], r.frontMetrics.find((m) => m === 'journalBlocksPerSec') ?? r.frontMetrics[1] ?? r.frontMetrics[0]];
  const pts = (status: string[]) =>
    s.points.filter((p) => status.includes(p.status)).map((p) => ({ x: p.metrics[cost].median, y: p.metrics[lat].median, note: `${p.label}, ${p.repeats} repeats` }));
  const series = [
    scatterSeries('Pareto front', pts(['front']), 'front'),
    scatterSeries('not clearly dominated', pts(['unclear']), 'unclear'),
    scatterSeries('clearly dominated', pts(['dominated']), 'dominated'),
  ];
  // Every status keeps its series, empty or not, so each keeps its colour from plot to plot.
  const rec = s.recommendation;
  if (rec !== null) {
    const p = s.points.find((x) => x.label === rec.label);
    if (p !== undefined) series.push({ label: `recommended: ${rec.label}`, x: [p.metrics[cost].median], y: [p.metrics[lat].median], colorKey: 'recommended' });
  }
  return {
    id: `tune-front-${s.index}`,
    title: `${s.name}: ${lat} against ${cost}`,
    kind: 'scatter',
    xLabel: cost,
    yLabel: `${lat}${lat.includes(':') ? ' (µs)' : ''}`,
    xLog: false,
    yLog: false,
    series,
    caption: `Medians of each policy's repeats. The front is over ${r.frontMetrics.join(', ')}; a point leaves it only when the U test confirms it is beaten.`,
  };
}

function pointsTable(r: TuneResults, s: TuneSituation): Table {
  return {
    id: `tune-table-${s.index}`,
    title: `${s.name}: every policy measured`,
    columns: [
      { label: 'policy', numeric: false },
      { label: 'status', numeric: false },
      { label: 'repeats', numeric: true },
      { label: `objective ${r.objective}`, numeric: true },
      ...r.frontMetrics.map((m) => ({ label: m, numeric: true })),
    ],
    rows: s.points.map((p) => [p.label, p.status, p.repeats, p.objective.median, ...r.frontMetrics.map((m) => p.metrics[m].median)]),
    formats: ['text', 'text', 'int', 'ratio', ...r.frontMetrics.map(() => 'ratio' as const)],
  };
}

export function tuneReportData(r: TuneResults): ReportData {
  const sections: Section[] = r.situations.map((s) => {
    const rec = s.recommendation;
    const notes = [`${s.method} over ${s.spaceSize} policies: ${s.runs} runs of a budget of ${s.budget}`];
    if (rec === null) notes.push('no policy met every constraint on every repeat');
    else {
      notes.push(`recommended: ${rec.commands.mount}${rec.commands.mkfs === null ? '' : `; ${rec.commands.mkfs}`}`);
      if (rec.ratio !== null) {
        notes.push(
          `${r.objective}: ${rec.objective.median.toPrecision(4)} against the default's ${rec.defaultObjective!.median.toPrecision(4)} (ratio ${rec.ratio.toFixed(3)}` +
            `${rec.ratioInterval === null ? '' : `, 95 % interval ${rec.ratioInterval.low.toFixed(3)} to ${rec.ratioInterval.high.toFixed(3)}`})`,
        );
      }
    }
    return { id: `tune-${s.index}`, title: `Situation: ${s.name}`, plots: [frontPlot(r, s)], notes };
  });
  return {
    title: `daxlab tune: ${r.workload.name}`,
    generator: `daxlab ${r.daxlabVersion}`,
    runs: [],
    notes: [
      `objective ${r.objective}${r.constraints.length ? `; constraints ${r.constraints.join(', ')}` : ''}; ${r.personality}; seed ${r.seed}; ${r.runs} runs${r.shard ? `; shard ${r.shard.index}/${r.shard.count}` : ''}`,
    ],
    sections,
    attribution: [],
    tables: r.situations.map((s) => pointsTable(r, s)),
  };
}

export function tuneReportHtml(r: TuneResults): string {
  return renderReportHtml(tuneReportData(r));
}
