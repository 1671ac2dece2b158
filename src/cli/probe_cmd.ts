// `daxlab probe --dir <folder>`: measures the real kernel's faults, fsyncs and ordering tax
// on the filesystem holding the folder, with the native helper (native/daxprobe.c), and
// writes probe.json; `daxlab probe --raw <file>` builds probe.json from the output of a
// helper run elsewhere (a VM guest without Node). Every flag is checked before anything
// runs; probe.json is written whole or not at all, and never over a file without --force.

import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { writeFileWhole } from '../report/write.js';
import { buildProbe } from '../probe/build.js';
import { requireHelper, runHelper } from '../probe/helper.js';
import { parseRaw, type ProgressRaw } from '../probe/raw.js';
import { PROBE_FORMAT, type Probe } from '../probe/schema.js';
import { formatProbeSummary } from '../probe/summary.js';
import { EXIT_FAILED, UsageError } from './errors.js';
import { checkReplaceable, fieldOf } from './replace_file.js';

interface ProbeArgs {
  dir?: string;
  raw?: string;
  quick: boolean;
  out: string;
  force: boolean;
}

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

function checkDir(dir: string): void {
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new UsageError(`--dir: ${dir}: no such folder (name a folder on the filesystem to measure)`);
  }
  if (!st.isDirectory()) throw new UsageError(`--dir: ${dir} is not a folder (name a folder on the filesystem to measure)`);
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    throw new UsageError(`--dir: ${dir} is not writable by this user: the probe creates its files there (and removes them)`);
  }
}

function checkOut(out: string, force: boolean): void {
  if (out.trim() === '') throw new UsageError('--out: expected a file name for probe.json, got ""');
  let st;
  try {
    st = statSync(out);
  } catch {
    const parent = path.dirname(path.resolve(out));
    if (!existsSync(parent)) throw new UsageError(`--out: ${out}: its folder ${parent} does not exist`);
    return;
  }
  if (st.isDirectory()) throw new UsageError(`--out: ${out} is a folder; name a file, e.g. ${path.join(out, 'probe.json')}`);
  if (!force) throw new UsageError(`--out: ${out} exists; add --force to replace it`);
  checkReplaceable(out, 'a probe.json', isProbeJson);
}

const isProbeJson = (json: unknown) => fieldOf(json, 'schema') === PROBE_FORMAT;

/** A bar on a terminal; elsewhere a status line every statusMs, so a long probe in a log is not silent. */
function startProgress(stream: NodeJS.WriteStream = process.stderr, statusMs = 5000): { update: (p: ProgressRaw) => void; stop: () => void } {
  if (stream.isTTY === true && !process.env.CI) {
    const bar = new cliProgress.SingleBar({ stream, format: 'probe [{bar}] {value}/{total} {what}', hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic);
    let started = false;
    return {
      update: (p) => {
        if (!started) bar.start(p.total, p.done, { what: p.what });
        else {
          bar.setTotal(p.total);
          bar.update(p.done, { what: p.what });
        }
        started = true;
      },
      stop: () => {
        if (started) bar.stop();
      },
    };
  }
  const t0 = Date.now();
  let last: ProgressRaw | null = null;
  const timer = setInterval(() => {
    if (last !== null) stream.write(`daxlab: probe: ${Math.round((Date.now() - t0) / 1000)} s: ${last.done}/${last.total} done, last ${last.what}\n`);
  }, statusMs);
  timer.unref();
  return {
    update: (p) => {
      last = p;
    },
    stop: () => clearInterval(timer),
  };
}

function writeProbe(probe: Probe, out: string, force: boolean): void {
  // Checked again: the file may have appeared while the probe ran.
  if (!force && existsSync(out)) throw new UsageError(`--out: ${out} appeared while the probe ran; add --force to replace it`);
  if (existsSync(out)) checkReplaceable(out, 'a probe.json', isProbeJson);
  writeFileWhole(out, JSON.stringify(probe, null, 2) + '\n');
}

async function measure(dir: string, quick: boolean): Promise<Probe | null> {
  const helper = requireHelper();
  process.stderr.write(`daxlab: probe: measuring the filesystem of ${dir}${quick ? ' (--quick)' : ''}\n`);
  const progress = startProgress();
  let run;
  try {
    run = await runHelper(helper, dir, quick, progress.update);
  } finally {
    progress.stop();
  }
  if (run.interrupted !== null) {
    process.stderr.write(`daxlab: probe interrupted (${run.interrupted}): the helper removed its files; nothing written\n`);
    process.exit(SIGNAL_EXIT[run.interrupted] ?? EXIT_FAILED);
  }
  if (run.code !== 0) {
    const said = run.stderr.trim().split('\n').pop() ?? '';
    process.stderr.write(`daxlab: probe: the helper failed (${run.signal ?? `exit ${run.code}`})${said === '' ? '' : `: ${said.replace(/^daxprobe: /, '')}`}\n`);
    process.exitCode = EXIT_FAILED;
    return null;
  }
  return buildProbe(parseRaw(run.text, 'the helper'));
}

function fromRaw(file: string): Probe {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`--raw: ${file}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  return buildProbe(parseRaw(text, file));
}

export const probeCommand: CommandModule<object, ProbeArgs> = {
  command: 'probe',
  describe: "Measure this kernel's DAX fault, fsync and ordering costs on a filesystem (seed 002's method) and write probe.json",
  builder: (y: Argv) =>
    y
      .option('dir', { type: 'string', requiresArg: true, describe: 'a folder on the filesystem to measure (the probe makes and removes its files there)' })
      .option('raw', { type: 'string', requiresArg: true, describe: 'build probe.json from the output of native/daxprobe run elsewhere (a VM guest)' })
      .option('quick', { type: 'boolean', default: false, describe: 'fewer pages and repeats: seconds rather than minutes' })
      .option('out', { alias: 'o', type: 'string', default: 'probe.json', requiresArg: true, describe: 'the probe.json to write' })
      .option('force', { type: 'boolean', default: false, describe: 'replace --out if it is an earlier probe.json' })
      .example('$0 probe --dir /mnt/pmem', 'measure the DAX filesystem mounted at /mnt/pmem')
      .example('$0 probe --dir /tmp --quick -o /tmp/probe.json', 'a few seconds on any filesystem (MAP_SYNC rows are unsupported off DAX)')
      .example('$0 probe --raw guest.jsonl -o probe.json', 'from `daxprobe --dir /mnt/pmem > guest.jsonl` run in a VM') as unknown as Argv<ProbeArgs>,
  handler: async (argv: ArgumentsCamelCase<ProbeArgs>) => {
    if (argv.dir === undefined && argv.raw === undefined) {
      throw new UsageError('--dir: name the folder on the filesystem to measure (or --raw <file> to read a helper run made elsewhere)');
    }
    if (argv.dir !== undefined && argv.raw !== undefined) throw new UsageError('--raw: give --dir (measure here) or --raw (read a run made elsewhere), not both');
    if (argv.raw !== undefined && argv.quick) throw new UsageError('--quick: only with --dir (a raw file says itself whether it was quick)');
    checkOut(argv.out, argv.force);
    if (argv.dir !== undefined) checkDir(argv.dir);
    const probe = argv.dir !== undefined ? await measure(argv.dir, argv.quick) : fromRaw(argv.raw!);
    if (probe === null) return;
    writeProbe(probe, argv.out, argv.force);
    process.stdout.write(formatProbeSummary(probe));
    process.stderr.write(`daxlab: probe: wrote ${argv.out}\n`);
  },
};
