// tune's table as CSV (one row per evaluated policy and situation) and as text for the terminal.

import { csvField } from '../measure/csv_export.js';
import type { TuneResults } from './result.js';

const num = (x: number) => (Number.isFinite(x) ? String(Number(x.toPrecision(6))) : '');

/** The CSV's columns: situation, policy, status, repeats, then median/low/high/confidence of the objective and of each front metric. */
export function tuneCsvHeader(r: TuneResults): string[] {
  const est = (name: string) => [`${name}_median`, `${name}_low`, `${name}_high`, `${name}_confidence`];
  return ['situation', 'policy', 'recommended', 'status', 'dominated_by', 'feasible', 'repeats', ...est('objective'), ...r.frontMetrics.flatMap(est), ...r.space.map((k) => k.path)];
}

export function formatTuneCsv(r: TuneResults): string {
  const rows: (string | number)[][] = [];
  for (const s of r.situations) {
    for (const p of s.points) {
      const est = (e: { median: number; low: number; high: number; confidence: number }) => [num(e.median), num(e.low), num(e.high), num(e.confidence)];
      rows.push([
        s.name,
        p.label,
        s.recommendation?.label === p.label ? 'yes' : 'no',
        p.status,
        p.dominatedBy ?? '',
        p.feasible ? 'yes' : 'no',
        p.repeats,
        ...est(p.objective),
        ...r.frontMetrics.flatMap((m) => est(p.metrics[m])),
        ...r.space.map((k) => (p.policy[k.path] === null || p.policy[k.path] === undefined ? 'default' : String(p.policy[k.path]))),
      ]);
    }
  }
  return [tuneCsvHeader(r), ...rows].map((row) => row.map((x) => csvField(x)).join(',')).join('\n') + '\n';
}

const fig = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toPrecision(3));
const range = (e: { median: number; low: number; high: number; n: number; confidence: number }) =>
  e.low === e.high ? `${fig(e.median)}` : `${fig(e.median)} [${fig(e.low)}, ${fig(e.high)}]${e.confidence < 0.95 ? `(${Math.round(e.confidence * 100)}%)` : ''}`;

/** What the terminal shows: per situation, the runs spent, the front and the recommendation. */
export function formatTuneText(r: TuneResults): string {
  const lines: string[] = [];
  lines.push(`tune ${r.workload.name} (${r.personality}): objective ${r.objective}${r.constraints.length ? `, constraints ${r.constraints.join(', ')}` : ''}; seed ${r.seed}, budget ${r.budget} runs per situation`);
  lines.push(`medians [95 % interval of the median; [min, max] with its coverage below 6 repeats]; latencies in µs, rates per second of virtual time`);
  for (const s of r.situations) {
    lines.push('', `${s.name}: ${s.method} over ${s.spaceSize} policies, ${s.runs} of ${s.budget} runs, ${(s.wallMs / 1000).toFixed(1)} s`);
    const front = s.points.filter((p) => p.status !== 'dominated');
    const dropped = s.points.length - front.length;
    lines.push(`  Pareto front (${r.frontMetrics.join(' / ')}): ${front.length} of ${s.points.length} policies measured${dropped ? `, ${dropped} clearly dominated` : ''}`);
    for (const p of [...front].sort((a, b) => a.objective.median - b.objective.median)) {
      const figs = r.frontMetrics.map((m) => range(p.metrics[m])).join(' / ');
      lines.push(`    ${p.status === 'unclear' ? '?' : ' '} ${p.label.padEnd(40)} ${figs}  (${p.repeats} repeats${p.feasible ? '' : ', breaks a constraint'})`);
    }
    const rec = s.recommendation;
    if (rec === null) {
      lines.push('  recommendation: none: no policy met every constraint on every repeat');
      continue;
    }
    lines.push(`  recommendation: ${rec.label}`);
    lines.push(`    ${rec.commands.mount}`);
    if (rec.commands.mkfs !== null) lines.push(`    ${rec.commands.mkfs}`);
    const vs = rec.defaultObjective === null ? '' : `; default ${range(rec.defaultObjective)}`;
    lines.push(`    ${r.objective}: ${range(rec.objective)}${vs}`);
    if (rec.ratio !== null) {
      const iv = rec.ratioInterval === null ? ' (too few repeats for an interval)' : ` [${rec.ratioInterval.low.toFixed(3)}, ${rec.ratioInterval.high.toFixed(3)}]`;
      lines.push(`    recommended / default: ${rec.ratio.toFixed(3)}${iv}${rec.defaultInfeasible ? '; the default breaks a constraint' : ''}`);
    }
  }
  lines.push('', `${r.runs} runs in ${(r.wallMs / 1000).toFixed(1)} s${r.shard ? ` (shard ${r.shard.index}/${r.shard.count}: ${r.situations.length} of ${r.situationCount} situations; join the shards with daxlab tune --merge)` : ''}`);
  return lines.join('\n') + '\n';
}
