// `daxlab stress`: CPU workers on one mapping index; prints throughput, lock_stat and the
// index check. Exits 1 when the index is left inconsistent.

import os from 'node:os';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { runStress } from '../lab/stress.js';
import { formatLockStat } from '../measure/lock_stat_format.js';
import { EXIT_FAILED, UsageError } from './errors.js';
import { machineConfigFromArgs, machineOptions, type MachineArgs } from './machine_options.js';

interface StressArgs extends MachineArgs {
  ops: number;
  range: number;
  seed: number;
  holdTimes: boolean;
  json: boolean;
}

export const stressCommand: CommandModule<object, StressArgs> = {
  command: 'stress',
  describe: 'CPU workers hammer one mapping index (lookups, inserts, dirtying, writeback, deletes); print lock_stat',
  builder: (y: Argv) =>
    machineOptions(y)
      .option('ops', { type: 'number', default: 200_000, describe: 'operations per CPU' })
      .option('range', { type: 'number', default: 4096, describe: 'page indexes the CPUs share (fewer: more contention)' })
      .option('seed', { type: 'number', default: 1, describe: 'random seed' })
      .option('hold-times', { type: 'boolean', default: true, describe: 'measure lock hold times (costs two clock reads a lock)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON' })
      .default('cpus', 2)
      .example('$0 stress', 'two CPUs, 200,000 operations each')
      .example('$0 stress --cpus 4 --range 64', 'more CPUs than cores, on few pages: contention') as unknown as Argv<StressArgs>,
  handler: async (argv: ArgumentsCamelCase<StressArgs>) => {
    const machine = machineConfigFromArgs(argv, { lockStatHoldTimes: argv.holdTimes });
    for (const [flag, v, max] of [
      ['--ops', argv.ops, 1e9],
      ['--range', argv.range, 2 ** 40],
    ] as const) {
      if (!Number.isInteger(v) || v < 1 || v > max) throw new UsageError(`${flag}: expected an integer from 1 to ${max}, got ${v}`);
    }
    if (argv.cpus > os.availableParallelism()) {
      process.stderr.write(
        `daxlab: warning: ${argv.cpus} CPU workers on ${os.availableParallelism()} cores: latencies include the scheduler\n`,
      );
    }
    const r = await runStress({ machine, cpus: argv.cpus, opsPerCpu: argv.ops, range: argv.range, seed: argv.seed });
    if (argv.json) {
      console.log(JSON.stringify(r, null, 2));
    } else {
      console.log(`${r.cpus} CPUs × ${r.opsPerCpu.toLocaleString('en-US')} operations on one mapping index of ${argv.range} pages`);
      console.log(`${Math.round(r.opsPerSec).toLocaleString('en-US')} operations/s (${(r.elapsedNs / 1e6).toFixed(0)} ms)`);
      console.log(Object.entries(r.counts).map(([k, v]) => `${k} ${v}`).join(', '));
      console.log(
        `pmem: ${r.pmem.linesStored} lines stored, ${r.pmem.linesFlushed} flushed, ${r.pmem.linesWrittenBack} written back\n`,
      );
      process.stdout.write(formatLockStat(r.locks));
      console.log(r.violations.length === 0 ? '\nindex check: consistent' : `\nindex check: ${r.violations.length} violations`);
    }
    if (r.violations.length > 0) {
      for (const v of r.violations.slice(0, 20)) process.stderr.write(`  ${v}\n`);
      process.exitCode = EXIT_FAILED;
    }
  },
};
