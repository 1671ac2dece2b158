// How honest `daxlab compare --fail-on-regression 10` is (issue 15): how often it fires on two
// runs of the same code, and how often it catches a real slowdown.
//
//   node dist/bench/compare_verdicts.js [--pairs 20] [--repeats 5]
//       writes results/compare/verdicts.{txt,json}; 61 runs, 15 minutes on 2 shared, busy cores
//
// The workload is a cut-down kara-2017 whose figures move with the seed: kara-2017 itself is
// nearly deterministic on the virtual clock (seed 2 against seed 1 moves no figure by even
// 0.01 %, results/vclock/host.txt), which would make the same-code test pass trivially. Here two
// faulters write-fault one preallocated file in random (seeded) order while a third CPU
// msyncs it every 200 µs, so their faults and the msyncs contend for tree_lock and the entry
// locks, and the tail figures vary from seed to seed and repeat to repeat; a second
// configuration is kara-2017's empty-bg-sync (MAP_SYNC faults beside a background copy).
// 5 repeats, as kara-2017 runs.
//
// Null pairs: runs of seeds 2i-1 and 2i, same code and profile (kara-2017-ramdisk).
// Slowdown pairs: the run of seed 2i-1 against a run of seed 1000+i whose profile is
// kara-2017-ramdisk with trapNs x 1.15: the trap (exception entry and exit and the
// handle_mm_fault walk) is a step every fault pays once, about 92 % of a preallocated write
// fault there, so those faults slow by about 14 %; the msyncs, commits and MAP_SYNC faults
// barely move, as a real change to one kernel step would leave them.
// Each pair is judged by compareRuns with failOnRegressionPct 10, exactly as the CLI does.
//
// A last check runs kara-2017 once (seed 1) and compares it with results/kara-2017/reference,
// the README's example.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writeFileAtomic } from './support.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expandWorkload, readWorkload } from '../src/workload/expand.js';
import { runWorkload } from '../src/lab/run.js';
import { compareRuns, type Comparison } from '../src/measure/compare.js';
import { parseResults, type RunResults } from '../src/measure/results.js';
import { packageRoot } from '../src/util/package_root.js';

const THRESHOLD_PCT = 10;
const SLOWED_COST = 'trapNs';
const SLOWDOWN = 1.15;
const PROFILE = 'kara-2017-ramdisk';
const OUT_DIR = new URL('results/compare/', packageRoot());

const WORKLOAD = {
  name: 'compare-verdicts',
  description: 'bench/compare_verdicts.ts: seed-dependent fault contention, and MAP_SYNC faults beside a background copy',
  device: { size: '64MiB', mode: 'ramdisk' },
  fs: { personality: 'ext4' },
  files: [
    { name: 'data', size: '8MiB', state: 'written' },
    { name: 'sync', size: '1MiB', state: 'empty' },
    { name: 'copy', size: '8MiB', state: 'empty' },
  ],
  mappings: [
    { name: 'map', file: 'data', flags: ['MAP_SHARED'], madvise: 'MADV_NOHUGEPAGE' },
    { name: 'smap', file: 'sync', flags: ['MAP_SHARED_VALIDATE', 'MAP_SYNC'] },
  ],
  cpus: [
    { role: 'faulter', mapping: 'map', access: 'write', pages: 256, order: 'random' },
    { role: 'faulter', mapping: 'map', access: 'write', pages: 256, order: 'random' },
    { role: 'syncer', mapping: 'map', call: 'msync', everyUs: 200 },
    { role: 'faulter', mapping: 'smap', access: 'write', pages: 128, enabled: false },
    { role: 'background-copy', file: 'copy', chunk: '64KiB', enabled: false },
  ],
  profile: PROFILE,
  // No warm-up repeat: on the virtual clock the host's warm-up (JIT) moves no figure.
  run: { repeats: 5, warmupRepeats: 0, seed: 1 },
  configs: [
    { name: 'prealloc-2cpu-msync', set: {} },
    {
      name: 'empty-bg-sync',
      set: { 'cpus[0].enabled': false, 'cpus[1].enabled': false, 'cpus[2].enabled': false, 'cpus[3].enabled': true, 'cpus[4].enabled': true },
    },
  ],
};

interface Args {
  pairs: number;
  repeats: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { pairs: 20, repeats: 5 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = Number(argv[++i]);
    if ((k === '--pairs' || k === '--repeats') && Number.isInteger(v) && v > 0) a[k.slice(2) as keyof Args] = v;
    else throw new Error(`compare_verdicts: expected --pairs N or --repeats N (N a positive integer), got ${k} ${argv[i] ?? ''}`);
  }
  return a;
}

/** A copy of the profile with one constant raised, as a file the workload's `profile` can name. */
function slowedProfile(dir: string): { file: string; fromNs: number; toNs: number } {
  const src = fileURLToPath(new URL(`src/cost/profiles/${PROFILE}.json`, packageRoot()));
  const p = JSON.parse(readFileSync(src, 'utf8')) as { name: string; description: string; costs: Record<string, { ns: number; source: string }> };
  const c = p.costs[SLOWED_COST];
  const fromNs = c.ns;
  c.ns = Math.round(fromNs * SLOWDOWN);
  c.source = `${PROFILE}'s ${fromNs} ns x ${SLOWDOWN} (bench/compare_verdicts.ts: a real slowdown of one step)`;
  p.name = `${PROFILE}-slowed`;
  const file = path.join(dir, `${p.name}.json`);
  writeFileSync(file, JSON.stringify(p, null, 2));
  return { file, fromNs, toNs: c.ns };
}

let runsDone = 0;
async function run(seed: number, repeats: number, profile: string = PROFILE): Promise<RunResults> {
  const t0 = performance.now();
  const x = expandWorkload(WORKLOAD, [{ path: 'profile', value: profile }], 'compare-verdicts');
  const r = await runWorkload(x, { version: 'bench', seed, repeats });
  runsDone++;
  process.stderr.write(`run ${runsDone}: seed ${seed}, profile ${path.basename(profile)}, ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  return r;
}

interface PairOutcome {
  seeds: [number, number];
  fired: boolean;
  regressions: string[];
  /** Figures the test called different, either way. */
  significant: number;
  /** b/a of the median mean write fault of the contended configuration. */
  faultMeanRatio: number;
}

function outcome(seeds: [number, number], c: Comparison): PairOutcome {
  const row = c.rows.find((r) => r.config === 'prealloc-2cpu-msync' && r.kind === 'write-fault');
  return {
    seeds,
    fired: c.regressions.length > 0,
    regressions: c.regressions.map((r) => `${r.config} / ${r.kind} ${r.figure} ${((r.ratio - 1) * 100).toFixed(1)} % p ${r.p.toFixed(3)}`),
    significant: c.rows.reduce((s, r) => s + r.figures.filter((f) => f.verdict === 'slower' || f.verdict === 'faster').length, 0),
    faultMeanRatio: row?.figures.find((f) => f.figure === 'mean')?.ratio ?? NaN,
  };
}

const judge = (a: RunResults, b: RunResults) => compareRuns(a, b, { failOnRegressionPct: THRESHOLD_PCT });

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = new Date();
  const dir = mkdtempSync(path.join(tmpdir(), 'daxlab-verdicts-'));
  try {
    const slowed = slowedProfile(dir);
    const nulls: PairOutcome[] = [];
    const slows: PairOutcome[] = [];
    let figuresPerPair = 0;
    for (let i = 1; i <= args.pairs; i++) {
      const a = await run(2 * i - 1, args.repeats);
      const b = await run(2 * i, args.repeats);
      const c = judge(a, b);
      figuresPerPair = c.rows.length * 4;
      nulls.push(outcome([2 * i - 1, 2 * i], c));
      const s = await run(1000 + i, args.repeats, slowed.file);
      slows.push(outcome([2 * i - 1, 1000 + i], judge(a, s)));
    }
    // The README's example: the shipped reference against a fresh run of kara-2017.
    const refFile = fileURLToPath(new URL('results/kara-2017/reference/results.json', packageRoot()));
    const ref = parseResults(readFileSync(refFile, 'utf8'), refFile);
    const { raw, source } = readWorkload('kara-2017');
    const fresh = await runWorkload(expandWorkload(raw, [], source), { version: 'bench', seed: ref.seed });
    const readme = compareRuns(ref, fresh, { failOnRegressionPct: THRESHOLD_PCT });

    const fired = nulls.filter((p) => p.fired).length;
    const caught = slows.filter((p) => p.fired).length;
    const checks = [
      { check: `same-code pairs (different seeds): the gate at ${THRESHOLD_PCT} % fires in at most 1 of ${args.pairs}`, pass: fired <= 1, figure: `${fired} of ${args.pairs}` },
      { check: `${SLOWED_COST} x ${SLOWDOWN} in b: the gate fires in at least ${args.pairs - 1} of ${args.pairs}`, pass: caught >= args.pairs - 1, figure: `${caught} of ${args.pairs}` },
    ];
    const ratios = slows.map((p) => p.faultMeanRatio).sort((x, y) => x - y);
    const nullSignificant = nulls.reduce((s, p) => s + p.significant, 0);
    const readmeSignificant = readme.rows.reduce((s, r) => s + r.figures.filter((f) => f.verdict !== '~' && f.verdict !== 'too few repeats').length, 0);
    const lines = [
      `# compare verdicts: ${args.pairs} same-code pairs and ${args.pairs} slowdown pairs, ${args.repeats} repeats a run, --fail-on-regression ${THRESHOLD_PCT}, ${started.toISOString()}`,
      `# workload ${WORKLOAD.name} (configurations ${WORKLOAD.configs.map((c) => c.name).join(', ')}), profile ${PROFILE}, virtual clock; ${figuresPerPair} figures judged per pair`,
      `# slowdown: ${SLOWED_COST} ${slowed.fromNs} -> ${slowed.toNs} ns, paid once by every fault`,
      `# ${runsDone + 1} runs, ${((Date.now() - started.getTime()) / 1000).toFixed(0)} s in all`,
      '',
      ...checks.map((c) => `${c.pass ? 'PASS ' : 'SHORT'} ${c.check}: ${c.figure}`),
      '',
      `same-code pairs: ${nullSignificant} of ${args.pairs * figuresPerPair} figures called significantly different (either way), ${fired} pair${fired === 1 ? '' : 's'} firing the gate`,
      ...nulls.filter((p) => p.fired).map((p) => `  seeds ${p.seeds.join(' vs ')}: ${p.regressions.join('; ')}`),
      `slowdown pairs: b/a of the contended write fault's mean, median ${ratios[ratios.length >> 1].toFixed(3)} (range ${ratios[0].toFixed(3)} to ${ratios[ratios.length - 1].toFixed(3)})`,
      ...slows.filter((p) => !p.fired).map((p) => `  missed, seeds ${p.seeds.join(' vs ')}: b/a ${p.faultMeanRatio.toFixed(3)}`),
      '',
      `README example, results/kara-2017/reference against a fresh kara-2017 run (seed ${ref.seed}): ${readme.regressions.length} regressions, ` +
        `${readmeSignificant} of ${readme.rows.length * 4} figures significantly different, geomean b/a ${readme.geomean.map((g) => `${g.figure} ${g.ratio.toFixed(4)}`).join(', ')}`,
    ];
    const text = `${lines.join('\n')}\n`;
    process.stdout.write(text);
    const json = {
      started: started.toISOString(),
      thresholdPct: THRESHOLD_PCT,
      pairs: args.pairs,
      repeats: args.repeats,
      workload: WORKLOAD,
      slowdown: { cost: SLOWED_COST, factor: SLOWDOWN, fromNs: slowed.fromNs, toNs: slowed.toNs },
      checks,
      nulls,
      slowdowns: slows,
      readme: { regressions: readme.regressions, significant: readmeSignificant, figures: readme.rows.length * 4, geomean: readme.geomean },
      runs: runsDone + 1,
      seconds: (Date.now() - started.getTime()) / 1000,
    };
    writeFileAtomic(fileURLToPath(new URL('verdicts.txt', OUT_DIR)), text);
    writeFileAtomic(fileURLToPath(new URL('verdicts.json', OUT_DIR)), `${JSON.stringify(json, null, 2)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
