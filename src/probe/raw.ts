// The native helper's output (native/daxprobe.c): JSON lines, one record a line. This is
// what crosses from a machine without Node (a VM guest) to `daxlab probe --raw`, so it is
// checked as strictly as probe.json: a bad line is one error naming its line and field, and
// a file without the closing {"type":"end"} was cut short and is refused.

import { z } from 'zod';
import { formatPath } from '../util/format_path.js';
import { CopyPlacementSchema, PROBE_PAUSES_MS, PROBE_PREPS, ProbeDeviceSchema } from './schema.js';

export const HELPER_FORMAT = 'daxprobe/1';

const ns = z.number().nonnegative();
const count = z.number().int().nonnegative();
const nsArray = z.array(count);

const SetupRecord = z.object({
  type: z.literal('setup'),
  helper: z.literal(HELPER_FORMAT),
  startedAt: z.iso.datetime(),
  quick: z.boolean(),
  dir: z.string(),
  kernel: z.string(),
  mount: z.object({ source: z.string(), fstype: z.string(), options: z.array(z.string()) }),
  statxDax: z.boolean().nullable(),
  device: ProbeDeviceSchema.nullable(),
  cpu: z.string(),
  cpus: z.number().int().positive(),
  clocksource: z.string().nullable(),
  timerNs: ns,
  pages: count,
  pmdRegions: count,
  repeats: count,
  bgMiB: count,
  taxFaults: count,
  dirtierFiles: count,
});

const MapSyncRecord = z.object({ type: z.literal('mapsync'), supported: z.boolean(), reason: z.string().nullable() });

const rowFields = { name: z.string(), prep: z.enum(PROBE_PREPS), mapSync: z.boolean(), bg: z.boolean(), huge: z.boolean() };

const RowRecord = z.discriminatedUnion('status', [
  z.object({ type: z.literal('row'), ...rowFields, status: z.literal('measured'), repeat: count, faults: count, fallbacks: count, copyPlacement: CopyPlacementSchema.optional(), ns: nsArray }),
  z.object({ type: z.literal('row'), ...rowFields, status: z.literal('unsupported'), reason: z.string() }),
]);

const FsyncRecord = z.discriminatedUnion('status', [
  z.object({ type: z.literal('fsync'), dirtyPages: count, status: z.literal('measured'), repeat: count, ns: nsArray }),
  z.object({ type: z.literal('fsync'), dirtyPages: count, status: z.literal('unsupported'), reason: z.string() }),
]);

const pause = z.union(PROBE_PAUSES_MS.map((p) => z.literal(p)));
const TaxRecord = z.discriminatedUnion('status', [
  z.object({ type: z.literal('tax'), pauseMs: pause, mapSync: z.boolean(), status: z.literal('measured'), repeat: count, faults: count, ns: nsArray }),
  z.object({ type: z.literal('tax'), pauseMs: pause, mapSync: z.boolean(), status: z.literal('unsupported'), reason: z.string() }),
]);

const BaselineRecord = z.object({ type: z.literal('baseline'), nullSyscallNs: ns, pageCacheFaultNs: ns.nullable() });
const ProgressRecord = z.object({ type: z.literal('progress'), done: count, total: count, what: z.string() });
const ErrorRecord = z.object({ type: z.literal('error'), message: z.string() });
const EndRecord = z.object({ type: z.literal('end') });

const RECORDS = {
  setup: SetupRecord,
  mapsync: MapSyncRecord,
  row: RowRecord,
  fsync: FsyncRecord,
  tax: TaxRecord,
  baseline: BaselineRecord,
  progress: ProgressRecord,
  error: ErrorRecord,
  end: EndRecord,
} as const;
type RecordType = keyof typeof RECORDS;

export type SetupRaw = z.infer<typeof SetupRecord>;
export type RowRaw = z.infer<typeof RowRecord>;
export type FsyncRaw = z.infer<typeof FsyncRecord>;
export type TaxRaw = z.infer<typeof TaxRecord>;
export type BaselineRaw = z.infer<typeof BaselineRecord>;
export type ProgressRaw = z.infer<typeof ProgressRecord>;
export type RawRecord = { [K in RecordType]: z.infer<(typeof RECORDS)[K]> }[RecordType];

/** Everything a complete helper run wrote, grouped by kind, in the order written. */
export interface RawProbe {
  setup: SetupRaw;
  mapSync: z.infer<typeof MapSyncRecord>;
  rows: RowRaw[];
  fsync: FsyncRaw[];
  tax: TaxRaw[];
  baseline: BaselineRaw;
}

/** One line of helper output, validated; where names the source for the error. */
export function parseRawLine(line: string, where: string): RawRecord {
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch (e) {
    throw new RangeError(`${where}: not a JSON record (${(e as Error).message})`);
  }
  const type = (data as { type?: unknown } | null)?.type;
  if (typeof type !== 'string' || !(type in RECORDS)) {
    throw new RangeError(`${where}: type: expected one of ${Object.keys(RECORDS).join(', ')}, got ${JSON.stringify(type)}`);
  }
  const r = RECORDS[type as RecordType].safeParse(data);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new RangeError(`${where}: ${type} record: ${formatPath(i.path)}: ${i.message}`);
  }
  return r.data as RawRecord;
}

/** Reads a whole helper output; refuses an output that reports an error or was cut short. */
export function parseRaw(text: string, where = 'raw probe'): RawProbe {
  let setup: SetupRaw | undefined;
  let mapSync: RawProbe['mapSync'] | undefined;
  let baseline: BaselineRaw | undefined;
  const rows: RowRaw[] = [];
  const fsync: FsyncRaw[] = [];
  const tax: TaxRaw[] = [];
  let ended = false;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    const at = `${where}: line ${i + 1}`;
    if (ended) throw new RangeError(`${at}: a record after the end record`);
    const r = parseRawLine(line, at);
    if (r.type !== 'setup' && setup === undefined) throw new RangeError(`${at}: expected the setup record first, got ${r.type}`);
    switch (r.type) {
      case 'setup':
        if (setup !== undefined) throw new RangeError(`${at}: a second setup record`);
        setup = r;
        break;
      case 'mapsync':
        mapSync = r;
        break;
      case 'row':
        rows.push(r);
        break;
      case 'fsync':
        fsync.push(r);
        break;
      case 'tax':
        tax.push(r);
        break;
      case 'baseline':
        baseline = r;
        break;
      case 'error':
        throw new RangeError(`${where}: the helper failed: ${r.message}`);
      case 'end':
        ended = true;
        break;
      case 'progress':
        break;
    }
  }
  if (setup === undefined) throw new RangeError(`${where}: no setup record: not the output of daxprobe`);
  if (!ended) throw new RangeError(`${where}: cut short: no end record (the helper was interrupted or its output truncated)`);
  if (mapSync === undefined) throw new RangeError(`${where}: no mapsync record`);
  if (baseline === undefined) throw new RangeError(`${where}: no baseline record`);
  return { setup, mapSync, rows, fsync, tax, baseline };
}
