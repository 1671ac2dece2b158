// probe.json from the helper's raw records: each series' repeats pooled into the lab's
// figures (stats.ts), unsupported series with the reason the helper gave, and the verdict
// on DAX said in one sentence a user can act on.

import { PROBE_PREPS, type CopyPlacement, type Probe, type ProbeFsync, type ProbeOrderingTax, type ProbeRow } from './schema.js';
import { PROBE_FORMAT, ProbeSchema } from './schema.js';
import type { FsyncRaw, RawProbe, RowRaw, TaxRaw } from './raw.js';
import { statsOf } from './stats.js';

/** Groups records by a key, keeping the first appearance's order of keys. */
function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    const list = m.get(k);
    if (list === undefined) m.set(k, [it]);
    else list.push(it);
  }
  return m;
}

type Measured<T> = Extract<T, { status: 'measured' }>;
type Unsupported<T> = Extract<T, { status: 'unsupported' }>;
const measured = <T extends { status: string }>(rs: readonly T[]) => rs.filter((r): r is Measured<T> => r.status === 'measured');
const unsupported = <T extends { status: string }>(rs: readonly T[]) => rs.filter((r): r is Unsupported<T> => r.status === 'unsupported');

/** Seed 002's order: prealloc, empty, empty under load, written; 4 KiB before PMD; nosync before sync. */
function rowOrder(r: ProbeRow): number {
  return (r.huge ? 100 : 0) + PROBE_PREPS.indexOf(r.prep) * 10 + (r.bg ? 5 : 0) + (r.mapSync ? 1 : 0);
}

function buildRow(records: readonly RowRaw[]): ProbeRow {
  const { name, prep, mapSync, bg, huge } = records[0];
  const ok = measured(records);
  const head = { name, prep, mapSync, bg, huge, repeats: ok.length };
  const refused = unsupported(records)[0];
  if (refused !== undefined) return { ...head, status: 'unsupported', reason: refused.reason };
  const rusageFaults = ok.reduce((s, r) => s + r.faults, 0);
  const fallbacks = ok.reduce((s, r) => s + r.fallbacks, 0);
  if (huge && fallbacks > 0) {
    const stores = ok.reduce((s, r) => s + r.ns.length, 0);
    return {
      ...head,
      status: 'unsupported',
      reason:
        `no PMD mapping: in ${fallbacks} of ${stores} 2 MiB regions, a store to the region's last page faulted again after the first ` +
        '(the kernel mapped smaller pages; a DAX PMD needs a 2 MiB aligned extent and mapping)',
      rusageFaults,
    };
  }
  const placement = sumPlacements(ok.map((r) => r.copyPlacement));
  return { ...head, status: 'measured', rusageFaults, fault: statsOf(ok.map((r) => r.ns)), ...(placement ? { copyPlacement: placement } : {}) };
}

/** The repeats' copy placements added up; undefined when no repeat has one (a row without the copy). */
function sumPlacements(ps: readonly (CopyPlacement | undefined)[]): CopyPlacement | undefined {
  const have = ps.filter((p): p is CopyPlacement => p !== undefined);
  if (have.length === 0) return undefined;
  const sum = (k: keyof CopyPlacement) => have.reduce((s, p) => s + p[k], 0);
  return { sameCpu: sum('sameCpu'), smtSibling: sum('smtSibling'), otherCore: sum('otherCore'), unknown: sum('unknown') };
}

function buildFsync(records: readonly FsyncRaw[]): ProbeFsync {
  const dirtyPages = records[0].dirtyPages;
  const refused = unsupported(records)[0];
  if (refused !== undefined) return { dirtyPages, status: 'unsupported', reason: refused.reason };
  return { dirtyPages, status: 'measured', fsync: statsOf(measured(records).map((r) => r.ns)) };
}

function buildTax(records: readonly TaxRaw[]): ProbeOrderingTax {
  const { pauseMs, mapSync } = records[0];
  const refused = unsupported(records)[0];
  if (refused !== undefined) return { pauseMs, mapSync, status: 'unsupported', reason: refused.reason };
  return { pauseMs, mapSync, status: 'measured', fault: statsOf(measured(records).map((r) => r.ns)) };
}

/** Whether the filesystem is DAX, and if not, why, in words naming the mount. */
export function daxVerdict(raw: RawProbe): Probe['dax'] {
  const { setup, mapSync } = raw;
  if (mapSync.supported || setup.statxDax === true) return { isDax: true, reason: null };
  const where = `${setup.mount.fstype} on ${setup.mount.source} (${setup.mount.options.join(',') || 'no options'})`;
  const statx = setup.statxDax === false ? 'statx does not report STATX_ATTR_DAX on its files' : 'statx cannot say (STATX_ATTR_DAX needs Linux 5.8)';
  return { isDax: false, reason: `${where}: ${statx}, and ${mapSync.reason ?? 'MAP_SYNC is refused'}` };
}

/** The probe of a complete helper run, validated against the schema it promises; createdAt is when the helper started. */
export function buildProbe(raw: RawProbe): Probe {
  const { setup } = raw;
  const rows = [...groupBy(raw.rows, (r) => r.name).values()].map(buildRow).sort((a, b) => rowOrder(a) - rowOrder(b));
  const fsync = [...groupBy(raw.fsync, (r) => String(r.dirtyPages)).values()].map(buildFsync).sort((a, b) => a.dirtyPages - b.dirtyPages);
  const orderingTax = [...groupBy(raw.tax, (r) => `${r.pauseMs}/${r.mapSync}`).values()]
    .map(buildTax)
    .sort((a, b) => a.pauseMs - b.pauseMs || Number(a.mapSync) - Number(b.mapSync));
  const probe: Probe = {
    schema: PROBE_FORMAT,
    createdAt: setup.startedAt,
    quick: setup.quick,
    setup: {
      kernel: setup.kernel,
      mount: setup.mount,
      statxDax: setup.statxDax,
      device: setup.device,
      cpu: setup.cpu,
      cpus: setup.cpus,
      clocksource: setup.clocksource,
      timerNs: setup.timerNs,
      pages: setup.pages,
      taxFaults: setup.taxFaults,
      dirtierFiles: setup.dirtierFiles,
    },
    dax: daxVerdict(raw),
    rows,
    fsync,
    orderingTax,
    baseline: { nullSyscallNs: raw.baseline.nullSyscallNs, pageCacheFaultNs: raw.baseline.pageCacheFaultNs },
  };
  return ProbeSchema.parse(probe);
}
