// The docs' examples run as written: the shell lines of README.md and workloads/README.md and
// the examples of `daxlab run --help` and `daxlab show --help` start the CLI through the
// launcher, name workloads that exist and validate with their overrides, and the example
// workloads run; the field reference is JSON that validates; the repeat counts the docs give
// are the shipped files'.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandModule } from 'yargs';
import { expandWorkload, readWorkload } from '../src/workload/expand.js';
import { parseAssignment } from '../src/workload/paths.js';
import { parseResults } from '../src/measure/results.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const launcher = path.join(root, 'daxlab');
const DOCS = ['README.md', 'workloads/README.md'];
const read = (rel: string) => readFileSync(path.join(root, rel), 'utf8');
const tmp = mkdtempSync(path.join(tmpdir(), 'daxlab-docs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The lines of a document's ```sh blocks, without their # comments. */
function shellLines(md: string): string[] {
  return [...md.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].flatMap((m) => m[1].split('\n').map((l) => l.replace(/\s+#.*$/, '').trim()).filter((l) => l !== ''));
}

/** The examples a command's builder registers, as the user types them. */
async function helpExamples(file: string, name: string): Promise<string[]> {
  const mod = (await import(new URL(`../dist/src/cli/${file}`, import.meta.url).href)) as Record<string, CommandModule>;
  const seen: string[] = [];
  // A stand-in for yargs that records .example() and returns itself for every other call.
  const y: object = new Proxy({}, { get: (_, key) => (...args: unknown[]) => (key === 'example' && seen.push(String(args[0])), y) });
  (mod[name].builder as (y: unknown) => unknown)(y);
  return seen.map((e) => e.replace('$0', './daxlab'));
}

const docCommands = DOCS.flatMap((d) => shellLines(read(d)).filter((l) => /(^|[\s/])daxlab(\s|$)/.test(l)).map((l) => ({ doc: d, line: l })));
/** The words of a command line after the CLI's own (a scheduler's wrapper such as `parallel -j 2` may come first). */
const args = (line: string) => {
  const words = line.split('|')[0].trim().split(/\s+/);
  return words.slice(words.findIndex((w) => /daxlab$/.test(w)) + 1).map((w) => w.replace(/['"]$/, ''));
};
/** How a line starts the CLI, each time it does: `./daxlab` (quotes of a wrapper's argument aside). */
const launches = (line: string) => [...line.matchAll(/(\S*)daxlab(?=[\s'"]|$)/g)].map((m) => `${m[1].replace(/^['"]+/, '')}daxlab`);
const runLines = async () => [
  ...docCommands.map((c) => c.line),
  ...(await helpExamples('run_cmd.js', 'runCommand')),
].filter((l) => args(l)[0] === 'run');

/** The workload a run line names, with its --set overrides applied: throws as `daxlab run` would refuse it. */
function expandRunLine(line: string) {
  const a = args(line);
  const file = path.join(root, a[1]);
  const sets = a.flatMap((w, i) => (w === '--set' ? [parseAssignment(a[i + 1])] : []));
  return expandWorkload(readWorkload(existsSync(file) ? file : a[1]).raw, sets);
}

describe("the docs' commands", () => {
  it('start the CLI through ./daxlab, which starts at once without npx', () => {
    expect(docCommands.length).toBeGreaterThan(5);
    for (const c of docCommands) {
      expect(launches(c.line).length, `${c.doc}: ${c.line}`).toBeGreaterThan(0);
      for (const l of launches(c.line)) expect(l, `${c.doc}: ${c.line}`).toBe('./daxlab');
      expect(c.line, `${c.doc}: ${c.line}`).not.toMatch(/npx\s+(\.\/)?daxlab/);
    }
    expect(statSync(launcher).mode & 0o111).not.toBe(0);
    const help = spawnSync(launcher, ['--help'], { encoding: 'utf8', timeout: 60_000 });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/daxlab run <workload>/);
    // Where scripts have no shebang (Windows): node daxlab.
    const list = spawnSync(process.execPath, [launcher, 'list'], { encoding: 'utf8', timeout: 60_000 });
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/kara-2017/);
  });

  it('name workloads that exist and validate, with their overrides (README and run --help)', async () => {
    const lines = await runLines();
    expect(lines.length).toBeGreaterThanOrEqual(7);
    for (const l of lines) expect(() => expandRunLine(l), l).not.toThrow();
  });

  it('run the example workloads as the README runs them first, with one repeat', async () => {
    const examples = (await runLines()).filter((l) => args(l)[1].startsWith('workloads/examples/'));
    expect(examples.length).toBeGreaterThanOrEqual(2);
    const seen = new Set<string>();
    examples.forEach((line, i) => {
      // Each example workload once, as the first line naming it runs it (the others are validated above).
      const key = args(line)[1];
      if (seen.has(key)) return;
      seen.add(key);
      const a = args(line);
      const cheap: string[] = [];
      for (let j = 0; j < a.length; j++) {
        if (a[j] === '--repeats' || a[j] === '--out') j++;
        else cheap.push(a[j]);
      }
      const out = path.join(tmp, `example-${i}`);
      cheap.push('--repeats', '1', '--set', 'run.warmupRepeats=0', '--out', out, '--quiet');
      const r = spawnSync(launcher, cheap, { encoding: 'utf8', timeout: 120_000, cwd: root, env: { ...process.env, CI: '1' } });
      expect(r.status, `${line}\n${r.stderr}`).toBe(0);
      const res = parseResults(readFileSync(path.join(out, 'results.json'), 'utf8'));
      const shard = a.indexOf('--shard');
      const n = expandRunLine(line).configs.length;
      expect(res.configs.length, line).toBe(shard < 0 ? n : 1);
      for (const c of res.configs) expect(c.violations).toEqual([]);
    });
  });

  it('show what they name: the show examples with real paths run', async () => {
    const lines = [...docCommands.map((c) => c.line), ...(await helpExamples('show_cmd.js', 'showCommand'))].filter(
      (l) => ['show', 'compare'].includes(args(l)[0]) && !l.includes('<'),
    );
    expect(lines).toEqual(expect.arrayContaining(['./daxlab show results/kara-2017']));
    for (const l of lines) {
      const r = spawnSync(launcher, args(l), { encoding: 'utf8', timeout: 60_000, cwd: root });
      expect(r.status, `${l}\n${r.stderr}`).toBe(0);
      expect(r.stdout.length).toBeGreaterThan(0);
    }
  });
});

describe('workloads/README.md', () => {
  const md = read('workloads/README.md');

  it('gives the field reference as JSON that validates as a workload', () => {
    // No commented JSON (jsonc): a reader copies the block into a file and runs it.
    expect(md).not.toMatch(/^```jsonc$/m);
    const blocks = [...md.matchAll(/^```json\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
    expect(blocks).toHaveLength(1);
    const w = expandWorkload(JSON.parse(blocks[0]) as Record<string, unknown>);
    expect(w.base.name).toBe('my-run');
    expect(w.configs.map((c) => c.name)).toEqual(['sync,journal.commitIntervalMs=100', 'sync,journal.commitIntervalMs=1000', 'sync,journal.commitIntervalMs=5000']);
  });

  it("gives each shipped workload's repeats as its file sets them", () => {
    const rows = [...md.matchAll(/^\| `([\w.-]+)` \|.*?(\d+) repeats after (\d+) discarded/gm)];
    expect(rows.map((r) => r[1])).toContain('kara-2017');
    for (const [, name, repeats, discarded] of rows) {
      const run = expandWorkload(readWorkload(name).raw).base.run;
      expect([run.repeats, run.warmupRepeats], name).toEqual([Number(repeats), Number(discarded)]);
    }
  });
});

describe('README.md', () => {
  it("gives kara-2017's repeats as its file sets them", () => {
    const words = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];
    const m = /`npm start` runs `daxlab run kara-2017`:[^]*?(\w+) repeats each after (\w+) discarded/.exec(read('README.md'));
    expect(m).not.toBeNull();
    const run = expandWorkload(readWorkload('kara-2017').raw).base.run;
    expect([words.indexOf(m![1]), words.indexOf(m![2])]).toEqual([run.repeats, run.warmupRepeats]);
  });
});
