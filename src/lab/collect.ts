// From what the CPUs of each repeat sent back to one configuration's results: histograms
// merged across CPUs and repeats, lock_stat and wait-time histograms summed, counters
// summed, the journal's commits turned into the `commit` kind, intervals aligned by index.

import { CpuRecorders, MergedOps, type EncodedOps } from '../measure/histogram.js';
import { opStats, opStatsByKind } from '../measure/op_stats.js';
import { mergeAttribution, type EncodedAttribution } from '../measure/attribution.js';
import type { ConfigResult, IntervalResult, LockFigures, RepeatResult } from '../measure/results.js';
import type { CommitRecord } from '../journal/stats.js';
import type { LockStatTable } from '../sync/lockstat.js';
import type { LockWaitHistTable } from '../sync/lockstat.js';
import type { Configuration } from '../workload/expand.js';
import type { CpuTaskResult } from './task.js';

export interface RepeatOutcome {
  repeat: number;
  elapsedNs: number;
  partial: boolean;
  cpus: CpuTaskResult[];
  locks: LockStatTable;
  lockWaits: LockWaitHistTable;
  pmem: Record<string, number>;
  /** The journal's own counters over the measured part (journal/stats.ts readJournalCounters): checkpoints, tail moves, fast-commit fallbacks. */
  journal?: Record<string, number>;
  /** The measured part's commit records: the newest COMMIT_RECORDS of them (the ring in journalStats). */
  commits: CommitRecord[];
  /** Every commit of the measured part, recorded or not. */
  commitsTotal: number;
  violations: string[];
  /** The kernel's answer that ended a role early (CpuTaskResult.failed), when one did. */
  failure?: string;
}

/** The `commit` kind: how long each commit of the measured part took, start to durable. */
function commitOps(commits: CommitRecord[]): EncodedOps | null {
  if (commits.length === 0) return null;
  const rec = new CpuRecorders();
  for (const c of commits) rec.record('commit', c.commitNs);
  const e = rec.encode();
  rec.destroy();
  return e;
}

function repeatOps(o: RepeatOutcome): MergedOps {
  const sets: EncodedOps[] = [];
  for (const c of o.cpus) if (c.ops) sets.push(c.ops);
  const commits = commitOps(o.commits);
  if (commits) sets.push(commits);
  return MergedOps.merge(sets);
}

function lockFigures(o: RepeatOutcome[]): Record<string, LockFigures> {
  const out: Record<string, LockFigures> = {};
  for (const r of o) {
    for (const [cls, f] of Object.entries(r.locks)) {
      const waits = r.lockWaits[cls as keyof LockWaitHistTable] ?? [];
      const a = (out[cls] ??= {
        acquisitions: 0,
        contentions: 0,
        conBounces: 0,
        acqBounces: 0,
        waitNsTotal: 0,
        waitNsMin: 0,
        waitNsMax: 0,
        holdNsTotal: 0,
        holdNsMin: 0,
        holdNsMax: 0,
        waitBuckets: [],
      });
      const minOf = (x: number, y: number) => (x === 0 ? y : y === 0 ? x : Math.min(x, y));
      a.acquisitions += f.acquisitions;
      a.contentions += f.contentions;
      a.conBounces += f.conBounces;
      a.acqBounces += f.acqBounces;
      a.waitNsTotal += f.waitNsTotal;
      a.waitNsMin = minOf(a.waitNsMin, f.waitNsMin);
      a.waitNsMax = Math.max(a.waitNsMax, f.waitNsMax);
      a.holdNsTotal += f.holdNsTotal;
      a.holdNsMin = minOf(a.holdNsMin, f.holdNsMin);
      a.holdNsMax = Math.max(a.holdNsMax, f.holdNsMax);
      for (const b of waits) {
        const have = a.waitBuckets.find((x) => x.lowNs === b.lowNs);
        if (have) have.count += b.count;
        else a.waitBuckets.push({ ...b });
      }
      a.waitBuckets.sort((x, y) => x.lowNs - y.lowNs);
    }
  }
  return out;
}

function counters(o: RepeatOutcome[]): Record<string, number> {
  const out: Record<string, number> = {};
  const add = (k: string, v: number) => (out[k] = (out[k] ?? 0) + v);
  let commits = 0;
  let blocks = 0;
  let requestToDurable = 0;
  let dropped = 0;
  for (const r of o) {
    dropped += r.commitsTotal - r.commits.length;
    for (const c of r.cpus) for (const [k, v] of Object.entries(c.counters)) add(c.role === 'kjournald2' ? `kjournald2.${k}` : k, v);
    for (const [k, v] of Object.entries(r.pmem)) add(`pmem.${k}`, v);
    for (const [k, v] of Object.entries(r.journal ?? {})) add(`journal.${k}`, v);
    for (const c of r.commits) {
      commits++;
      blocks += c.blocks;
      requestToDurable += c.requestToDurableNs;
      add(c.kind === 'fast' ? 'fastCommits' : 'fullCommits', 1);
    }
  }
  // Every commit is counted; the per-commit figures (blocks, times, the `commit` kind) are of
  // the recorded ones, and commitRecordsDropped says how many the ring had no room for.
  out.commits = commits + dropped;
  out.commitRecordsDropped = dropped;
  out.commitBlocks = blocks;
  out.blocksPerCommit = commits === 0 ? 0 : blocks / commits;
  // From the first request for a commit (or its start, for an interval commit) to durable: the
  // commit's own time is the `commit` kind; the difference is the wait for the commit thread.
  out.commitRequestToDurableMeanNs = commits === 0 ? 0 : requestToDurable / commits;
  out.needDsyncReturns = out.syncFaults ?? 0;
  return out;
}

/** Entries walked per writeback call: each msync, fsync and synchronous fault writes back once. */
function withWritebackRatio(out: Record<string, number>, ops: MergedOps): Record<string, number> {
  const calls = (ops.get('msync')?.count ?? 0) + (ops.get('fsync')?.count ?? 0) + (ops.get('sync-fault')?.count ?? 0);
  out.entriesWalkedPerWriteback = calls === 0 ? 0 : (out.writebackEntriesWalked ?? 0) / calls;
  return out;
}

function intervals(o: RepeatOutcome[], logIntervalMs: number): IntervalResult[] | undefined {
  if (logIntervalMs <= 0) return undefined;
  const byIndex = new Map<number, MergedOps>();
  for (const r of o) {
    for (const c of r.cpus) {
      for (const iv of c.intervals) {
        const m = byIndex.get(iv.index) ?? new MergedOps();
        m.add(iv.ops);
        byIndex.set(iv.index, m);
      }
    }
  }
  return [...byIndex.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([index, m]) => ({ startMs: index * logIntervalMs, ops: brief(m) }));
}

function brief(m: MergedOps): RepeatResult['ops'] & IntervalResult['ops'] {
  const out: Record<string, { count: number; meanNs: number; p50Ns: number; p99Ns: number; p999Ns: number; maxNs: number }> = {};
  for (const kind of m.kinds()) {
    const s = opStats(m.get(kind));
    out[kind] = { count: s.count, meanNs: s.meanNs, p50Ns: s.p50Ns, p99Ns: s.p99Ns, p999Ns: s.p999Ns, maxNs: s.maxNs };
  }
  return out;
}

export function configResult(c: Configuration, o: RepeatOutcome[], logIntervalMs: number): ConfigResult {
  const all = new MergedOps();
  const perRepeat: RepeatResult[] = [];
  for (const r of o) {
    const m = repeatOps(r);
    all.add(m);
    perRepeat.push({ repeat: r.repeat, partial: r.partial, elapsedNs: r.elapsedNs, ops: brief(m) });
  }
  const attr: EncodedAttribution[] = [];
  for (const r of o) for (const cpu of r.cpus) if (cpu.attribution) attr.push(cpu.attribution);
  const ivs = intervals(o, logIntervalMs);
  return {
    name: c.name,
    params: c.params,
    repeats: o.length,
    partial: o.some((r) => r.partial),
    elapsedNs: o.reduce((s, r) => s + r.elapsedNs, 0),
    ops: opStatsByKind(all),
    encoded: all.encode(),
    perRepeat,
    locks: lockFigures(o),
    counters: withWritebackRatio(counters(o), all),
    ...(ivs ? { intervals: ivs } : {}),
    ...(attr.length > 0 ? { attribution: mergeAttribution(attr) } : {}),
    violations: o.flatMap((r) => r.violations.map((v) => `repeat ${r.repeat}: ${v}`)),
  };
}
