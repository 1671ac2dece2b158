import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { formatOpsCsv, csvField } from '../src/measure/csv_export.js';
import { reportedKinds } from '../src/measure/reported_kinds.js';
import { EXPORT_FORMATS, formatRunTables, OutputExistsError, parseExportFormats, safeFileName, writeRunFolder, checkOutput } from '../src/measure/export.js';
import { parseResults, resultsJsonSchema } from '../src/measure/results.js';
import { parseSeedBlocks } from '../src/measure/seed_format.js';
import { resultsSchemaText } from '../src/schema/schema_file.js';
import { latencies, makeConfig, makeRun, sampleAttribution } from './support/run_results.js';

const ALL = new Set(EXPORT_FORMATS);
let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'daxlab-export-'));
});
afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
});

function run() {
  return makeRun([
    makeConfig('prealloc-nobg-nosync', {
      'write-fault': latencies(512, 9_000, 6_000),
      'read-fault': latencies(100, 2_000, 1_000, 7),
      fsync: [40_000, 50_000],
    }),
    // A name with characters a file system or a CSV reader would stumble on.
    makeConfig('empty/sync, "bg"', { 'sync-fault': latencies(300, 60_000, 200_000, 3) }, { attribution: { 'sync-fault': sampleAttribution(300) } }),
  ]);
}

const csvRows = (text: string) => text.trimEnd().split('\n');

describe('writeRunFolder', () => {
  it('writes every export, each readable', () => {
    const r = run();
    const dir = path.join(tmp, 'runs', 'one');
    const files = writeRunFolder(r, dir, { formats: ALL, force: false });
    for (const f of files) expect(existsSync(f), f).toBe(true);
    const rel = files.map((f) => path.relative(dir, f)).sort();
    const hg = (c: string, k: string) => path.join('hgrm', c, `${k}.hgrm`);
    expect(rel).toEqual(
      [
        'results.json',
        'ops.csv',
        'locks.csv',
        'table.txt',
        'report.html',
        hg('prealloc-nobg-nosync', 'read-fault'),
        hg('prealloc-nobg-nosync', 'write-fault'),
        hg('prealloc-nobg-nosync', 'fault'),
        hg('prealloc-nobg-nosync', 'fsync'),
        // Every fault of this configuration was a sync-fault: its `fault` would repeat it.
        hg('empty_sync___bg_', 'sync-fault'),
      ].sort(),
    );

    // results.json round-trips through the contract.
    const back = parseResults(readFileSync(path.join(dir, 'results.json'), 'utf8'));
    expect(back).toEqual(r);

    // ops.csv: a header and one row per configuration and kind (fault derived from the three,
    // and left out where it is one kind's figures again).
    const ops = csvRows(readFileSync(path.join(dir, 'ops.csv'), 'utf8'));
    expect(ops[0]).toBe('config,kind,count,min_ns,mean_ns,max_ns,p50_ns,p90_ns,p99_ns,p999_ns');
    expect(ops).toHaveLength(1 + 4 + 1);
    expect(ops.filter((l) => l.includes(',fault,'))).toEqual([expect.stringMatching(/^prealloc-nobg-nosync,fault,612,/)]);
    expect(ops[1]).toMatch(/^prealloc-nobg-nosync,read-fault,100,/);
    expect(ops.find((l) => l.includes('sync-fault'))).toMatch(/^"empty\/sync, ""bg""",sync-fault,300,\d+,/);
    const wf = ops.find((l) => l.startsWith('prealloc-nobg-nosync,write-fault,'))!.split(',').map(Number);
    const s = r.configs[0].ops['write-fault']!;
    expect(wf.slice(2)).toEqual([s.count, s.minNs, Number(s.meanNs.toFixed(3)), s.maxNs, s.p50Ns, s.p90Ns, s.p99Ns, s.p999Ns]);

    // locks.csv: a header and one row per configuration and class.
    const locks = csvRows(readFileSync(path.join(dir, 'locks.csv'), 'utf8'));
    expect(locks[0]).toBe(
      'config,class,acquisitions,contentions,con_bounces,acq_bounces,wait_ns_total,wait_ns_min,wait_ns_max,wait_ns_avg,' +
        'hold_ns_total,hold_ns_min,hold_ns_max,hold_ns_avg',
    );
    expect(locks).toHaveLength(1 + 2 * 2);
    expect(locks[1]).toBe('prealloc-nobg-nosync,tree_lock,1000,12,3,40,36000,900,9000,3000,250000,50,4000,250');
    expect(locks[2]).toBe('prealloc-nobg-nosync,j_state_lock,1000,0,0,40,0,0,0,0,0,0,0,0');

    // .hgrm: HdrHistogram's percentile table, ending at percentile 1 with every value counted.
    const hgrm = readFileSync(path.join(dir, hg('prealloc-nobg-nosync', 'write-fault')), 'utf8');
    const rows = hgrm.split('\n').filter((l) => /^\s+\d/.test(l)).map((l) => l.trim().split(/\s+/).map(Number));
    expect(hgrm.split('\n')[0].trim().split(/\s+/)).toEqual(['Value', 'Percentile', 'TotalCount', '1/(1-Percentile)']);
    expect(rows.length).toBeGreaterThan(10);
    expect(rows[0][0]).toBeCloseTo(s.minNs / 1000, 1);
    expect(rows.at(-1)!.slice(1, 3)).toEqual([1, 512]);
    expect(hgrm).toMatch(/#\[Max {5}= +\d+\.\d{3}, Total count {4}= +512\]/);

    // table.txt is formatRunTables, and holds the seed's blocks.
    const table = readFileSync(path.join(dir, 'table.txt'), 'utf8');
    expect(table).toBe(formatRunTables(r));
    const blocks = parseSeedBlocks(table);
    expect(blocks.map((b) => b.title)).toEqual([
      'read-fault, 100 operations',
      'write-fault, 512 operations',
      'fault, 612 operations',
      'fsync, 2 operations',
      'sync-fault, 300 operations',
    ]);
    // results.json is the record: it keeps `fault` everywhere.
    expect(back.configs[1].ops.fault?.count).toBe(300);
    expect(blocks[1].row.buckets).toEqual(s.buckets);
  });

  it('writes results.json that validates against the committed JSON Schema', () => {
    const dir = path.join(tmp, 'json-only');
    expect(writeRunFolder(run(), dir, { formats: new Set(['json']), force: false })).toEqual([path.join(dir, 'results.json')]);
    const schema = JSON.parse(readFileSync(new URL('../schema/results.schema.json', import.meta.url), 'utf8'));
    const validate = new Ajv2020({ strict: false, allErrors: true }).compile(schema);
    const ok = validate(JSON.parse(readFileSync(path.join(dir, 'results.json'), 'utf8')));
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    // And the schema rejects what the contract rejects.
    expect(validate({ ...run(), seed: 'one' })).toBe(false);
  });

  it('keeps schema/results.schema.json equal to resultsJsonSchema() (run `npm run schema` when this fails)', () => {
    const committed = readFileSync(new URL('../schema/results.schema.json', import.meta.url), 'utf8');
    expect(committed).toBe(resultsSchemaText());
    expect(JSON.parse(committed)).toEqual(resultsJsonSchema());
  });

  it('refuses an earlier result without --force and replaces it with --force', () => {
    const dir = path.join(tmp, 'out');
    const r = run();
    writeRunFolder(r, dir, { formats: ALL, force: false });
    expect(() => writeRunFolder(r, dir, { formats: ALL, force: false })).toThrow(OutputExistsError);
    expect(() => writeRunFolder(r, dir, { formats: ALL, force: false })).toThrow(/^--out: .*out holds an earlier result; choose another --out, or pass --force/);
    // report.html is daxlab's too: a folder holding one is still replaced.
    expect(readdirSync(dir)).toContain('report.html');
    writeRunFolder(r, dir, { formats: new Set(['json', 'csv']), force: true });
    expect(readdirSync(dir).sort()).toEqual(['locks.csv', 'ops.csv', 'results.json']);
    expect(readdirSync(tmp)).toEqual(['out']); // neither the temporary nor the old folder is left
  });

  it('still writes the run when its report cannot be drawn, and says why', () => {
    const r = run();
    // A histogram that does not decode: the report cannot draw it, results.json keeps it.
    r.configs[0].encoded.ops['write-fault']!.histogram = 'bm90IGEgaGlzdG9ncmFt';
    const warnings: string[] = [];
    const dir = path.join(tmp, 'undrawn');
    writeRunFolder(r, dir, { formats: new Set(['json', 'html']), force: false, onWarning: (w) => warnings.push(w) });
    expect(readdirSync(dir)).toEqual(['results.json']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^report\.html not written: .*daxlab report <folder> makes it later/);
  });

  it("clears what a killed write left beside the destination, and only a dead process's", () => {
    const dest = path.join(tmp, 'killed');
    const stale = `${dest}.tmp-999999-0123abcd`;
    const live = `${dest}.tmp-${process.pid}-89abcdef`;
    mkdirSync(stale);
    writeFileSync(path.join(stale, 'results.json'), '{');
    mkdirSync(live);
    writeRunFolder(run(), dest, { formats: new Set(['json']), force: false });
    expect(readdirSync(tmp).sort()).toEqual(['killed', path.basename(live)]);
  });

  it('never replaces a folder that is not a daxlab result, even with --force', () => {
    const dir = path.join(tmp, 'mine');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'results.json'), '{}');
    writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    mkdirSync(path.join(dir, 'hgrm'));
    writeFileSync(path.join(dir, 'hgrm', 'stray.txt'), 'mine too');
    for (const force of [false, true]) {
      expect(() => writeRunFolder(run(), dir, { formats: ALL, force })).toThrow(
        /is not an earlier daxlab result: it holds files daxlab did not write \(hgrm, notes\.txt\)/,
      );
    }
    expect(readdirSync(dir).sort()).toEqual(['hgrm', 'notes.txt', 'results.json']);
    expect(() => checkOutput('', true)).toThrow(/^--out: expected a folder for the results, got ""/);
    expect(() => checkOutput('/sys/kernel/x', false)).toThrow(/^--out: \/sys\/kernel\/x is under \/sys/);
    expect(() => checkOutput(path.join(dir, 'notes.txt'), true)).toThrow(/is a file, not a folder/);
  });

  it('writes into an empty existing folder without --force', () => {
    const dir = path.join(tmp, 'empty');
    mkdirSync(dir);
    writeRunFolder(run(), dir, { formats: new Set(['table']), force: false });
    expect(readdirSync(dir)).toEqual(['table.txt']);
  });

  it('leaves no temporary folder and no destination behind when writing fails', () => {
    const dir = path.join(tmp, 'failed');
    // A histogram that does not decode fails the .hgrm step, after results.json and the CSV files were written.
    const bad = run();
    bad.configs[1].encoded.ops['sync-fault']!.histogram = 'not a histogram';
    expect(() => writeRunFolder(bad, dir, { formats: ALL, force: false })).toThrow(/multiple of 4/);
    expect(readdirSync(tmp)).toEqual([]);
    // With --force over an earlier result, the earlier result stays whole.
    writeRunFolder(run(), dir, { formats: new Set(['json']), force: false });
    expect(() => writeRunFolder(bad, dir, { formats: ALL, force: true })).toThrow(/multiple of 4/);
    expect(readdirSync(tmp)).toEqual(['failed']);
    expect(readdirSync(dir)).toEqual(['results.json']);
  });
});

describe('export helpers', () => {
  it('quotes CSV fields only when RFC 4180 requires it', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(1.23456789)).toBe('1.235');
    expect(csvField(42)).toBe('42');
  });

  it('has a header-only ops.csv for a run without configurations', () => {
    expect(formatOpsCsv(makeRun([]))).toBe('config,kind,count,min_ns,mean_ns,max_ns,p50_ns,p90_ns,p99_ns,p999_ns\n');
  });

  it('makes configuration names safe file names', () => {
    expect(safeFileName('journal.commitIntervalMs=1000')).toBe('journal.commitIntervalMs=1000');
    expect(safeFileName('a/b\\c:d')).toBe('a_b_c_d');
    expect(safeFileName('..')).toBe('_..');
    expect(safeFileName('')).toBe('_');
  });

  it('parses --format lists and rejects unknown names', () => {
    expect([...parseExportFormats('json,csv')]).toEqual(['json', 'csv']);
    expect([...parseExportFormats(['hgrm', 'table,json'])]).toEqual(['hgrm', 'table', 'json']);
    expect(() => parseExportFormats('json,xml')).toThrow(/--format: expected some of json,csv,hgrm,table,html, got "xml"/);
    expect(() => parseExportFormats('')).toThrow(RangeError);
  });

  it('shows where the time went: shares and the 10 slowest operations', () => {
    const text = formatRunTables(run());
    expect(text).toMatch(/where the time went: sync-fault, 300 operations/);
    expect(text).toMatch(/^ {2}journal commit wait +6\.000 +60\.0 % +85\.0 %$/m);
    const from = text.indexOf('10 slowest (µs):');
    const seedAt = text.indexOf('=== seed 002', from);
    const slowest = text.slice(from, seedAt < 0 ? undefined : seedAt);
    expect(slowest.split('\n').filter((l) => /^ {4}\s*\d/.test(l))).toHaveLength(10);
    expect(slowest).toMatch(/^ {4}latency +cpu +repeat +trap +iomap_begin +journal commit wait +other +commit carried other inodes$/m);
    // lock_stat: seven columns within 120 by default, the kernel's twelve with --wide.
    expect(text).toMatch(/^lock_stat \(the measured phase of the repeat, warm-up excluded; times in µs\):$/m);
    expect(text).toMatch(/^ +tree_lock: +3 +12 +9\.00 +36\.00 +3\.00 +1000 +0\.25$/m);
    expect(text).not.toMatch(/lock_stat version 0\.4/);
    const wide = formatRunTables(run(), { wide: true });
    expect(wide).toMatch(/lock_stat version 0\.4/);
    expect(wide).toMatch(/^ +tree_lock: +3 +12 +0\.90 +9\.00 +36\.00 +3\.00 +40 +1000 +0\.05 +4\.00 +250\.00 +0\.25$/m);
    expect(text).toMatch(/^counters \(the measured phase of the repeat, warm-up excluded\):\n {2}faults\.write +512\n {2}needDsync +3$/m);
    // The header names the clock; more workers than cores change no virtual-clock figure.
    expect(text).toMatch(/^clock: virtual \(window 2000 ns\): every figure is the model's/m);
    expect(text).not.toMatch(/more than cores/);
    const wall = formatRunTables(makeRun(run().configs, { clock: { kind: 'wall', windowNs: null } }));
    expect(wall).toMatch(/^clock: wall: figures include the host's speed, load and scheduling$/m);
    expect(wall).toMatch(/more than cores: tail latencies include the scheduler/);
  });
});

describe('the fault kind in tables and exports', () => {
  const count = (n: number) => ({ count: n });

  it('is left out exactly where all faults were of one kind', () => {
    expect(reportedKinds({ 'sync-fault': count(5), fault: count(5), fsync: count(2) })).toEqual(['sync-fault', 'fsync']);
    expect(reportedKinds({ 'read-fault': count(5), 'write-fault': count(5), fault: count(10) })).toEqual(['read-fault', 'write-fault', 'fault']);
    // A kind present with no values does not make a second fault kind.
    expect(reportedKinds({ 'read-fault': count(0), 'write-fault': count(7), fault: count(7) })).toEqual(['read-fault', 'write-fault']);
    expect(reportedKinds({ store: count(3) })).toEqual(['store']);
  });

  it('is said once in the text table, not repeated row by row', () => {
    const attribution = { 'sync-fault': sampleAttribution(50), fault: sampleAttribution(50) };
    const r = makeRun([makeConfig('sync', { 'sync-fault': latencies(50, 60_000, 10_000, 3) }, { attribution })]);
    expect(r.configs[0].ops.fault?.count).toBe(50);
    const text = formatRunTables(r);
    expect(text).toMatch(/^where the time went: sync-fault/m);
    expect(text).not.toMatch(/^where the time went: fault/m);
    expect(text).not.toMatch(/^ {2}fault /m);
    expect(text).not.toMatch(/^fault, \d+ operations/m);
    expect(text).toMatch(/^ {2}\(every fault was a sync-fault: the fault rows would repeat its figures\)$/m);
    expect(formatOpsCsv(r).split('\n').filter((l) => l.includes(',fault,'))).toEqual([]);
  });
});

describe('what the counters cover', () => {
  it('says warm-up excluded, and in results written before they left it out, what they include', () => {
    const c = makeConfig('one', { 'write-fault': [10_000, 11_000] }, { repeats: 2 });
    expect(formatRunTables(makeRun([c], { warmupExcluded: true }))).toMatch(/^counters \(the measured phase of 2 repeats, warm-up excluded\):$/m);
    const before = formatRunTables(makeRun([c], { warmupExcluded: undefined }));
    expect(before).toMatch(/^counters \(the measured phase of 2 repeats; an earlier daxlab wrote these: the per-CPU and kjournald2 counts include its warm-up and setup\):$/m);
    // lock_stat was always read after the warm-up.
    expect(before).toMatch(/^lock_stat \(the measured phase of 2 repeats, warm-up excluded; times in µs\):$/m);
  });
});
