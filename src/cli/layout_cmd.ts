// `daxlab layout`: what a machine configuration costs in shared memory, region by region.

import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { REGIONS, REGION_NAMES, regionBytes, type MachineConfig } from '../machine/layout.js';
import { formatSize } from '../util/size.js';
import { machineConfigFromArgs, machineOptions, type MachineArgs } from './machine_options.js';

export function describeLayout(config: MachineConfig): string {
  const bytes = regionBytes(config);
  const rows = REGION_NAMES.map((name) => [name, formatSize(bytes[name]), REGIONS[name].doc]);
  const total = REGION_NAMES.reduce((a, n) => a + bytes[n], 0);
  rows.push(['total', formatSize(total), `${REGION_NAMES.length} SharedArrayBuffers`]);
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  return rows.map((r) => `${r[0].padEnd(w0)}  ${r[1].padStart(w1)}  ${r[2]}`).join('\n');
}

export const layoutCommand: CommandModule<object, MachineArgs> = {
  command: 'layout',
  describe: 'Show the shared-memory regions a machine configuration allocates',
  builder: (y: Argv) =>
    machineOptions(y)
      .example('$0 layout', 'the default machine: 256 MiB device, 8 CPUs')
      .example('$0 layout --pmem-size 1GiB --index-nodes 300000', 'room for a 16M-page file index') as Argv<MachineArgs>,
  handler: (argv: ArgumentsCamelCase<MachineArgs>) => {
    console.log(describeLayout(machineConfigFromArgs(argv)));
  },
};
