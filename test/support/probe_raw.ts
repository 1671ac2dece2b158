// Helper output (native/daxprobe.c's JSON lines) written by hand, with known values, for the
// probe's reader, builder and adapter tests: what a DAX or a non-DAX machine would print.

export const SETUP = {
  type: 'setup',
  helper: 'daxprobe/1',
  startedAt: '2026-12-04T10:00:00Z',
  quick: true,
  dir: '/mnt/pmem',
  kernel: 'Linux 6.1.0-28-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 x86_64',
  mount: { source: '/dev/pmem0', fstype: 'ext4', options: ['rw', 'relatime', 'dax=always'] },
  statxDax: true,
  device: { name: 'pmem0', queueDax: true, daxWriteCache: false, namespace: 'namespace0.0', namespaceMode: 'fsdax' },
  cpu: 'QEMU Virtual CPU',
  cpus: 2,
  clocksource: 'tsc',
  timerNs: 25,
  pages: 4,
  pmdRegions: 2,
  repeats: 2,
  bgMiB: 16,
  taxFaults: 3,
  dirtierFiles: 64,
};

const REFUSED = 'mmap(MAP_SHARED_VALIDATE | MAP_SYNC): EOPNOTSUPP (Operation not supported): the filesystem does not map this file with DAX';

type Rec = Record<string, unknown>;

/** One measured row record of a repeat, its prep, bg, sync and pmd read from the name. */
export function rowRecord(name: string, repeat: number, ns: number[], over: Rec = {}): Rec {
  const [prep, bg, sync, pmd] = name.split('-');
  return {
    type: 'row',
    name,
    prep,
    mapSync: sync === 'sync',
    bg: bg === 'bg',
    huge: pmd === 'pmd',
    repeat,
    status: 'measured',
    faults: ns.length,
    fallbacks: 0,
    ns,
    ...over,
  };
}

function refusedRow(name: string): Rec {
  const [prep, bg, , pmd] = name.split('-');
  return { type: 'row', name, prep, mapSync: true, bg: bg === 'bg', huge: pmd === 'pmd', status: 'unsupported', reason: REFUSED };
}

/** A DAX machine's output: every series measured, values chosen so the figures are known. */
export function daxRecords(): Rec[] {
  return [
    SETUP,
    { type: 'mapsync', supported: true, reason: null },
    // empty-nobg-sync: repeat 0 means 1000 µs, repeat 1 means 2000 µs.
    rowRecord('empty-nobg-sync', 0, [900_000, 1_000_000, 1_000_000, 1_100_000]),
    { type: 'progress', done: 1, total: 9, what: 'empty-nobg-sync, repeat 1' },
    rowRecord('empty-nobg-nosync', 0, [10_000, 12_000, 14_000, 16_000]),
    rowRecord('prealloc-nobg-sync', 0, [600_000, 600_000, 600_000, 600_000]),
    rowRecord('written-nobg-nosync', 0, [3_000, 3_000, 3_000, 3_000]),
    rowRecord('empty-nobg-sync-pmd', 0, [5_000_000, 5_000_000]),
    rowRecord('written-nobg-nosync-pmd', 0, [40_000, 40_000], { fallbacks: 1 }),
    rowRecord('empty-nobg-sync', 1, [2_000_000, 2_000_000, 2_000_000, 2_000_000]),
    rowRecord('empty-nobg-nosync', 1, [10_000, 12_000, 14_000, 16_000]),
    rowRecord('prealloc-nobg-sync', 1, [600_000, 600_000, 600_000, 600_000]),
    rowRecord('written-nobg-nosync', 1, [3_000, 3_000, 3_000, 3_000]),
    rowRecord('empty-nobg-sync-pmd', 1, [5_000_000, 5_000_000]),
    rowRecord('written-nobg-nosync-pmd', 1, [40_000, 40_000]),
    { type: 'fsync', dirtyPages: 1, repeat: 0, status: 'measured', ns: [20_000, 30_000] },
    { type: 'fsync', dirtyPages: 16, repeat: 0, status: 'measured', ns: [200_000, 300_000] },
    { type: 'tax', pauseMs: 0, mapSync: true, repeat: 0, status: 'measured', faults: 3, ns: [900_000, 900_000, 900_000] },
    { type: 'tax', pauseMs: 100, mapSync: true, repeat: 0, status: 'measured', faults: 3, ns: [5_000_000, 6_000_000, 7_000_000] },
    { type: 'tax', pauseMs: 0, mapSync: false, repeat: 0, status: 'measured', faults: 3, ns: [15_000, 15_000, 15_000] },
    { type: 'baseline', nullSyscallNs: 250.5, pageCacheFaultNs: 280 },
    { type: 'end' },
  ];
}

/** A page-cache filesystem's output: MAP_SYNC refused, the rest measured. */
export function nonDaxRecords(): Rec[] {
  return [
    { ...SETUP, dir: '/tmp', mount: { source: '/dev/vda', fstype: 'ext4', options: ['rw', 'relatime'] }, statxDax: false, device: null },
    { type: 'mapsync', supported: false, reason: REFUSED },
    refusedRow('empty-nobg-sync'),
    refusedRow('prealloc-nobg-sync'),
    { type: 'tax', pauseMs: 0, mapSync: true, status: 'unsupported', reason: REFUSED },
    rowRecord('empty-nobg-nosync', 0, [10_000, 12_000, 14_000, 16_000]),
    rowRecord('empty-nobg-nosync', 1, [11_000, 13_000, 15_000, 17_000]),
    { type: 'fsync', dirtyPages: 1, repeat: 0, status: 'measured', ns: [4_000_000, 5_000_000] },
    { type: 'tax', pauseMs: 0, mapSync: false, repeat: 0, status: 'measured', faults: 3, ns: [15_000, 15_000, 15_000] },
    { type: 'baseline', nullSyscallNs: 250, pageCacheFaultNs: null },
    { type: 'end' },
  ];
}

export const linesOf = (records: readonly Rec[]): string => records.map((r) => JSON.stringify(r)).join('\n') + '\n';
