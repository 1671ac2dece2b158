// The probe's data path without the native helper: helper output (known values) -> probe.json
// -> a run as show/compare read it. The helper itself is exercised in probe_cli.test.ts.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { decodeFromCompressedBase64 } from 'hdr-histogram-js';
import { parseRaw } from '../src/probe/raw.js';
import { buildProbe } from '../src/probe/build.js';
import { parseProbe, probeJsonSchema, ProbeSchema, type Probe } from '../src/probe/schema.js';
import { probeSchemaText } from '../src/schema/schema_file.js';
import { probeToRunResults } from '../src/probe/to_results.js';
import { labConfigName, probeRowName } from '../src/probe/lab_names.js';
import { formatProbeSummary } from '../src/probe/summary.js';
import { compareRuns } from '../src/measure/compare.js';
import { MergedOps } from '../src/measure/histogram.js';
import { formatRunTables } from '../src/measure/run_tables.js';
import { daxRecords, linesOf, nonDaxRecords, rowRecord, SETUP } from './support/probe_raw.js';
import { copyPlacementOf } from '../src/probe/placement.js';
import { makeConfig, makeRun } from './support/run_results.js';

const dax = (): Probe => buildProbe(parseRaw(linesOf(daxRecords()), 'dax.jsonl'));
const nonDax = (): Probe => buildProbe(parseRaw(linesOf(nonDaxRecords()), 'plain.jsonl'));
const row = (p: Probe, name: string) => p.rows.find((r) => r.name === name)!;

describe('probe.json from helper output', () => {
  it('pools each series over its repeats: exact count, mean, min, max, repeat means and log2 buckets', () => {
    const p = dax();
    const r = row(p, 'empty-nobg-sync');
    expect(r).toMatchObject({ status: 'measured', prep: 'empty', mapSync: true, bg: false, huge: false, repeats: 2, rusageFaults: 8 });
    expect(r.fault).toMatchObject({ count: 8, meanNs: 1_500_000, minNs: 900_000, maxNs: 2_000_000, repeatMeansNs: [1_000_000, 2_000_000] });
    // 900, 1000, 1000 µs in 512 - 1023; 1100 and four 2000 µs in 1024 - 2047.
    expect(r.fault!.buckets).toEqual([
      { lowUs: 512, highUs: 1023, count: 3 },
      { lowUs: 1024, highUs: 2047, count: 5 },
    ]);
    // The 4th of 8 values, to the histogram's 0.1 %.
    expect(Math.abs(r.fault!.p50Ns - 1_100_000) / 1_100_000).toBeLessThan(0.001);
    expect(r.fault!.perRepeat!.map((x) => x.meanNs)).toEqual([1_000_000, 2_000_000]);
    expect(decodeFromCompressedBase64(r.fault!.hdr, 64, false).totalCount).toBe(8);
  });

  it("orders rows as seed 002's table, 4 KiB before PMD, and takes the helper's start as createdAt", () => {
    const p = dax();
    expect(p.rows.map((r) => r.name)).toEqual([
      'prealloc-nobg-sync',
      'empty-nobg-nosync',
      'empty-nobg-sync',
      'written-nobg-nosync',
      'empty-nobg-sync-pmd',
      'written-nobg-nosync-pmd',
    ]);
    expect(p.createdAt).toBe(SETUP.startedAt);
    expect(p.quick).toBe(true);
    expect(p.setup).toMatchObject({ statxDax: true, cpus: 2, timerNs: 25, device: { name: 'pmem0', namespaceMode: 'fsdax' } });
    // The counts calibrate's lab runs of the series mirror (src/calibrate/series_workloads.ts).
    expect([p.setup.pages, p.setup.taxFaults, p.setup.dirtierFiles]).toEqual([SETUP.pages, SETUP.taxFaults, SETUP.dirtierFiles]);
    expect(p.dax).toEqual({ isDax: true, reason: null });
  });

  it('calls a PMD row unsupported when any 2 MiB region was mapped in smaller pages', () => {
    const r = row(dax(), 'written-nobg-nosync-pmd');
    expect(r.status).toBe('unsupported');
    expect(r.reason).toMatch(/^no PMD mapping: in 1 of 4 2 MiB regions/);
    expect(r.fault).toBeUndefined();
  });

  it("sums where the background copy ran over a bg row's repeats, and says what the lab makes of it", () => {
    const withCopy = (pl: [number, number, number, number][]): Probe => {
      const recs = daxRecords();
      const bg = pl.map(([sameCpu, smtSibling, otherCore, unknown], repeat) =>
        rowRecord('empty-bg-sync', repeat, [800_000, 800_000, 800_000, 800_000], { copyPlacement: { sameCpu, smtSibling, otherCore, unknown } }),
      );
      recs.splice(recs.length - 1, 0, ...bg);
      return buildProbe(parseRaw(linesOf(recs), 'bg.jsonl'));
    };
    const sibling = withCopy([
      [1, 2, 1, 0],
      [0, 3, 1, 0],
    ]);
    expect(row(sibling, 'empty-bg-sync').copyPlacement).toEqual({ sameCpu: 1, smtSibling: 5, otherCore: 2, unknown: 0 });
    // Rows without the copy record no placement.
    expect(row(sibling, 'empty-nobg-sync').copyPlacement).toBeUndefined();
    expect(ProbeSchema.safeParse(sibling).success).toBe(true);
    const v = copyPlacementOf(sibling)!;
    expect(v).toMatchObject({ known: 8, onSibling: true });
    expect(v.line).toBe(
      "the background copy ran on the faulter's SMT sibling at 63 % of 8 faults, on another core at 25 %, time-sharing the faulter's CPU at 13 %: the lab runs it on the faulter's sibling (kara-2017's placement)",
    );
    expect(formatProbeSummary(sibling)).toContain(v.line);
    // Half on the sibling is not most: a core of its own. Unknown faults count for neither side.
    const apart = copyPlacementOf(withCopy([[0, 2, 2, 9]]))!;
    expect(apart).toMatchObject({ known: 4, onSibling: false });
    expect(apart.line).toMatch(/: the lab gives it a core of its own$/);
    expect(copyPlacementOf(withCopy([[4, 0, 0, 0]]))!.line).toMatch(/time-sharing the faulter's CPU at 100 %: the lab gives it a core of its own \(it cannot time-share a CPU: every task has one\)$/);
    // A probe from before the field: nothing to say.
    expect(copyPlacementOf(dax())).toBeNull();
  });

  it('keeps fsync and the ordering tax per k and per pause, sorted', () => {
    const p = dax();
    expect(p.fsync.map((f) => [f.dirtyPages, f.fsync?.meanNs])).toEqual([
      [1, 25_000],
      [16, 250_000],
    ]);
    expect(p.orderingTax.map((t) => [t.pauseMs, t.mapSync, t.fault?.meanNs])).toEqual([
      [0, false, 15_000],
      [0, true, 900_000],
      [100, true, 6_000_000],
    ]);
    expect(p.baseline).toEqual({ nullSyscallNs: 250.5, pageCacheFaultNs: 280 });
  });

  it('says why a filesystem is not DAX and marks the MAP_SYNC series unsupported with the errno', () => {
    const p = nonDax();
    expect(p.dax.isDax).toBe(false);
    expect(p.dax.reason).toBe(
      'ext4 on /dev/vda (rw,relatime): statx does not report STATX_ATTR_DAX on its files, and mmap(MAP_SHARED_VALIDATE | MAP_SYNC): EOPNOTSUPP (Operation not supported): the filesystem does not map this file with DAX',
    );
    for (const name of ['empty-nobg-sync', 'prealloc-nobg-sync']) {
      expect(row(p, name)).toMatchObject({ status: 'unsupported', repeats: 0, reason: expect.stringMatching(/EOPNOTSUPP/) });
    }
    expect(row(p, 'empty-nobg-nosync')).toMatchObject({ status: 'measured', fault: { count: 8 } });
    expect(p.orderingTax.find((t) => t.mapSync)).toMatchObject({ status: 'unsupported', reason: expect.stringMatching(/EOPNOTSUPP/) });
    const text = formatProbeSummary(p);
    expect(text).toMatch(/^This filesystem is not DAX\.$/m);
    expect(text).toMatch(/^ {2}prealloc-nobg-sync, empty-nobg-sync, tax 0 ms MAP_SYNC: mmap\(MAP_SHARED_VALIDATE \| MAP_SYNC\): EOPNOTSUPP/m);
  });

  it('writes what the committed JSON Schema accepts, and the schema file is current (npm run schema when this fails)', () => {
    const validate = new Ajv2020({ strict: false, allErrors: true, validateFormats: false }).compile(JSON.parse(readFileSync(new URL('../schema/probe.schema.json', import.meta.url), 'utf8')));
    for (const p of [dax(), nonDax()]) {
      expect(validate(JSON.parse(JSON.stringify(p)))).toBe(true);
    }
    expect(validate({ ...dax(), rows: [{ ...dax().rows[0], prep: 'sparse' }] })).toBe(false);
    expect(readFileSync(new URL('../schema/probe.schema.json', import.meta.url), 'utf8')).toBe(probeSchemaText());
    expect(probeJsonSchema()).toMatchObject({ title: 'daxlab probe.json' });
  });
});

describe('helper output that cannot be read', () => {
  const records = () => daxRecords();
  it('refuses output cut short, an error the helper reported, and a bad field, naming the line', () => {
    expect(() => parseRaw(linesOf(records().slice(0, -1)), 'g.jsonl')).toThrow(/^g\.jsonl: cut short: no end record/);
    const failed = [records()[0], { type: 'error', message: '--dir /x: cannot make a folder in it: Read-only file system' }];
    expect(() => parseRaw(linesOf(failed), 'g.jsonl')).toThrow('g.jsonl: the helper failed: --dir /x: cannot make a folder in it: Read-only file system');
    const bad = records();
    bad[2] = { ...bad[2], prep: 'sparse' };
    expect(() => parseRaw(linesOf(bad), 'g.jsonl')).toThrow(/^g\.jsonl: line 3: row record: prep: /);
    expect(() => parseRaw(`${JSON.stringify(SETUP)}\n{"type":"row",\n`, 'g.jsonl')).toThrow(/^g\.jsonl: line 2: not a JSON record/);
    expect(() => parseRaw(linesOf(records().slice(1)), 'g.jsonl')).toThrow('g.jsonl: line 1: expected the setup record first, got mapsync');
  });
});

describe('a malformed probe.json', () => {
  it('is one line naming the first field that does not fit', () => {
    const p = JSON.parse(JSON.stringify(dax()));
    p.rows[2].fault.count = -1;
    expect(() => parseProbe(JSON.stringify(p), 'p.json')).toThrow(/^p\.json: rows\[2\]\.fault\.count: [^\n]+$/);
    delete p.dax;
    expect(() => parseProbe(JSON.stringify(p), 'p.json')).toThrow(/^p\.json: dax: /);
    expect(() => parseProbe('{', 'p.json')).toThrow(/^p\.json: not JSON/);
  });

  it('with a histogram that does not decode, or holds another count than its figures, names the series', () => {
    const p = dax();
    p.rows[2].fault!.hdr = 'not base64 at all';
    expect(() => probeToRunResults(p, '0', 'p.json')).toThrow(/^p\.json: rows\[2\]\.fault\.hdr: /);
    const q = dax();
    q.fsync[1].fsync!.hdr = q.fsync[0].fsync!.hdr;
    q.fsync[1].fsync!.count = 3;
    expect(() => probeToRunResults(q, '0', 'p.json')).toThrow('p.json: fsync[1].fsync.hdr: encoded histogram holds 2 values, its figures say 3');
  });
});

describe('a probe read as a run', () => {
  it("names fault rows after kara-2017's configuration with the same setup", () => {
    const r = { bg: false, mapSync: true, huge: false };
    expect(labConfigName({ ...r, prep: 'prealloc' })).toBe('fallocated-nobg-sync');
    expect(labConfigName({ ...r, prep: 'written' })).toBe('prealloc-nobg-sync');
    expect(labConfigName({ ...r, prep: 'empty', bg: true, huge: true })).toBe('empty-bg-sync-pmd');
    expect(probeRowName({ ...r, prep: 'prealloc' })).toBe('prealloc-nobg-sync');
  });

  it('holds each measured series as a configuration with its histogram and per-repeat figures', () => {
    const run = probeToRunResults(dax(), '9.9.9');
    expect(run.configs.map((c) => c.name)).toEqual([
      'fallocated-nobg-sync',
      'empty-nobg-nosync',
      'empty-nobg-sync',
      'prealloc-nobg-nosync',
      'empty-nobg-sync-pmd',
      'fsync-1-pages',
      'fsync-16-pages',
      'tax-0ms-nosync',
      'tax-0ms-sync',
      'tax-100ms-sync',
    ]);
    const c = run.configs.find((x) => x.name === 'empty-nobg-sync')!;
    expect(c.params).toMatchObject({ probeRow: 'empty-nobg-sync', file: 'empty', mapSync: true });
    expect(c.ops['write-fault']).toMatchObject({ count: 8, meanNs: 1_500_000 });
    expect(c.ops.fault).toMatchObject({ count: 8 });
    expect(c.perRepeat.map((x) => x.ops.fault?.meanNs)).toEqual([1_000_000, 2_000_000]);
    expect(MergedOps.merge([c.encoded]).get('write-fault')!.count).toBe(8);
    expect(run.configs.find((x) => x.name === 'fsync-16-pages')!.ops.fsync).toMatchObject({ count: 2, meanNs: 250_000 });
    expect(run.warnings).toContain(
      'not measured: prealloc-nobg-nosync-pmd (probe row written-nobg-nosync-pmd): no PMD mapping: in 1 of 4 2 MiB regions, a store to the region\'s last page faulted again after the first (the kernel mapped smaller pages; a DAX PMD needs a 2 MiB aligned extent and mapping)',
    );
    expect(run).toMatchObject({ daxlabVersion: '9.9.9', clock: { kind: 'wall' }, machine: { cores: 2, cpuModel: 'QEMU Virtual CPU' } });
  });

  it('compares with a lab run on the virtual clock by configuration name, with a note; two lab runs on different clocks still do not', () => {
    const lab = makeRun([makeConfig('empty-nobg-sync', { 'sync-fault': [100_000, 120_000] }, { perRepeat: [] })]);
    const c = compareRuns(probeToRunResults(dax(), '0'), lab, { labels: ['probe', 'lab'] });
    expect(c.rows.map((r) => `${r.config}/${r.kind}`)).toEqual(['empty-nobg-sync/fault']);
    expect(c.rows[0].opsA).toBe(8);
    expect(c.onlyInA).toContain('empty-nobg-sync: write-fault');
    expect(c.notes.join('\n')).toMatch(/one side is a probe of a real kernel/);
    const wall = makeRun(lab.configs, { clock: { kind: 'wall', windowNs: null } });
    expect(() => compareRuns(wall, lab)).toThrow(/ran on the wall clock/);
  });

  it("sets the probe beside seed 002's table under its own name, not the lab's", () => {
    const text = formatRunTables(probeToRunResults(dax(), '0'));
    expect(text).toMatch(/^=== seed 002 \(Jan Kara, 2017, ramdisk\) beside this probe of a real kernel/m);
    // The written file's row stands beside the seed's preallocated one, as kara-2017 models it.
    expect(text).toMatch(/^prealloc-nobg-nosync \(.*\)\n {2}probe +seed\n {2}min=3 avg=3 max=3 +min=9 avg=10 max=46$/m);
    expect(text).toMatch(/^ {2}avg probe\/seed 0\.30 \(without the probe's slowest 1 %: [\d.]+\), fullest bucket 2 - 3 us \(probe\) 8 - 15 us \(seed\)$/m);
    expect(text).not.toMatch(/avg lab\/seed/);
  });

  it('round-trips through JSON as show reads it', () => {
    const p = dax();
    expect(ProbeSchema.parse(JSON.parse(JSON.stringify(p)))).toEqual(p);
  });
});
