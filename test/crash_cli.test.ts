import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const daxlab = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000 });
const dir = mkdtempSync(join(tmpdir(), 'crashtest-'));

function workloadFile(name: string, w: object): string {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify({ name, ...w }));
  return path;
}

const syncFaults = workloadFile('sync-faults', {
  device: { size: '16MiB' },
  journal: { commitIntervalMs: 1 },
  files: [{ name: 'f', size: '2MiB', state: 'empty' }],
  mappings: [{ name: 'm', file: 'f', flags: ['MAP_SHARED_VALIDATE', 'MAP_SYNC'] }],
  cpus: [{ role: 'storer', mapping: 'm', bytes: 4096, flushUser: true }],
  run: { durationMs: 1, seed: 3 },
});

describe('daxlab crashtest: bad input is one line and exit 2', () => {
  const cases: [string, string[], RegExp][] = [
    ['a point count of 0', ['--points', '0'], /^daxlab: --points: expected an integer from 1 to 100000, got 0/],
    ['a point count beyond the maximum', ['--points', '100001'], /^daxlab: --points: expected an integer from 1 to 100000, got 100001/],
    ['an unknown variant', ['--variant', 'no-such'], /^daxlab: --variant: expected one of none, remove-on-writeback, mapsync-no-sync, punch-drops-dirty-pmd, got "no-such"/],
    ['a malformed reproducer', ['--replay', '12:xyz'], /^daxlab: --replay: expected a reproducer seed:offsetNs:image:points@configuration/],
    ['a reproducer whose instant is none of the run\'s points', ['--replay', '3:1000:0:20@sync-faults'], /^daxlab: --replay: 1000 ns is not one of the 20 crash points seed 3 draws in configuration sync-faults/],
    ['a reproducer naming no configuration of the workload', ['--replay', '3:1000:0@elsewhere'], /^daxlab: --replay: no configuration "elsewhere" in this workload \(it has: sync-faults\)/],
  ];
  for (const [what, args, message] of cases) {
    it(what, () => {
      const r = daxlab('crashtest', syncFaults, ...args);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stdout).toBe('');
    });
  }

  it('a workload with no stores to check', () => {
    const path = workloadFile('no-stores', {
      device: { size: '16MiB' },
      files: [{ name: 'f', size: '64KiB', state: 'written' }],
      mappings: [{ name: 'm', file: 'f' }],
      cpus: [{ role: 'faulter', mapping: 'm', access: 'read' }],
      run: { durationMs: 1 },
    });
    const r = daxlab('crashtest', path);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toMatch(/^daxlab: cpus: no role stores anything to check \(expected a storer, a background-copy or a faulter with write access\)/);
  });
});

describe('daxlab crashtest: output, exit codes and replay', () => {
  it('--json prints one object with the counts; a sound run exits 0', () => {
    const r = daxlab('crashtest', syncFaults, '--points', '20', '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(j.points).toBe(20);
    expect(j.images).toBe(40);
    expect(j.totalViolations).toBe(0);
    expect(Object.keys(j.violations as object)).toEqual(['sync-lost', 'mapsync-unreachable', 'mapsync-lost', 'fsck', 'foreign-content', 'torn-line']);
  }, 120_000);

  it('a known-bad design exits 1 with a reproducer, and --replay re-runs to the same violation', () => {
    const r = daxlab('crashtest', syncFaults, '--points', '20', '--variant', 'mapsync-no-sync', '--set', 'run.windowNs=250');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/sync-faults \(ext4, variant mapsync-no-sync, seed 3\): 20 crash points, 40 images checked, \d+ violations/);
    // The reproducer carries the run's point count (the replay stops where the run did), and
    // the command line the workload's overrides.
    const m = /mapsync-unreachable: (.*)\n {4}reproduce: daxlab crashtest \S+ --set run\.windowNs=250 --replay (\d+:\d+:\d:20@sync-faults) --variant mapsync-no-sync/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const again = daxlab('crashtest', syncFaults, '--set', 'run.windowNs=250', '--replay', m![2], '--variant', 'mapsync-no-sync');
    expect(again.status).toBe(1);
    expect(again.stdout).toMatch(/1 crash points, 1 images checked/);
    expect(again.stdout).toContain(`mapsync-unreachable: ${m![1]}`);
  }, 240_000);
});
