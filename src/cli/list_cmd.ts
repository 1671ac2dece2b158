// `daxlab list`: the shipped workloads and cost profiles, one line each, and the cost table
// (every step's value and kind per profile); `--profile NAME` gives one profile's sources.

import type { CommandModule } from 'yargs';
import { listShippedWorkloads } from '../workload/expand.js';
import { describeProfile, listProfiles, loadProfile } from '../cost/profile.js';
import { costTableText, shippedProfiles } from '../cost/cost_table.js';
import { COST_KINDS, COST_KIND_MEANINGS } from '../cost/costs.js';

export const listCommand: CommandModule<object, { profile?: string }> = {
  command: 'list',
  describe: 'the shipped workloads and cost profiles, with one-line descriptions, and the cost table',
  builder: (y) =>
    y
      .option('profile', {
        type: 'string',
        describe: "one profile's every value with its kind, meaning and source (a shipped name or a profile file)",
      })
      .example('$0 list', 'what daxlab run accepts by name, and what each kernel step costs in each profile')
      .example('$0 list --profile kara-2017-ramdisk', 'where each value of a profile comes from'),
  handler: (argv) => {
    if (argv.profile !== undefined) {
      // loadProfile's RangeError names the profile and the field: exit 2, one line.
      console.log(describeProfile(loadProfile(argv.profile)));
      return;
    }
    const rows = (items: { name: string; description: string }[]) => {
      const w = Math.max(0, ...items.map((i) => i.name.length));
      return items.map((i) => `  ${i.name.padEnd(w)}  ${i.description}`).join('\n');
    };
    console.log(`Workloads (daxlab run <name>):\n${rows(listShippedWorkloads()) || '  (none)'}\n`);
    console.log(`Cost profiles (workload field "profile"):\n${rows(listProfiles())}\n`);
    const kinds = COST_KINDS.map((k) => `  ${k}: ${COST_KIND_MEANINGS[k]}`).join('\n');
    console.log(`Cost table (each step's value and kind per profile; daxlab list --profile <name> gives the sources):\n${kinds}\n\n${costTableText(shippedProfiles())}`);
  },
};
