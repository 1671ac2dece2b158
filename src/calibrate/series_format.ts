// calibrate's sections for the probe's fsync and ordering-tax series: per row the probe's
// mean and p99, the lab's, and lab/probe of the means; a row the probe did not measure is
// listed with its reason. Short, in the aligned-table style of `daxlab show`.

import { formatAligned, formatUs } from '../measure/text_table.js';
import { PERIOD_TOLERANCE, type FsyncSeriesRun, type SeriesKind, type SeriesRow } from './series.js';
import { seriesDifference, type SeriesCounts } from './series_workloads.js';

function title(kind: SeriesKind, c: SeriesCounts): string {
  if (kind === 'fsync') return `fsync after k dirty pages of a written, mapped file, us (predicted${c.fsync === null ? '' : `; ${c.fsync.rounds} fsyncs a repeat`})`;
  const t = c.tax;
  return `ordering tax, us (predicted${t === null ? '' : `; ${t.faults} faults a repeat, pause ms apart, beside ${t.dirtierFiles} files chmod-ed flat out`})`;
}

const ratio = (r: SeriesRow) => (r.probe !== null && r.lab !== null && r.probe.meanNs > 0 ? (r.lab.meanNs / r.probe.meanNs).toFixed(2) : '-');

/** One section per series the probe has rows of; '' when it has none. `fsync`: how the lab paced the fsync series. */
export function formatSeries(rows: readonly SeriesRow[], counts: SeriesCounts, fsync: Pick<FsyncSeriesRun, 'periodNs' | 'passes' | 'settled'> | null = null): string {
  const out: string[] = [];
  for (const kind of ['fsync', 'tax'] as const) {
    const rs = rows.filter((r) => r.series === kind);
    if (rs.length === 0) continue;
    const table = [
      ['row', 'probe mean', 'probe p99', 'lab mean', 'lab p99', 'lab/probe', ''],
      ...rs.map((r) => [
        r.name,
        r.probe === null ? '-' : formatUs(r.probe.meanNs),
        r.probe === null ? '-' : formatUs(r.probe.p99Ns),
        r.lab === null ? '-' : formatUs(r.lab.meanNs),
        r.lab === null ? '-' : formatUs(r.lab.p99Ns),
        ratio(r),
        r.unsupported === undefined ? '' : `not measured: ${r.unsupported}`,
      ]),
    ];
    const lab = [...seriesDifference(kind, fsync?.periodNs ?? NaN)];
    if (kind === 'fsync' && fsync !== null && !fsync.settled) lab.push(`(the period had not settled within ${PERIOD_TOLERANCE * 100} % after ${fsync.passes} runs: the last run's figures)`);
    out.push(title(kind, counts), formatAligned(table, { indent: '  ', align: ['l', 'r', 'r', 'r', 'r', 'r', 'l'] }).trimEnd(), ...lab.map((l, i) => `${i === 0 ? '  lab: ' : '       '}${l}`), '');
  }
  return out.join('\n');
}
