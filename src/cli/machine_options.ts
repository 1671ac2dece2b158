// Flags that describe the simulated machine, shared by every command that builds one.

import type { Argv } from 'yargs';
import { DEFAULT_CONFIG, PMEM_MODES, resolveConfig, type MachineConfig, type PmemMode } from '../machine/layout.js';
import { UsageError } from './errors.js';
import { parseSize } from '../util/size.js';
import { formatSize } from '../util/size.js';

export interface MachineArgs {
  cpus: number;
  pmemSize: string;
  pmemMode: PmemMode;
  indexNodes: number;
  mappings: number;
}

export function machineOptions<T>(y: Argv<T>): Argv<T & MachineArgs> {
  return y
    .option('cpus', { type: 'number', default: DEFAULT_CONFIG.cpus, describe: 'CPU slots (workers and kernel threads)' })
    .option('pmem-size', {
      type: 'string',
      default: formatSize(DEFAULT_CONFIG.pmemBytes).replace(' ', ''),
      describe: 'PMEM device size, a multiple of 2MiB',
    })
    .option('pmem-mode', { choices: PMEM_MODES, default: DEFAULT_CONFIG.pmemMode, describe: 'persistence domain' })
    .option('index-nodes', { type: 'number', default: DEFAULT_CONFIG.indexNodes, describe: 'radix-tree node pool capacity' })
    .option('mappings', { type: 'number', default: DEFAULT_CONFIG.mappings, describe: 'mapping indexes (one per inode)' }) as unknown as Argv<
    T & MachineArgs
  >;
}

const FLAG_OF: Record<string, string> = {
  cpus: '--cpus',
  pmemBytes: '--pmem-size',
  pmemMode: '--pmem-mode',
  indexNodes: '--index-nodes',
  mappings: '--mappings',
};

/** The machine configuration the flags describe; a bad value is a UsageError naming the flag. */
export function machineConfigFromArgs(argv: MachineArgs, extra: Partial<MachineConfig> = {}): MachineConfig {
  try {
    return resolveConfig({
      cpus: argv.cpus,
      pmemBytes: parseSize('--pmem-size', argv.pmemSize),
      pmemMode: argv.pmemMode,
      indexNodes: argv.indexNodes,
      mappings: argv.mappings,
      ...extra,
    });
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    const field = /^(\w+):/.exec(err.message)?.[1];
    throw new UsageError(field && FLAG_OF[field] ? err.message.replace(field, FLAG_OF[field]) : err.message);
  }
}
