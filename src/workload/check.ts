// Rules that join fields of one configuration: names that must resolve, mapping flags the
// kernel refuses, and runs that could never end. Each message names the field at fault and,
// where another field makes it wrong, that one too.

import { DEFAULT_CONFIG, LIMITS, MAX_MAPPING_BYTES, PAGE_SIZE } from '../machine/layout.js';
import { FS_MAX_BYTES } from '../fs/ondisk.js';
import { WorkloadError } from './errors.js';
import type { Role, Workload, WorkloadMapping } from './schema.js';

/** jbd2's knobs that XFS's log has no counterpart for: refused under fs.personality "xfs". */
export const XFS_REFUSED_JOURNAL_KNOBS = ['minBatchTimeUs', 'maxBatchTimeUs', 'fastCommit', 'asyncCommit'] as const;

/** CPU slots a configuration needs beyond its roles: the setup CPU and the commit thread. */
export const KERNEL_CPUS = 2;

function fail(where: string, field: string, msg: string): never {
  throw new WorkloadError(`${where ? `${where}: ` : ''}${field}: ${msg}`);
}

/** The clock a workload runs on, as results.json records it: its window, or null on the wall clock. */
export function runClock(w: Workload): { kind: Workload['run']['clock']; windowNs: number | null } {
  return { kind: w.run.clock, windowNs: w.run.clock === 'virtual' ? (w.run.windowNs ?? DEFAULT_CONFIG.windowNs) : null };
}

/** The clock's rules: a window is the virtual clock's alone, and the virtual clock needs costs to count. */
function checkClock(w: Workload, where: string): void {
  if (w.run.clock === 'wall' && w.run.windowNs !== undefined) {
    fail(where, 'run.windowNs', 'only the virtual clock has a window; remove it, or set run.clock to "virtual"');
  }
  if (w.run.clock === 'virtual' && w.profile === 'zero') {
    fail(where, 'profile', 'the zero profile charges nothing, so on the virtual clock every figure would be 0; use another profile (daxlab list), or run.clock "wall" (--clock wall) to measure the simulator itself');
  }
}

export function mappingLength(w: Workload, m: WorkloadMapping): number {
  const file = w.files.find((f) => f.name === m.file);
  return m.length ?? (file ? file.size - m.offset : 0);
}

/** Throws a WorkloadError for the first rule a configuration breaks; `where` names the configuration. */
export function checkWorkload(w: Workload, where = ''): void {
  const unique = (list: { name: string }[], field: string) => {
    const seen = new Set<string>();
    list.forEach((x, i) => {
      if (seen.has(x.name)) fail(where, `${field}[${i}].name`, `${JSON.stringify(x.name)} is used twice`);
      seen.add(x.name);
    });
  };
  unique(w.files, 'files');
  w.files.forEach((file, i) => {
    // ftruncate would fail with EFBIG during setup, past ext4's and XFS's s_maxbytes as the lab models it.
    if (file.size > FS_MAX_BYTES) fail(where, `files[${i}].size`, `${file.size} bytes is past the largest file the filesystem holds, ${FS_MAX_BYTES} bytes (8 TiB)`);
  });
  unique(w.mappings, 'mappings');
  checkClock(w, where);
  // ext4 without a journal has no commit to tune: a journal option there would change nothing.
  const journalSet = Object.entries(w.journal).filter(([, v]) => v !== undefined).map(([k]) => k);
  if (w.fs.personality === 'ext4-nojournal' && journalSet.length > 0) {
    fail(where, `journal.${journalSet[0]}`, 'fs.personality "ext4-nojournal" has no journal, so journal options do nothing there; remove them, or use "ext4" or "xfs"');
  }
  const logSet = Object.entries(w.log).filter(([, v]) => v !== undefined).map(([k]) => k);
  if (w.fs.personality !== 'xfs' && logSet.length > 0) {
    fail(where, `log.${logSet[0]}`, `an xfs mount option; fs.personality "${w.fs.personality}" has no in-core log buffers: remove it, or use fs.personality "xfs"`);
  }
  // XFS has no jbd2 batching, fast commit or async commit block; its log's size and worker period stay (see schema.ts).
  const ext4Only = journalSet.find((k) => (XFS_REFUSED_JOURNAL_KNOBS as readonly string[]).includes(k));
  if (w.fs.personality === 'xfs' && ext4Only !== undefined) {
    fail(where, `journal.${ext4Only}`, 'an ext4 (jbd2) option that xfs does not have; remove it, or use fs.personality "ext4" (xfs takes log.logbsize, log.logbufs and journal.size)');
  }
  // mke2fs: "Journal size too big for filesystem" past half of it.
  if (w.journal.size !== undefined && w.journal.size > w.device.size / 2) {
    fail(where, 'journal.size', `${w.journal.size} bytes is more than half of device.size (${w.device.size} bytes), which mke2fs refuses; expected at most ${w.device.size / 2}`);
  }
  const fileNames = w.files.map((f) => f.name);
  const mapNames = w.mappings.map((m) => m.name);

  w.mappings.forEach((m, i) => {
    const f = `mappings[${i}]`;
    const file = w.files.find((x) => x.name === m.file);
    if (!file) fail(where, `${f}.file`, `expected one of the files ${list(fileNames)}, got ${JSON.stringify(m.file)}`);
    const types = m.flags.filter((x) => x === 'MAP_SHARED' || x === 'MAP_PRIVATE' || x === 'MAP_SHARED_VALIDATE');
    if (types.length !== 1) fail(where, `${f}.flags`, 'expected exactly one of MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE');
    const sync = m.flags.includes('MAP_SYNC');
    if (sync && types[0] === 'MAP_SHARED_VALIDATE' && !file.dax) {
      fail(where, `${f}.flags`, `MAP_SYNC on ${JSON.stringify(file.name)}, a file without DAX (files[${w.files.indexOf(file)}].dax is false): mmap fails with EOPNOTSUPP`);
    }
    if (sync && types[0] === 'MAP_PRIVATE') fail(where, `${f}.flags`, 'MAP_SYNC needs MAP_SHARED_VALIDATE (with MAP_PRIVATE mmap fails with EINVAL)');
    if (types[0] === 'MAP_PRIVATE' && m.prot.includes('PROT_WRITE')) {
      fail(where, `${f}.prot`, 'PROT_WRITE on a MAP_PRIVATE mapping: copy-on-write of DAX pages is not modelled');
    }
    const len = mappingLength(w, m);
    if (len <= 0 || m.offset + len > file.size) {
      fail(where, `${f}.length`, `the mapping [${m.offset}, ${m.offset + len}) runs past ${JSON.stringify(file.name)} (${file.size} bytes)`);
    }
    // mmap would fail with ENOMEM on the first CPU, after the device was built and the files written.
    if (len > MAX_MAPPING_BYTES) {
      fail(
        where,
        `${f}.length`,
        `${len} bytes is more than the lab maps at once, ${MAX_MAPPING_BYTES} bytes (4 GiB less a page); ` +
          `set ${f}.length to ${MAX_MAPPING_BYTES} or less${m.length === undefined ? ` (without it the mapping covers ${JSON.stringify(file.name)} from its offset to its end)` : ''}`,
      );
    }
  });

  const needMapping = (r: { mapping?: string }, i: number, write: boolean) => {
    const m = w.mappings.find((x) => x.name === r.mapping);
    if (!m) fail(where, `cpus[${i}].mapping`, `expected one of the mappings ${list(mapNames)}, got ${JSON.stringify(r.mapping)}`);
    if (write && !m.prot.includes('PROT_WRITE')) fail(where, `cpus[${i}].mapping`, `${JSON.stringify(m.name)} is mapped without PROT_WRITE`);
    return m;
  };
  const hasStorer = w.cpus.some((r) => r.role === 'storer' && r.enabled);
  let ends = w.run.durationMs !== undefined;
  w.cpus.forEach((r: Role, i) => {
    switch (r.role) {
      case 'faulter': {
        const m = needMapping(r, i, r.access !== 'read');
        const pages = mappingLength(w, m) / PAGE_SIZE;
        const want = (r.pages ?? pages) + w.run.warmupOps;
        if (want > pages) fail(where, `cpus[${i}].pages`, `${want} pages (warm-up included) but ${JSON.stringify(m.name)} has ${pages}`);
        if (r.enabled) ends = true;
        break;
      }
      case 'storer':
        needMapping(r, i, true);
        if (r.enabled && (r.ops ?? w.run.ops) !== undefined) ends = true;
        break;
      case 'syncer':
        if ((r.mapping === undefined) === (r.file === undefined)) fail(where, `cpus[${i}]`, 'expected exactly one of mapping and file');
        if (r.call === 'msync' && r.mapping === undefined) fail(where, `cpus[${i}].call`, 'msync needs a mapping');
        if (r.mapping !== undefined) needMapping(r, i, false);
        if (r.file !== undefined && !fileNames.includes(r.file)) {
          fail(where, `cpus[${i}].file`, `expected one of the files ${list(fileNames)}, got ${JSON.stringify(r.file)}`);
        }
        if (r.everyStores !== undefined && r.everyUs !== undefined) fail(where, `cpus[${i}]`, 'expected at most one of everyStores and everyUs');
        if (r.everyStores !== undefined && !hasStorer) fail(where, `cpus[${i}].everyStores`, 'no storer CPU stores');
        if (r.enabled && (r.ops ?? w.run.ops) !== undefined) ends = true;
        break;
      case 'metadata-dirtier':
        if (r.enabled && (r.ops ?? w.run.ops) !== undefined) ends = true;
        break;
      case 'background-copy': {
        const file = w.files.find((x) => x.name === r.file);
        if (!file) fail(where, `cpus[${i}].file`, `expected one of the files ${list(fileNames)}, got ${JSON.stringify(r.file)}`);
        if (w.mappings.some((m) => m.file === r.file)) fail(where, `cpus[${i}].file`, `${JSON.stringify(r.file)} is also mapped; a background copy writes a file of its own`);
        if (r.chunk > file.size) fail(where, `cpus[${i}].chunk`, `${r.chunk} bytes is more than ${JSON.stringify(file.name)} holds (${file.size})`);
        break;
      }
    }
  });
  const inodes = w.files.length + w.cpus.reduce((n, r) => n + (r.role === 'metadata-dirtier' ? r.files : 0), 0);
  if (inodes > LIMITS.fsInodes.max - 4) fail(where, 'cpus', `${inodes} files in all (files and metadata-dirtier files); the file system holds at most ${LIMITS.fsInodes.max - 4}`);
  const maxRoles = LIMITS.cpus.max - KERNEL_CPUS;
  if (w.cpus.length > maxRoles) fail(where, 'cpus', `${w.cpus.length} CPU roles; the pool allows at most ${maxRoles}`);
  if (!w.cpus.some((r) => r.enabled)) fail(where, 'cpus', 'every CPU is disabled');
  if (!ends) fail(where, 'run', 'nothing ends the run: give run.ops, run.durationMs, a role its ops, or add a faulter');
}

function list(names: string[]): string {
  return names.length === 0 ? '(none defined)' : names.map((n) => JSON.stringify(n)).join(', ');
}
