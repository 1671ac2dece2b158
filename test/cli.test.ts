import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readFileSync, statSync } from 'node:fs';

const cli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const daxlab = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });

describe('daxlab CLI', () => {
  it('is built as an executable that npx can start (the bin of package.json, with its shebang)', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { bin: Record<string, string> };
    const bin = fileURLToPath(new URL(`../${pkg.bin.daxlab}`, import.meta.url));
    expect(bin).toBe(cli);
    expect(statSync(bin).mode & 0o111).not.toBe(0);
    const r = spawnSync(bin, ['--help'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr ?? String(r.error)).toBe(0);
    expect(r.stdout).toMatch(/daxlab run/);
  });

  it('prints help with every command', () => {
    const r = daxlab('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/daxlab stress/);
    expect(r.stdout).toMatch(/daxlab layout/);
    expect(r.stdout).toMatch(/daxlab plan <workload> +list the configurations a run would make/);
  });

  it('runs stress on shared CPUs and reports lock_stat and a consistent index', () => {
    const r = daxlab('stress', '--cpus', '3', '--ops', '20000', '--range', '128', '--pmem-size', '16MiB', '--json');
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.violations).toEqual([]);
    const total = Object.values(report.counts as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(total).toBe(60000);
    expect(report.locks.tree_lock.acquisitions).toBeGreaterThan(60000);
    expect(report.locks.dax_entry_lock.acquisitions).toBeGreaterThan(0);
  });

  it('prints the kernel lock_stat layout in text mode', () => {
    const r = daxlab('stress', '--cpus', '2', '--ops', '5000', '--pmem-size', '16MiB');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/lock_stat version 0\.4/);
    expect(r.stdout).toMatch(/^\s+tree_lock:/m);
    expect(r.stdout).toMatch(/index check: consistent/);
  });

  it.each([
    [['layout', '--pmem-size', '3MiB'], /--pmem-size: expected a multiple of 2 MiB/],
    [['layout', '--pmem-size', 'lots'], /--pmem-size: expected a size such as/],
    [['layout', '--cpus', '0'], /--cpus: expected an integer from 1 to 64, got 0/],
    [['layout', '--pmem-mode', 'nvme'], /pmem-mode.*Choices: "adr", "eadr", "ramdisk"/s],
    [['stress', '--ops', '-5'], /--ops: expected an integer from 1/],
    [['frobnicate'], /Unknown argument: frobnicate/],
  ])('exits 2 with one clear line for bad input: %j', (args, message) => {
    const r = daxlab(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});
