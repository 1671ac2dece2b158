// RunResults built from real recorders, for the export, merge and compare tests: samples go
// through CpuRecorders, MergedOps and opStatsByKind exactly as a run's would.

import { CpuRecorders, MergedOps, type RecordedOpKind } from '../../src/measure/histogram.js';
import { opStatsByKind } from '../../src/measure/op_stats.js';
import {
  RESULTS_FORMAT,
  RunResultsSchema,
  type Attribution,
  type ConfigResult,
  type LockFigures,
  type RunResults,
} from '../../src/measure/results.js';

export type Samples = Partial<Record<RecordedOpKind, readonly number[]>>;

export function lockFigures(over: Partial<LockFigures> = {}): LockFigures {
  return {
    acquisitions: 1000,
    contentions: 12,
    conBounces: 3,
    acqBounces: 40,
    waitNsTotal: 36_000,
    waitNsMin: 900,
    waitNsMax: 9_000,
    holdNsTotal: 250_000,
    holdNsMin: 50,
    holdNsMax: 4_000,
    waitBuckets: [{ lowNs: 512, highNs: 1023, count: 12 }],
    ...over,
  };
}

export function makeConfig(name: string, samples: Samples, over: Partial<ConfigResult> = {}): ConfigResult {
  // Two CPUs, as a run has several: the merge must see more than one encoded set.
  const cpus = [new CpuRecorders(), new CpuRecorders()];
  try {
    for (const [kind, values] of Object.entries(samples) as [RecordedOpKind, number[]][]) {
      values.forEach((ns, i) => cpus[i % 2].record(kind, ns));
    }
    const merged = MergedOps.merge(cpus.map((c) => c.encode()));
    return {
      name,
      params: { 'journal.commitIntervalMs': 5000, file: 'empty' },
      repeats: 1,
      partial: false,
      elapsedNs: 1e9,
      ops: opStatsByKind(merged),
      encoded: merged.encode(),
      perRepeat: [],
      locks: {
        tree_lock: lockFigures(),
        // Uncontended, hold times not measured: the zero averages must not divide by zero.
        j_state_lock: lockFigures({
          ...{ contentions: 0, conBounces: 0, waitNsTotal: 0, waitNsMin: 0, waitNsMax: 0, waitBuckets: [] },
          ...{ holdNsTotal: 0, holdNsMin: 0, holdNsMax: 0 },
        }),
      },
      counters: { 'faults.write': samples['write-fault']?.length ?? 0, needDsync: 3 },
      violations: [],
      ...over,
    };
  } finally {
    for (const c of cpus) c.destroy();
  }
}

export function makeRun(configs: ConfigResult[], over: Partial<RunResults> = {}): RunResults {
  const r: RunResults = {
    format: RESULTS_FORMAT,
    daxlabVersion: '0.1.0',
    createdAt: '2025-01-02T03:04:05.000Z',
    workload: { name: 'kara-2017', description: "the seed's table", source: { name: 'kara-2017', cpus: 2 } },
    profile: { name: 'zero', costs: {} },
    variant: 'none',
    seed: 1,
    clock: { kind: 'virtual', windowNs: 2000 },
    machine: { cores: 2, node: 'v20.19.0', platform: 'linux', arch: 'x64', cpuModel: 'test CPU', cpuWorkers: 3, oversubscribed: true },
    partial: false,
    warmupExcluded: true, // as a run writes them now
    warnings: [],
    configs,
    ...over,
  };
  return RunResultsSchema.parse(r); // the fixture itself must fit the contract
}

export function sampleAttribution(count: number): Attribution {
  return {
    count,
    meanNs: { trap: 1_000, iomap_begin: 2_000, 'journal commit wait': 6_000, other: 1_000 },
    meanShare: { trap: 0.1, iomap_begin: 0.2, 'journal commit wait': 0.6, other: 0.1 },
    p99Share: { trap: 0.02, iomap_begin: 0.08, 'journal commit wait': 0.85, other: 0.05 },
    slowest: Array.from({ length: 12 }, (_, i) => ({
      latencyNs: 200_000 - i * 1000,
      cpu: i % 2,
      repeat: 0,
      steps: { trap: 1_000, iomap_begin: 3_000, 'journal commit wait': 190_000 - i * 1000, other: 6_000 },
      commitCarriedOtherInodes: i % 3 === 0,
    })),
  };
}

/** Deterministic pseudo-random latencies: base plus a spread (no Math.random, so failures reproduce). */
export function latencies(n: number, baseNs: number, spreadNs: number, seed = 1): number[] {
  let x = seed >>> 0 || 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.push(baseNs + Math.floor(((x >>> 0) / 2 ** 32) * spreadNs));
  }
  return out;
}
