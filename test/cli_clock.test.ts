// The clock from the command line: `daxlab run --clock`, the clock in results.json and the
// run header, and compare, merge and show on results of different clocks (as child
// processes, so the exit codes and the one-line messages are the user's).
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parseResults, type RunResults } from '../src/measure/results.js';
import { makeConfig, makeRun } from './support/run_results.js';

const cli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const schema = JSON.parse(readFileSync(new URL('../schema/results.schema.json', import.meta.url), 'utf8'));
const tmp = mkdtempSync(path.join(tmpdir(), 'daxlab-clock-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const daxlab = (args: string[]) =>
  spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000, cwd: tmp, env: { ...process.env, CI: '1' } });

/** One line on stderr, exit 2, no stack trace. */
function expectUsageError(r: ReturnType<typeof daxlab>, message: RegExp): void {
  expect(r.status, r.stderr).toBe(2);
  expect(r.stderr).toMatch(message);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

const tiny = {
  name: 'tiny',
  device: { size: '16MiB' },
  journal: { commitIntervalMs: 20 },
  files: [{ name: 'a', size: '256KiB', state: 'empty' }],
  mappings: [{ name: 'm', file: 'a', flags: ['MAP_SHARED_VALIDATE', 'MAP_SYNC'] }],
  cpus: [{ role: 'faulter', mapping: 'm', pages: 32 }],
  profile: 'optane-adr',
  run: { watchdogMs: 5000 },
};
const tinyFile = path.join(tmp, 'tiny.json');
writeFileSync(tinyFile, JSON.stringify(tiny));

const resultsOf = (dir: string): RunResults => parseResults(readFileSync(path.join(tmp, dir, 'results.json'), 'utf8'));

function writeResults(dir: string, r: object): void {
  mkdirSync(path.join(tmp, dir), { recursive: true });
  writeFileSync(path.join(tmp, dir, 'results.json'), JSON.stringify(r));
}

describe('daxlab run --clock', () => {
  it('says what each clock is in --help, with an example', () => {
    const r = daxlab(['run', '--help']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/--clock/);
    expect(r.stdout).toMatch(/\[choices: "virtual", "wall"\]/);
    expect(r.stdout).toMatch(/--clock wall/);
  });

  it('runs on the virtual clock by default, takes run.windowNs, and on --clock wall records no window', () => {
    const virt = daxlab(['run', tinyFile, '--out', 'virt']);
    expect(virt.status, virt.stderr).toBe(0);
    expect(virt.stdout).toMatch(/^clock: virtual \(window 250 ns\)/m);
    expect(resultsOf('virt').clock).toEqual({ kind: 'virtual', windowNs: 250 });

    const narrow = daxlab(['run', tinyFile, '--out', 'narrow', '--set', 'run.windowNs=500', '--quiet']);
    expect(narrow.status, narrow.stderr).toBe(0);
    expect(resultsOf('narrow').clock).toEqual({ kind: 'virtual', windowNs: 500 });

    const wall = daxlab(['run', tinyFile, '--out', 'wall', '--clock', 'wall']);
    expect(wall.status, wall.stderr).toBe(0);
    expect(wall.stdout).toMatch(/^clock: wall: figures include the host's speed, load and scheduling$/m);
    expect(resultsOf('wall').clock).toEqual({ kind: 'wall', windowNs: null });
    expect(resultsOf('wall').configs[0].ops['sync-fault']?.count ?? 0).toBeGreaterThan(0);

    // Both kinds of results.json fit the committed schema.
    const validate = new Ajv2020({ strict: false }).compile(schema);
    for (const dir of ['virt', 'wall']) {
      const json = JSON.parse(readFileSync(path.join(tmp, dir, 'results.json'), 'utf8'));
      expect(validate(json), JSON.stringify(validate.errors)).toBe(true);
    }
  });

  it('refuses the zero profile on the virtual clock, also as a sweep value, and takes it on --clock wall', () => {
    const zero = path.join(tmp, 'zero.json');
    writeFileSync(zero, JSON.stringify({ ...tiny, sweep: { profile: ['optane-adr', 'zero'] } }));
    expectUsageError(daxlab(['run', zero, '--out', 'zero']), /configuration profile=zero: profile: the zero profile charges nothing.*--clock wall/);
    expect(existsSync(path.join(tmp, 'zero'))).toBe(false);
    const r = daxlab(['run', zero, '--out', 'zero', '--clock', 'wall', '--quiet']);
    expect(r.status, r.stderr).toBe(0);
    expect(resultsOf('zero').configs.map((c) => c.name)).toEqual(['profile=optane-adr', 'profile=zero']);
  });
});

describe('compare, merge and show across clocks', () => {
  // Built from the runs above: `virt`, `narrow` and `wall` exist once the first describe ran.
  it('compare refuses a virtual run against a wall run, in one line saying what to re-run', () => {
    const r = daxlab(['compare', 'virt', 'wall']);
    expectUsageError(
      r,
      /^daxlab: compare: virt ran on the virtual clock \(window 250 ns\) and wall on the wall clock; figures from the two are not comparable \(a wall-clock figure includes the host's speed and load\)\. Re-run one with --clock virtual or --clock wall\.$/m,
    );
    expect(r.stdout).toBe('');
    expectUsageError(daxlab(['compare', 'wall', 'virt', '--json']), /compare: wall ran on the wall clock and virt on the virtual clock/);
  });

  it('compare takes two windows, with a note (on stderr beside --json)', () => {
    const r = daxlab(['compare', 'virt', 'narrow']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^note: a ran with a 250 ns window and b with 500 ns/m);
    const json = daxlab(['compare', 'virt', 'narrow', '--json']);
    expect(json.status, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout).notes).toEqual([expect.stringMatching(/^a ran with a 250 ns window/)]);
    expect(json.stderr).toMatch(/^daxlab: warning: a ran with a 250 ns window and b with 500 ns/);
  });

  it('reads results written before the clock as the wall clock', () => {
    const old = JSON.parse(readFileSync(path.join(tmp, 'wall', 'results.json'), 'utf8')) as Record<string, unknown>;
    delete old.clock;
    writeResults('old', old);
    const show = daxlab(['show', 'old']);
    expect(show.status, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/^clock: wall/m);
    expect(daxlab(['compare', 'old', 'wall']).status).toBe(0);
    expectUsageError(daxlab(['compare', 'old', 'virt']), /compare: old ran on the wall clock and virt on the virtual clock/);
  });

  it('merge refuses shards of different clocks or windows, and writes nothing', () => {
    const cfg = (name: string) => makeConfig(name, { 'write-fault': [10_000, 11_000, 12_000] });
    const shard = (index: number, clock: RunResults['clock']) => makeRun([cfg(`c${index}`)], { shard: { index, count: 2 }, clock });
    writeResults('s1', shard(1, { kind: 'virtual', windowNs: 2000 }));
    writeResults('s2-wall', shard(2, { kind: 'wall', windowNs: null }));
    writeResults('s2-narrow', shard(2, { kind: 'virtual', windowNs: 500 }));
    writeResults('s2', shard(2, { kind: 'virtual', windowNs: 2000 }));
    expectUsageError(
      daxlab(['merge', 's1', 's2-wall', '--out', 'merged']),
      /^daxlab: merge: shard 1\/2 ran on the virtual clock \(window 2000 ns\) and shard 2\/2 on the wall clock; figures from the two are not comparable/,
    );
    expectUsageError(daxlab(['merge', 's1', 's2-narrow', '--out', 'merged']), /^daxlab: merge: shard 2\/2 ran with a 500 ns window, shard 1\/2 with 2000 ns/);
    expect(existsSync(path.join(tmp, 'merged'))).toBe(false);
    const ok = daxlab(['merge', 's1', 's2', '--out', 'merged']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(resultsOf('merged').clock).toEqual({ kind: 'virtual', windowNs: 2000 });
  });
});
