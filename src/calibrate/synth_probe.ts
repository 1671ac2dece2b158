// A probe.json made by the lab itself: a run of kara-2017 written as `daxlab probe` would
// write a kernel's figures. The calibrator's test runs the lab with known constants, writes
// this probe, fits from other constants and checks it finds the known ones again; `mapSync:
// false` gives the probe of a filesystem without DAX (every MAP_SYNC row unsupported, as
// MAP_SYNC's EOPNOTSUPP leaves them).

import { MergedOps } from '../measure/histogram.js';
import { seriesStats, type RepeatFigures } from '../probe/stats.js';
import type { ConfigResult, RunResults } from '../measure/results.js';
import { PROBE_FORMAT, type Probe, type ProbePrep, type ProbeRow } from '../probe/schema.js';
import { probeRowName } from '../probe/lab_names.js';

/** The lab's file state of each probe prep (src/probe/lab_names.ts, the other way). */
const PREP_OF_LAB: Record<string, ProbePrep> = { prealloc: 'written', empty: 'empty', fallocated: 'prealloc' };
const LAB_ROW = /^(prealloc|empty|fallocated)-(bg|nobg)-(sync|nosync)(-pmd)?$/;

function row(c: ConfigResult, dax: boolean): ProbeRow | undefined {
  const m = LAB_ROW.exec(c.name);
  if (m === null) return undefined;
  const setup = { prep: PREP_OF_LAB[m[1]], bg: m[2] === 'bg', mapSync: m[3] === 'sync', huge: m[4] !== undefined };
  const base = { name: probeRowName(setup), ...setup, repeats: c.perRepeat.length };
  if (setup.mapSync && !dax) return { ...base, status: 'unsupported', reason: 'mmap(MAP_SYNC): EOPNOTSUPP (the filesystem is not mounted with DAX)' };
  const merged = MergedOps.merge([c.encoded]).get('fault');
  if (merged === undefined || merged.count === 0) return undefined;
  const repeats = c.perRepeat.map((p) => p.ops.fault).filter((x): x is RepeatFigures => x !== undefined && x.count > 0);
  return { ...base, status: 'measured', rusageFaults: merged.count, fault: seriesStats(merged, repeats) };
}

/** The probe a kernel that behaved as the run did would have given; `dax: false` marks MAP_SYNC unsupported. */
export function synthProbe(r: RunResults, o: { dax: boolean; createdAt?: string }): Probe {
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
    },
    dax: { isDax: o.dax, reason: o.dax ? null : 'synthesised without DAX: MAP_SYNC rows unsupported' },
    rows: r.configs.map((c) => row(c, o.dax)).filter((x) => x !== undefined),
    fsync: [],
    orderingTax: [],
    baseline: { nullSyscallNs: r.profile.costs.syscallNs ?? null, pageCacheFaultNs: null },
  };
}
