// What tune measures of one run (one configuration, one repeat): latency percentiles of any
// operation kind, in µs, and the journal's cost as rates over the run's virtual time. These
// are the names --objective and --constraint take.

import { OP_KINDS, type OpKind } from '../measure/histogram.js';
import type { ConfigResult } from '../measure/results.js';
import type { Workload } from '../workload/schema.js';

/** One repeat's figures, by metric name. */
export type Sample = Record<string, number>;

/** Latency statistics, each STAT:KIND (p99:sync-fault), in µs. */
export const LATENCY_STATS = { p50: 'p50Ns', p90: 'p90Ns', p99: 'p99Ns', p999: 'p999Ns', mean: 'meanNs', max: 'maxNs' } as const;

/** The journal's cost, per second of the run's (virtual) time. */
export const RATE_METRICS = {
  commitsPerSec: 'journal commits (full and fast) per second',
  journalBlocksPerSec: 'journal blocks written per second (descriptors, metadata copies, commit blocks, fast-commit blocks)',
  checkpointBlocksPerSec: 'blocks checkpointed home from the journal per second',
} as const;

export const RATE_NAMES = Object.keys(RATE_METRICS) as (keyof typeof RATE_METRICS)[];

/** True for a name tune can measure: a rate, or STAT:KIND with a known statistic and kind. */
export function isMetric(name: string): boolean {
  if ((RATE_NAMES as string[]).includes(name)) return true;
  const m = /^([a-z0-9]+):([a-z-]+)$/.exec(name);
  return m !== null && m[1] in LATENCY_STATS && (OP_KINDS as readonly string[]).includes(m[2]);
}

export function isLatency(name: string): boolean {
  return name.includes(':');
}

/** The names for an error message. */
export function metricHelp(): string {
  return `${Object.keys(LATENCY_STATS).join('|')}:KIND (KIND one of ${OP_KINDS.join(', ')}; µs), ${RATE_NAMES.join(', ')}`;
}

/** Every metric of one configuration measured in one repeat. */
export function sampleOf(c: ConfigResult): Sample {
  const out: Sample = {};
  for (const [kind, s] of Object.entries(c.ops) as [OpKind, NonNullable<ConfigResult['ops'][OpKind]>][]) {
    for (const [stat, field] of Object.entries(LATENCY_STATS)) out[`${stat}:${kind}`] = s[field] / 1000;
  }
  const sec = c.elapsedNs / 1e9;
  const per = (n: number | undefined) => (sec > 0 ? (n ?? 0) / sec : 0);
  out.commitsPerSec = per(c.counters.commits);
  out.journalBlocksPerSec = per(c.counters.commitBlocks);
  out.checkpointBlocksPerSec = per(c.counters['journal.checkpointBlocks']);
  return out;
}

/**
 * The latency a workload is about, for the default objective: a MAP_SYNC fault's if it makes
 * them, else fsync's (a syncer's fsync or fdatasync, a storer's or a copy's fsyncs), else
 * msync's, else the faults', else the stores'.
 */
export function mainLatencyKind(w: Workload): OpKind {
  const on = w.cpus.filter((r) => r.enabled);
  const mapSync = (name: string) => w.mappings.find((m) => m.name === name)?.flags.includes('MAP_SYNC') === true;
  if (on.some((r) => r.role === 'faulter' && mapSync(r.mapping))) return 'sync-fault';
  if (on.some((r) => (r.role === 'syncer' && r.call !== 'msync') || ((r.role === 'storer' || r.role === 'background-copy') && r.fsyncEvery > 0))) return 'fsync';
  if (on.some((r) => r.role === 'syncer')) return 'msync';
  if (on.some((r) => r.role === 'faulter')) return 'fault';
  return 'store';
}
