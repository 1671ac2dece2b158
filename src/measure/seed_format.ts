// The seed's latency table format (seed 002, Jan Kara's MAP_SYNC cover letter, 2017):
//
//   File preallocated, no background load no MAP_SYNC:
//   min=9 avg=10 max=46
//   8 - 15 us: 508
//   16 - 31 us: 3
//   32 - 63 us: 1
//
// Figures are whole microseconds. min and max are the extreme latencies truncated to whole
// microseconds; avg is the mean truncated (integer division, as a C program dividing a sum
// by a count prints it; here floor(meanNs / 1000) of the exact mean); buckets are the log2
// buckets of buckets.ts, non-empty only, lowest first. Blocks are separated by one blank line.
//
// Also: the seed's own table (KARA_2017_ROWS, under the configuration names of issue 8),
// a parser for the format, and a side-by-side view of lab and seed rows.

import { bucketHighUs, wholeUs, type Log2Bucket } from './buckets.js';
import type { OpStats } from './op_stats.js';

/** One block's figures, in whole microseconds. */
export interface SeedRow {
  count: number;
  minUs: number;
  avgUs: number;
  maxUs: number;
  buckets: Log2Bucket[];
}

export interface SeedBlock {
  title: string;
  row: SeedRow;
}

/** The seed's figures of a lab measurement. */
export function seedRowOf(s: OpStats): SeedRow {
  return {
    count: s.count,
    minUs: wholeUs(s.minNs),
    avgUs: wholeUs(s.meanNs),
    maxUs: wholeUs(s.maxNs),
    buckets: s.buckets.map((b) => ({ ...b })),
  };
}

const asRow = (x: SeedRow | OpStats): SeedRow => ('meanNs' in x ? seedRowOf(x) : x);

/** The block's lines without a title: "min=.. avg=.. max=.." then one line per non-empty bucket. */
export function seedBlockLines(x: SeedRow | OpStats): string[] {
  const r = asRow(x);
  return [
    `min=${r.minUs} avg=${r.avgUs} max=${r.maxUs}`,
    ...r.buckets.filter((b) => b.count > 0).map((b) => `${b.lowUs} - ${b.highUs} us: ${b.count}`),
  ];
}

/** One block as the seed prints it, with its "title:" line when a title is given. */
export function formatSeedBlock(x: SeedRow | OpStats, title?: string): string {
  const lines = seedBlockLines(x);
  return (title === undefined ? '' : `${title}:\n`) + lines.join('\n') + '\n';
}

/** Blocks one after another, a blank line between, as in the seed. */
export function formatSeedTable(blocks: readonly { title: string; row: SeedRow | OpStats }[]): string {
  return blocks.map((b) => formatSeedBlock(b.row, b.title)).join('\n');
}

const MIN_AVG_MAX = /^min=(\d+) avg=(\d+) max=(\d+)$/;
const BUCKET = /^(\d+) - (\d+) us: (\d+)$/;

/** Reads every block of the seed's format in a text (titles are the line before "min=", without its colon). */
export function parseSeedBlocks(text: string): SeedBlock[] {
  const lines = text.split('\n').map((l) => l.trimEnd());
  const blocks: SeedBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = MIN_AVG_MAX.exec(lines[i]);
    if (m === null) continue;
    const title = i > 0 ? lines[i - 1].replace(/:$/, '') : '';
    const buckets: Log2Bucket[] = [];
    for (let j = i + 1; j < lines.length; j++) {
      const b = BUCKET.exec(lines[j]);
      if (b === null) break;
      const lowUs = Number(b[1]);
      const highUs = Number(b[2]);
      if (highUs !== bucketHighUs(lowUs) || (lowUs & (lowUs - 1)) !== 0) {
        throw new Error(`not a log2 bucket: ${JSON.stringify(lines[j])}`);
      }
      buckets.push({ lowUs, highUs, count: Number(b[3]) });
    }
    blocks.push({
      title,
      row: {
        count: buckets.reduce((n, b) => n + b.count, 0),
        minUs: Number(m[1]),
        avgUs: Number(m[2]),
        maxUs: Number(m[3]),
        buckets,
      },
    });
  }
  return blocks;
}

/** The seed's table, verbatim (seed 002, "numbers are in microseconds", 512 faults per block). */
export const KARA_2017_TABLE = `File preallocated, no background load no MAP_SYNC:
min=9 avg=10 max=46
8 - 15 us: 508
16 - 31 us: 3
32 - 63 us: 1

File preallocated, no background load, MAP_SYNC:
min=9 avg=10 max=47
8 - 15 us: 508
16 - 31 us: 2
32 - 63 us: 2

File empty, no background load, no MAP_SYNC:
min=21 avg=22 max=70
16 - 31 us: 506
32 - 63 us: 5
64 - 127 us: 1

File empty, no background load, MAP_SYNC:
min=40 avg=124 max=242
32 - 63 us: 1
64 - 127 us: 333
128 - 255 us: 178

File empty, background load, no MAP_SYNC:
min=21 avg=23 max=67
16 - 31 us: 507
32 - 63 us: 4
64 - 127 us: 1

File empty, background load, MAP_SYNC:
min=94 avg=112 max=181
64 - 127 us: 489
128 - 255 us: 23
`;

/** Issue 8's names for the seed's six configurations, in the seed's order. */
export const KARA_2017_CONFIGS = [
  'prealloc-nobg-nosync',
  'prealloc-nobg-sync',
  'empty-nobg-nosync',
  'empty-nobg-sync',
  'empty-bg-nosync',
  'empty-bg-sync',
] as const;

/** The seed's rows under issue 8's configuration names. */
export const KARA_2017_ROWS: readonly (SeedBlock & { name: (typeof KARA_2017_CONFIGS)[number] })[] = parseSeedBlocks(
  KARA_2017_TABLE,
).map((b, i) => ({ name: KARA_2017_CONFIGS[i], ...b }));

export interface SideBySideRow {
  /** Configuration name (first line of the block). */
  name: string;
  /** A description printed after the name, in parentheses (e.g. the seed's block title). */
  title?: string;
  lab: SeedRow | OpStats;
  seed: SeedRow;
  /** The lab's mean without its slowest 1 % (trimmed_mean.ts), printed beside the plain ratio when given. */
  labTrimmedAvgUs?: number;
  /** What the left side is called: 'lab' unless it holds a real kernel's figures ('probe'). */
  leftLabel?: string;
}

/**
 * Lab and seed blocks next to each other, lab on the left, each in the seed's format, bucket
 * lines aligned by range (a side without that bucket is blank), then the ratio of the
 * averages and each side's fullest bucket:
 *
 *   prealloc-nobg-nosync (File preallocated, no background load no MAP_SYNC)
 *     lab                       seed
 *     min=9 avg=10 max=41       min=9 avg=10 max=46
 *     8 - 15 us: 509            8 - 15 us: 508
 *     16 - 31 us: 3             16 - 31 us: 3
 *                               32 - 63 us: 1
 *     avg lab/seed 1.00, fullest bucket 8 - 15 us (lab) 8 - 15 us (seed)
 */
export function formatSideBySide(rows: readonly SideBySideRow[]): string {
  return rows.map(sideBySideBlock).join('\n');
}

function sideBySideBlock(r: SideBySideRow): string {
  const lab = asRow(r.lab);
  const seed = r.seed;
  const who = r.leftLabel ?? 'lab';
  const left: string[] = [who, seedBlockLines(lab)[0]];
  const right: string[] = ['seed', seedBlockLines(seed)[0]];
  const lows = [...new Set([...lab.buckets, ...seed.buckets].filter((b) => b.count > 0).map((b) => b.lowUs))].sort((a, b) => a - b);
  const line = (rowBuckets: Log2Bucket[], low: number) => {
    const b = rowBuckets.find((x) => x.lowUs === low && x.count > 0);
    return b === undefined ? '' : `${b.lowUs} - ${b.highUs} us: ${b.count}`;
  };
  for (const low of lows) {
    left.push(line(lab.buckets, low));
    right.push(line(seed.buckets, low));
  }
  const width = Math.max(...left.map((l) => l.length)) + 4;
  const body = left.map((l, i) => `  ${(l.padEnd(width) + right[i]).trimEnd()}`);
  const ratio = seed.avgUs > 0 ? (lab.avgUs / seed.avgUs).toFixed(2) : '-';
  const fullest = (x: SeedRow) => {
    const b = x.buckets.reduce<Log2Bucket | undefined>((best, c) => (best === undefined || c.count > best.count ? c : best), undefined);
    return b === undefined ? 'none' : `${b.lowUs} - ${b.highUs} us`;
  };
  const head = r.title === undefined ? r.name : `${r.name} (${r.title})`;
  const trimmed =
    r.labTrimmedAvgUs === undefined || !(seed.avgUs > 0) ? '' : ` (without the ${who}'s slowest 1 %: ${(r.labTrimmedAvgUs / seed.avgUs).toFixed(2)})`;
  return `${head}\n${body.join('\n')}\n  avg ${who}/seed ${ratio}${trimmed}, fullest bucket ${fullest(lab)} (${who}) ${fullest(seed)} (seed)\n`;
}
