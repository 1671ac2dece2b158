// `daxlab run` end to end, as a child process: the exports, bad input, Ctrl-C, the watchdog,
// shards and merge, attribution.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parseResults, type RunResults } from '../src/measure/results.js';

const cli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const schema = JSON.parse(readFileSync(new URL('../schema/results.schema.json', import.meta.url), 'utf8'));
const tmp = mkdtempSync(path.join(tmpdir(), 'daxlab-run-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const daxlab = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000, cwd: tmp, env: { ...process.env, CI: '1', ...env } });

function workload(name: string, w: object): string {
  const file = path.join(tmp, `${name}.json`);
  writeFileSync(file, JSON.stringify(w));
  return file;
}

const small = {
  name: 'small',
  device: { size: '16MiB' },
  journal: { commitIntervalMs: 20 },
  files: [{ name: 'a', size: '512KiB', state: 'empty' }],
  mappings: [{ name: 'm', file: 'a', flags: ['MAP_SHARED_VALIDATE', 'MAP_SYNC'] }],
  cpus: [{ role: 'faulter', mapping: 'm', pages: 64 }],
  run: { watchdogMs: 3000 },
};

function results(dir: string): RunResults {
  return parseResults(readFileSync(path.join(tmp, dir, 'results.json'), 'utf8'));
}

describe('daxlab run', () => {
  it('runs a shipped workload and writes every export, the JSON valid against the schema', () => {
    const r = daxlab(['run', 'smoke', '--out', 'smoke', '--set', 'run.repeats=1', '--log-interval-ms', '5']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/\[[=░█-]+\]/); // no progress bar when not on a terminal
    expect(r.stdout).toMatch(/^lock_stat \(the measured phase/m);
    const dir = path.join(tmp, 'smoke');
    const files = readdirSync(dir, { recursive: true }) as string[];
    for (const f of ['results.json', 'ops.csv', 'locks.csv', 'table.txt', 'report.html']) expect(files).toContain(f);
    expect(files.filter((f) => f.endsWith('.hgrm')).length).toBeGreaterThan(4);
    // The report's path is the last thing said.
    expect(r.stderr.trimEnd().split('\n').at(-1)).toBe(`daxlab: report: ${path.join('smoke', 'report.html')}`);
    const json = JSON.parse(readFileSync(path.join(dir, 'results.json'), 'utf8'));
    const validate = new Ajv2020({ strict: false }).compile(schema);
    expect(validate(json), JSON.stringify(validate.errors)).toBe(true);
    const res = results('smoke');
    expect(res.configs.map((c) => c.name)).toEqual(['fs.personality=ext4', 'fs.personality=xfs']);
    for (const c of res.configs) {
      expect(c.violations).toEqual([]);
      expect(c.ops['sync-fault']?.count ?? 0).toBeGreaterThan(0);
      expect(c.ops.fault?.count).toBe(200);
      expect(c.ops.store?.count).toBe(20000);
      expect(c.ops.msync?.count).toBeGreaterThan(0);
      expect(c.ops['background-write']?.count).toBeGreaterThan(0);
      expect(c.locks.tree_lock.acquisitions).toBeGreaterThan(0);
      expect(c.intervals!.length).toBeGreaterThan(0);
    }
    expect(res.machine.cores).toBeGreaterThan(0);
    // On the virtual clock, the default, more workers than cores change no figure: no warning.
    expect(res.clock).toEqual({ kind: 'virtual', windowNs: 250 });
    expect(res.warnings.join('\n')).not.toMatch(/CPU workers .* on \d+ cores/);
    expect(r.stdout).toMatch(/clock: virtual \(window 250 ns\)/);
    expect(readFileSync(path.join(dir, 'ops.csv'), 'utf8').split('\n')[0]).toMatch(/^config,kind,count,/);
    // show prints the same tables again; an existing folder is not overwritten
    const show = daxlab(['show', 'smoke']);
    expect(show.status, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/sync-fault/);
    const again = daxlab(['run', 'smoke', '--out', 'smoke']);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/--out: .*smoke holds an earlier result; .*--force/);
  });

  it.each([
    ['malformed JSON', '{"name": "x", ', /not valid JSON/],
    ['an unknown field', JSON.stringify({ ...small, colour: 'blue' }), /: colour: unknown field/],
    ['a wrong type', JSON.stringify({ ...small, run: { repeats: 'two' } }), /run\.repeats: expected number, got string "two"/],
    ['a bad size', JSON.stringify({ ...small, files: [{ name: 'a', size: 1000, state: 'empty' }] }), /files\[0\]\.size: expected a multiple of 4096, got 1000/],
    [
      'MAP_SYNC on a file without DAX',
      JSON.stringify({ ...small, files: [{ name: 'a', size: '512KiB', state: 'empty', dax: false }] }),
      /mappings\[0\]\.flags: MAP_SYNC on "a", a file without DAX/,
    ],
    [
      'the retired pmd field',
      JSON.stringify({ ...small, mappings: [{ name: 'm', file: 'a', pmd: true }] }),
      /mappings\[0\]\.pmd: no such field any more: as in the kernel, a DAX mapping tries PMD faults/,
    ],
    ['more CPUs than the pool allows', JSON.stringify({ ...small, cpus: Array(63).fill({ role: 'faulter', mapping: 'm', pages: 1 }) }), /cpus: 63 CPU roles; the pool allows at most 62/],
    ['an unknown profile', JSON.stringify({ ...small, profile: 'warp-drive' }), /profile.*warp-drive.*zero/],
    ['the lab-only batching window', JSON.stringify({ ...small, journal: { batchWindowUs: 1000 } }), /journal\.batchWindowUs: removed: .*min_batch_time= and max_batch_time= \(journal\.minBatchTimeUs, journal\.maxBatchTimeUs\)/],
    ['the lab-only transaction limit', JSON.stringify({ ...small, journal: { maxTransactionBlocks: 16 } }), /journal\.maxTransactionBlocks: removed: .*\(journal\.size, mkfs\.ext4 -J size=\)/],
    ['a journal smaller than mke2fs allows', JSON.stringify({ ...small, journal: { size: '1MiB' } }), /journal\.size: expected at least 4194304 bytes, got "1MiB"/],
    ['a journal over half the device', JSON.stringify({ ...small, journal: { size: '12MiB' } }), /journal\.size: 12582912 bytes is more than half of device\.size/],
  ])('refuses %s with exit 2, one line naming the field, and no results folder', (label, text, message) => {
    const file = path.join(tmp, `bad-${label.replace(/\W+/g, '-')}.json`);
    writeFileSync(file, text);
    const out = `out-${label.replace(/\W+/g, '-')}`;
    const r = daxlab(['run', file, '--out', out]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(path.join(tmp, out))).toBe(false);
  });

  it('refuses bad flags with exit 2', () => {
    const file = workload('flags', small);
    expect(daxlab(['run', file, '--shard', '3/2']).stderr).toMatch(/--shard: expected I\/N/);
    expect(daxlab(['run', file, '--shard', '1/100000000000000000000000']).stderr).toMatch(/--shard: expected I\/N with 1 <= I <= N <= 100000/);
    expect(daxlab(['run', file, '--format', 'json,xml']).stderr).toMatch(/--format: .*got "xml"/);
    expect(daxlab(['run', file, '--set', 'journal.commitIntervalMs=0']).stderr).toMatch(/journal\.commitIntervalMs: expected number >= 1, got 0/);
    expect(daxlab(['run', file, '--set', 'journal.batchWindowUs=1000']).stderr).toMatch(/: journal\.batchWindowUs: removed: /);
    expect(daxlab(['run', 'no-such-workload']).status).toBe(2);
  });

  it.each([
    ['SIGINT', 1, /interrupted/],
    ['SIGTERM', 143, /terminated/],
  ] as const)('on %s stops the CPUs and writes the results so far, marked partial (exit %i)', async (signal, exitCode, said) => {
    const file = workload(`long-${signal}`, {
      ...small,
      files: [...small.files, { name: 'w', size: '256KiB', state: 'written' }],
      mappings: [...small.mappings, { name: 'wm', file: 'w' }],
      cpus: [{ role: 'storer', mapping: 'wm', rateHz: 20000 }],
      // A day of virtual time: the virtual clock runs a paced storer far faster than real
      // time, and the run must still be going when the signal comes.
      run: { durationMs: 86_400_000 },
    });
    const child = spawn(process.execPath, [cli, 'run', file, '--out', `interrupted-${signal}`, '--status-interval', '0.2'], { cwd: tmp, env: { ...process.env, CI: '1' } });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.resume();
    // Once the storer has stored a while (its workers start slowly while other test files load the machine).
    for (let i = 0; i < 600 && !/repeat 1\/1, \d{4,} ops/.test(stderr); i++) await new Promise((r) => setTimeout(r, 100));
    child.kill(signal);
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code, stderr).toBe(exitCode);
    expect(stderr).toMatch(said);
    const res = results(`interrupted-${signal}`);
    expect(res.partial).toBe(true);
    expect(res.configs[0].partial).toBe(true);
    expect(res.configs[0].ops.store!.count).toBeGreaterThan(100);
  }, 30_000);

  it('names the CPU that ran out of device space, and keeps what was measured before it', () => {
    // 16 MiB holds about 3,900 data blocks: the first faulter's 8,000 pages cannot all fit.
    const file = workload('enospc', {
      ...small,
      files: [{ name: 'a', size: '64MiB', state: 'empty' }],
      // 4 KiB faults: each fills one block (a PMD fault would take 512 at once).
      mappings: [{ name: 'm', file: 'a', flags: ['MAP_SHARED'], madvise: 'MADV_NOHUGEPAGE' }],
      cpus: [{ role: 'faulter', mapping: 'm', pages: 8000 }, { role: 'faulter', mapping: 'm', pages: 50 }],
      run: { repeats: 2, warmupOps: 0 },
    });
    const r = daxlab(['run', file, '--out', 'enospc', '--quiet']);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(r.stderr).toMatch(/warning: configuration small, repeat 1: cpu 0 \(faulter\): SIGBUS \(BUS_ADRERR\) at offset \d+: write fault on page \d+ of inode \d+: ENOSPC.*the run stopped there/);
    expect(r.stderr).toMatch(/partial results \(a CPU failed, see the warning\) written to enospc/);
    const res = results('enospc');
    expect(res.partial).toBe(true);
    expect(res.failure).toMatch(/^configuration small, repeat 1: cpu 0 \(faulter\): SIGBUS/);
    expect(res.warnings.some((w) => w.includes('cpu 0 (faulter): SIGBUS'))).toBe(true);
    // The faults before the device filled are kept; the second repeat never ran.
    expect(res.configs[0].repeats).toBe(1);
    expect(res.configs[0].ops.fault!.count).toBeGreaterThan(3000);
    expect(res.configs[0].ops.fault!.count).toBeLessThan(8050);
  });

  it('never deletes what is not a daxlab result, and checks the destination before it runs', () => {
    const home = path.join(tmp, 'home');
    mkdirSync(home);
    writeFileSync(path.join(home, 'thesis.tex'), 'years of work');
    const file = workload('safe', small);
    const run = (out: string, extra: string[] = [], cwd = tmp) =>
      spawnSync(process.execPath, [cli, 'run', file, '--out', out, ...extra], { encoding: 'utf8', timeout: 120_000, cwd, env: { ...process.env, CI: '1' } });
    for (const [out, extra, msg] of [
      ['', ['--force'], /^daxlab: --out: expected a folder for the results, got "" \(an empty name would be the current folder\)/],
      ['  ', ['--force'], /^daxlab: --out: expected a folder for the results, got "  "/],
      ['.', ['--force'], /^daxlab: --out: \. is not an earlier daxlab result: it holds files daxlab did not write \(thesis\.tex\); --force replaces only a daxlab result or an empty folder/],
      ['.', [], /is not an earlier daxlab result: it holds files daxlab did not write \(thesis\.tex\)/],
      ['thesis.tex', ['--force'], /^daxlab: --out: thesis\.tex is a file, not a folder/],
      ['/proc/daxlab', [], /^daxlab: --out: \/proc\/daxlab is under \/proc, where no results can go/],
    ] as const) {
      const r = run(out, [...extra], home);
      expect(r.status, `${JSON.stringify(out)}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stdout).toBe(''); // refused before anything ran
      expect(readdirSync(home)).toEqual(['thesis.tex']);
      expect(readFileSync(path.join(home, 'thesis.tex'), 'utf8')).toBe('years of work');
    }
    // An earlier result is replaced with --force, and only then.
    expect(run('result', ['--quiet']).status).toBe(0);
    expect(run('result', ['--quiet']).stderr).toMatch(/^daxlab: --out: result holds an earlier result; choose another --out, or pass --force to replace it/);
    expect(run('result', ['--quiet', '--force']).status).toBe(0);
    // merge checks its destination the same way.
    const m = daxlab(['merge', 'result', '--out', path.join('home'), '--force']);
    expect(m.status, m.stderr).toBe(2);
    expect(m.stderr).toMatch(/--out: home is not an earlier daxlab result: it holds files daxlab did not write \(thesis\.tex\)/);
    expect(readdirSync(home)).toEqual(['thesis.tex']);
  });

  it('refuses a second run into a folder another run is writing to, before it runs', async () => {
    const file = workload('busy-out', {
      ...small,
      files: [...small.files, { name: 'w', size: '256KiB', state: 'written' }],
      mappings: [...small.mappings, { name: 'wm', file: 'w' }],
      cpus: [{ role: 'storer', mapping: 'wm', rateHz: 20000 }],
      run: { durationMs: 86_400_000 },
    });
    const first = spawn(process.execPath, [cli, 'run', file, '--out', 'shared-out', '--quiet'], { cwd: tmp, env: { ...process.env, CI: '1' }, stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => first.on('exit', r));
    while (!existsSync(path.join(tmp, 'shared-out', '.daxlab-writing'))) await new Promise((r) => setTimeout(r, 50));
    const second = daxlab(['run', file, '--out', 'shared-out', '--force']);
    expect(second.status, second.stderr).toBe(2);
    expect(second.stderr).toMatch(new RegExp(`^daxlab: --out: another daxlab \\(pid ${first.pid}\\) is writing its results to shared-out; choose another --out`));
    first.kill('SIGINT');
    expect(await exited).toBe(1);
    // The first run's partial result, and no reservation left behind.
    const left = readdirSync(path.join(tmp, 'shared-out'));
    expect(left).toContain('results.json');
    expect(left).not.toContain('.daxlab-writing');
  }, 60_000);

  it('gives two runs started together without --out a folder each', async () => {
    const dir = path.join(tmp, 'twice');
    mkdirSync(dir);
    const file = workload('twice', small);
    const start = () =>
      new Promise<number | null>((resolve) => {
        const c = spawn(process.execPath, [cli, 'run', file, '--quiet'], { cwd: dir, env: { ...process.env, CI: '1' }, stdio: 'ignore' });
        c.on('exit', resolve);
      });
    expect(await Promise.all([start(), start()])).toEqual([0, 0]);
    const runs = readdirSync(path.join(dir, 'results', 'runs'));
    expect(runs).toHaveLength(2);
    for (const r of runs) expect(existsSync(path.join(dir, 'results', 'runs', r, 'results.json'))).toBe(true);
  }, 60_000);

  it('refuses a bad --clock and a window on the wall clock before anything runs, in one line', () => {
    for (const [args, msg] of [
      [['--clock', 'sundial'], /^daxlab: Invalid values: Argument: clock, Given: "sundial", Choices: "virtual", "wall" \(see daxlab --help\)\n$/],
      [['--clock', 'wall', '--set', 'run.windowNs=500'], /run\.windowNs: only the virtual clock has a window/],
      [['--set', 'profile=zero'], /profile: the zero profile charges nothing/],
    ] as const) {
      const r = daxlab(['run', workload('clocked', small), '--out', 'clocked', ...args]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(existsSync(path.join(tmp, 'clocked'))).toBe(false);
    }
  });

  it('aborts a run stuck on a lock with exit 1, naming the lock, its owner and its waiter', () => {
    const file = workload('stuck', { ...small, cpus: [{ role: 'faulter', mapping: 'm', pages: 8 }, { role: 'faulter', mapping: 'm', pages: 8, order: 'random' }], run: { watchdogMs: 500 } });
    const r = daxlab(['run', file, '--out', 'stuck'], { DAXLAB_INJECT: 'hold-tree-lock' });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/no progress for 500 ms/);
    expect(r.stderr).toMatch(/tree_lock/);
    expect(r.stderr).toMatch(/held by cpu 0/);
    expect(r.stderr).toMatch(/cpu 1 waits/);
    expect(existsSync(path.join(tmp, 'stuck'))).toBe(false);
  });

  it('waits out a paced CPU whose pause is longer than the watchdog period', () => {
    // On the wall clock the faulter sleeps 2.5 s between faults, two and a half watchdog periods.
    const file = workload('paced', { ...small, cpus: [{ role: 'faulter', mapping: 'm', pages: 2, intervalUs: 2_500_000 }], run: { watchdogMs: 1000, warmupOps: 1 } });
    const r = daxlab(['run', file, '--out', 'paced', '--quiet', '--clock', 'wall']);
    expect(r.status, r.stderr).toBe(0);
    expect(results('paced').configs[0].ops.fault!.count).toBe(2);
  });

  it('watches each counted CPU: a background copy still running does not hide one that stopped', () => {
    // CPU 0 stops without holding anything; the copy goes on writing, and kjournald2 on committing.
    const file = workload('vanished', {
      ...small,
      files: [...small.files, { name: 'c', size: '1MiB', state: 'empty' }],
      cpus: [{ role: 'faulter', mapping: 'm', pages: 8 }, { role: 'faulter', mapping: 'm', pages: 8 }, { role: 'background-copy', file: 'c' }],
      run: { watchdogMs: 500 },
    });
    const r = spawnSync(process.execPath, [cli, 'run', file, '--out', 'vanished', '--clock', 'wall'], {
      encoding: 'utf8',
      timeout: 60_000,
      cwd: tmp,
      env: { ...process.env, CI: '1', DAXLAB_INJECT: 'vanish' },
    });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/no progress for 500 ms; aborted\.\n {2}no progress from cpu 0 \(faulter\)\n/);
  });

  it('on Ctrl-C with CPUs stuck in a wait, writes the repeats before at once, not after the watchdog period', async () => {
    // Repeat 2 sticks on a tree_lock held forever; the watchdog would wait ten minutes.
    const file = workload('stuck-int', { ...small, cpus: [{ role: 'faulter', mapping: 'm', pages: 8 }, { role: 'faulter', mapping: 'm', pages: 8, order: 'random' }], run: { repeats: 2, watchdogMs: 600_000 } });
    const child = spawn(process.execPath, [cli, 'run', file, '--out', 'stuck-int', '--status-interval', '0.2'], {
      cwd: tmp,
      env: { ...process.env, CI: '1', DAXLAB_INJECT: 'hold-tree-lock@2' },
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.resume();
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    for (let i = 0; i < 600 && !/repeat 2\/2/.test(stderr); i++) await new Promise((r) => setTimeout(r, 100));
    expect(stderr).toMatch(/repeat 2\/2/);
    // Long enough for repeat 2's CPUs (on workers already started) to reach the lock.
    await new Promise((r) => setTimeout(r, 3000));
    child.kill('SIGINT');
    const code = await exited;
    expect(code, stderr).toBe(1);
    expect(stderr).toMatch(/repeat 2: interrupted while CPUs were stuck, so that repeat's figures are lost .*cpu 1 waits on tree_lock of mapping 0, held by cpu 0/);
    const res = results('stuck-int');
    expect(res.partial).toBe(true);
    expect(res.configs[0].repeats).toBe(1);
    // Repeat 1, whole: its faults (a page the other CPU mapped first is touched without one).
    expect(res.configs[0].perRepeat.map((p) => p.partial)).toEqual([false]);
    expect(res.configs[0].ops.fault!.count).toBeGreaterThanOrEqual(8);
  }, 90_000);

  it('reads no device or FIFO as a profile or workload, and cuts an overlong message', () => {
    const p = daxlab(['run', workload('devzero', small), '--out', 'devzero', '--set', 'profile=/dev/zero']);
    expect(p.status, p.stderr).toBe(2);
    expect(p.stderr).toMatch(/profile \/dev\/zero: \/dev\/zero is not a regular file/);
    const w = daxlab(['run', '/dev/zero', '--out', 'devzero']);
    expect(w.status, w.stderr).toBe(2);
    expect(w.stderr).toMatch(/^daxlab: workload: \/dev\/zero is not a regular file/);
    const long = daxlab(['run', workload('long-names', small), '--out', 'x', '--set', `profile=${'z'.repeat(5000)}`]);
    expect(long.status).toBe(2);
    expect(long.stderr.length).toBeLessThan(2200);
    expect(long.stderr).toMatch(/\.\.\. \(\d+ more characters\)\n$/);
  });

  it('counts every commit, and says how many the per-commit figures leave out', () => {
    // 4 KiB faults only (an 8 MiB mapping would take PMD faults otherwise): 1100 faults, 1100 commits.
    const many = {
      ...small,
      files: [{ name: 'a', size: '8MiB', state: 'empty' }],
      mappings: [{ ...small.mappings[0], madvise: 'MADV_NOHUGEPAGE' }],
      cpus: [{ role: 'faulter', mapping: 'm', pages: 1100 }],
    };
    const r = daxlab(['run', workload('many-commits', many), '--out', 'many-commits', '--quiet']);
    expect(r.status, r.stderr).toBe(0);
    const c = results('many-commits').configs[0];
    expect(c.ops['sync-fault']!.count).toBe(1100);
    expect(c.counters.commits).toBeGreaterThanOrEqual(1100);
    expect(c.counters.commitRecordsDropped).toBe(c.counters.commits - 1024);
    expect(c.ops.commit!.count).toBe(1024);
    expect(results('many-commits').warnings.join('\n')).toMatch(/\d+ of \d+ commits are counted but not in the per-commit figures .* the last 1024 commits of a repeat/);
  });

  it('off a terminal, says where a long run is every --status-interval seconds, and refuses a bad interval', () => {
    const r = daxlab(['run', 'kara-2017', '--out', 'status', '--repeats', '1', '--status-interval', '0.2']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^daxlab: \d+ s: configuration \d\/8 [a-z-]+, (warm-up repeat|repeat 1\/1), \d+\/\d+ ops$/m);
    const q = daxlab(['run', 'kara-2017', '--out', 'status-quiet', '--repeats', '1', '--status-interval', '0.2', '--quiet']);
    expect(q.stderr).not.toMatch(/configuration \d\/8/);
    const bad = daxlab(['run', 'kara-2017', '--out', 'status-bad', '--status-interval', '-1']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^daxlab: --status-interval: expected seconds from 0 to 86400, got -1/);
  });

  it('refuses a sweep whose later configuration does not fit its device, before the first runs', () => {
    const sweep = { ...small, files: [{ name: 'a', size: '512KiB', state: 'written' }], sweep: { 'files[0].size': ['512KiB', '16MiB'] } };
    const r = daxlab(['run', workload('too-big', sweep), '--out', 'too-big']);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^daxlab: configuration files\[0\]\.size=16MiB: device\.size: 16777216 bytes leave \d+ data blocks of 4096 bytes after metadata and journal; the written and fallocated files need 4096/);
    expect(r.stdout).toBe('');
    expect(existsSync(path.join(tmp, 'too-big'))).toBe(false);
  });

  it('runs an empty shard (more shards than configurations) as a result with no configurations', () => {
    const r = daxlab(['run', workload('one', small), '--out', 'empty-shard', '--shard', '3/3', '--quiet']);
    expect(r.status, r.stderr).toBe(0);
    expect(results('empty-shard').configs).toEqual([]);
    expect(results('empty-shard').shard).toEqual({ index: 3, count: 3 });
  });

  it('refuses a results file whose histograms do not decode, in one line (merge, show, compare)', () => {
    const good = JSON.parse(readFileSync(path.join(tmp, 'empty-shard', 'results.json'), 'utf8'));
    const bad = JSON.parse(JSON.stringify(good));
    bad.configs = [JSON.parse(readFileSync(path.join(tmp, 'smoke', 'results.json'), 'utf8')).configs[0]];
    const kind = Object.keys(bad.configs[0].encoded.ops)[0];
    bad.configs[0].encoded.ops[kind].histogram = 'garbage';
    mkdirSync(path.join(tmp, 'garbled'));
    writeFileSync(path.join(tmp, 'garbled', 'results.json'), JSON.stringify(bad));
    for (const args of [['merge', 'garbled', '--out', 'merged-garbage'], ['show', 'garbled'], ['compare', 'garbled', 'garbled']]) {
      const r = daxlab(args);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/^daxlab: .*garbled.results\.json: configuration fs\.personality=ext4: /);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(existsSync(path.join(tmp, 'merged-garbage'))).toBe(false);
  });

  it('runs a sweep in shards that merge into the unsharded run', () => {
    const file = workload('sweep', { ...small, sweep: { 'journal.commitIntervalMs': [5, 50], 'files[0].state': ['empty', 'written'] } });
    expect(daxlab(['run', file, '--out', 'whole', '--quiet']).status).toBe(0);
    expect(daxlab(['run', file, '--out', 'part1', '--shard', '1/2', '--quiet']).status).toBe(0);
    expect(daxlab(['run', file, '--out', 'part2', '--shard', '2/2', '--quiet']).status).toBe(0);
    const m = daxlab(['merge', 'part2', 'part1', '--out', 'merged']);
    expect(m.status, m.stderr).toBe(0);
    const whole = results('whole');
    const merged = results('merged');
    expect(merged.configs.map((c) => c.name)).toEqual(whole.configs.map((c) => c.name));
    expect(merged.configs.map((c) => c.params)).toEqual(whole.configs.map((c) => c.params));
    expect(merged.shard).toBeUndefined();
    const cmp = daxlab(['compare', 'whole', 'merged']);
    expect(cmp.status, cmp.stderr).toBe(0);
  });

  it('with --attribute, splits each operation into steps that add up to its latency', () => {
    const file = workload('attr', { ...small, profile: 'optane-adr' });
    const r = daxlab(['run', file, '--out', 'attr', '--attribute', '--quiet']);
    expect(r.status, r.stderr).toBe(0);
    const c = results('attr').configs[0];
    const a = c.attribution!['sync-fault']!;
    expect(a.count).toBe(c.ops['sync-fault']!.count);
    const stepsMean = Object.values(a.meanNs).reduce((s, v) => s + (v ?? 0), 0);
    // On the virtual clock (the default) the steps are the latency, with no remainder.
    expect(stepsMean).toBeCloseTo(c.ops['sync-fault']!.meanNs, 6);
    expect(a.meanNs['journal commit wait'] ?? 0).toBeGreaterThan(0);
    expect(a.meanNs.trap ?? 0).toBeGreaterThan(0);
    expect(a.slowest.length).toBeGreaterThanOrEqual(10);
    for (const op of a.slowest) {
      const sum = Object.values(op.steps).reduce((s, v) => s + (v ?? 0), 0);
      expect(sum).toBeCloseTo(op.latencyNs, 6);
    }
    expect(readFileSync(path.join(tmp, 'attr', 'table.txt'), 'utf8')).toMatch(/journal commit wait/);
  });
});
