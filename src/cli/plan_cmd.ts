// `daxlab plan <workload>`: the configurations `run` would make with the same arguments,
// and which shard of a split runs which, without starting a worker. For sizing a cluster
// job before submitting it, and for checking in a job's log what its task will run.

import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { planRun, type PlannedConfig, type RunPlan } from '../lab/plan.js';
import { formatAligned } from '../measure/text_table.js';
import { MAX_SHARDS } from './shard_env.js';
import { checkCount, shapeWorkload, workloadOptions, type WorkloadArgs } from './workload_options.js';

interface PlanArgs extends WorkloadArgs {
  shards?: number;
  json: boolean;
}

export const planCommand: CommandModule<object, PlanArgs> = {
  command: 'plan <workload>',
  describe: 'list the configurations a run would make, and which shard runs which, without running them',
  builder: (y: Argv) =>
    workloadOptions(y)
      .option('shards', { type: 'number', describe: 'split into this many shards, as run --shard I/N would, and list every shard' })
      .conflicts('shards', 'shard')
      .option('json', { type: 'boolean', default: false, describe: 'print the plan as JSON' })
      .example('$0 plan sweep.json --shards 8', 'how a sweep splits over 8 tasks')
      .example('$0 plan sweep.json --shard auto', "what this scheduler task's run would run")
      .example('$0 plan sweep.json --set journal.commitIntervalMs=1000 --json', 'the configurations, for a script') as unknown as Argv<PlanArgs>,
  handler: (argv: ArgumentsCamelCase<PlanArgs>) => {
    checkCount('--shards', argv.shards, 1, MAX_SHARDS);
    const { expanded, source, shard } = shapeWorkload(argv);
    for (const w of expanded.warnings) process.stderr.write(`daxlab: warning: ${w}\n`);
    const plan = planRun(expanded, source, { shard, shards: argv.shards, repeats: argv.repeats, seed: argv.seed });
    process.stdout.write(argv.json ? `${JSON.stringify(plan, null, 2)}\n` : formatPlan(plan));
  },
};

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

function formatParams(params: Record<string, unknown>): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(',');
}

/** The plan as text: a headline, then the configurations, under a heading per shard of a split. */
export function formatPlan(plan: RunPlan): string {
  const split = plan.shardCount === null ? '' : plan.shard === null ? ` in ${plural(plan.shardCount, 'shard')}` : '';
  const workers = Math.max(0, ...plan.configurations.map((c) => c.workers));
  let text = `${plan.workload}: ${plural(plan.total, 'configuration')}${split}, seed ${plan.seed} (${plan.source})\n`;
  if (plan.configurations.length > 0) text += `${plan.shard === null ? 'a run' : "this shard's run"} starts ${plural(workers, 'worker thread')} (the most one configuration needs)\n`;
  // Siblings change how an idle CPU wakes (a core's C-state is its threads' shallowest): worth seeing before a run.
  if (plan.cores.length > 0) {
    text += `cores: ${plan.cores.map((c) => `${c.core}: ${c.cpus.join(', ')}`).join('; ')}; any other CPU on a core of its own\n`;
  }
  text += '\n';
  // The overrides are shown only where the name does not already spell them.
  const withSet = plan.configurations.some((c) => formatParams(c.params) !== c.name);
  const header = ['#', 'configuration', 'workers', 'repeats', ...(withSet ? ['set'] : [])];
  const row = (c: PlannedConfig) => [
    String(c.index),
    c.name,
    String(c.workers),
    c.warmupRepeats > 0 ? `${c.repeats} +${c.warmupRepeats} warm-up` : String(c.repeats),
    ...(withSet ? [formatParams(c.params) || '-'] : []),
  ];
  const lines = formatAligned([header, ...plan.configurations.map(row)], { indent: '  ', align: ['r', 'l', 'r', 'r', 'l'] }).trimEnd().split('\n');
  const [head, ...rows] = lines;
  if (plan.shardCount === null) return `${text}${head}\n${rows.map((r) => `${r}\n`).join('')}`;
  const n = plan.shardCount;
  if (plan.shard !== null) {
    const mine = plan.configurations.length;
    return `${text}shard ${plan.shard}/${n}: ${mine} of ${plural(plan.total, 'configuration')}${mine === 0 ? ' (an empty shard writes a result with none)' : ''}\n${mine === 0 ? '' : `${head}\n${rows.join('\n')}\n`}`;
  }
  text += `${head}\n`;
  const byShard = new Map<number, string[]>();
  plan.configurations.forEach((c, i) => {
    const list = byShard.get(c.shard!) ?? [];
    list.push(rows[i]);
    byShard.set(c.shard!, list);
  });
  for (let k = 0; k < plan.shards.length; k++) {
    const s = plan.shards[k];
    if (s.configurations === 0) {
      // Shards past the last configuration are all empty: one line for the lot.
      let last = k;
      while (last + 1 < plan.shards.length && plan.shards[last + 1].configurations === 0) last++;
      text += last === k ? `shard ${s.index}/${n}: no configurations\n` : `shards ${s.index}/${n} to ${plan.shards[last].index}/${n}: no configurations\n`;
      k = last;
      continue;
    }
    text += `shard ${s.index}/${n}: ${plural(s.configurations, 'configuration')}\n${byShard.get(s.index)!.map((r) => `${r}\n`).join('')}`;
  }
  return text;
}
