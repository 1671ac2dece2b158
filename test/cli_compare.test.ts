// `daxlab compare` from the command line, on results files with known per-repeat values: the
// exit codes a CI job sees (0, 1 on a regression, 2 when nothing can be judged) and the JSON.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeConfig, makeRun } from './support/run_results.js';
import type { RepeatResult } from '../src/measure/results.js';

const cli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(path.join(tmpdir(), 'daxlab-compare-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const daxlab = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000, cwd: tmp });

/** A run of one configuration whose sync faults had mean v in repeat i (percentiles from it). */
function write(dir: string, values: number[], name = 'cfg'): void {
  const c = makeConfig(name, { 'sync-fault': values });
  const figs = (v: number) => ({ count: 1, meanNs: v, p50Ns: v, p99Ns: 1.1 * v, p999Ns: 1.2 * v, maxNs: 1.2 * v });
  const perRepeat: RepeatResult[] = values.map((v, i) => ({ repeat: i, partial: false, elapsedNs: 1e6, ops: { 'sync-fault': figs(v), fault: figs(v) } }));
  mkdirSync(path.join(tmp, dir));
  writeFileSync(path.join(tmp, dir, 'results.json'), JSON.stringify(makeRun([{ ...c, repeats: values.length, perRepeat }])));
}

const BASE = [100_100, 99_900, 100_500, 99_700, 100_200];
write('base', BASE);
write('noise', [99_950, 100_300, 99_800, 100_400, 100_050]);
write('slower', BASE.map((v) => v * 1.15));
write('other', BASE, 'other-config');
write('one-a', [100_000]);
write('one-b', [150_000]);

/** One line on stderr, exit 2, no stack trace, nothing on stdout. */
function expectUsageError(r: ReturnType<typeof daxlab>, message: RegExp): void {
  expect(r.status, r.stderr).toBe(2);
  expect(r.stderr).toMatch(message);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stdout).toBe('');
}

describe('daxlab compare', () => {
  it('passes the gate on same-code noise and fails it on a 15 % slowdown, once per figure (fault not counted again)', () => {
    const quiet = daxlab(['compare', 'base', 'noise', '--fail-on-regression', '10']);
    expect(quiet.status, quiet.stderr).toBe(0);
    expect(quiet.stdout).toMatch(/^no regression over 10 %$/m);
    const slow = daxlab(['compare', 'base', 'slower', '--fail-on-regression', '10']);
    expect(slow.status, slow.stderr).toBe(1);
    expect(slow.stderr).toBe('daxlab: 4 regressions over 10 %\n');
    expect(slow.stdout).toMatch(/^geomean b\/a over 1 row: mean 1\.15x, p50 1\.15x, p99 1\.15x, p99\.9 1\.15x$/m);
    // The reverse is faster, never a regression.
    expect(daxlab(['compare', 'slower', 'base', '--fail-on-regression', '0']).status).toBe(0);
  });

  it('exits 2 on two runs with nothing in common, with or without the gate', () => {
    for (const extra of [[], ['--fail-on-regression', '10'], ['--json']]) {
      expectUsageError(daxlab(['compare', 'base', 'other', ...extra]), /^daxlab: compare: base and other have nothing in common: no configuration with an operation kind on both sides/);
    }
  });

  it('exits 2 when the gate could judge nothing (1 repeat a side), and shows the figures without it', () => {
    expectUsageError(
      daxlab(['compare', 'one-a', 'one-b', '--fail-on-regression', '10']),
      /^daxlab: --fail-on-regression: no figure can be judged: one-a has 1 and one-b 1 repeats of cfg \/ sync-fault .*more --repeats/,
    );
    const plain = daxlab(['compare', 'one-a', 'one-b']);
    expect(plain.status, plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/^4 figures: 0 slower, 0 faster, 0 ~, 4 too few repeats to tell$/m);
  });

  it('prints the verdicts as JSON', () => {
    const r = daxlab(['compare', 'base', 'slower', '--json', '--fail-on-regression', '10']);
    expect(r.status).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j.rows.map((row: { kind: string }) => row.kind)).toEqual(['sync-fault']);
    expect(j.rows[0].figures[0]).toMatchObject({ figure: 'mean', verdict: 'slower', regression: true, a: { valuesNs: BASE } });
    expect(j.regressions).toHaveLength(4);
    expect(j.geomean[0]).toMatchObject({ figure: 'mean', rows: 1 });
    expect(j.faultSameAs).toEqual(['cfg: fault = sync-fault']);
    expect(j.method.test).toMatch(/^Mann-Whitney U over the repeats/);
  });
});
