import { afterEach, describe, expect, it } from 'vitest';
import { CpuRecorders, MergedOps } from '../src/measure/histogram.js';
import { formatHgrm } from '../src/measure/hgrm.js';
import { opStats } from '../src/measure/op_stats.js';
import {
  formatSeedTable,
  formatSideBySide,
  KARA_2017_CONFIGS,
  KARA_2017_ROWS,
  KARA_2017_TABLE,
  parseSeedBlocks,
  seedRowOf,
} from '../src/measure/seed_format.js';

const live: CpuRecorders[] = [];
afterEach(() => {
  for (const r of live.splice(0)) r.destroy();
});

function storeOp(samplesNs: readonly number[]) {
  const set = new CpuRecorders();
  live.push(set);
  for (const ns of samplesNs) set.record('store', ns);
  return MergedOps.merge([set.encode()]).get('store')!;
}

describe("the seed's table format", () => {
  it('parses the seed and prints it back byte for byte', () => {
    const blocks = parseSeedBlocks(KARA_2017_TABLE);
    expect(blocks).toHaveLength(6);
    expect(formatSeedTable(blocks)).toBe(KARA_2017_TABLE);
  });

  it("holds the seed's six rows under issue 8's names", () => {
    expect(KARA_2017_ROWS.map((r) => r.name)).toEqual([...KARA_2017_CONFIGS]);
    for (const r of KARA_2017_ROWS) expect(r.row.count).toBe(512);
    expect(KARA_2017_ROWS[3]).toEqual({
      name: 'empty-nobg-sync',
      title: 'File empty, no background load, MAP_SYNC',
      row: {
        count: 512,
        minUs: 40,
        avgUs: 124,
        maxUs: 242,
        buckets: [
          { lowUs: 32, highUs: 63, count: 1 },
          { lowUs: 64, highUs: 127, count: 333 },
          { lowUs: 128, highUs: 255, count: 178 },
        ],
      },
    });
  });

  it('rejects a bucket that is not a log2 bucket', () => {
    expect(() => parseSeedBlocks('x:\nmin=1 avg=2 max=3\n8 - 16 us: 5\n')).toThrow(/not a log2 bucket: "8 - 16 us: 5"/);
  });

  it('prints lab and seed side by side, buckets aligned by range', () => {
    const lab = opStats(storeOp([9_000, 9_500, 10_200, 17_000, 300_000]));
    const seed = KARA_2017_ROWS[0];
    expect(formatSideBySide([{ name: seed.name, title: seed.title, lab, seed: seed.row }])).toBe(
      [
        'prealloc-nobg-nosync (File preallocated, no background load no MAP_SYNC)',
        '  lab                     seed',
        '  min=9 avg=69 max=300    min=9 avg=10 max=46',
        '  8 - 15 us: 3            8 - 15 us: 508',
        '  16 - 31 us: 1           16 - 31 us: 3',
        '                          32 - 63 us: 1',
        '  256 - 511 us: 1',
        '  avg lab/seed 6.90, fullest bucket 8 - 15 us (lab) 8 - 15 us (seed)',
        '',
      ].join('\n'),
    );
    expect(seedRowOf(lab)).toMatchObject({ count: 5, minUs: 9, avgUs: 69, maxUs: 300 });
  });
});

describe('.hgrm files', () => {
  it('are HdrHistogram percentile distributions in microseconds', () => {
    const samples = Array.from({ length: 1000 }, (_, i) => 1_000 * (i + 1)); // 1 µs .. 1 ms
    const text = formatHgrm(storeOp(samples));
    const lines = text.split('\n');
    expect(lines[0]).toBe('       Value     Percentile TotalCount 1/(1-Percentile)');
    expect(lines[1]).toBe('');
    const rows = lines.slice(2).filter((l) => /^\s+\d/.test(l));
    for (const l of rows.slice(0, -1)) expect(l).toMatch(/^ {0,11}\d+\.\d{3} {1,2}\d\.\d{12} {1,10}\d+ {1,14}\d+\.\d{2}$/);
    const [first, last] = [rows[0], rows[rows.length - 1]].map((l) => l.trim().split(/\s+/).map(Number));
    expect(first).toEqual([1, 0, 1, 1]); // 1.000 µs at percentile 0
    expect(last.slice(1)).toEqual([1, 1000]); // the last line: percentile 1, every value
    expect(last[0]).toBeCloseTo(1000, 0); // 1 ms, to the histogram's resolution
    const values = rows.map((l) => Number(l.trim().split(/\s+/)[0]));
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThanOrEqual(values[i - 1]);
    expect(text).toMatch(/#\[Mean {4}= +500\.\d{3}, StdDeviation {3}= +288\.\d{3}\]\n/);
    expect(text).toMatch(/#\[Max {5}= +1000\.\d{3}, Total count {4}= +1000\]\n/);
    expect(text.endsWith('#[Buckets =           32, SubBuckets     =         2048]\n')).toBe(true);
  });

  it('can keep nanoseconds and change the tick density', () => {
    const op = storeOp([100, 200, 300]);
    const ns = formatHgrm(op, { outputValueUnitScalingRatio: 1, ticksPerHalfDistance: 1 });
    expect(ns.split('\n')[2].trim().split(/\s+/)[0]).toBe('100.000');
    expect(formatHgrm(op.histogram)).toBe(formatHgrm(op));
  });
});
