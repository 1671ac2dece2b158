// table.txt and `daxlab show`: a run as text. Per configuration: a percentile summary, the
// seed's block of each operation kind (so a lab run reads like the seed's table), lock_stat
// in the kernel's layout, the counters, and with --attribute where the time went.

import { FAULT_KINDS, type OpKind } from './histogram.js';
import { lockStatFiguresOf } from './lock_figures.js';
import { formatLockStat, formatLockStatNarrow } from './lock_stat_format.js';
import { faultIsRedundant, reportedKinds } from './reported_kinds.js';
import { STEP_NAMES, type Attribution, type ConfigResult, type RunResults, type StepName } from './results.js';
import { formatSeedBlock } from './seed_format.js';
import { formatSeedComparison } from './seed_compare.js';
import { formatAligned, formatPct, formatUs } from './text_table.js';

/** How many of the slowest operations the text shows (results.json may hold more). */
const SLOWEST_SHOWN = 10;

export interface RunTablesOptions {
  /** lock_stat in the kernel's full layout (221 columns) rather than seven columns within 120. */
  wide?: boolean;
}

export function formatRunTables(r: RunResults, options: RunTablesOptions = {}): string {
  const seed = formatSeedComparison(r);
  return [formatRunHeader(r), ...r.configs.map((c) => formatConfig(r, c, options)), ...(seed === '' ? [] : [seed])].join('\n');
}

function formatRunHeader(r: RunResults): string {
  const m = r.machine;
  const lines = [
    `daxlab ${r.daxlabVersion}: workload ${r.workload.name}${r.workload.description === '' ? '' : ` (${r.workload.description})`}`,
    `profile ${r.profile.name}, variant ${r.variant}, seed ${r.seed}, ` +
      `${r.configs.length} configuration${r.configs.length === 1 ? '' : 's'}, created ${r.createdAt}` +
      (r.shard === undefined ? '' : `, shard ${r.shard.index}/${r.shard.count}`),
    r.clock.kind === 'virtual'
      ? `clock: virtual (window ${r.clock.windowNs} ns): every figure is the model's, whatever the host`
      : "clock: wall: figures include the host's speed, load and scheduling",
    `machine: ${m.cores} cores (${m.cpuModel}), node ${m.node} ${m.platform}/${m.arch}, ${m.cpuWorkers} CPU workers` +
      (m.oversubscribed && r.clock.kind === 'wall' ? ' (more than cores: tail latencies include the scheduler)' : ''),
  ];
  if (r.partial) lines.push(`PARTIAL: ${r.failure === undefined ? 'the run was interrupted' : 'a CPU failed and the run stopped (the warning says which)'}; these are the results gathered so far`);
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n') + '\n';
}

export function formatParams(params: Readonly<Record<string, unknown>>): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
}

function formatConfig(r: RunResults, c: ConfigResult, options: RunTablesOptions): string {
  const params = formatParams(c.params);
  const parts = [
    `=== ${c.name}${params === '' ? '' : ` (${params})`} ===\n` +
      `${c.repeats} repeat${c.repeats === 1 ? '' : 's'}, ${(c.elapsedNs / 1e9).toFixed(3)} s measured${c.partial ? ', PARTIAL' : ''}\n`,
  ];
  const kinds = reportedKinds(c.ops);
  if (kinds.length > 0) {
    const only = faultIsRedundant(c.ops) ? FAULT_KINDS.find((k) => c.ops[k] !== undefined && c.ops[k].count > 0) : undefined;
    parts.push('latency (µs):\n' + percentileTable(c, kinds) + (only === undefined ? '' : `  (every fault was a ${only}: the fault rows would repeat its figures)\n`));
    // The seed's format, one block per kind, titled by the kind.
    parts.push(kinds.map((k) => formatSeedBlock(c.ops[k]!, `${k}, ${c.ops[k]!.count} operations`)).join('\n'));
  }
  const locks = Object.fromEntries(Object.entries(c.locks).map(([name, f]) => [name, lockStatFiguresOf(f)]));
  const measured = `the measured phase of ${c.repeats === 1 ? 'the repeat' : `${c.repeats} repeats`}`;
  const phase = `${measured}, warm-up excluded`;
  if (Object.keys(locks).length > 0) {
    parts.push(`lock_stat (${phase}; times in µs):\n` + (options.wide ? formatLockStat(locks) : formatLockStatNarrow(locks)));
  }
  const counters = Object.entries(c.counters);
  if (counters.length > 0) {
    // Results written before the counters left out the warm-up say so (lock_stat always did).
    const heading = r.warmupExcluded ? phase : `${measured}; an earlier daxlab wrote these: the per-CPU and kjournald2 counts include its warm-up and setup`;
    parts.push(`counters (${heading}):\n` + formatAligned(counters.map(([k, v]) => [k, String(v)]), { indent: '  ' }));
  }
  for (const kind of kinds) {
    const a = c.attribution?.[kind];
    if (a !== undefined) parts.push(formatAttribution(kind, a));
  }
  if (c.violations.length > 0) parts.push(`invariant violations (${c.violations.length}):\n` + c.violations.map((v) => `  ${v}\n`).join(''));
  return parts.join('\n');
}

function percentileTable(c: ConfigResult, kinds: readonly OpKind[]): string {
  const rows = [['kind', 'count', 'min', 'mean', 'p50', 'p90', 'p99', 'p99.9', 'max']];
  for (const k of kinds) {
    const s = c.ops[k]!;
    rows.push([k, String(s.count), ...[s.minNs, s.meanNs, s.p50Ns, s.p90Ns, s.p99Ns, s.p999Ns, s.maxNs].map(formatUs)]);
  }
  return formatAligned(rows, { indent: '  ' });
}

/** Each step's share of the mean and of the tail, then the slowest operations step by step. */
export function formatAttribution(kind: OpKind, a: Attribution): string {
  const used = (s: StepName) => (a.meanNs[s] ?? 0) > 0 || (a.meanShare[s] ?? 0) > 0 || (a.p99Share[s] ?? 0) > 0;
  const rows = [['step', 'mean µs', 'of mean', 'of p99']];
  for (const s of STEP_NAMES.filter(used)) {
    rows.push([s, formatUs(a.meanNs[s] ?? 0), formatPct(a.meanShare[s] ?? 0), formatPct(a.p99Share[s] ?? 0)]);
  }
  let out = `where the time went: ${kind}, ${a.count} operations\n` + formatAligned(rows, { indent: '  ' });
  const slowest = a.slowest.slice(0, SLOWEST_SHOWN);
  if (slowest.length > 0) {
    // Only the steps these operations passed through, so the table stays narrow.
    const steps = STEP_NAMES.filter((s) => slowest.some((op) => (op.steps[s] ?? 0) > 0));
    const srows = [['latency', 'cpu', 'repeat', ...steps, 'commit carried other inodes']];
    for (const op of slowest) {
      srows.push([
        formatUs(op.latencyNs),
        String(op.cpu),
        String(op.repeat),
        ...steps.map((s) => formatUs(op.steps[s] ?? 0)),
        op.commitCarriedOtherInodes ? 'yes' : 'no',
      ]);
    }
    const align = srows[0].map((_, i) => (i === srows[0].length - 1 ? 'l' : 'r') as 'l' | 'r');
    out += `  ${slowest.length} slowest (µs):\n` + formatAligned(srows, { indent: '    ', align });
  }
  return out;
}
