// `daxlab probe` on this machine, with the real native helper: a quick probe of the test's
// temporary folder (a page-cache filesystem here: the MAP_SYNC series come back unsupported),
// the files it leaves (none, also when interrupted), its flags, and probe.json read by show,
// compare and report. Interruptions are made deterministic by stopping the helper (SIGSTOP)
// at the point under test, queueing the signal, and only then letting it run on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProbeSchema, type Probe } from '../src/probe/schema.js';
import { findOnPath } from '../src/probe/helper.js';
import { daxRecords, linesOf } from './support/probe_raw.js';

const cli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const repo = fileURLToPath(new URL('..', import.meta.url));
// The helper npm run build makes (src/probe/helper.ts finds it beside the compiled JavaScript).
const helperPath = () => path.join(repo, 'dist', 'native', 'daxprobe');
const tmp = mkdtempSync(path.join(tmpdir(), 'daxlab-probe-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Env = Record<string, string | undefined>;
const daxlab = (args: string[], env: Env = {}) =>
  spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000, cwd: tmp, env: { ...process.env, CI: '1', ...env } });

function expectUsageError(r: ReturnType<typeof daxlab>, message: RegExp): void {
  expect(r.status, r.stderr).toBe(2);
  expect(r.stderr).toMatch(message);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stdout).toBe('');
}

function folder(name: string): string {
  const d = path.join(tmp, name);
  mkdirSync(d);
  return d;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The live children of a process, from each process's parent in /proc/<pid>/stat (any thread may have forked them). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === pid && state !== 'Z') out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** Whether signal sig is pending on pid (queued while it is stopped). */
function pending(pid: number, sig: number): boolean {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const bit = 1n << BigInt(sig - 1);
  return ['SigPnd', 'ShdPnd'].some((k) => (BigInt('0x' + new RegExp(`^${k}:\\s*([0-9a-f]+)`, 'm').exec(s)![1]) & bit) !== 0n);
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 20_000; i++) {
    if (cond()) return;
    await sleep(2);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Processes whose command line names dir: the helper and its children, wherever they went. */
function processesNaming(dir: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(dir) && alive(Number(d));
      } catch {
        return false;
      }
    })
    .map(Number);
}

const canBuild = findOnPath(process.env.CC || 'cc') !== undefined;

describe.runIf(canBuild)('daxlab probe --quick on this machine', () => {
  let dir: string;
  let out: string;
  let run: ReturnType<typeof daxlab>;
  let probe: Probe;
  beforeAll(() => {
    expect(existsSync(helperPath()), 'npm run build builds dist/native/daxprobe where cc exists').toBe(true);
    dir = folder('measured');
    out = path.join(tmp, 'probe.json');
    run = daxlab(['probe', '--dir', dir, '--quick', '-o', out]);
    probe = ProbeSchema.parse(JSON.parse(readFileSync(out, 'utf8')));
  });

  it('measures what the filesystem allows and reports the MAP_SYNC series it refused as unsupported, with the errno', () => {
    expect(run.status, run.stderr).toBe(0);
    expect(probe.quick).toBe(true);
    const sync = probe.rows.filter((r) => r.mapSync);
    const plain = probe.rows.filter((r) => !r.mapSync && !r.huge);
    expect(sync.map((r) => r.name)).toEqual(['prealloc-nobg-sync', 'empty-nobg-sync', 'empty-bg-sync', 'written-nobg-sync', 'prealloc-nobg-sync-pmd', 'empty-nobg-sync-pmd', 'written-nobg-sync-pmd']);
    expect(plain.map((r) => r.name)).toEqual(['prealloc-nobg-nosync', 'empty-nobg-nosync', 'empty-bg-nosync', 'written-nobg-nosync']);
    // Two repeats of 64 pages, each one timed store.
    for (const r of plain) expect(r, r.name).toMatchObject({ status: 'measured', repeats: 2, fault: { count: 128 } });
    for (const r of plain) expect(r.rusageFaults, r.name).toBeGreaterThan(0);
    // Where the copy ran, at each of the bg row's timed faults.
    const pl = plain.find((r) => r.bg)!.copyPlacement!;
    expect(pl.sameCpu + pl.smtSibling + pl.otherCore + pl.unknown).toBe(128);
    expect(run.stdout).toMatch(/^ {2}the background copy ran /m);
    expect(probe.fsync.map((f) => [f.dirtyPages, f.status, f.fsync?.count])).toEqual([
      [1, 'measured', 2],
      [16, 'measured', 2],
    ]);
    expect(probe.orderingTax.filter((t) => !t.mapSync).map((t) => [t.pauseMs, t.status, t.fault?.count])).toEqual([
      [0, 'measured', 4],
      [10, 'measured', 4],
      [100, 'measured', 4],
    ]);
    expect(probe.baseline.nullSyscallNs).toBeGreaterThan(0);
    if (probe.dax.isDax) {
      for (const r of sync.filter((x) => !x.huge)) expect(r.status, r.name).toBe('measured');
    } else {
      for (const r of [...sync, ...probe.orderingTax.filter((t) => t.mapSync)]) {
        expect(r).toMatchObject({ status: 'unsupported', reason: expect.stringMatching(/^mmap\(MAP_SHARED_VALIDATE \| MAP_SYNC\): EOPNOTSUPP/) });
      }
      expect(run.stdout).toMatch(/^This filesystem is not DAX\.$/m);
      expect(run.stdout).toMatch(/^not measured \(\d+\):$/m);
      expect(probe.setup.statxDax).not.toBe(true);
    }
  });

  it('records the setup and leaves no file behind', () => {
    const mounts = readFileSync('/proc/mounts', 'utf8');
    expect(mounts).toContain(` ${probe.setup.mount.fstype} `);
    expect(probe.setup.kernel).toMatch(/^Linux \S+ /);
    expect(readdirSync(dir)).toEqual([]);
    expect(run.stderr).toMatch(/^daxlab: probe: measuring the filesystem of .* \(--quick\)$/m);
    expect(run.stderr).toMatch(/^daxlab: probe: wrote .*probe\.json$/m);
  });

  it('is read by show, compare (against kara-2017, by configuration name) and report', () => {
    const show = daxlab(['show', out]);
    expect(show.status, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/^=== empty-nobg-nosync \(probeRow=empty-nobg-nosync, file=empty/m);
    expect(show.stdout).toMatch(/^=== fallocated-nobg-nosync \(probeRow=prealloc-nobg-nosync, file=fallocated/m);
    const cmp = daxlab(['compare', path.join(repo, 'results/kara-2017'), out]);
    expect(cmp.status, cmp.stderr).toBe(0);
    expect(cmp.stdout).toMatch(/^empty-nobg-nosync \/ write-fault: 5 vs 2 repeats/m);
    expect(cmp.stdout).toMatch(/^note: one side is a probe of a real kernel/m);
    const html = path.join(tmp, 'probe.html');
    const rep = daxlab(['report', out, '-o', html]);
    expect(rep.status, rep.stderr).toBe(0);
    expect(readFileSync(html, 'utf8')).toContain('empty-nobg-nosync');
  });

  it('never overwrites --out without --force, and replaces it with --force', () => {
    const before = readFileSync(out, 'utf8');
    expectUsageError(daxlab(['probe', '--dir', dir, '--quick', '-o', out]), /^daxlab: --out: .*probe\.json exists; add --force to replace it/);
    expect(readFileSync(out, 'utf8')).toBe(before);
    const raw = path.join(tmp, 'again.jsonl');
    writeFileSync(raw, linesOf(daxRecords()));
    const r = daxlab(['probe', '--raw', raw, '-o', out, '--force']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8')).setup.device.name).toBe('pmem0');
    // --force replaces an earlier probe.json only, never a file of the user's.
    const mine = path.join(tmp, 'notes.json');
    writeFileSync(mine, '{"mine": true}\n');
    expectUsageError(daxlab(['probe', '--raw', raw, '-o', mine, '--force']), /^daxlab: --out: .*notes\.json is not a probe\.json daxlab wrote; --force replaces only an earlier one/);
    expect(readFileSync(mine, 'utf8')).toBe('{"mine": true}\n');
  });
});

describe.runIf(canBuild)('an interrupted probe', () => {
  it('Ctrl-C to daxlab: the helper removes its files, nothing is written, exit 130', async () => {
    const dir = folder('interrupted');
    const out = path.join(tmp, 'never.json');
    const node = spawn(process.execPath, [cli, 'probe', '--dir', dir, '--quick', '-o', out], { cwd: tmp, stdio: 'pipe', env: { ...process.env, CI: '1' } });
    const exited = new Promise<number | null>((r) => node.on('exit', (code) => r(code)));
    let helper = 0;
    await until(() => {
      helper = childrenOf(node.pid!)[0] ?? 0;
      return helper !== 0 && readdirSync(dir).length > 0;
    }, 'the helper and its folder');
    process.kill(helper, 'SIGSTOP');
    node.kill('SIGINT');
    await until(() => pending(helper, 15), 'daxlab to pass SIGTERM on');
    process.kill(helper, 'SIGCONT');
    expect(await exited).toBe(130);
    expect(readdirSync(dir)).toEqual([]);
    expect(existsSync(out)).toBe(false);
    expect(processesNaming(dir)).toEqual([]);
  });

  it('SIGTERM to the helper while a child of its runs: the child dies with it, the folder is empty, exit 143', async () => {
    const dir = folder('terminated');
    const rawOut = path.join(tmp, 'terminated.jsonl');
    const helper = spawn(helperPath(), ['--dir', dir, '--quick', '--out', rawOut], { stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => helper.on('exit', (code) => r(code)));
    // Stop it when it has a child (the background copier or the metadata dirtier).
    let child = 0;
    await until(() => {
      if (childrenOf(helper.pid!).length === 0) return false;
      process.kill(helper.pid!, 'SIGSTOP');
      child = childrenOf(helper.pid!)[0] ?? 0;
      if (child !== 0 && alive(child)) return true;
      process.kill(helper.pid!, 'SIGCONT');
      return false;
    }, 'a child of the helper');
    helper.kill('SIGTERM');
    process.kill(helper.pid!, 'SIGCONT');
    expect(await exited).toBe(143);
    expect(alive(child)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
    // The raw output goes too: a cut-short record is never left to be mistaken for a whole one.
    expect(readdirSync(tmp).filter((f) => f.startsWith('terminated.jsonl'))).toEqual([]);
  });
});

describe('daxlab probe: bad usage', () => {
  it('exits 2 naming the flag, before measuring anything', () => {
    const file = path.join(tmp, 'a-file');
    writeFileSync(file, 'x');
    expectUsageError(daxlab(['probe']), /^daxlab: --dir: name the folder on the filesystem to measure \(or --raw <file>/);
    expectUsageError(daxlab(['probe', '--dir', tmp, '--raw', file]), /^daxlab: --raw: give --dir \(measure here\) or --raw .*not both/);
    expectUsageError(daxlab(['probe', '--raw', file, '--quick']), /^daxlab: --quick: only with --dir/);
    expectUsageError(daxlab(['probe', '--dir', path.join(tmp, 'nowhere'), '-o', path.join(tmp, 'x.json')]), /^daxlab: --dir: .*nowhere: no such folder/);
    expectUsageError(daxlab(['probe', '--dir', file, '-o', path.join(tmp, 'x.json')]), /^daxlab: --dir: .*a-file is not a folder/);
    expectUsageError(daxlab(['probe', '--dir', tmp, '-o', tmp]), /^daxlab: --out: .* is a folder; name a file/);
    expectUsageError(daxlab(['probe', '--dir', tmp, '-o', path.join(tmp, 'no', 'such', 'p.json')]), /^daxlab: --out: .*p\.json: its folder .* does not exist/);
  });

  it('says what is missing when the helper is not built: a C compiler, or the build', () => {
    const dir = folder('unbuilt');
    const out = path.join(tmp, 'unbuilt.json');
    const env = { DAXLAB_PROBE_HELPER: path.join(tmp, 'no-helper'), PATH: path.join(tmp, 'no-bin'), CC: undefined };
    expectUsageError(daxlab(['probe', '--dir', dir, '-o', out], env), /^daxlab: probe: no C compiler found \(cc\): install gcc .*npm run build:probe/);
    if (canBuild) {
      expectUsageError(daxlab(['probe', '--dir', dir, '-o', out], { DAXLAB_PROBE_HELPER: path.join(tmp, 'no-helper') }), /^daxlab: probe: the native helper .*no-helper is not built: run npm run build:probe/);
    }
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses helper output cut short or malformed (exit 2, the line and field), writing nothing', () => {
    const out = path.join(tmp, 'from-raw.json');
    const cut = path.join(tmp, 'cut.jsonl');
    writeFileSync(cut, linesOf(daxRecords().slice(0, 5)));
    expectUsageError(daxlab(['probe', '--raw', cut, '-o', out]), /^daxlab: .*cut\.jsonl: cut short: no end record/);
    const bad = daxRecords();
    bad[4] = { ...bad[4], status: 'maybe' };
    writeFileSync(cut, linesOf(bad));
    expectUsageError(daxlab(['probe', '--raw', cut, '-o', out]), /^daxlab: .*cut\.jsonl: line 5: row record: status: /);
    expectUsageError(daxlab(['probe', '--raw', path.join(tmp, 'absent.jsonl'), '-o', out]), /^daxlab: --raw: .*absent\.jsonl: no such file/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('a malformed probe.json', () => {
  it('show and compare exit 2 with one line naming the field', () => {
    const raw = path.join(tmp, 'good.jsonl');
    const good = path.join(tmp, 'good.json');
    writeFileSync(raw, linesOf(daxRecords()));
    expect(daxlab(['probe', '--raw', raw, '-o', good]).status).toBe(0);
    const p = JSON.parse(readFileSync(good, 'utf8'));
    p.rows[1].prep = 'sparse';
    const bad = path.join(tmp, 'bad-probe.json');
    writeFileSync(bad, JSON.stringify(p));
    expectUsageError(daxlab(['show', bad]), /^daxlab: .*bad-probe\.json: rows\[1\]\.prep: /);
    expectUsageError(daxlab(['compare', good, bad]), /^daxlab: .*bad-probe\.json: rows\[1\]\.prep: /);
    delete p.setup;
    p.rows[1].prep = 'empty';
    writeFileSync(bad, JSON.stringify(p));
    expectUsageError(daxlab(['show', bad]), /^daxlab: .*bad-probe\.json: setup: /);
    // A folder holding a probe.json is read like a run folder.
    const folderWithProbe = folder('probe-folder');
    writeFileSync(path.join(folderWithProbe, 'probe.json'), readFileSync(good));
    const show = daxlab(['show', folderWithProbe]);
    expect(show.status, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/^daxlab .*: workload probe \(a real kernel probed \(--quick\): ext4 on \/dev\/pmem0/m);
  });
});
