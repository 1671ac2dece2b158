// `daxlab tune` end to end as child processes, on a tiny workload of two situations (two
// dirtying rates): bad expressions, metrics and policy fields exit 2 naming the token before
// any run; two shards run at once and `tune --merge` joins them into one answer that the JSON
// schema accepts, with its CSV and report; an earlier tune is replaced only with --force.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parseTuneResults, tuneJsonSchema } from '../src/tune/result.js';
import { tuneCsvHeader } from '../src/tune/format.js';
import { tuneSchemaText } from '../src/schema/schema_file.js';
import { prepareTune } from '../src/tune/situations.js';
import { daxlabIn, daxlabInAsync } from './support/cli_spawn.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'daxlab-tune-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const daxlab = (args: string[]) => daxlabIn(tmp, args);
const daxlabAsync = (args: string[]) => daxlabInAsync(tmp, args);

/** A MAP_SYNC faulter beside a metadata dirtier, four faults a run, at two dirtying rates. */
const workload = path.join(tmp, 'tiny.json');
writeFileSync(
  workload,
  JSON.stringify({
    name: 'tune-tiny',
    device: { size: '32MiB', mode: 'ramdisk' },
    files: [{ name: 'data', size: '64KiB', state: 'empty' }],
    mappings: [{ name: 'map', file: 'data', madvise: 'MADV_NOHUGEPAGE', flags: ['MAP_SHARED_VALIDATE', 'MAP_SYNC'] }],
    cpus: [
      { role: 'faulter', mapping: 'map', access: 'write', pages: 4, intervalUs: 1000 },
      { role: 'metadata-dirtier', files: 16, rateHz: 1 },
    ],
    profile: 'kara-2017-ramdisk',
    sweep: { 'cpus[1].rateHz': [1, 20000] },
  }),
);
/** Every ext4 knob pinned but fast_commit: a grid of two policies. */
const PINNED = ['journal.commitIntervalMs=5000', 'journal.minBatchTimeUs=0', 'journal.maxBatchTimeUs=15000', 'journal.size=default', 'journal.asyncCommit=false'].flatMap((s) => ['--space', s]);

function usage(args: string[], pattern: RegExp): void {
  const r = daxlab(['tune', workload, ...args, '--out', path.join(tmp, 'never')]);
  expect(r.status, r.stderr).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(existsSync(path.join(tmp, 'never'))).toBe(false);
}

describe('daxlab tune', () => {
  it('exits 2 naming the token of a bad expression, an unknown metric or policy field', () => {
    usage(['--objective', 'p98:sync-fault'], /--objective: unknown metric .*"p98:sync-fault"/);
    usage(['--objective', 'p99:sync-fault **'], /--objective: expected a number after "\*" "\*"/);
    usage(['--constraint', 'commitz<=5'], /--constraint: unknown metric .*"commitz"/);
    usage(['--constraint', 'commitsPerSec<=5ms'], /"5ms"/);
    usage(['--front', 'p99:sync-fault,blocks'], /--front: unknown metric .*"blocks"/);
    usage(['--space', 'journal.bogus=1'], /--space: "journal.bogus" is no ext4 policy field; the fields are journal.commitIntervalMs, /);
    usage(['--space', 'journal.commitIntervalMs=0'], /--space: journal.commitIntervalMs=0: the workload does not take it/);
    usage(['--budget', '5'], /--budget: expected an integer from 12/);
    usage(['--config', 'nope'], /--config: "nope" is no configuration/);
    usage(['--space', 'journal.size=32MiB'], /--space: journal.size="32MiB": the workload does not take it \(.*more than half of device.size/);
  });

  it("leaves out a built-in value the workload cannot take, and makes a situation of each point of the workload's own sweep", () => {
    const setup = prepareTune(JSON.parse(readFileSync(workload, 'utf8')), [], workload, {});
    expect(setup.space.knobs.find((k) => k.path === 'journal.size')!.values).toEqual([null, '4MiB']);
    expect(setup.notes.join('\n')).toMatch(/journal.size="32MiB" left out of the space: .*more than half of device.size/);
    expect(setup.situations.map((s) => s.name)).toEqual(['cpus[1].rateHz=1', 'cpus[1].rateHz=20000']);
    // Pinning the axis with --set tunes that value alone.
    expect(prepareTune(JSON.parse(readFileSync(workload, 'utf8')), [{ path: 'cpus[1].rateHz', value: 5 }], workload, {}).situations.map((s) => s.name)).toEqual(['tune-tiny']);
  });

  it('tunes the xfs space: logbsize= and logbufs= as XFS mount options', { timeout: 300_000 }, () => {
    const r = daxlab(['tune', workload, '--set', 'fs.personality=xfs', '--set', 'cpus[1].rateHz=1', '--space', 'log.logbsize=32768,262144', '--space', 'log.logbufs=8', '--budget', '12', '--out', 'xfs', '--quiet']);
    expect(r.status, r.stderr).toBe(0);
    const t = parseTuneResults(readFileSync(path.join(tmp, 'xfs', 'tune.json'), 'utf8'));
    expect(t.personality).toBe('xfs');
    expect(t.situations[0].points.map((p) => p.label).sort()).toEqual(['default', 'logbsize=262144']);
    expect(t.situations[0].recommendation!.commands.mount).toMatch(/^mount -t xfs -o dax(,logbsize=256k)? DEVICE MOUNTPOINT$/);
    expect(t.situations[0].recommendation!.commands.mkfs).toBeNull();
  });

  it('tunes two shards at once and merges them into one answer, with its schema, CSV and report', { timeout: 300_000 }, async () => {
    const shard = (i: number) => daxlabAsync(['tune', workload, ...PINNED, '--budget', '12', '--shard', `${i}/2`, '--out', `part${i}`, '--quiet']);
    const parts = await Promise.all([shard(1), shard(2)]);
    for (const p of parts) expect(p.status, p.stderr).toBe(0);
    const merged = daxlab(['tune', '--merge', 'part1', 'part2', '--out', 'all']);
    expect(merged.status, merged.stderr).toBe(0);
    const text = readFileSync(path.join(tmp, 'all', 'tune.json'), 'utf8');
    const t = parseTuneResults(text);
    const validate = new Ajv2020({ strict: false }).compile(tuneJsonSchema());
    expect(validate(JSON.parse(text)), JSON.stringify(validate.errors)).toBe(true);
    expect(t.shard).toBeUndefined();
    expect(t.situations.map((s) => s.name)).toEqual(['cpus[1].rateHz=1', 'cpus[1].rateHz=20000']);
    for (const s of t.situations) {
      expect(s.method).toBe('grid');
      expect(s.runs).toBeLessThanOrEqual(12);
      expect(s.points.map((p) => p.label).sort()).toEqual(['default', 'fastCommit=true']);
      expect(s.recommendation).not.toBeNull();
      expect(s.recommendation!.commands.mount).toMatch(/^mount -t ext4 -o dax/);
      expect(s.recommendation!.defaultObjective!.n).toBe(6);
    }
    expect(t.runs).toBe(t.situations.reduce((n, s) => n + s.runs, 0));
    // The merged answer holds each shard's situation as the shard wrote it.
    const part2 = parseTuneResults(readFileSync(path.join(tmp, 'part2', 'tune.json'), 'utf8'));
    expect(part2.shard).toEqual({ index: 2, count: 2 });
    expect(t.situations[1]).toEqual(part2.situations[0]);
    const csv = readFileSync(path.join(tmp, 'all', 'tune.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe(tuneCsvHeader(t).join(','));
    expect(csv).toHaveLength(1 + t.situations.reduce((n, s) => n + s.points.length, 0));
    expect(merged.stdout).toContain('recommendation: ');
    const html = readFileSync(path.join(tmp, 'all', 'report.html'), 'utf8');
    expect(html).toContain('tune-front-0');
    // An earlier tune is kept without --force and replaced with it; a shard missing is refused.
    const again = daxlab(['tune', '--merge', 'part1', 'part2', '--out', 'all']);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/--out: all holds an earlier tune; .* --force/);
    expect(daxlab(['tune', '--merge', 'part1', 'part2', '--out', 'all', '--force', '--quiet']).status).toBe(0);
    const missing = daxlab(['tune', '--merge', 'part1', '--out', 'half']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/situations 2 of 2 are in no part given/);
  });

  it('keeps schema/tune.schema.json equal to tuneJsonSchema() (run `npm run schema` when this fails)', () => {
    expect(readFileSync(new URL('../schema/tune.schema.json', import.meta.url), 'utf8')).toBe(tuneSchemaText());
  });
});
