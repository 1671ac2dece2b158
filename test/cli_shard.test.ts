// Sweeps split over a scheduler's tasks, end to end as child processes: `daxlab plan`, `run
// --shard auto` from a Slurm, Kubernetes or GitLab task's environment, and three shards run
// at once and merged into what the unsharded run makes.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseResults, type RunResults } from '../src/measure/results.js';
import type { RunPlan } from '../src/lab/plan.js';
import { daxlabIn, daxlabInAsync } from './support/cli_spawn.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'daxlab-shard-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const daxlab = (args: string[], env: NodeJS.ProcessEnv = {}) => daxlabIn(tmp, args, env);
const daxlabAsync = (args: string[], env: NodeJS.ProcessEnv = {}) => daxlabInAsync(tmp, args, env);

/**
 * The shipped smoke workload swept over 4 configurations whose operation counts differ (a
 * configuration's figures under another's name would show), cut short. Its syncer and
 * background copy are off: how many msyncs the syncer gets in before the storer ends, and
 * how many blocks the copy writes before the counted CPUs end, vary between identical runs
 * (by the host's order within the virtual clock's window), so their counts cannot be
 * compared exactly; every count left is fixed by the workload.
 */
function sweepFile(): string {
  const smoke = JSON.parse(readFileSync(new URL('../workloads/smoke.json', import.meta.url), 'utf8'));
  const file = path.join(tmp, 'sweep.json');
  writeFileSync(file, JSON.stringify({ ...smoke, sweep: { 'fs.personality': ['ext4', 'xfs'], 'cpus[0].pages': [16, 24] } }));
  return file;
}
const SHORT = ['run.repeats=1', 'cpus[1].ops=1000', 'device.size=16MiB', 'files[0].size=256KiB', 'files[1].size=64KiB', 'cpus[2].enabled=false', 'cpus[3].enabled=false'].flatMap((s) => ['--set', s]);
const NAMES = ['fs.personality=ext4,cpus[0].pages=16', 'fs.personality=ext4,cpus[0].pages=24', 'fs.personality=xfs,cpus[0].pages=16', 'fs.personality=xfs,cpus[0].pages=24'];

function results(dir: string): RunResults {
  return parseResults(readFileSync(path.join(tmp, dir, 'results.json'), 'utf8'));
}

/** Each configuration's operation count per kind. */
function counts(r: RunResults): Record<string, Record<string, number>> {
  return Object.fromEntries(r.configs.map((c) => [c.name, Object.fromEntries(Object.entries(c.ops).map(([kind, s]) => [kind, s!.count]))]));
}

describe('daxlab plan', () => {
  it("lists a run's configurations with the params, workers and repeats of each, in text and JSON", () => {
    const file = sweepFile();
    const t = daxlab(['plan', file, ...SHORT]);
    expect(t.status, t.stderr).toBe(0);
    expect(t.stderr).toBe('');
    expect(t.stdout).toMatch(/^smoke: 4 configurations, seed 7 \(.*sweep\.json\)\na run starts 3 worker threads/);
    expect(t.stdout).toMatch(/ 1 {2}fs\.personality=ext4,cpus\[0\]\.pages=16 +3 +1\n/);
    expect(t.stdout).toMatch(/ 4 {2}fs\.personality=xfs,cpus\[0\]\.pages=24 +3 +1\n/);
    const j = daxlab(['plan', file, ...SHORT, '--repeats', '3', '--seed', '11', '--json']);
    expect(j.status, j.stderr).toBe(0);
    const plan = JSON.parse(j.stdout) as RunPlan;
    expect(plan).toMatchObject({ workload: 'smoke', total: 4, seed: 11, shardCount: null, shard: null, shards: [] });
    expect(plan.configurations.map((c) => c.name)).toEqual(NAMES);
    expect(plan.configurations[1]).toEqual({ index: 2, name: NAMES[1], params: { 'fs.personality': 'ext4', 'cpus[0].pages': 24 }, workers: 3, repeats: 3, warmupRepeats: 0, seed: 11 });
    // The shipped file as it is: four roles and the commit thread, two repeats.
    const shipped = JSON.parse(daxlab(['plan', 'smoke', '--json']).stdout) as RunPlan;
    expect(shipped.configurations.map((c) => [c.name, c.workers, c.repeats])).toEqual([
      ['fs.personality=ext4', 5, 2],
      ['fs.personality=xfs', 5, 2],
    ]);
    expect(shipped.cores).toEqual([]);
    expect(t.stdout).not.toMatch(/^cores:/m);
  });

  it('says which CPUs the workload puts on shared cores (SMT siblings), in text and JSON', () => {
    const t = daxlab(['plan', 'kara-2017']);
    expect(t.status, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/\ncores: 0: cpus\[0\] faulter, cpus\[1\] background-copy; 1: the commit thread; any other CPU on a core of its own\n/);
    const moved = JSON.parse(daxlab(['plan', 'kara-2017', '--set', 'cpus[1].core=1', '--json']).stdout) as RunPlan;
    expect(moved.cores).toEqual([
      { core: 0, cpus: ['cpus[0] faulter'] },
      { core: 1, cpus: ['cpus[1] background-copy', 'the commit thread'] },
    ]);
  });

  it('groups the configurations by shard as run --shard I/N splits them, empty shards included', () => {
    const file = sweepFile();
    const t = daxlab(['plan', file, '--shards', '6']);
    expect(t.status, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/^smoke: 4 configurations in 6 shards/);
    expect(t.stdout).toMatch(/shard 1\/6: 1 configuration\n +1 {2}fs\.personality=ext4,cpus\[0\]\.pages=16 .*\nshard 2\/6/);
    expect(t.stdout).toMatch(/\nshards 5\/6 to 6\/6: no configurations\n$/);
    const plan = JSON.parse(daxlab(['plan', file, '--shards', '3', '--json']).stdout) as RunPlan;
    expect(plan.shards).toEqual([
      { index: 1, configurations: 2 },
      { index: 2, configurations: 1 },
      { index: 3, configurations: 1 },
    ]);
    expect(plan.configurations.map((c) => c.shard)).toEqual([1, 2, 3, 1]);
    const one = daxlab(['plan', file, '--shard', '1/3']);
    expect(one.stdout).toMatch(/shard 1\/3: 2 of 4 configurations\n.*\n +1 .*pages=16 .*\n +4 .*xfs,cpus\[0\]\.pages=24 /);
    expect(one.stdout).not.toMatch(/ 2 {2}fs/);
    expect(daxlab(['plan', file, '--shard', '4/4']).stdout).toMatch(/shard 4\/4: 1 of 4 configurations/);
    expect(daxlab(['plan', 'smoke', '--shard', '3/3']).stdout).toMatch(/shard 3\/3: 0 of 2 configurations \(an empty shard writes a result with none\)/);
  });

  it("reads --shard auto from a scheduler's environment and names the variables", () => {
    const file = sweepFile();
    const r = daxlab(['plan', file, '--shard', 'auto', '--json'], { SLURM_ARRAY_TASK_ID: '7', SLURM_ARRAY_TASK_MIN: '5', SLURM_ARRAY_TASK_MAX: '7', SLURM_ARRAY_TASK_COUNT: '3' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('daxlab: shard 3/3 from SLURM_ARRAY_TASK_ID=7, SLURM_ARRAY_TASK_MIN=5, SLURM_ARRAY_TASK_MAX=7, SLURM_ARRAY_TASK_COUNT=3\n');
    expect((JSON.parse(r.stdout) as RunPlan).configurations.map((c) => c.name)).toEqual([NAMES[2]]);
    const k = daxlab(['plan', file, '--shard', 'auto/2'], { JOB_COMPLETION_INDEX: '1' });
    expect(k.stderr).toBe('daxlab: shard 2/2 from JOB_COMPLETION_INDEX=1, --shard auto/2\n');
    expect(k.stdout).toMatch(/shard 2\/2: 2 of 4 configurations/);
  });

  it('refuses what run refuses, and bad plan flags, with exit 2 and one line', () => {
    const file = sweepFile();
    const huge = path.join(tmp, 'huge.json');
    const axis = Array.from({ length: 101 }, (_, i) => i + 1);
    writeFileSync(huge, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), sweep: { 'journal.commitIntervalMs': axis, 'run.seed': axis } }));
    for (const [args, env, message] of [
      [['plan', huge], {}, /sweep: 10,201 configurations \(1 named x 101 journal\.commitIntervalMs x 101 run\.seed\); at most 10,000/],
      [['plan', file, '--shards', '0'], {}, /--shards: expected an integer from 1 to 100000, got 0/],
      [['plan', file, '--shards', '2', '--shard', '1/2'], {}, /mutually exclusive/],
      [['plan', file, '--set', 'journal.commitIntervalMs=0'], {}, /journal\.commitIntervalMs: expected number >= 1, got 0/],
      [['plan', file, '--shard', 'auto'], {}, /--shard auto: no scheduler's shard variable is set \(SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX, CI_NODE_INDEX, DAXLAB_SHARD_INDEX\)/],
      [['plan', file, '--shard', 'auto'], { JOB_COMPLETION_INDEX: '2' }, /JOB_COMPLETION_INDEX=2 the shard's index is known but not the number of shards: pass --shard auto\/N or set DAXLAB_SHARD_COUNT/],
    ] as const) {
      const r = daxlab([...args], env);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stdout).toBe('');
    }
  });
});

describe('daxlab run --shard auto', () => {
  it('refuses a task whose schedulers disagree before it runs, naming the variables, and writes nothing', () => {
    const r = daxlab(['run', sweepFile(), '--shard', 'auto', '--out', 'disagree'], { CI_NODE_INDEX: '2', CI_NODE_TOTAL: '3', DAXLAB_SHARD_INDEX: '1' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^daxlab: --shard auto: the schedulers disagree: CI_NODE_INDEX=2, CI_NODE_TOTAL=3 make it shard 2, DAXLAB_SHARD_INDEX=1 shard 1/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(path.join(tmp, 'disagree'))).toBe(false);
  });

  it(
    'runs three shards as three concurrent processes whose merge holds the configurations and operation counts of the unsharded run',
    async () => {
      const file = sweepFile();
      mkdirSync(path.join(tmp, 'shards'), { recursive: true });
      // One shard from each scheduler's variables, and the whole sweep beside them.
      const [whole, ...shards] = await Promise.all([
        daxlabAsync(['run', file, ...SHORT, '--out', 'whole', '--quiet']),
        daxlabAsync(['run', file, ...SHORT, '--shard', 'auto', '--out', 'shards/1', '--quiet'], { SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_MAX: '2', SLURM_ARRAY_TASK_COUNT: '3', SLURM_ARRAY_TASK_STEP: '1' }),
        daxlabAsync(['run', file, ...SHORT, '--shard', 'auto/3', '--out', 'shards/2', '--quiet'], { JOB_COMPLETION_INDEX: '1' }),
        daxlabAsync(['run', file, ...SHORT, '--shard', 'auto', '--out', 'shards/3', '--quiet'], { CI_NODE_INDEX: '3', CI_NODE_TOTAL: '3' }),
      ]);
      for (const r of [whole, ...shards]) expect(r.status, r.stderr).toBe(0);
      expect(shards[0].stderr).toMatch(/^daxlab: shard 1\/3 from SLURM_ARRAY_TASK_ID=0, SLURM_ARRAY_TASK_MIN=0, /);
      expect(shards[1].stderr).toMatch(/^daxlab: shard 2\/3 from JOB_COMPLETION_INDEX=1, --shard auto\/3\n/);
      expect(shards[2].stderr).toMatch(/^daxlab: shard 3\/3 from CI_NODE_INDEX=3, CI_NODE_TOTAL=3\n/);
      // Each shard ran what plan said it would.
      const plan = JSON.parse(daxlab(['plan', file, ...SHORT, '--shards', '3', '--json']).stdout) as RunPlan;
      for (const i of [1, 2, 3]) {
        expect(results(`shards/${i}`).configs.map((c) => c.name)).toEqual(plan.configurations.filter((c) => c.shard === i).map((c) => c.name));
      }

      const m = daxlab(['merge', 'shards/3', 'shards/1', 'shards/2', '--out', 'merged']);
      expect(m.status, m.stderr).toBe(0);
      expect(m.stdout).toMatch(/merged 3 shards, 4 configurations, into merged/);
      const unsharded = results('whole');
      const merged = results('merged');
      expect(unsharded.configs.map((c) => c.name)).toEqual(NAMES);
      expect(merged.configs.map((c) => c.name)).toEqual(NAMES);
      expect(merged.configs.map((c) => c.params)).toEqual(unsharded.configs.map((c) => c.params));
      // On the virtual clock a configuration's counts are its own, whichever process ran it
      // and whatever ran beside it.
      expect(counts(merged)).toEqual(counts(unsharded));
      expect(counts(merged)[NAMES[0]]).toMatchObject({ 'sync-fault': 16, store: 1000 });
      expect(counts(merged)[NAMES[3]]).toMatchObject({ 'sync-fault': 24, store: 1000 });

      // A shard run with another seed is not of the sweep: refused, unless taken on purpose.
      const odd = JSON.parse(readFileSync(path.join(tmp, 'shards/2/results.json'), 'utf8'));
      mkdirSync(path.join(tmp, 'reseeded'));
      writeFileSync(path.join(tmp, 'reseeded/results.json'), JSON.stringify({ ...odd, seed: 8 }));
      const refused = daxlab(['merge', 'shards/1', 'reseeded', 'shards/3', '--out', 'merged-seeds']);
      expect(refused.status).toBe(2);
      expect(refused.stderr).toMatch(/^daxlab: merge: shards 2\/3 differ from shard 1\/3 in seed: not one sweep \(pass --allow-different to merge them anyway\)/);
      expect(existsSync(path.join(tmp, 'merged-seeds'))).toBe(false);
      const taken = daxlab(['merge', 'shards/1', 'reseeded', 'shards/3', '--out', 'merged-seeds', '--allow-different']);
      expect(taken.status, taken.stderr).toBe(0);
      expect(taken.stderr).toMatch(/warning: merge: shards 2\/3 differ from shard 1\/3 in seed/);
    },
    240_000,
  );
});
