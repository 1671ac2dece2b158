// `daxlab list`: the shipped workloads and cost profiles, one line each.

import type { CommandModule } from 'yargs';
import { listShippedWorkloads } from '../workload/expand.js';
import { listProfiles } from '../cost/profile.js';

export const listCommand: CommandModule = {
  command: 'list',
  describe: 'the shipped workloads and cost profiles, with one-line descriptions',
  builder: (y) => y.example('$0 list', 'what daxlab run accepts by name'),
  handler: () => {
    const rows = (items: { name: string; description: string }[]) => {
      const w = Math.max(0, ...items.map((i) => i.name.length));
      return items.map((i) => `  ${i.name.padEnd(w)}  ${i.description}`).join('\n');
    };
    console.log(`Workloads (daxlab run <name>):\n${rows(listShippedWorkloads()) || '  (none)'}\n`);
    console.log(`Cost profiles (workload field "profile"):\n${rows(listProfiles())}`);
  },
};
