// daxlab calibrate (issue 19) and the fitter bench/kara_fidelity.ts shares with it: the
// fitter finds known constants again from a probe the lab wrote itself, --fit is limited and
// checked before anything runs, a malformed probe is a one-line usage error, and the profile
// it writes is what `daxlab run --profile FILE` charges. The probe's fsync and ordering-tax
// series are predicted by lab workloads built from the probe's counts, and a lab that
// synthesised them predicts them again.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fitProfile, type ProfileJson } from '../src/calibrate/fit.js';
import type { LabRunOptions } from '../src/calibrate/lab_rows.js';
import { synthProbe } from '../src/calibrate/synth_probe.js';
import { probeTargets } from '../src/calibrate/target.js';
import { planFit } from '../src/calibrate/plan.js';
import { loadProfile } from '../src/cost/profile.js';
import { parseProbe, parseProbeData, type Probe } from '../src/probe/schema.js';
import { parseResults } from '../src/measure/results.js';
import { fsyncWorkload, probeTaxWorkload, seriesCounts, type SeriesCounts } from '../src/calibrate/series_workloads.js';
import { calibrationMachine, seriesPlan } from '../src/calibrate/series.js';
import { expandWorkload } from '../src/workload/expand.js';

const cli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
// The lab's CPU workers load compiled JS: runs go through dist/ (npm run build).
const { measureLab, measureLabProfile } = (await import(new URL('../dist/src/calibrate/lab_rows.js', import.meta.url).href)) as typeof import('../src/calibrate/lab_rows.js');
const { labFigures, measureSeries, runFsyncSeries, runSeriesWorkloads } = (await import(new URL('../dist/src/calibrate/series.js', import.meta.url).href)) as typeof import('../src/calibrate/series.js');
const tmp = mkdtempSync(path.join(tmpdir(), 'daxlab-calibrate-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const daxlab = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 240_000, cwd: tmp, env: { ...process.env, CI: '1' } });

/** Small and quick: 48 faults, one repeat, no warm-up (warm-up changes no virtual-time figure). */
const SMALL: Omit<LabRunOptions, 'configs'> = { runs: 1, repeats: 1, pages: 48, warmupRepeats: 0 };
const KNOWN = 'kara-2017-ramdisk';
const known = JSON.parse(readFileSync(loadProfile(KNOWN).file, 'utf8')) as ProfileJson;
/** The synthesised probe's series, small: two k's of two rounds, four faults beside 64 files at two pauses (100 ms would be 3 s of virtual chmods). */
const SERIES: SeriesCounts = { fsync: { dirtyPages: [1, 8], rounds: 2, filePages: 8 }, tax: { pausesMs: [0, 10], faults: 4, dirtierFiles: 64 }, notes: [] };

let daxProbe: Probe;
let plainProbe: Probe;
beforeAll(async () => {
  // The lab with the known profile, as a kernel probed with all eight setups would report it.
  const { results } = await measureLab(KNOWN, { configs: null, ...SMALL });
  // The series as calibrate's workloads run them, one repeat, with the known profile.
  const setup = { machine: calibrationMachine(), profile: KNOWN, repeats: 1 };
  const pairs = SERIES.tax!.pausesMs.flatMap((pauseMs) => [false, true].map((mapSync) => ({ pauseMs, mapSync })));
  const fsync = await runFsyncSeries(SERIES.fsync!, SERIES.fsync!.dirtyPages, setup, 1);
  const series = [...fsync.results, ...(await runSeriesWorkloads([probeTaxWorkload(SERIES.tax!, setup, pairs)], 1))];
  daxProbe = parseProbeData(synthProbe(results[0], { dax: true, createdAt: '2026-12-04T12:00:00.000Z', series }));
  plainProbe = parseProbeData(synthProbe(results[0], { dax: false, createdAt: '2026-12-04T12:00:00.000Z', series }));
}, 120_000);

describe('the fitter', () => {
  it('recovers trapNs, allocNs and commitNs within 2 % from a probe the lab made with them, starting from constants 30-50 % off', async () => {
    const base = structuredClone(known);
    base.costs.trapNs.ns = Math.round(known.costs.trapNs.ns * 1.5);
    base.costs.allocNs.ns = Math.round(known.costs.allocNs.ns * 0.5);
    base.costs.commitNs.ns = Math.round(known.costs.commitNs.ns * 1.3);
    const targets = probeTargets(daxProbe);
    const r = await fitProfile({
      base,
      targets,
      // The probe's names for the lab's prealloc-nobg-nosync, empty-nobg-nosync and empty-nobg-sync.
      fit: ['prealloc-nobg-nosync', 'empty-nobg-nosync', 'empty-nobg-sync'],
      iterations: 8,
      damping: 1,
      toleranceNs: 20,
      measure: async (p, rows) => (await measureLabProfile(p, { configs: rows, ...SMALL })).rows,
    });
    expect(targets.find((t) => t.name === 'prealloc-nobg-nosync')!.sourceName).toBe('written-nobg-nosync');
    for (const name of ['trapNs', 'allocNs', 'commitNs'] as const) {
      const got = r.profile.costs[name].ns;
      expect(Math.abs(got / known.costs[name].ns - 1), `${name}: fitted ${got}, known ${known.costs[name].ns}`).toBeLessThan(0.02);
    }
    // Nothing else moved.
    expect(r.profile.costs.extentNs.ns).toBe(known.costs.extentNs.ns);
    expect(r.profile.idleWakeup).toEqual(known.idleWakeup);
  }, 240_000);
});

describe('which rows a calibration fits', () => {
  const configs = ['prealloc-nobg-nosync', 'prealloc-nobg-sync', 'empty-nobg-nosync', 'empty-nobg-sync', 'empty-bg-nosync', 'empty-bg-sync', 'fallocated-nobg-nosync', 'fallocated-nobg-sync'];

  it('fits one row per constant up to a third of the measured rows, and says why the others are not', () => {
    const dax = planFit(daxProbe, undefined, configs);
    expect([dax.measured, dax.limit]).toEqual([8, 2]);
    expect(dax.fit.map((f) => [f.probeRow, f.param])).toEqual([
      ['written-nobg-nosync', 'trapNs'],
      ['empty-nobg-nosync', 'allocNs'],
    ]);
    expect(dax.notFitted).toEqual([{ param: 'commitNs', why: 'the probe measured 8 rows, so at most 2 may be fitted' }]);
    // Without DAX the MAP_SYNC rows are unsupported: four measured rows, one fit.
    const plain = planFit(plainProbe, undefined, configs);
    expect([plain.measured, plain.limit, plain.fit.map((f) => f.param)]).toEqual([4, 1, ['trapNs']]);
    expect(plain.notFitted.find((n) => n.param === 'commitNs')!.why).toMatch(/did not measure empty-nobg-sync \(mmap\(MAP_SYNC\): EOPNOTSUPP/);
  });

  it('refuses more rows than the limit, unknown rows, unsupported rows and rows that fit no constant, naming --fit', () => {
    expect(() => planFit(daxProbe, ['written-nobg-nosync', 'empty-nobg-nosync', 'empty-nobg-sync'], configs)).toThrow(
      /^--fit: at most 2 rows \(a third of the probe's 8 measured rows\), got 3/,
    );
    expect(() => planFit(daxProbe, ['written-bg-nosync'], configs)).toThrow(/^--fit: unknown row "written-bg-nosync" \(the probe's rows: written-nobg-nosync,/);
    expect(() => planFit(plainProbe, ['empty-nobg-sync'], configs)).toThrow(/^--fit: row empty-nobg-sync was not measured by the probe \(mmap\(MAP_SYNC\): EOPNOTSUPP/);
    expect(() => planFit(daxProbe, ['prealloc-nobg-nosync'], configs)).toThrow(/^--fit: row prealloc-nobg-nosync fits no constant/);
    expect(() => planFit(daxProbe, ['written-nobg-nosync', 'written-nobg-sync'], configs)).toThrow(/^--fit: prealloc-nobg-sync: trapNs is already fitted from prealloc-nobg-nosync/);
  });
});

describe("the lab's workloads for a probe's fsync and ordering-tax series", () => {
  const PAGE = 4096;
  const karaDevice = expandWorkload(JSON.parse(readFileSync(new URL('../workloads/kara-2017.json', import.meta.url), 'utf8'))).configs[0].workload.device;

  it('mirror the counts the probe records: each k, its rounds and a file of the largest k pages; the tax faults, dirtier files, pauses and MAP_SYNC', () => {
    expect(seriesCounts(daxProbe)).toEqual(SERIES);
    const plan = seriesPlan(daxProbe);
    const setup = { machine: calibrationMachine(), profile: KNOWN, repeats: 3 };
    const fsync = expandWorkload(fsyncWorkload(plan.counts.fsync!, setup, plan.fsyncKs)).configs;
    const tax = expandWorkload(probeTaxWorkload(plan.counts.tax!, setup, plan.taxPairs)).configs;
    expect(fsync.map((x) => x.name)).toEqual(['fsync-1-pages', 'fsync-8-pages']);
    for (const [i, k] of [1, 8].entries()) {
      const w = fsync[i].workload;
      expect(w.files[0]).toMatchObject({ size: 8 * PAGE, state: 'written' });
      expect(w.mappings[0]).toMatchObject({ flags: ['MAP_SHARED'], offset: 0, length: k * PAGE });
      // k stores of a page each, then an fsync, two rounds; the first k and their fsync are the warm-up.
      expect(w.cpus).toEqual([expect.objectContaining({ role: 'storer', bytes: PAGE, order: 'sequential', fsyncEvery: k, ops: 2 * k })]);
      expect([w.run.warmupOps, w.run.repeats, w.run.coordinatedOmission, w.device]).toEqual([k, 3, false, karaDevice]);
    }
    // Paced: each k's k stores spread over the period, so its rounds are that far apart.
    const paced = expandWorkload(fsyncWorkload(SERIES.fsync!, { machine: calibrationMachine(), profile: KNOWN, repeats: 1 }, [1, 8], 2e6)).configs;
    expect(paced.map((x) => (x.workload.cpus[0] as { rateHz: number }).rateHz)).toEqual([500, 4000]);
    expect(tax.map((x) => x.name)).toEqual(['tax-0ms-nosync', 'tax-0ms-sync', 'tax-10ms-nosync', 'tax-10ms-sync']);
    for (const x of tax) {
      const [, ms, sync] = /^tax-(\d+)ms-(sync|nosync)$/.exec(x.name)!;
      const w = x.workload;
      expect(w.files[0]).toMatchObject({ size: 4 * PAGE, state: 'empty' });
      expect(w.mappings[0].flags).toEqual(sync === 'sync' ? ['MAP_SHARED_VALIDATE', 'MAP_SYNC'] : ['MAP_SHARED']);
      expect(w.cpus).toEqual([
        expect.objectContaining({ role: 'faulter', access: 'write', pages: 4, intervalUs: Number(ms) * 1000 }),
        expect.objectContaining({ role: 'metadata-dirtier', files: 64, rateHz: 0 }),
      ]);
      // The probe times each fault once, as it came: no coordinated-omission correction.
      expect([w.run.coordinatedOmission, w.run.repeats, w.device]).toEqual([false, 3, karaDevice]);
    }
  });

  it("work out the counts a probe did not record from its rows (results/probe's reference probe, as written before it kept them), and say so", () => {
    const real = parseProbe(readFileSync(new URL('../results/probe/qemu-6.1-ext4-dax.json', import.meta.url), 'utf8'));
    // The reference records its counts: the same figures, and nothing to say.
    const recorded = seriesCounts(real);
    expect([recorded.tax, recorded.notes]).toEqual([{ pausesMs: [0, 10, 100], faults: 32, dirtierFiles: 512 }, []]);
    // Without them (a probe.json from before the fields), worked out from its rows and daxprobe's defaults.
    const { pages: _p, taxFaults: _t, dirtierFiles: _d, ...older } = real.setup;
    const c = seriesCounts({ ...real, setup: older });
    expect([c.fsync, c.tax]).toEqual([
      { dirtyPages: [1, 8, 64, 512], rounds: 8, filePages: 512 },
      { pausesMs: [0, 10, 100], faults: 32, dirtierFiles: 512 },
    ]);
    expect(c.notes).toEqual([
      'tax faults per repeat: 32, from the rows\' counts (the probe did not record setup.taxFaults)',
      "dirtier files: 512, daxprobe's default (the probe did not record setup.dirtierFiles)",
    ]);
  });

  it('leave out the rows the probe could not measure', () => {
    const plan = seriesPlan(plainProbe);
    expect([plan.fsyncKs, plan.taxPairs]).toEqual([
      [1, 8],
      [
        { pauseMs: 0, mapSync: false },
        { pauseMs: 10, mapSync: false },
      ],
    ]);
  });
});

describe("predicting a probe's series", () => {
  it('reproduces the series a lab with the same profile synthesised: fsync exactly, the tax within the virtual clock window\'s spread, as many operations', async () => {
    const { rows } = await measureSeries(known, daxProbe, { runs: 1, repeats: 1 });
    expect(rows.map((r) => r.name)).toEqual(['fsync-1-pages', 'fsync-8-pages', 'tax-0ms-nosync', 'tax-0ms-sync', 'tax-10ms-nosync', 'tax-10ms-sync']);
    for (const r of rows) {
      expect(r.lab, r.name).not.toBeNull();
      expect(r.lab!.count, r.name).toBe(r.probe!.count);
      if (r.series === 'fsync') {
        // One CPU: nothing for the window to reorder.
        expect([r.lab!.meanNs, r.lab!.p99Ns], r.name).toEqual([r.probe!.meanNs, r.probe!.p99Ns]);
        continue;
      }
      // Faults beside a CPU chmod-ing flat out: events within the 250 ns window go in the
      // host's order, which moved a four-fault mean by up to 1.1 % and its p99 by 2.2 % over
      // six runs of these workloads.
      expect(Math.abs(r.lab!.meanNs / r.probe!.meanNs - 1), `${r.name} mean`).toBeLessThan(0.03);
      expect(Math.abs(r.lab!.p99Ns / r.probe!.p99Ns - 1), `${r.name} p99`).toBeLessThan(0.05);
    }
    // Not one figure for all: a MAP_SYNC fault waits for a commit, a plain one does not.
    const mean = (n: string) => rows.find((r) => r.name === n)!.probe!.meanNs;
    expect(mean('tax-0ms-sync')).toBeGreaterThan(2 * mean('tax-0ms-nosync'));
  }, 120_000);

  it("paces the fsync rounds as far apart as a round of every k's stores and fsyncs takes, once that has settled", async () => {
    const setup = { machine: calibrationMachine(), profile: KNOWN, repeats: 1 };
    const r = await runFsyncSeries(SERIES.fsync!, [1, 8], setup, 1);
    expect([r.settled, r.passes >= 2]).toEqual([true, true]);
    const round = [1, 8].reduce((sum, k) => sum + labFigures(r.results, `fsync-${k}-pages`, 'fsync')!.meanNs + k * labFigures(r.results, `fsync-${k}-pages`, 'store')!.meanNs, 0);
    expect(Math.abs(round / r.periodNs - 1)).toBeLessThanOrEqual(0.01);
    // The figures are those of the run paced at that period.
    expect(r.results[0].configs.map((c) => c.params['cpus[0].rateHz'])).toEqual([1e9 / r.periodNs, 8e9 / r.periodNs]);
  }, 120_000);

  it('lists a row the probe marked unsupported with its reason, and does not run it', async () => {
    const { rows, results } = await measureSeries(known, plainProbe, { runs: 1, repeats: 1 });
    expect(rows.find((r) => r.name === 'tax-10ms-sync')).toEqual({
      series: 'tax',
      name: 'tax-10ms-sync',
      probe: null,
      lab: null,
      unsupported: 'mmap(MAP_SYNC): EOPNOTSUPP (the filesystem is not mounted with DAX)',
    });
    expect(results.flatMap((r) => r.configs.map((c) => c.name)).filter((n) => n.endsWith('-sync'))).toEqual([]);
  }, 120_000);
});

describe('daxlab calibrate', () => {
  const write = (name: string, data: unknown) => {
    const f = path.join(tmp, name);
    writeFileSync(f, typeof data === 'string' ? data : JSON.stringify(data));
    return f;
  };

  it('exits 2 with one line naming the field of a malformed probe.json, and writes nothing', () => {
    const bad = structuredClone(daxProbe) as unknown as { rows: { prep: string }[] };
    bad.rows[1].prep = 'sideways';
    const p = daxlab(['calibrate', write('bad.json', bad), '-o', 'never.json']);
    expect(p.status).toBe(2);
    expect(p.stderr.trim().split('\n')).toHaveLength(1);
    expect(p.stderr).toMatch(/bad\.json: rows\[1\]\.prep: /);
    const notJson = daxlab(['calibrate', write('text.json', 'min=1'), '-o', 'never.json']);
    expect([notJson.status, notJson.stderr]).toEqual([2, expect.stringMatching(/text\.json: not JSON/)]);
    expect(() => readFileSync(path.join(tmp, 'never.json'))).toThrow();
  });

  it('exits 2 naming --fit and the limit before running anything', () => {
    const p = daxlab(['calibrate', write('dax.json', daxProbe), '--fit', 'written-nobg-nosync,empty-nobg-nosync,empty-nobg-sync', '-o', 'never.json']);
    expect(p.status).toBe(2);
    expect(p.stderr).toMatch(/^daxlab: --fit: at most 2 rows \(a third of the probe's 8 measured rows\), got 3/);
    expect(p.stdout).toBe('');
  });

  it("fits what a probe without DAX allows, says what it cannot, and writes a profile that run --profile charges", () => {
    const probe = write('plain.json', plainProbe);
    const c = daxlab(['calibrate', probe, '-o', 'mine.json', '--pages', '48', '--repeats', '1', '--warmup-repeats', '0', '--iterations', '1']);
    expect(c.stderr).toBe('');
    expect(c.status).toBe(0);
    expect(c.stdout).toMatch(/not DAX: synthesised without DAX/);
    expect(c.stdout).toMatch(/fit trapNs to written-nobg-nosync/);
    expect(c.stdout).toMatch(/commitNs stays \d+ ns as kara-2017-ramdisk gives it: the probe did not measure empty-nobg-sync \(mmap\(MAP_SYNC\): EOPNOTSUPP/);
    expect(c.stdout).toMatch(/empty-nobg-sync +- +- .* not measured: mmap\(MAP_SYNC\): EOPNOTSUPP/);
    expect(c.stdout).toMatch(/prealloc-nobg-nosync \(fitted; probe's written-nobg-nosync\)\n {2}lab +probe\n/);
    expect(c.stdout).toMatch(/avg lab\/probe 1\.00, fullest bucket 8 - 15 us \(lab\) 8 - 15 us \(probe\)/);
    // The series after the fault rows: fitted from the lab's own rows, the profile is the lab's, so each prediction is exact.
    expect(c.stdout).toMatch(/\n\nfsync after k dirty pages of a written, mapped file, us \(predicted; 2 fsyncs a repeat\)\n {2}row +probe mean +probe p99 +lab mean +lab p99 +lab\/probe\n {2}fsync-1-pages .* 1\.00\n {2}fsync-8-pages .* 1\.00\n {2}lab: /);
    expect(c.stdout).toMatch(/\nordering tax, us \(predicted; 4 faults a repeat, pause ms apart, beside 64 files chmod-ed flat out\)\n/);
    // The tax rows within the window's spread (above).
    expect(c.stdout).toMatch(/\n {2}tax-0ms-nosync .* (0\.9[7-9]|1\.0[0-3])\n {2}tax-0ms-sync +- +- +- +- +- +not measured: mmap\(MAP_SYNC\): EOPNOTSUPP/);
    expect(c.stdout).toMatch(/\n {2}tax-10ms-nosync .* (0\.9[7-9]|1\.0[0-3])\n/);
    // --no-series: the fault rows alone, said so.
    const quick = daxlab(['calibrate', probe, '-o', 'quick.json', '--pages', '48', '--repeats', '1', '--warmup-repeats', '0', '--iterations', '1', '--no-series']);
    expect([quick.status, quick.stderr]).toEqual([0, '']);
    expect(quick.stdout).toMatch(/\nfsync and ordering-tax series not predicted \(--no-series\)\n/);
    expect(quick.stdout).not.toMatch(/fsync-1-pages|tax-0ms/);
    const file = path.join(tmp, 'mine.json');
    const prof = loadProfile(file);
    expect(prof.name).toBe('mine');
    expect(prof.costs.trapNs).toMatchObject({ kind: 'fitted', rows: ['written-nobg-nosync'] });
    expect(prof.costs.trapNs.source).toMatch(/^fitted to row written-nobg-nosync of probe plain\.json \(createdAt 2026-12-04T12:00:00\.000Z, kernel daxlab .* lab, profile kara-2017-ramdisk \(synthesised\)\)/);
    expect(prof.costs.commitNs).toEqual(loadProfile(KNOWN).costs.commitNs);
    // An existing output is kept without --force.
    const again = daxlab(['calibrate', probe, '-o', 'mine.json']);
    expect([again.status, again.stderr]).toEqual([2, expect.stringMatching(/--out: .*mine\.json exists \(use --force/)]);
    // With --force it replaces an earlier calibrated profile only, never a file of the user's.
    writeFileSync(path.join(tmp, 'notes.json'), '{"mine": true}\n');
    const mineForced = daxlab(['calibrate', probe, '-o', 'notes.json', '--force']);
    expect([mineForced.status, mineForced.stderr]).toEqual([2, expect.stringMatching(/^daxlab: --out: .*notes\.json is not a profile daxlab wrote; --force replaces only an earlier one/)]);
    expect(readFileSync(path.join(tmp, 'notes.json'), 'utf8')).toBe('{"mine": true}\n');

    const r = daxlab(['run', 'kara-2017', '--profile', file, '--repeats', '1', '--set', 'cpus[0].pages=16', '--set', 'run.warmupRepeats=0', '--out', 'run', '--quiet']);
    expect([r.status, r.stderr]).toEqual([0, expect.stringMatching(/^daxlab: results written to run/)]);
    const res = parseResults(readFileSync(path.join(tmp, 'run', 'results.json'), 'utf8'));
    expect(res.profile.name).toBe('mine');
    expect(res.profile.costs.trapNs).toBe(prof.costs.trapNs.ns);
  }, 240_000);
});
