import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createMachine } from '../src/machine/machine.js';
import { MiB, type PmemMode } from '../src/machine/layout.js';
import { attachCpu } from '../src/sync/cpu.js';
import { PmemDevice, readPmemCounters } from '../src/pmem/device.js';
import { seededRng } from '../src/util/rng.js';
import { runCpus } from './support/workers.js';

function device(mode: PmemMode = 'adr', cpus = 1) {
  const machine = createMachine({ pmemBytes: 2 * MiB, pmemMode: mode, cpus, indexNodes: 2 });
  return { machine, dev: new PmemDevice(attachCpu(machine, 0)) };
}

const bytes = (n: number, v: number) => new Uint8Array(n).fill(v);

describe('pmem device', () => {
  it('rejects a size that is not a multiple of 2 MiB, naming the limit', () => {
    expect(() => createMachine({ pmemBytes: 3 * MiB })).toThrow(/pmemBytes: expected a multiple of 2 MiB from 2097152 to 4294967296, got 3145728/);
    expect(() => createMachine({ pmemBytes: -2 * MiB })).toThrow(RangeError);
    expect(createMachine({ cpus: 1, indexNodes: 2 }).config.pmemBytes).toBe(256 * MiB);
  });

  it('keeps a store volatile until it is flushed (ADR)', () => {
    const { dev } = device('adr');
    dev.store(60, bytes(8, 7)); // bytes 60..67 straddle lines 0 and 1
    expect(dev.load(60, 8)).toEqual(bytes(8, 7));
    expect(dev.dirtyLines(0, 4096)).toBe(2);
    const none = dev.crashImage(() => 0.99); // nothing evicted
    expect(none.subarray(60, 68)).toEqual(bytes(8, 0));
    expect(dev.flush(64, 1)).toBe(1);
    expect(dev.crashImage(() => 0.99).subarray(60, 68)).toEqual(new Uint8Array([0, 0, 0, 0, 7, 7, 7, 7]));
    expect(dev.flush(0, 4096)).toBe(1);
    expect(dev.dirtyLines(0, 4096)).toBe(0);
    expect(dev.crashImage(() => 0.99).subarray(60, 68)).toEqual(bytes(8, 7));
  });

  it('lets a crash keep a random subset of dirty lines (evicted from the caches)', () => {
    const { dev } = device('adr');
    for (let line = 0; line < 256; line++) dev.store(line * 64, bytes(64, 1 + (line % 200)));
    const image = dev.crashImage(seededRng(7));
    let kept = 0;
    for (let line = 0; line < 256; line++) {
      const got = image.subarray(line * 64, line * 64 + 64);
      if (got[0] !== 0) {
        kept++;
        expect(got).toEqual(bytes(64, 1 + (line % 200))); // whole lines, never torn
      } else expect(got).toEqual(bytes(64, 0));
    }
    expect(kept).toBeGreaterThan(64);
    expect(kept).toBeLessThan(192);
    expect(dev.crashImage(() => 0).subarray(0, 256 * 64)).toEqual(dev.load(0, 256 * 64));
  });

  it('treats the caches as persistent under eADR and flushes as free under ramdisk', () => {
    const e = device('eadr').dev;
    e.store(0, bytes(64, 9));
    expect(e.dirtyLines(0, 64)).toBe(0);
    expect(e.crashImage(() => 0.99).subarray(0, 64)).toEqual(bytes(64, 9));
    const r = device('ramdisk').dev;
    r.store(0, bytes(64, 9));
    expect(r.dirtyLines(0, 64)).toBe(1);
    expect(r.crashImage(() => 0.99).subarray(0, 64)).toEqual(bytes(64, 0));
  });

  it('counts lines stored, flushed, written back and fences', () => {
    const { machine, dev } = device('adr');
    dev.store(0, bytes(4096, 1));
    dev.store(0, bytes(8, 2));
    dev.flush(0, 8192);
    dev.fence();
    expect(readPmemCounters(machine)).toEqual({
      linesStored: 65,
      linesFlushed: 128,
      linesWrittenBack: 64,
      fences: 1,
      storeOps: 2,
      flushOps: 1,
    });
  });

  it('rejects out-of-range and unaligned-length arguments without changing anything', () => {
    const { dev } = device('adr');
    expect(() => dev.store(2 * MiB - 4, bytes(8, 1))).toThrow(/offset \+ length <= 2097152/);
    expect(() => dev.flush(-64, 64)).toThrow(RangeError);
    expect(() => dev.load(0.5, 1)).toThrow(RangeError);
    expect(() => dev.crashImage(() => 0, 2)).toThrow(/evict/);
    expect(dev.dirtyLines(0, 2 * MiB)).toBe(0);
  });

  it('loadInto rejects a bad n, at or device range, writing nothing into dst', () => {
    const { dev } = device('adr');
    dev.store(100, bytes(64, 7));
    const dst = new Uint8Array(8);
    const cases: [() => unknown, RegExp][] = [
      [() => dev.loadInto(100, dst, 0, -1), /^n: expected an integer byte count >= 0, got -1$/],
      [() => dev.loadInto(100, dst, 0, 1.5), /^n: .*got 1.5$/],
      [() => dev.loadInto(100, dst, 0, NaN), /^n: .*got NaN$/],
      [() => dev.loadInto(100, dst, 0, 9), /^n: expected at most 8 \(dst.length\), got 9$/],
      [() => dev.loadInto(100, dst, -1, 4), /^at: expected an integer from 0 to 4 \(dst.length 8 - n 4\), got -1$/],
      [() => dev.loadInto(100, dst, 5, 4), /^at: .*got 5$/],
      [() => dev.loadInto(100, dst, 0.5, 4), /^at: .*got 0.5$/],
      [() => dev.loadInto(100, new Uint8Array(64), 30, 40), /^at: expected an integer from 0 to 24 /],
      [() => dev.loadInto(-1, dst, 0, 4), /^pmem range: expected 0 <= offset and offset \+ length <= 2097152 \(device size\), got offset -1, length 4$/],
      [() => dev.loadInto(2 * MiB - 2, dst, 0, 4), /^pmem range: /],
      [() => dev.loadInto(0.5, dst, 0, 4), /^pmem range: /],
    ];
    for (const [call, message] of cases) {
      expect(call).toThrow(RangeError);
      expect(call).toThrow(message);
      expect(dst).toEqual(new Uint8Array(8));
    }
    dev.loadInto(100, dst, 4, 4);
    expect([...dst]).toEqual([0, 0, 0, 0, 7, 7, 7, 7]);
    dev.loadInto(2 * MiB, dst, 8, 0); // empty loads at either end are fine
  });

  it('matches a byte-array model for any sequence of stores and flushes (property)', () => {
    const size = 16 * 1024;
    const op = fc.oneof(
      fc.record({ kind: fc.constant('store' as const), off: fc.nat(size - 1), len: fc.integer({ min: 0, max: 300 }), v: fc.integer({ min: 1, max: 255 }) }),
      fc.record({ kind: fc.constant('flush' as const), off: fc.nat(size - 1), len: fc.integer({ min: 0, max: 2000 }), v: fc.constant(0) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const { dev } = device('adr');
        const data = new Uint8Array(size);
        const media = new Uint8Array(size);
        const dirty = new Uint8Array(size / 64);
        for (const o of ops) {
          const len = Math.min(o.len, size - o.off);
          if (o.kind === 'store') {
            dev.store(o.off, bytes(len, o.v));
            data.fill(o.v, o.off, o.off + len);
            for (let l = o.off >> 6; len > 0 && l <= (o.off + len - 1) >> 6; l++) dirty[l] = 1;
          } else {
            dev.flush(o.off, len);
            for (let l = o.off >> 6; len > 0 && l <= (o.off + len - 1) >> 6; l++) {
              if (dirty[l]) media.set(data.subarray(l * 64, l * 64 + 64), l * 64);
              dirty[l] = 0;
            }
          }
        }
        expect(Buffer.from(dev.load(0, size)).equals(data)).toBe(true);
        expect(Buffer.from(dev.crashImage(() => 0.99).subarray(0, size)).equals(media)).toBe(true);
        expect(dev.dirtyLines(0, size)).toBe(dirty.reduce((a, b) => a + b, 0));
      }),
      { numRuns: 200 },
    );
  });

  it('loses no store when CPUs store and flush the same lines concurrently', async () => {
    const machine = createMachine({ pmemBytes: 2 * MiB, cpus: 4, indexNodes: 2 });
    await runCpus(
      machine,
      [0, 1, 2, 3].map((cpu) => ({ cpu, module: 'pmem_scenarios', fn: cpu < 3 ? 'storeAndFlush' : 'flushLoop', args: { rounds: 20000 } })),
    );
    const dev = new PmemDevice(attachCpu(machine, 0));
    // After a final flush the media must equal what the CPUs see: a store that raced a
    // flush left its line dirty rather than vanishing.
    dev.flush(0, 64 * 1024);
    expect(Buffer.from(dev.crashImage(() => 0.99).subarray(0, 64 * 1024)).equals(dev.load(0, 64 * 1024))).toBe(true);
    const c = readPmemCounters(machine);
    expect(c.storeOps).toBe(3 * 20000);
  });
});
