// `daxlab calibrate probe.json`: fits a profile's step costs to a probe of the user's kernel
// (src/calibrate/), predicts the probe's other rows, prints both beside the lab's, and writes
// a profile that `daxlab run --profile FILE` takes. Everything is checked before the fit runs
// (the probe, --fit, --base, the output file), and the profile is written whole or not at all.

import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { loadProfile } from '../cost/profile.js';
import { fitProfile, type ProfileJson } from '../calibrate/fit.js';
import { copyPlacementOf } from '../probe/placement.js';
import { calibrationConfigNames, measureLabProfile, type LabRunOptions } from '../calibrate/lab_rows.js';
import { planFit } from '../calibrate/plan.js';
import { probeTargets } from '../calibrate/target.js';
import { fidelityRows, formatFidelity, formatSideBySideRows } from '../calibrate/fidelity.js';
import { markFitted } from '../calibrate/provenance.js';
import { measureSeries } from '../calibrate/series.js';
import { formatSeries } from '../calibrate/series_format.js';
import { parseProbe, type Probe } from '../probe/schema.js';
import { UsageError } from './errors.js';
import { checkReplaceable, fieldOf } from './replace_file.js';

/** How a profile calibrate wrote begins its description: what --force may replace. */
const CALIBRATED_BY = 'Calibrated by daxlab calibrate';
import { checkCount } from './workload_options.js';

interface CalibrateArgs {
  probe: string;
  base: string;
  fit?: string[];
  out?: string;
  force: boolean;
  runs: number;
  repeats: number;
  iterations: number;
  pages?: number;
  warmupRepeats?: number;
  series: boolean;
}

/** The largest probe.json read: a full probe with its histograms is a few hundred KiB. */
const MAX_PROBE_BYTES = 64 << 20;

function readProbe(file: string): Probe {
  let text: string;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new UsageError(`${file}: not a regular file`);
    if (st.size > MAX_PROBE_BYTES) throw new UsageError(`${file}: ${st.size} bytes; a probe.json holds at most ${MAX_PROBE_BYTES}`);
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseProbe(text, file);
}

/** A profile name from the output file's name (profile names are letters, digits, ".", "_" and "-"). */
function profileNameFor(out: string): string {
  const n = basename(out).replace(/\.json$/, '').replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return n === '' ? 'calibrated' : n;
}

export const calibrateCommand: CommandModule<object, CalibrateArgs> = {
  command: 'calibrate <probe>',
  describe: "Fit a cost profile to a probe of your kernel (daxlab probe): fit a few rows, predict the rest, write a profile for run --profile",
  builder: (y: Argv) =>
    y
      .positional('probe', { type: 'string', demandOption: true, describe: 'the probe.json daxlab probe wrote' })
      .option('base', { type: 'string', default: 'kara-2017-ramdisk', describe: 'the profile to start from: a shipped name or a profile file; its other values are kept' })
      .option('fit', {
        type: 'string',
        array: true,
        describe: "the probe's rows to fit (default: written-nobg-nosync -> trapNs, empty-nobg-nosync -> allocNs, empty-nobg-sync -> commitNs and the idle wake-ups' median, as many as the limit allows); at most a third of the measured rows",
      })
      .option('out', { alias: 'o', type: 'string', describe: 'the profile file to write (default: <probe>-profile.json)' })
      .option('force', { type: 'boolean', default: false, describe: 'replace --out if it is a profile calibrate wrote before' })
      .option('runs', { type: 'number', default: 1, describe: 'lab runs per measurement (each with its own seed)' })
      .option('repeats', { type: 'number', default: 3, describe: 'measured repeats per run' })
      .option('iterations', { type: 'number', default: 5, describe: 'fixed-point iterations of the fit' })
      .option('pages', { type: 'number', describe: "faults per repeat (the workload's 512 by default; fewer for a quick look)" })
      .option('warmup-repeats', { type: 'number', describe: "discarded repeats before the measured ones (the workload's by default)" })
      .option('series', {
        type: 'boolean',
        default: true,
        describe:
          "also predict the probe's fsync and ordering-tax series with the fitted profile, beside the probe's (never fitted to; --runs and --repeats apply, each repeat doing what one of the probe's did); --no-series: the fault rows only",
      })
      .example('$0 calibrate probe.json -o my-profile.json', 'fit the default rows, then: daxlab run kara-2017 --profile my-profile.json')
      .example('$0 calibrate probe.json --fit written-nobg-nosync empty-nobg-sync', 'fit two rows, predict the rest')
      .example('$0 calibrate probe.json --no-series', "the fault rows only: skip the fsync and ordering-tax series (the slower part)") as unknown as Argv<CalibrateArgs>,
  handler: async (argv: ArgumentsCamelCase<CalibrateArgs>) => {
    checkCount('--runs', argv.runs, 1, 100);
    checkCount('--repeats', argv.repeats, 1, 1000);
    checkCount('--iterations', argv.iterations, 1, 100);
    checkCount('--pages', argv.pages, 1, 512);
    checkCount('--warmup-repeats', argv.warmupRepeats, 0, 100);
    const probe = readProbe(argv.probe);
    const fit = argv.fit?.flatMap((x) => x.split(',')).filter((x) => x !== '');
    const out = resolve(argv.out ?? `${basename(argv.probe).replace(/\.json$/, '')}-profile.json`);
    if (existsSync(out) && !argv.force) throw new UsageError(`--out: ${out} exists (use --force to replace it)`);
    if (existsSync(out)) checkReplaceable(out, 'a profile', (j) => String(fieldOf(j, 'description')).startsWith(CALIBRATED_BY));
    let base: ProfileJson;
    try {
      base = JSON.parse(readFileSync(loadProfile(argv.base).file, 'utf8')) as ProfileJson;
    } catch (e) {
      throw new UsageError(`--base: ${(e as Error).message}`);
    }
    const configs = calibrationConfigNames();
    const plan = planFit(probe, fit, configs);
    const targets = probeTargets(probe).filter((t) => configs.includes(t.name));
    const skipped = probe.rows.filter((r) => !targets.some((t) => t.sourceName === r.name)).map((r) => r.name);
    const probeName = (labRow: string) => targets.find((t) => t.name === labRow)?.sourceName ?? labRow;
    const origin = `probe ${basename(argv.probe)} (createdAt ${probe.createdAt}, kernel ${probe.setup.kernel})`;

    console.log(`probe ${argv.probe}: ${probe.setup.kernel}; ${probe.setup.mount.fstype} on ${probe.setup.mount.source} (${probe.setup.mount.options.join(',')}); ${probe.dax.isDax ? 'DAX' : `not DAX: ${probe.dax.reason ?? 'no reason given'}`}`);
    if (!probe.dax.isDax) {
      console.log('  (without DAX the probe timed page-cache faults: the constants fitted to them stand for that path, not a DAX fault\'s)');
    }
    console.log(`${plan.measured} measured rows: at most ${plan.limit} may be fitted`);
    for (const f of plan.fit) console.log(`  fit ${f.param} to ${f.probeRow} (lab configuration ${f.labRow})`);
    for (const n of plan.notFitted) console.log(`  ${n.param} stays ${base.costs[n.param].ns} ns as ${argv.base} gives it: ${n.why}`);
    if (skipped.length > 0) console.log(`  rows the kara-2017 workload has no configuration for, left out: ${skipped.join(', ')}`);
    const fitIdle = plan.fit.some((f) => f.param === 'commitNs') && Number((base.idleWakeup.medianNs as { ns: number }).ns) > 0;
    if (!fitIdle) console.log('  idleWakeup.medianNs stays as the base gives it: fitted only beside commitNs, from a MAP_SYNC row the probe measured');

    const placement = copyPlacementOf(probe);
    console.log(
      placement === null
        ? "  the probe did not record where its background copy ran: the lab gives it a core of its own (as the scheduler does when one is free)"
        : `  ${placement.line}`,
    );
    const runOpts = (configsToRun: readonly string[] | null): LabRunOptions => ({
      configs: configsToRun,
      ownCores: !(placement?.onSibling ?? false),
      runs: argv.runs,
      repeats: argv.repeats,
      ...(argv.pages === undefined ? {} : { pages: argv.pages }),
      ...(argv.warmupRepeats === undefined ? {} : { warmupRepeats: argv.warmupRepeats }),
    });
    let profile = base;
    if (plan.fit.length > 0) {
      const r = await fitProfile({
        base,
        targets,
        fit: plan.fit.map((f) => f.labRow),
        fitIdleMedian: fitIdle,
        iterations: argv.iterations,
        measure: async (p, rows) => (await measureLabProfile(p, runOpts(rows))).rows,
        onStep: (s) =>
          console.log(`  iteration ${s.iteration}: ${Object.entries(s.values).map(([k, v]) => `${k} ${v}`).join(', ')}`),
      });
      profile = markFitted(r, origin, 'daxlab calibrate', new Date().toISOString().slice(0, 10), probeName);
    } else console.log('  nothing to fit: every row is a prediction from the base profile');
    profile.name = profileNameFor(out);
    profile.description = `${CALIBRATED_BY} from ${origin}, starting from ${argv.base}: ${plan.fit.map((f) => `${f.param} fitted to ${f.probeRow}`).join(', ') || 'nothing fitted'}`;
    profile.notes = [
      `fitted rows: ${plan.fit.map((f) => f.probeRow).join(', ') || 'none'}; every other measured row of the probe is a prediction`,
      ...plan.notFitted.map((n) => `${n.param} not fitted (${argv.base}'s value kept): ${n.why}`),
    ];

    const labTargets = targets.filter((t) => t.unsupported === undefined);
    const { rows: lab } = await measureLabProfile(profile, runOpts(labTargets.map((t) => t.name)));
    const rows = fidelityRows(targets, lab, plan.fit.map((f) => f.labRow));
    console.log('');
    console.log(formatSideBySideRows(rows, 'probe'));
    console.log(formatFidelity(rows, 'probe'));
    if (argv.series) {
      const s = await measureSeries(profile, probe, { runs: argv.runs, repeats: argv.repeats });
      for (const n of s.counts.notes) console.log(`  ${n}`);
      const text = formatSeries(s.rows, s.counts, s.fsync);
      console.log(text === '' ? 'the probe has no fsync or ordering-tax rows to predict\n' : text);
    } else console.log("fsync and ordering-tax series not predicted (--no-series)\n");

    // Validated as `run --profile` will read it, then renamed into place: whole or nothing.
    const tmp = `${out}.tmp-${process.pid}`;
    writeFileSync(tmp, `${JSON.stringify(profile, null, 2)}\n`);
    try {
      loadProfile(tmp);
      renameSync(tmp, out);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
    console.log(`profile written to ${out}: daxlab run kara-2017 --profile ${out}`);
  },
};
