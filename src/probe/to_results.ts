// A probe read as a run: `daxlab show`, `compare` and `report` take probe.json wherever they
// take results.json. Each measured series becomes a configuration holding one operation
// kind, its histogram decoded from the probe's and its per-repeat figures from the probe's
// repeats. Fault rows take the name of the kara-2017 configuration with the same setup
// (lab_names.ts), so `daxlab compare probe.json results/kara-2017` pairs like with like.
// Every store's fault is a write-fault here: the probe cannot tell which ones synced.

import { ENCODED_OPS_FORMAT, HIGHEST_NS, LOWEST_NS, MergedOps, SIGNIFICANT_DIGITS, type EncodedOps, type RecordedOpKind } from '../measure/histogram.js';
import { opStatsByKind } from '../measure/op_stats.js';
import { RESULTS_FORMAT, RunResultsSchema, type ConfigResult, type RepeatResult, type RunResults } from '../measure/results.js';
import { fsyncConfigName, labConfigName, taxConfigName } from './lab_names.js';
import { isProbeResults, PROBE_VARIANT, PROBE_WORKLOAD } from '../measure/probe_marker.js';
import type { Probe, ProbeStats } from './schema.js';

export { isProbeResults };

/** at names the series in probe.json (probe.json: rows[2].fault), for an error about its histogram. */
function configOf(at: string, name: string, params: Record<string, unknown>, kind: RecordedOpKind, s: ProbeStats, counters: Record<string, number> = {}): ConfigResult {
  const sumNs = Math.round(s.meanNs * s.count);
  const encoded: EncodedOps = {
    format: ENCODED_OPS_FORMAT,
    lowestNs: LOWEST_NS,
    highestNs: HIGHEST_NS,
    significantDigits: SIGNIFICANT_DIGITS,
    ops: { [kind]: { count: s.count, sumNs, minNs: s.minNs, maxNs: s.maxNs, outOfRange: 0, histogram: s.hdr } },
  };
  let merged: MergedOps;
  try {
    merged = MergedOps.merge([encoded]);
  } catch (e) {
    throw new RangeError(`${at}.hdr: ${(e as Error).message}`);
  }
  const isFault = kind === 'read-fault' || kind === 'write-fault' || kind === 'sync-fault';
  const perRepeat: RepeatResult[] = (s.perRepeat ?? []).map((r, i) => ({
    repeat: i,
    partial: false,
    elapsedNs: r.meanNs * r.count,
    ops: { [kind]: r, ...(isFault ? { fault: r } : {}) },
  }));
  return {
    name,
    params,
    repeats: s.repeatMeansNs.length,
    partial: false,
    elapsedNs: sumNs,
    ops: opStatsByKind(merged),
    encoded: merged.encode(),
    perRepeat,
    locks: {},
    counters,
    violations: [],
  };
}

/** The probe as RunResults; version is the daxlab reading it, where names the file for errors. */
export function probeToRunResults(p: Probe, version: string, where = 'probe.json'): RunResults {
  const configs: ConfigResult[] = [];
  // What was not measured, one warning per reason: seven rows refused MAP_SYNC are one finding.
  const missing = new Map<string, string[]>();
  const notMeasured = (name: string, reason: string | undefined) => {
    const r = reason ?? 'no figures';
    missing.set(r, [...(missing.get(r) ?? []), name]);
  };
  p.rows.forEach((r, i) => {
    const name = labConfigName(r);
    if (r.status !== 'measured' || r.fault === undefined) {
      notMeasured(name === r.name ? name : `${name} (probe row ${r.name})`, r.reason);
      return;
    }
    const params = { probeRow: r.name, file: r.prep === 'prealloc' ? 'fallocated' : r.prep, mapSync: r.mapSync, bg: r.bg, huge: r.huge };
    const counters: Record<string, number> = r.rusageFaults === undefined ? {} : { rusageFaults: r.rusageFaults, timedStores: r.fault.count };
    configs.push(configOf(`${where}: rows[${i}].fault`, name, params, 'write-fault', r.fault, counters));
  });
  p.fsync.forEach((f, i) => {
    const name = fsyncConfigName(f.dirtyPages);
    if (f.status !== 'measured' || f.fsync === undefined) notMeasured(name, f.reason);
    else configs.push(configOf(`${where}: fsync[${i}].fsync`, name, { dirtyPages: f.dirtyPages }, 'fsync', f.fsync));
  });
  p.orderingTax.forEach((t, i) => {
    const name = taxConfigName(t);
    if (t.status !== 'measured' || t.fault === undefined) notMeasured(name, t.reason);
    else configs.push(configOf(`${where}: orderingTax[${i}].fault`, name, { pauseMs: t.pauseMs, mapSync: t.mapSync, dirtier: 'chmod' }, 'write-fault', t.fault));
  });
  const warnings: string[] = [];
  if (!p.dax.isDax) warnings.push(`not DAX: ${p.dax.reason ?? ''}`);
  for (const [reason, names] of missing) warnings.push(`not measured: ${names.join(', ')}: ${reason}`);
  const b = p.baseline;
  warnings.push(
    `baselines: null system call ${b.nullSyscallNs === null ? 'not measured' : `${Math.round(b.nullSyscallNs)} ns`}, ` +
      `page-cache read fault ${b.pageCacheFaultNs === null ? 'not measured' : `${Math.round(b.pageCacheFaultNs)} ns`}`,
  );
  const { setup } = p;
  const machine = setup.kernel.split(' ');
  const r: RunResults = {
    format: RESULTS_FORMAT,
    daxlabVersion: version,
    createdAt: p.createdAt,
    workload: {
      name: PROBE_WORKLOAD,
      description: `a real kernel probed${p.quick ? ' (--quick)' : ''}: ${setup.mount.fstype} on ${setup.mount.source} (${setup.mount.options.join(',')}), ${machine.slice(0, 2).join(' ')}`,
      source: setup,
    },
    profile: { name: 'none (a real kernel)', costs: {} },
    variant: PROBE_VARIANT,
    seed: 0,
    clock: { kind: 'wall', windowNs: null },
    machine: {
      cores: setup.cpus ?? 0,
      node: 'none (measured by native/daxprobe.c)',
      platform: 'linux',
      arch: machine[machine.length - 1] ?? '',
      cpuModel: setup.cpu,
      cpuWorkers: 0,
      oversubscribed: false,
    },
    partial: false,
    warmupExcluded: true, // the probe has no warm-up: nothing to leave out
    warnings,
    configs,
  };
  return RunResultsSchema.parse(r);
}
