// What `daxlab run` and `daxlab show` print and write, end to end as child processes: counters
// without the warm-up, lock_stat within 120 columns unless --wide, and show on a folder that
// holds one run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseResults, type RunResults } from '../src/measure/results.js';

const cli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(path.join(tmpdir(), 'daxlab-output-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const daxlab = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000, cwd: tmp, env: { ...process.env, CI: '1' } });
const results = (dir: string): RunResults => parseResults(readFileSync(path.join(tmp, dir, 'results.json'), 'utf8'));

/** The lines of every lock_stat section of a run's text, heading and footer included. */
function lockStatLines(text: string): string[] {
  return [...text.matchAll(/^lock_stat \(.*\n(?:.+\n)+/gm)].flatMap((m) => m[0].trimEnd().split('\n'));
}

// MAP_SYNC faults into an empty file: each waits for a journal commit, so faults, commits and
// lock acquisitions all happen in the warm-up too.
const warm = {
  name: 'warm',
  device: { size: '16MiB' },
  journal: { commitIntervalMs: 20 },
  files: [{ name: 'a', size: '512KiB', state: 'empty' }],
  mappings: [{ name: 'm', file: 'a', flags: ['MAP_SHARED_VALIDATE', 'MAP_SYNC'] }],
  cpus: [{ role: 'faulter', mapping: 'm', pages: 48 }],
  run: { warmupOps: 16, repeats: 2, watchdogMs: 10000 },
};

describe('run and show output', () => {
  let run: ReturnType<typeof daxlab>;
  beforeAll(() => {
    writeFileSync(path.join(tmp, 'warm.json'), JSON.stringify(warm));
    run = daxlab('run', 'warm.json', '--out', 'warm');
  });

  it('counts in the counters only what the histograms hold: no warm-up operation, and says so', () => {
    expect(run.status, run.stderr).toBe(0);
    const r = results('warm');
    expect(r.warmupExcluded).toBe(true);
    const c = r.configs[0];
    // 2 repeats of 48 measured faults; each CPU's 16 warm-up faults are in neither.
    expect(c.ops['sync-fault']!.count).toBe(96);
    expect(c.counters.writeFaults).toBe(96);
    expect(c.counters.syncFaults).toBe(96);
    // The commit thread counts the measured phase's commits, as the commit records do.
    expect(c.counters['kjournald2.commits']).toBe(c.counters.fullCommits);
    expect(c.counters['kjournald2.commits']).toBe(c.counters.commits);
    expect(run.stdout).toMatch(/^counters \(the measured phase of 2 repeats, warm-up excluded\):$/m);
    expect(run.stdout).toMatch(/^lock_stat \(the measured phase of 2 repeats, warm-up excluded; times in µs\):$/m);
  });

  it('prints lock_stat within 120 columns, and the kernel layout with --wide (run and show)', () => {
    const narrow = lockStatLines(run.stdout);
    expect(narrow.length).toBeGreaterThan(3);
    for (const l of narrow) expect(l.length, l).toBeLessThanOrEqual(120);
    expect(run.stdout).toMatch(/^\(left out: waittime-min, acq-bounces, holdtime-min, holdtime-max, holdtime-total; --wide prints all 12\)$/m);
    expect(readFileSync(path.join(tmp, 'warm', 'table.txt'), 'utf8')).toBe(run.stdout);

    const show = daxlab('show', 'warm');
    expect(show.status, show.stderr).toBe(0);
    expect(lockStatLines(show.stdout)).toEqual(narrow);
    const wide = daxlab('show', 'warm', '--wide');
    expect(wide.status, wide.stderr).toBe(0);
    expect(wide.stdout).toMatch(/^lock_stat version 0\.4$/m);
    expect(wide.stdout).toMatch(/^ {31}tree_lock: +\d+/m);
    expect(Math.max(...lockStatLines(wide.stdout).map((l) => l.length))).toBe(221);

    const wideRun = daxlab('run', 'warm.json', '--out', 'warm-wide', '--wide', '--repeats', '1', '--format', 'table');
    expect(wideRun.status, wideRun.stderr).toBe(0);
    expect(wideRun.stdout).toMatch(/^lock_stat version 0\.4$/m);
    expect(readFileSync(path.join(tmp, 'warm-wide', 'table.txt'), 'utf8')).toBe(wideRun.stdout);
  });

  it('shows the one run a folder holds, and names the runs when it holds several', () => {
    mkdirSync(path.join(tmp, 'experiment'));
    cpSync(path.join(tmp, 'warm'), path.join(tmp, 'experiment', 'reference'), { recursive: true });
    writeFileSync(path.join(tmp, 'experiment', 'notes.txt'), 'not a run');
    const one = daxlab('show', 'experiment');
    expect(one.status, one.stderr).toBe(0);
    expect(one.stdout).toBe(daxlab('show', 'warm').stdout);

    cpSync(path.join(tmp, 'warm'), path.join(tmp, 'experiment', 'fresh'), { recursive: true });
    const two = daxlab('show', 'experiment');
    expect(two.status).toBe(2);
    expect(two.stderr).toBe(`daxlab: experiment: no results.json in this folder; it holds 2 runs, name one: ${path.join('experiment', 'fresh')}, ${path.join('experiment', 'reference')}\n`);
    mkdirSync(path.join(tmp, 'no-runs'));
    const none = daxlab('show', 'no-runs');
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/^daxlab: no-runs: no results\.json in this folder/);
  });
});
