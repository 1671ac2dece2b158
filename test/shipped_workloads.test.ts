// Every shipped workload runs at reduced size (its first configuration, one repeat) through
// the CLI and produces every export.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expandWorkload, listShippedWorkloads, readWorkload } from '../src/workload/expand.js';
import { parseResults } from '../src/measure/results.js';

const cli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(path.join(tmpdir(), 'daxlab-shipped-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The workloads that reproduce a seed's measurements, all of 4 KiB faults. */
const SEED_WORKLOADS = ['kara-2017', 'optane', 'ordering-tax', 'contention', 'fsync-crossover'];

describe('shipped workloads', () => {
  const shipped = listShippedWorkloads().map((w) => w.name);

  it('include the seed table and the four experiments', () => {
    expect(shipped).toEqual(expect.arrayContaining(['kara-2017', 'ordering-tax', 'fsync-crossover', 'contention', 'optane', 'smoke']));
  });

  it.each(shipped)('%s runs at reduced size and writes every export', (name) => {
    const n = expandWorkload(readWorkload(name).raw).configs.length;
    const out = path.join(tmp, name);
    const r = spawnSync(process.execPath, [cli, 'run', name, '--shard', `1/${n}`, '--repeats', '1', '--set', 'run.warmupRepeats=0', '--out', out, '--quiet'], {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, CI: '1' },
    });
    expect(r.status, r.stderr).toBe(0);
    const files = readdirSync(out, { recursive: true }) as string[];
    for (const f of ['results.json', 'ops.csv', 'locks.csv', 'table.txt', 'report.html']) expect(files).toContain(f);
    expect(files.some((f) => f.endsWith('.hgrm'))).toBe(true);
    const res = parseResults(readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(res.configs).toHaveLength(1);
    expect(res.configs[0].violations).toEqual([]);
    expect(Object.keys(res.configs[0].ops).length).toBeGreaterThan(0);
    // Their seeds measured 4 KiB faults: the ones mapping 2 MiB or more say MADV_NOHUGEPAGE
    // (crash-mix maps 2 MiB huge on purpose, to punch holes in it).
    if (SEED_WORKLOADS.includes(name)) expect(res.configs[0].counters.pmdFaults ?? 0).toBe(0);
  });
});
