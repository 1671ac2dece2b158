// A probe.json made by the lab itself: a run of kara-2017 written as `daxlab probe` would
// write a kernel's figures. The calibrator's test runs the lab with known constants, writes
// this probe, fits from other constants and checks it finds the known ones again; `mapSync:
// false` gives the probe of a filesystem without DAX (every MAP_SYNC row unsupported, as
// MAP_SYNC's EOPNOTSUPP leaves them). Runs of calibrate's series workloads
// (series_workloads.ts) give its fsync and orderingTax rows, and the counts the probe's
// setup records, so that calibrate's predictions of them can be checked against the lab.

import { MergedOps, type OpKind } from '../measure/histogram.js';
import { seriesStats, type RepeatFigures } from '../probe/stats.js';
import type { ConfigResult, RunResults } from '../measure/results.js';
import { PROBE_FORMAT, PROBE_PAUSES_MS, type Probe, type ProbeFsync, type ProbeOrderingTax, type ProbePrep, type ProbeRow, type ProbeSetup, type ProbeStats } from '../probe/schema.js';
import { probeRowName } from '../probe/lab_names.js';

/** The lab's file state of each probe prep (src/probe/lab_names.ts, the other way). */
const PREP_OF_LAB: Record<string, ProbePrep> = { prealloc: 'written', empty: 'empty', fallocated: 'prealloc' };
const LAB_ROW = /^(prealloc|empty|fallocated)-(bg|nobg)-(sync|nosync)(-pmd)?$/;
const MAP_SYNC_REFUSED = 'mmap(MAP_SYNC): EOPNOTSUPP (the filesystem is not mounted with DAX)';

function row(c: ConfigResult, dax: boolean): ProbeRow | undefined {
  const m = LAB_ROW.exec(c.name);
  if (m === null) return undefined;
  const setup = { prep: PREP_OF_LAB[m[1]], bg: m[2] === 'bg', mapSync: m[3] === 'sync', huge: m[4] !== undefined };
  const base = { name: probeRowName(setup), ...setup, repeats: c.perRepeat.length };
  if (setup.mapSync && !dax) return { ...base, status: 'unsupported', reason: MAP_SYNC_REFUSED };
  const merged = MergedOps.merge([c.encoded]).get('fault');
  if (merged === undefined || merged.count === 0) return undefined;
  const repeats = c.perRepeat.map((p) => p.ops.fault).filter((x): x is RepeatFigures => x !== undefined && x.count > 0);
  return { ...base, status: 'measured', rusageFaults: merged.count, fault: seriesStats(merged, repeats) };
}

/** A configuration's timed operation as a probe series' stats; undefined when it timed none. */
function stats(c: ConfigResult, op: OpKind): ProbeStats | undefined {
  const merged = MergedOps.merge([c.encoded]).get(op);
  if (merged === undefined || merged.count === 0) return undefined;
  const repeats = c.perRepeat.map((p) => p.ops[op]).filter((x): x is RepeatFigures => x !== undefined && x.count > 0);
  return seriesStats(merged, repeats);
}

function fsyncRow(c: ConfigResult): ProbeFsync | undefined {
  const m = /^fsync-(\d+)-pages$/.exec(c.name);
  const s = m === null ? undefined : stats(c, 'fsync');
  return m === null || s === undefined ? undefined : { dirtyPages: Number(m[1]), status: 'measured', fsync: s };
}

function taxRow(c: ConfigResult, dax: boolean): ProbeOrderingTax | undefined {
  const m = /^tax-(\d+)ms-(sync|nosync)$/.exec(c.name);
  const pauseMs = PROBE_PAUSES_MS.find((p) => p === Number(m?.[1]));
  if (m === null || pauseMs === undefined) return undefined;
  const mapSync = m[2] === 'sync';
  if (mapSync && !dax) return { pauseMs, mapSync, status: 'unsupported', reason: MAP_SYNC_REFUSED };
  const s = stats(c, 'fault');
  return s === undefined ? undefined : { pauseMs, mapSync, status: 'measured', fault: s };
}

/** What the tax run's workload says of the counts a probe's setup records: its faulter's pages, its dirtier's files. */
function taxCounts(runs: readonly RunResults[]): Pick<ProbeSetup, 'taxFaults' | 'dirtierFiles'> {
  for (const r of runs) {
    const cpus = (r.workload.source as { cpus?: { role: string; pages?: number; files?: number }[] }).cpus ?? [];
    const faulter = cpus.find((c) => c.role === 'faulter');
    const dirtier = cpus.find((c) => c.role === 'metadata-dirtier');
    if (faulter?.pages !== undefined && dirtier?.files !== undefined && r.configs.some((c) => c.name.startsWith('tax-'))) return { taxFaults: faulter.pages, dirtierFiles: dirtier.files };
  }
  return {};
}

/**
 * The probe a kernel that behaved as the run did would have given; `dax: false` marks MAP_SYNC
 * unsupported. `series`: runs of calibrate's series workloads, for the fsync and tax rows.
 */
export function synthProbe(r: RunResults, o: { dax: boolean; createdAt?: string; series?: readonly RunResults[] }): Probe {
  const series = (o.series ?? []).flatMap((x) => x.configs);
  return {
    schema: PROBE_FORMAT,
    createdAt: o.createdAt ?? new Date().toISOString(),
    quick: true,
    setup: {
      kernel: `daxlab ${r.daxlabVersion} lab, profile ${r.profile.name} (synthesised)`,
      mount: { source: 'daxlab', fstype: 'ext4', options: o.dax ? ['rw', 'dax'] : ['rw'] },
      statxDax: o.dax,
      device: null,
      cpu: 'daxlab virtual CPU',
      clocksource: null,
      ...taxCounts(o.series ?? []),
    },
    dax: { isDax: o.dax, reason: o.dax ? null : 'synthesised without DAX: MAP_SYNC rows unsupported' },
    rows: r.configs.map((c) => row(c, o.dax)).filter((x) => x !== undefined),
    fsync: series.map(fsyncRow).filter((x) => x !== undefined),
    orderingTax: series.map((c) => taxRow(c, o.dax)).filter((x) => x !== undefined),
    baseline: { nullSyscallNs: r.profile.costs.syscallNs ?? null, pageCacheFaultNs: null },
  };
}
