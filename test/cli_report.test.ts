// `daxlab report` from the command line: where the page goes, what it is refused on (a file
// that is not results.json, several runs without -o, -o naming a folder) with one line and
// exit 2, and nothing half-written.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeConfig, makeRun, latencies } from './support/run_results.js';

const cli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(path.join(tmpdir(), 'daxlab-report-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const daxlab = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000, cwd: tmp });

function write(dir: string, text?: string): void {
  mkdirSync(path.join(tmp, dir), { recursive: true });
  const run = makeRun([makeConfig('cfg', { 'sync-fault': latencies(200, 60_000, 9_000) })]);
  writeFileSync(path.join(tmp, dir, 'results.json'), text ?? JSON.stringify(run));
}

function expectUsageError(r: ReturnType<typeof daxlab>, message: RegExp): void {
  expect(r.status, r.stderr).toBe(2);
  expect(r.stderr).toMatch(message);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stdout).toBe('');
}

write('a');
write('b');

describe('daxlab report', () => {
  it("writes one run's report beside its results.json and prints the path", () => {
    const r = daxlab(['report', 'a']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${path.join('a', 'report.html')}\n`);
    const html = readFileSync(path.join(tmp, 'a', 'report.html'), 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('"label":"cfg"');
  });

  it('writes several runs overlaid on one page with -o', () => {
    const r = daxlab(['report', 'a', 'b/results.json', '-o', 'out/ab.html']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('out/ab.html\n');
    const html = readFileSync(path.join(tmp, 'out', 'ab.html'), 'utf8');
    expect(html).toContain('"label":"a: cfg"');
    expect(html).toContain('"label":"b/results.json: cfg"');
  });

  it('refuses a results file that does not match the schema, naming the field', () => {
    const bad = JSON.parse(JSON.stringify(makeRun([makeConfig('cfg', { fsync: [1000] })]))) as { configs: { repeats: unknown }[] };
    bad.configs[0].repeats = 'five';
    write('bad', JSON.stringify(bad));
    expectUsageError(daxlab(['report', 'bad']), /^daxlab: bad\/results\.json: configs\[0\]\.repeats: .*number/);
    write('notjson', '{');
    expectUsageError(daxlab(['report', 'notjson']), /^daxlab: notjson\/results\.json: not JSON/);
    expectUsageError(daxlab(['report', 'missing']), /^daxlab: missing: no such file or folder/);
    expect(existsSync(path.join(tmp, 'bad', 'report.html'))).toBe(false);
  });

  it('asks for -o with several runs, and refuses a folder as -o', () => {
    expectUsageError(daxlab(['report', 'a', 'b']), /^daxlab: --out: name the file for a report of several runs/);
    mkdirSync(path.join(tmp, 'folder'));
    expectUsageError(daxlab(['report', 'a', '-o', 'folder']), /^daxlab: --out: folder is a folder; name a file/);
    expect(readdirSync(path.join(tmp, 'folder'))).toEqual([]);
  });
});

describe('daxlab compare --report', () => {
  it("draws both runs overlaid with each row's verdict and interval, beside the text comparison", () => {
    const r = daxlab(['compare', 'a', 'b', '--report', 'cmp/ab.html']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/cfg/); // the text comparison still prints
    expect(r.stderr.trimEnd().split('\n').at(-1)).toBe('daxlab: report: cmp/ab.html');
    const html = readFileSync(path.join(tmp, 'cmp', 'ab.html'), 'utf8');
    expect(html).toContain('"id":"table-compare"');
    expect(html).toContain('"label":"a: cfg"');
    expect(html).toContain('"label":"b: cfg"');
  });

  it('refuses a folder as --report before comparing', () => {
    mkdirSync(path.join(tmp, 'cmp-folder'));
    expectUsageError(daxlab(['compare', 'a', 'b', '--report', 'cmp-folder']), /^daxlab: --report: cmp-folder is a folder; name a file/);
  });
});
