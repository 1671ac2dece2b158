// The report's tables: lock_stat per configuration and class (the columns of locks.csv) and
// the model's counters, one row per configuration. The page sorts them by any column.

import { lockAverages } from '../measure/lock_figures.js';
import type { LabelledRun } from './latency.js';
import type { Table } from './model.js';

export function lockTable(runs: readonly LabelledRun[]): Table {
  const rows: (string | number)[][] = [];
  for (const { prefix, results } of runs) {
    for (const c of results.configs) {
      for (const [cls, f] of Object.entries(c.locks)) {
        const avg = lockAverages(f);
        rows.push([prefix + c.name, cls, f.contentions, f.acquisitions, f.conBounces, f.acqBounces, f.waitNsTotal, f.waitNsMax, avg.waitNsAvg, f.holdNsTotal, avg.holdNsAvg]);
      }
    }
  }
  const n = (label: string) => ({ label, numeric: true });
  return {
    id: 'table-locks',
    title: 'lock_stat',
    columns: [
      { label: 'configuration', numeric: false },
      { label: 'class', numeric: false },
      n('contentions'),
      n('acquisitions'),
      n('con-bounces'),
      n('acq-bounces'),
      n('wait total'),
      n('wait max'),
      n('wait avg'),
      n('hold total'),
      n('hold avg'),
    ],
    formats: ['text', 'text', 'int', 'int', 'int', 'int', 'ns', 'ns', 'ns', 'ns', 'ns'],
    rows,
    caption: 'click a heading to sort; hold times are 0 unless the run measured them (--hold-times)',
  };
}

export function counterTable(runs: readonly LabelledRun[]): Table {
  const names: string[] = [];
  for (const { results } of runs) for (const c of results.configs) for (const k of Object.keys(c.counters)) if (!names.includes(k)) names.push(k);
  const rows = runs.flatMap(({ prefix, results }) => results.configs.map((c) => [prefix + c.name, ...names.map((k) => c.counters[k] ?? '')]));
  return {
    id: 'table-counters',
    title: 'Counters',
    columns: [{ label: 'configuration', numeric: false }, ...names.map((label) => ({ label, numeric: true }))],
    formats: ['text', ...names.map(() => 'ratio' as const)],
    rows,
  };
}
