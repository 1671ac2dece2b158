// The watchdog: notices a run that makes no progress and says why, from what the CPUs
// publish in shared memory. Every CPU that waits writes what it waits on into its cpuState
// record (CPU_STATE: waitKind, waitRegion, waitAt, waitClass; spinlock.ts, waitqueue.ts,
// rwsem.ts, journal/journal.ts), and every spinlock keeps its holder in its owner word
// (LOCK_WORDS), so the main thread can name the waiter, the lock and the holder without
// asking a CPU that may never answer.
//
// Locking rules: none are taken. A stuck run may hold any lock forever, and the watchdog
// must not join it; it reads the words with Atomics loads and accepts that a report taken
// while CPUs still move can describe a wait that has just ended.

import { V_OFF, vclockDescribe } from '../sync/vclock.js';
import type { Machine } from '../machine/machine.js';
import {
  COMMITTER_FULL_PENDING,
  CPU_STATE,
  FS_BUF,
  FS_GROUP,
  fsGroups,
  FS_INODE,
  INDEX_POOL,
  INDEX_ROOT,
  JOURNAL,
  LOCK_CLASS,
  LOCK_CLASSES,
  LOCK_WORDS,
  MM,
  REGION_NAMES,
  type RegionName,
} from '../machine/layout.js';
import { WAIT_KIND_JOURNAL } from '../journal/journal.js';
import { BH_Lock, BH_Shadow } from '../journal/buffers.js';
import { RWSEM_WORDS, WAIT_KIND_RWSEM } from '../sync/rwsem.js';
import { WAIT_KIND_LOCK } from '../sync/spinlock.js';
import { WAIT_KIND_ENTRY } from '../sync/waitqueue.js';
import { lockedEntriesInBucket } from './watchdog_entries.js';

type MachineLike = Pick<Machine, 'config' | 'views'>;

/** Regions whose lock words sit in numbered records: what a record is called. */
const RECORDS: Partial<Record<RegionName, { what: string; stride: number }>> = {
  indexRoots: { what: 'mapping', stride: INDEX_ROOT.stride },
  fsInodeState: { what: 'inode', stride: FS_INODE.stride },
  fsGroups: { what: 'group', stride: FS_GROUP.stride },
};
/** Regions with one lock of their class: the class names it. */
const SINGLE_LOCK: readonly RegionName[] = ['indexPool', 'journalState', 'mmState'];

interface WaitedLock {
  name: string;
  holder: number;
  waiters: number[];
}

function className(cls: number): string {
  return LOCK_CLASSES[cls] ?? `lock class ${cls}`;
}

function regionWords(machine: MachineLike, region: number): Int32Array | null {
  const view = machine.views[REGION_NAMES[region]];
  return view instanceof Int32Array ? view : null;
}

/** "tree_lock of mapping 3": the lock's class and, where its region numbers records, whose it is. */
function lockName(region: number, at: number, cls: number): string {
  const regionName = REGION_NAMES[region] as RegionName | undefined;
  const rec = regionName && RECORDS[regionName];
  if (rec) return `${className(cls)} of ${rec.what} ${Math.floor(at / rec.stride)}`;
  if (regionName && SINGLE_LOCK.includes(regionName)) return className(cls);
  return `${className(cls)} (word ${at} of ${regionName ?? `region ${region}`})`;
}

/** The CPU holding the spinlock whose words start at words[at], or -1 when it is free. */
function spinHolder(words: Int32Array, at: number): number {
  return Atomics.load(words, at + LOCK_WORDS.state) === 0 ? -1 : Atomics.load(words, at + LOCK_WORDS.owner) - 1;
}

/** A CPU spinning or asleep on a spinlock (WAIT_KIND_LOCK). */
function describeSpinWait(machine: MachineLike, cpu: number, region: number, at: number, cls: number, locks: Map<string, WaitedLock>): string {
  const name = lockName(region, at, cls);
  const words = regionWords(machine, region);
  if (!words) return `cpu ${cpu} waits on ${name} (region ${region} has no lock words)`;
  const holder = spinHolder(words, at);
  const key = `${region}:${at}`;
  const lock = locks.get(key) ?? { name, holder, waiters: [] };
  lock.waiters.push(cpu);
  locks.set(key, lock);
  if (holder >= 0) return `cpu ${cpu} waits on ${name}, held by cpu ${holder}`;
  const last = Atomics.load(words, at + LOCK_WORDS.owner) - 1;
  return `cpu ${cpu} waits on ${name}, which is free now (last held by ${last >= 0 ? `cpu ${last}` : 'nobody'}): a lost wake-up?`;
}

/** A CPU asleep on an entry wait queue (WAIT_KIND_ENTRY): waitAt is the bucket. */
function describeEntryWait(machine: MachineLike, cpu: number, bucket: number, cls: number): string {
  const entries = lockedEntriesInBucket(machine, bucket);
  const what = className(cls);
  if (entries.length === 0) {
    return `cpu ${cpu} waits on ${what}, wait queue bucket ${bucket}, but no locked entry hashes there now: a lost wake-up?`;
  }
  const named = entries.map((e) => `mapping ${e.mapping} index ${e.index}${e.pmd ? ' (PMD)' : ''}`).join(' or ');
  return `cpu ${cpu} waits on ${what} of ${named} (wait queue bucket ${bucket}; entry locks record no owner)`;
}

/** Who holds JOURNAL.committer (tag: CPU id + 1). */
function committer(tag: number): string {
  if (tag === COMMITTER_FULL_PENDING) return 'a full commit due for a fast commit that fell back';
  return tag === 0 ? 'no commit in progress' : `cpu ${tag - 1} committing`;
}

/** A CPU waiting for the journal (WAIT_KIND_JOURNAL): a locked transaction, a commit, or an inode's fast commit. */
function describeJournalWait(machine: MachineLike, cpu: number, region: number, at: number): string {
  const js = machine.views.journalState;
  const tid = (w: number) => Atomics.load(js, w);
  if (REGION_NAMES[region] === 'fsBufState') {
    const block = Math.floor(at / FS_BUF.stride);
    const flags = Atomics.load(machine.views.fsBufState, block * FS_BUF.stride + FS_BUF.flags);
    const writer =
      (flags & BH_Shadow) !== 0 ? 'the commit is writing it to the log (BH_Shadow)' : (flags & BH_Lock) !== 0 ? 'the checkpoint is writing it home (BH_Lock)' : 'no write of it in flight now';
    return `cpu ${cpu} waits for write access to metadata block ${block}: ${writer}`;
  }
  const state =
    `committed through tid ${tid(JOURNAL.commitSequence)}, committing tid ${tid(JOURNAL.committingTid)} ` +
    `(${tid(JOURNAL.committingBuffers)} blocks), ${committer(tid(JOURNAL.committer))}, ` +
    `running tid ${tid(JOURNAL.runningTid)} with ${tid(JOURNAL.updates)} handles open and ${tid(JOURNAL.outstandingCredits)} credits reserved, ` +
    `commit requested through tid ${tid(JOURNAL.commitRequest)}, kjournald2 ${tid(JOURNAL.threadRunning) ? 'running' : 'not running'}`;
  if (at === JOURNAL.runningState) {
    return `cpu ${cpu} waits for the journal's locked transaction tid ${tid(JOURNAL.runningTid)} to commit before starting a handle (${state})`;
  }
  if (at === JOURNAL.runningTid) {
    return `cpu ${cpu} waits for the running transaction tid ${tid(JOURNAL.runningTid)}, too full for its handle's credits, to commit (${state})`;
  }
  if (at === JOURNAL.committer) return `cpu ${cpu} waits for its turn to commit (${state})`;
  if (at === JOURNAL.checkpointMutex) {
    const holder = tid(JOURNAL.checkpointMutex);
    return `cpu ${cpu} waits for j_checkpoint_mutex, ${holder === 0 ? 'free now' : `held by cpu ${holder - 1}`}, to make room in the log (${tid(JOURNAL.free)} blocks free; ${state})`;
  }
  return `cpu ${cpu} waits for a journal commit (${state})`;
}

/** A CPU waiting for a reader-writer semaphore (WAIT_KIND_RWSEM): no owner word, only the count. */
function describeRwsemWait(machine: MachineLike, cpu: number, region: number, at: number, cls: number): string {
  const name = lockName(region, at, cls);
  const words = regionWords(machine, region);
  if (!words) return `cpu ${cpu} waits on ${name}`;
  const count = Atomics.load(words, at + RWSEM_WORDS.count);
  const writers = Atomics.load(words, at + RWSEM_WORDS.writers);
  const held = count < 0 ? 'held for write' : count > 0 ? `held by ${count} reader${count > 1 ? 's' : ''}` : 'free now';
  return `cpu ${cpu} waits on ${name}, ${held}, ${writers} writer${writers === 1 ? '' : 's'} waiting (rw_semaphore records no owner)`;
}

/** Follows waits-for edges (waiter -> holder of the spinlock it waits on) and names each cycle once. */
function deadlocks(waitsFor: Map<number, number>): string[] {
  const out: string[] = [];
  const reported = new Set<number>();
  for (const start of waitsFor.keys()) {
    const path: number[] = [];
    let cpu: number | undefined = start;
    while (cpu !== undefined && !path.includes(cpu) && !reported.has(cpu)) {
      path.push(cpu);
      cpu = waitsFor.get(cpu);
    }
    if (cpu === undefined || reported.has(cpu)) continue;
    const cycle = path.slice(path.indexOf(cpu));
    cycle.forEach((c) => reported.add(c));
    out.push(`deadlock: ${[...cycle, cpu].map((c) => `cpu ${c}`).join(' waits for ')}`);
  }
  return out;
}

/**
 * What is stuck, one line per problem: every CPU that waits (on which lock class and which
 * lock, held by whom), then every spinlock somebody waits on with its holder and what that
 * holder is doing, then any deadlock cycle among them. When nobody waits, it says so and
 * lists the locks held all the same.
 */
export function describeStuck(machine: MachineLike): string[] {
  const st = machine.views.cpuState;
  const lines: string[] = [];
  const locks = new Map<string, WaitedLock>();
  const waiting = new Map<number, string>();
  for (let cpu = 0; cpu < machine.config.cpus; cpu++) {
    const b = cpu * CPU_STATE.stride;
    const kind = Atomics.load(st, b + CPU_STATE.waitKind);
    if (kind === 0) continue;
    const region = Atomics.load(st, b + CPU_STATE.waitRegion);
    const at = Atomics.load(st, b + CPU_STATE.waitAt);
    const cls = Atomics.load(st, b + CPU_STATE.waitClass);
    let line: string;
    if (kind === WAIT_KIND_LOCK) line = describeSpinWait(machine, cpu, region, at, cls, locks);
    else if (kind === WAIT_KIND_ENTRY) line = describeEntryWait(machine, cpu, at, cls);
    else if (kind === WAIT_KIND_JOURNAL) line = describeJournalWait(machine, cpu, region, at);
    else if (kind === WAIT_KIND_RWSEM) line = describeRwsemWait(machine, cpu, region, at, cls);
    else line = `cpu ${cpu} waits (kind ${kind}) on word ${at} of ${REGION_NAMES[region] ?? `region ${region}`}, ${className(cls)}`;
    lines.push(line);
    waiting.set(cpu, line);
  }
  const waitsFor = new Map<number, number>();
  for (const lock of locks.values()) {
    if (lock.holder < 0) continue;
    for (const w of lock.waiters) waitsFor.set(w, lock.holder);
    const doing = waiting.has(lock.holder) ? 'itself waiting (above)' : 'not waiting on anything the watchdog sees: running, or stuck in its own code';
    lines.push(
      `${lock.name} is held by cpu ${lock.holder}, ${doing}; waiting for it: ${lock.waiters.map((c) => `cpu ${c}`).join(', ')}`,
    );
  }
  lines.push(...deadlocks(waitsFor));
  if (lines.length === 0) {
    lines.push('no CPU waits on a lock, an entry or the journal: the CPUs that stopped making progress are running (a livelock?) or gone');
    lines.push(...heldLocks(machine));
  }
  // On the virtual clock a CPU can also wait for time: say where each one's clock stands.
  if (machine.config.clock === 'virtual') {
    const clocks: string[] = [];
    for (let cpu = 0; cpu < machine.config.cpus; cpu++) {
      if (Atomics.load(st, cpu * CPU_STATE.stride + CPU_STATE.vstate) !== V_OFF) clocks.push(`cpu ${cpu} ${vclockDescribe(machine, cpu)}`);
    }
    if (clocks.length > 0) lines.push(`virtual clocks (window ${machine.config.windowNs} ns): ${clocks.join('; ')}`);
  }
  return lines;
}

/** Every lock the lab knows of, where its words are: spinlocks and i_mmap_sem. */
function* knownLocks(machine: MachineLike): Generator<{ region: RegionName; at: number; cls: number; rwsem: boolean }> {
  const c = machine.config;
  for (let m = 0; m < c.mappings; m++) yield { region: 'indexRoots', at: m * INDEX_ROOT.stride + INDEX_ROOT.lockState, cls: LOCK_CLASS.tree_lock, rwsem: false };
  yield { region: 'indexPool', at: INDEX_POOL.lockState, cls: LOCK_CLASS.radix_node_pool, rwsem: false };
  for (let i = 0; i < c.fsInodes; i++) {
    yield { region: 'fsInodeState', at: i * FS_INODE.stride + FS_INODE.lockState, cls: LOCK_CLASS.i_data_sem, rwsem: false };
    yield { region: 'fsInodeState', at: i * FS_INODE.stride + FS_INODE.mmapSemCount, cls: LOCK_CLASS.i_mmap_sem, rwsem: true };
  }
  for (let g = 0; g < fsGroups(c); g++) yield { region: 'fsGroups', at: g * FS_GROUP.stride + FS_GROUP.lockState, cls: LOCK_CLASS.ext4_group_lock, rwsem: false };
  yield { region: 'journalState', at: JOURNAL.lockState, cls: LOCK_CLASS.j_state_lock, rwsem: false };
  yield { region: 'mmState', at: MM.lockState, cls: LOCK_CLASS.mmap_sem, rwsem: false };
}

/** With nobody waiting, the locks held anyway: a holder stuck in its own code shows here. */
function heldLocks(machine: MachineLike): string[] {
  const out: string[] = [];
  for (const { region, at, cls, rwsem } of knownLocks(machine)) {
    const words = machine.views[region] as Int32Array;
    const name = lockName(REGION_NAMES.indexOf(region), at, cls);
    if (rwsem) {
      const count = Atomics.load(words, at + RWSEM_WORDS.count);
      if (count !== 0) out.push(`${name} is held ${count < 0 ? 'for write' : `by ${count} reader${count > 1 ? 's' : ''}`}; nobody waits on it`);
      continue;
    }
    const holder = spinHolder(words, at);
    if (holder >= 0) out.push(`${name} is held by cpu ${holder}; nobody waits on it`);
  }
  return out;
}

/** What the watchdog reads of one thing the run waits for (a CPU, say) at one look. */
export interface Watched {
  /** Changes while it makes progress (its operations done, say). */
  progress: number;
  /** It is expected to stand still this much longer than stallMs now (a paced CPU's pause). */
  allowanceMs?: number;
  /** It has ended: it can no longer hold the run up. */
  done?: boolean;
}

export interface WatchdogOptions {
  machine: MachineLike;
  /**
   * What the run depends on, in a fixed order: a number is one counter for the whole run;
   * a list is watched item by item, and any one standing still for stallMs (plus its
   * allowance) is a stall, however busy the others are.
   */
  progress: () => number | readonly Watched[];
  /** How long a counter may stand still before the run counts as stuck. */
  stallMs: number;
  /** Called once, with describeStuck()'s lines and the items that stood still. */
  onStall: (report: string[], stuck: number[]) => void;
  /** How often to look; by default a tenth of stallMs, from 10 ms to 1 s. */
  intervalMs?: number;
}

/**
 * Polls `progress` and calls `onStall` once when it (or one of its items) has not moved for
 * `stallMs`. The timer is unref'd, so it never keeps the process alive by itself. Returns
 * the function that stops it.
 */
export function startWatchdog({ machine, progress, stallMs, onStall, intervalMs }: WatchdogOptions): () => void {
  if (!(stallMs > 0)) throw new RangeError(`stallMs: expected a positive number of milliseconds, got ${String(stallMs)}`);
  const every = intervalMs ?? Math.min(1000, Math.max(10, stallMs / 10));
  const read = (): Watched[] => {
    const p = progress();
    return typeof p === 'number' ? [{ progress: p }] : [...p];
  };
  let last = read().map((w) => w.progress);
  let since = last.map(() => performance.now());
  const timer = setInterval(() => {
    const now = performance.now();
    const items = read();
    // The list can change length (a phase with other items): start those afresh.
    if (items.length !== last.length) {
      last = items.map((w) => w.progress);
      since = items.map(() => now);
      return;
    }
    const stuck: number[] = [];
    items.forEach((w, i) => {
      if (w.progress !== last[i] || w.done === true) {
        last[i] = w.progress;
        since[i] = now;
      } else if (now - since[i] >= stallMs + (w.allowanceMs ?? 0)) stuck.push(i);
    });
    if (stuck.length === 0) return;
    clearInterval(timer);
    onStall(describeStuck(machine), stuck);
  }, every);
  timer.unref();
  return () => clearInterval(timer);
}
