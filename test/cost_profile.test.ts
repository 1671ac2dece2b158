import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COST_NAMES, ZERO_COSTS, describeProfile, listProfiles, loadProfile, profileCosts, shippedProfileNames, type Costs } from '../src/cost/profile.js';
import { calibrateNdelay, ndelay } from '../src/cost/delay.js';
import { PAGE_SIZE, resolveConfig } from '../src/machine/layout.js';
import { createMachine } from '../src/machine/machine.js';
import { attachCpu } from '../src/sync/cpu.js';
import { PmemDevice } from '../src/pmem/device.js';
import { Journal } from '../src/journal/journal.js';
import { vfs_fsync } from '../src/fs/inode.js';
import { mmap } from '../src/mm/mmap.js';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from '../src/mm/mman.js';
import { nowNs } from '../src/util/clock.js';
import { makeFile, setupMm } from './workers/mm_support.js';
import { runCpus } from './support/workers.js';

const SHIPPED = ['optane-adr', 'optane-eadr', 'zero'];

function profileFile(content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'daxlab-profile-'));
  const file = join(dir, 'mine.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

/** A valid profile to break one field of. */
function validProfile(): { name: string; description: string; costs: Record<string, { ns: unknown; source?: unknown }> } {
  return { name: 'mine', description: 'a test profile', costs: Object.fromEntries(COST_NAMES.map((n) => [n, { ns: 1, source: 'a test' }])) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

describe('shipped cost profiles', () => {
  it('load, every constant with a value and a source', () => {
    expect(shippedProfileNames()).toEqual(expect.arrayContaining(SHIPPED));
    const listed = listProfiles();
    expect(listed.map((p) => p.name)).toEqual(shippedProfileNames());
    for (const { name, description } of listed) {
      expect(description.length).toBeGreaterThan(10);
      const p = loadProfile(name);
      expect(p.name).toBe(name);
      expect(Object.keys(p.costs).sort()).toEqual([...COST_NAMES].sort());
      for (const n of COST_NAMES) {
        expect(p.costs[n].ns).toBeGreaterThanOrEqual(0);
        expect(p.costs[n].source.trim().length, `${name}: ${n}`).toBeGreaterThan(10);
      }
      expect(describeProfile(p)).toContain('source:');
    }
  });

  it('zero charges nothing; optane-adr charges flushes, optane-eadr does not', () => {
    expect(profileCosts(loadProfile('zero'))).toEqual(ZERO_COSTS);
    const adr = profileCosts(loadProfile('optane-adr'));
    const eadr = profileCosts(loadProfile('optane-eadr'));
    expect(adr.flushLineNs).toBeGreaterThan(0);
    expect(adr.fenceNs).toBeGreaterThan(0);
    expect(eadr.flushLineNs).toBe(0);
    expect(eadr.fenceNs).toBe(0);
    expect(eadr.zeroBlockNs).toBe(adr.zeroBlockNs);
    for (const c of [adr, eadr]) for (const n of COST_NAMES) expect(typeof c[n]).toBe('number');
  });

  it('load from a file path too, and in a worker running dist/', async () => {
    const p = loadProfile(profileFile(validProfile()));
    expect(p.name).toBe('mine');
    expect(profileCosts(p).trapNs).toBe(1);
    const machine = createMachine({ cpus: 2 });
    const [inWorker] = await runCpus<{ name: string }[]>(machine, [{ cpu: 0, module: 'attribution_scenarios', fn: 'profilesInWorker' }]);
    expect(inWorker.map((x) => x.name)).toEqual(shippedProfileNames());
  });
});

describe('bad profiles', () => {
  it('an unknown name lists the shipped ones', () => {
    expect(() => loadProfile('optane')).toThrow(RangeError);
    expect(() => loadProfile('optane')).toThrow(/profile optane: unknown profile \(shipped: .*optane-adr, optane-eadr.*zero/);
  });

  it('a bad file names the field', () => {
    const bad = (edit: (p: ReturnType<typeof validProfile>) => unknown) => {
      const p = validProfile();
      const file = profileFile(edit(p) ?? p);
      try {
        loadProfile(file);
      } catch (e) {
        expect(e).toBeInstanceOf(RangeError);
        return (e as Error).message.replace(`profile ${file}: `, '');
      }
      throw new Error('expected a RangeError');
    };
    expect(bad((p) => void (p.costs.trapNs.ns = -1))).toBe('costs.trapNs.ns: expected a number >= 0');
    expect(bad((p) => void (p.costs.trapNs.ns = '5'))).toBe('costs.trapNs.ns: expected a number >= 0');
    expect(bad((p) => void (p.costs.fenceNs.source = ''))).toMatch(/^costs\.fenceNs\.source: expected a non-empty source/);
    expect(bad((p) => void delete p.costs.allocNs.source)).toMatch(/^costs\.allocNs\.source: expected a string/);
    expect(bad((p) => void delete p.costs.allocNs)).toMatch(/^costs\.allocNs: missing/);
    expect(bad((p) => void (p.costs.tlbNs = { ns: 1, source: 'x' }))).toMatch(/^costs\.tlbNs: unknown cost \(known: trapNs, /);
    expect(bad((p) => ({ ...p, colour: 'red' }))).toMatch(/^colour: unknown field/);
    expect(bad(() => '{"name": ')).toMatch(/^not JSON/);
    expect(() => loadProfile('/nonexistent/profile.json')).toThrow(/profile \/nonexistent\/profile\.json: cannot read .*ENOENT/);
  });

  it('a machine configuration rejects bad costs by field', () => {
    expect(resolveConfig().costs).toEqual(ZERO_COSTS);
    expect(resolveConfig({ costs: { trapNs: 5 } }).costs).toEqual({ ...ZERO_COSTS, trapNs: 5 });
    expect(() => resolveConfig({ costs: { trapNs: -1 } })).toThrow(/^costs\.trapNs: expected a number from 0 to 1000000000 \(ns\), got -1$/);
    expect(() => resolveConfig({ costs: { trapNs: Number.NaN } })).toThrow(/costs\.trapNs/);
    expect(() => resolveConfig({ costs: { tlbNs: 1 } as Partial<Costs> })).toThrow(/^costs\.tlbNs: unknown cost/);
  });
});

describe('injection', () => {
  it('the costs reach every CPU worker with the machine', async () => {
    const costs = { ...ZERO_COSTS, zeroBlockNs: 3000, allocNs: 200, syscallNs: 250, flushLineNs: 27.7 };
    const s = setupMm('ext4', { costs });
    const [seen] = await runCpus<{ config: Costs; fs: Record<string, number>; flushLineNs: number }>(s.machine, [
      { cpu: 1, module: 'attribution_scenarios', fn: 'costsSeen' },
    ]);
    expect(seen.config).toEqual(costs);
    expect(seen.fs).toEqual({ zeroBlockNs: 3000, allocNs: 200, syscallNs: 250 });
    expect(seen.flushLineNs).toBe(27.7);
  });

  it('the journal takes its costs from the profile unless its policy sets them', () => {
    const machine = createMachine({ cpus: 2, costs: { journalBlockWriteNs: 1550, journalFlushNs: 34 } });
    const cpu = attachCpu(machine, 0);
    const dev = new PmemDevice(cpu);
    const fromProfile = new Journal(cpu, dev, {});
    expect([fromProfile.journalBlockWriteNs, fromProfile.journalFlushNs]).toEqual([1550, 34]);
    const overridden = new Journal(cpu, dev, { journalFlushNs: 0 });
    expect([overridden.journalBlockWriteNs, overridden.journalFlushNs]).toEqual([1550, 0]);
    expect(() => new Journal(cpu, dev, { journalBlockWriteNs: -5 })).toThrow(/^journal\.journalBlockWriteNs: expected a number/);
  });

  it('charges stores per line, flushes per line, and system calls per call', () => {
    const s = setupMm('ext4', { costs: { storeLineNs: 2000, flushLineNs: 1000, syscallNs: 50_000 } });
    const ino = makeFile(s.fs, 2, 'written');
    const vma = mmap(s.mm, ino, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
    vma.store(0, new Uint8Array(8)); // fault it in
    const time = (f: () => void) => {
      const t0 = nowNs();
      f();
      return nowNs() - t0;
    };
    expect(time(() => vma.store(60, new Uint8Array(8)))).toBeGreaterThanOrEqual(2 * 2000 * 0.95); // two lines
    expect(time(() => s.fs.dev.flush(0, 8 * 64))).toBeGreaterThanOrEqual(8 * 1000 * 0.95);
    expect(time(() => vfs_fsync(s.fs, ino, true))).toBeGreaterThanOrEqual(50_000 * 0.95);
  });
});

describe('ndelay', () => {
  // The one test of the host's time (the wall clock's busy-wait): a VM that loses its core
  // for a while moves the median, so it gets two more tries; the model's figures are tested
  // on the virtual clock, exactly.
  it('busy-waits about as long as asked (median within 20 % of 20 µs)', { retry: 2 }, () => {
    calibrateNdelay();
    const measure = (ns: number) => {
      const xs: number[] = [];
      for (let i = 0; i < 201; i++) {
        const t0 = nowNs();
        ndelay(ns);
        xs.push(nowNs() - t0);
      }
      return median(xs);
    };
    measure(20_000); // warm up
    expect(Math.abs(measure(20_000) - 20_000)).toBeLessThan(0.2 * 20_000);
    expect(measure(300)).toBeLessThan(5_000);
    expect(measure(0)).toBeLessThan(5_000);
    const t0 = nowNs();
    ndelay(-1);
    ndelay(Number.NaN);
    expect(nowNs() - t0).toBeLessThan(1e6);
  });
});
