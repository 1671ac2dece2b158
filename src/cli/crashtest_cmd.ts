// `daxlab crashtest <workload>`: crashes the workload's run at N points in virtual time,
// recovers crash images there and checks the durability promises (src/crash/). Prints the
// points tried, the images checked, the violations by kind and a reproducer for the first
// of each kind; --json prints one object. Exits 0 with no violation, 1 with any, 2 on bad input.

import { readFileSync } from 'node:fs';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { DAX_VARIANTS, checkVariant } from '../dax/variant.js';
import { expandWorkload, readWorkload } from '../workload/expand.js';
import { parseAssignment } from '../workload/paths.js';
import { DEFAULT_POINTS, MAX_POINTS, crashtest, parseReproducer, type CrashtestResult } from '../crash/crashtest.js';
import { VIOLATION_KINDS } from '../crash/checks.js';
import { EXIT_FAILED, UsageError } from './errors.js';
import { checkCount } from './workload_options.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

interface CrashtestArgs {
  workload: string;
  points: number;
  seed?: number;
  variant?: string;
  set: string[];
  replay?: string;
  json: boolean;
}

export const crashtestCommand: CommandModule<object, CrashtestArgs> = {
  command: 'crashtest <workload>',
  describe: 'crash a workload at many points in virtual time, recover each crash image and check the durability promises',
  builder: (y: Argv) =>
    y
      .positional('workload', { type: 'string', describe: 'a workload JSON file, or the name of a shipped one (daxlab list)', demandOption: true })
      .option('points', { type: 'number', default: DEFAULT_POINTS, describe: `crash points per configuration (1 to ${MAX_POINTS})` })
      .option('seed', { type: 'number', describe: 'random seed of the run, the points and the images (overrides run.seed)' })
      .option('variant', { type: 'string', describe: `a known-bad DAX design to run instead of the sound one (${DAX_VARIANTS.join(', ')})` })
      .option('set', { type: 'string', array: true, default: [], describe: 'override a parameter: path=value (repeatable)' })
      .option('replay', { type: 'string', describe: 'a reproducer crashtest printed (seed:offsetNs:image:points@configuration): re-run to that one image' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object' })
      .example('$0 crashtest crash-mix', '1,000 crash points on each configuration of crash-mix')
      .example('$0 crashtest crash-mix --variant mapsync-no-sync', 'the known-bad design is caught') as unknown as Argv<CrashtestArgs>,
  handler: async (argv: ArgumentsCamelCase<CrashtestArgs>) => {
    checkCount('--points', argv.points, 1, MAX_POINTS);
    checkCount('--seed', argv.seed, 0, 2 ** 31 - 1);
    const sets = argv.set.map(parseAssignment);
    if (argv.variant !== undefined) {
      try {
        sets.push({ path: 'variant', value: checkVariant(argv.variant) });
      } catch (e) {
        throw new UsageError(`--${(e as Error).message}`);
      }
    }
    const replay = argv.replay === undefined ? undefined : parseReproducer(argv.replay);
    const { raw, source } = readWorkload(argv.workload);
    const expanded = expandWorkload(raw, sets, source);
    const r = await crashtest(expanded, { points: argv.points, seed: argv.seed, replay, version: pkg.version });
    if (argv.json) console.log(JSON.stringify(r, null, 2));
    else process.stdout.write(formatCrashtest(r, replay !== undefined, ['daxlab', 'crashtest', argv.workload, ...argv.set.flatMap((a) => ['--set', a])].map(shellWord).join(' ')));
    if (r.totalViolations > 0) process.exitCode = EXIT_FAILED;
  },
};

/** A word as a POSIX shell reads it back: as is when plain, else single-quoted. */
function shellWord(w: string): string {
  return /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replaceAll("'", "'\\''")}'`;
}

/** The text report; `rerun` is the command (workload and --set options) a reproducer is replayed with. */
export function formatCrashtest(r: CrashtestResult, replay: boolean, rerun = `daxlab crashtest ${r.workload}`): string {
  const lines: string[] = [];
  for (const c of r.configs) {
    const missed = c.pointsMissed > 0 ? ` (${c.pointsMissed} of ${c.pointsRequested} planned were past the run's end)` : '';
    lines.push(`${c.config} (${c.personality}, variant ${c.variant}, seed ${c.seed}): ${c.points} crash points${missed}, ${c.images} images checked, ${c.totalViolations} violations`);
    for (const k of VIOLATION_KINDS) if (c.violations[k] > 0) lines.push(`  ${k.padEnd(20)} ${c.violations[k]}`);
    if (c.firstViolationPoint !== null && !replay) lines.push(`  first violation at point ${c.firstViolationPoint}`);
    for (const e of c.examples) lines.push(`  ${e.kind}: ${e.detail}`, `    reproduce: ${rerun} --replay ${e.reproducer}${c.variant === 'none' ? '' : ` --variant ${c.variant}`}`);
  }
  lines.push(`total: ${r.points} crash points, ${r.images} images, ${r.totalViolations} violations${r.totalViolations === 0 ? '' : ` (${VIOLATION_KINDS.filter((k) => r.violations[k] > 0).map((k) => `${k} ${r.violations[k]}`).join(', ')})`}`);
  return `${lines.join('\n')}\n`;
}
