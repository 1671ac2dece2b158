// What a report shows, as plain data: the extraction (pure, unit-tested) builds it from
// results.json, the page's script draws it. Every plot has the same shape, so the page needs
// one drawing routine, and the browser test can check each plot against this data.

export interface Series {
  label: string;
  /** Ascending x; on a plot with categories, indexes into them. */
  x: number[];
  y: (number | null)[];
  /** Drawn dashed: a reference (the seed's row), or a second axis of a sweep (dotted a third). */
  dash?: 'dashed' | 'dotted';
  /** Series with the same key share a colour (a configuration and the seed's row of it). */
  colorKey?: string;
  /** Points marked on the line with their name (p50, p99, p99.9 on a CDF). */
  marks?: { name: string; x: number; y: number }[];
  /** Words shown beside each point's value on hover (blocks per commit), one per point. */
  notes?: string[];
}

export interface Plot {
  id: string;
  title: string;
  /** histogram: bars over categories (lines when too many series for bars); cdf and line: lines; scatter: points alone. */
  kind: 'histogram' | 'cdf' | 'line' | 'scatter';
  xLabel: string;
  yLabel: string;
  xLog: boolean;
  yLog: boolean;
  /** Labels of a categorical x axis: the series' x values index into it. */
  xCategories?: string[];
  /** Vertical lines with a label (the fsync crossover), coloured as the series of their colour key. */
  vlines?: { x: number; label: string; colorKey?: string }[];
  /** Horizontal guides with a label (the percentiles on a CDF). */
  hlines?: { y: number; label: string }[];
  series: Series[];
  caption?: string;
}

export interface Section {
  id: string;
  title: string;
  plots: Plot[];
  notes: string[];
}

/** A stacked bar per configuration: each kernel step's share of the mean and of the p99. */
export interface AttributionChart {
  id: string;
  title: string;
  steps: string[];
  bars: { config: string; figure: 'mean' | 'p99'; shares: number[]; latencyNs: number }[];
}

export interface Table {
  id: string;
  title: string;
  columns: { label: string; numeric: boolean }[];
  rows: (string | number)[][];
  /** How a numeric cell is shown: 'ns' as a duration, 'int' with thousands separators, 'ratio' to 3 places. */
  formats?: ('ns' | 'int' | 'ratio' | 'text')[];
  caption?: string;
}

export interface RunBanner {
  label: string;
  workload: string;
  description: string;
  profile: string;
  clock: string;
  variant: string;
  seed: number;
  machine: string;
  created: string;
  version: string;
  configs: number;
  partial: boolean;
  failure?: string;
  shard?: string;
  warnings: string[];
}

export interface ReportData {
  title: string;
  generator: string;
  runs: RunBanner[];
  /** What was left out (kinds or plots not shared by every run), said at the top. */
  notes: string[];
  sections: Section[];
  attribution: AttributionChart[];
  tables: Table[];
}
