import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { createMachine, type Machine } from '../src/machine/machine.js';
import {
  COMMITTER_FULL_PENDING,
  CPU_STATE,
  FS_BUF,
  FS_INODE,
  INDEX_ROOT,
  JOURNAL,
  LOCK_CLASS,
  MiB,
  REGION_NAMES,
  type RegionName,
} from '../src/machine/layout.js';
import { dax_radix_locked_entry, RADIX_DAX_PMD } from '../src/dax/dax_entry.js';
import { RadixTree, radix_tree_insert } from '../src/dax/radix_tree.js';
import { WAIT_KIND_JOURNAL } from '../src/journal/journal.js';
import { BH_Shadow } from '../src/journal/buffers.js';
import { describeStuck, startWatchdog } from '../src/lab/watchdog.js';
import { attachCpu } from '../src/sync/cpu.js';
import { down_write, up_write, WAIT_KIND_RWSEM } from '../src/sync/rwsem.js';
import { spin_lock, spin_unlock, WAIT_KIND_LOCK } from '../src/sync/spinlock.js';
import { dax_entry_waitqueue, finish_wait, init_wait, prepare_to_wait_exclusive } from '../src/sync/waitqueue.js';
import { WAIT_SCRATCH } from './workers/lock_wait_scenarios.js';

const workerUrl = new URL('../dist/src/lab/cpu_worker.js', import.meta.url);
const scenarios = new URL('../dist/test/workers/lock_wait_scenarios.js', import.meta.url).href;

function machineWith(cpus = 4): Machine {
  return createMachine({ cpus, pmemBytes: 2 * MiB, indexNodes: 16, mappings: 4, fsInodes: 4 });
}

/** Marks a CPU as waiting the way the sync code does, for states a test cannot reach without hanging. */
function markWaiting(m: Machine, cpu: number, kind: number, region: RegionName, at: number, cls: number): void {
  const b = cpu * CPU_STATE.stride;
  m.views.cpuState[b + CPU_STATE.waitRegion] = REGION_NAMES.indexOf(region);
  m.views.cpuState[b + CPU_STATE.waitAt] = at;
  m.views.cpuState[b + CPU_STATE.waitClass] = cls;
  m.views.cpuState[b + CPU_STATE.waitKind] = kind;
}

const treeLockAt = (mapping: number) => mapping * INDEX_ROOT.stride + INDEX_ROOT.lockState;

async function until(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; !pred(); i++) {
    if (i > 5000) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

describe('describeStuck', () => {
  it('says nobody waits when nobody does, and lists the locks held all the same', () => {
    const m = machineWith();
    expect(describeStuck(m)).toEqual([expect.stringMatching(/^no CPU waits/)]);
    const cpu = attachCpu(m, 2);
    spin_lock(cpu, m.views.indexRoots, treeLockAt(1), LOCK_CLASS.tree_lock);
    spin_lock(cpu, m.views.fsInodeState, 3 * FS_INODE.stride + FS_INODE.lockState, LOCK_CLASS.i_data_sem);
    down_write(cpu, m.views.fsInodeState, 1 * FS_INODE.stride + FS_INODE.mmapSemCount, LOCK_CLASS.i_mmap_sem);
    expect(describeStuck(m)).toEqual([
      expect.stringMatching(/^no CPU waits/),
      'tree_lock of mapping 1 is held by cpu 2; nobody waits on it',
      'i_mmap_sem of inode 1 is held for write; nobody waits on it',
      'i_data_sem of inode 3 is held by cpu 2; nobody waits on it',
    ]);
  });

  it('names the locked entry an entry waiter sleeps for, found from its wait queue bucket', () => {
    const m = machineWith();
    const tree = new RadixTree(attachCpu(m, 0), 1);
    tree.treeLock();
    radix_tree_insert(tree, 5, dax_radix_locked_entry(3, 0));
    radix_tree_insert(tree, 4096 * 64, dax_radix_locked_entry(512, RADIX_DAX_PMD));
    tree.treeUnlock();
    const waiters = [2, 3].map((id) => init_wait(attachCpu(m, id)));
    prepare_to_wait_exclusive(waiters[0], dax_entry_waitqueue(1, 5));
    prepare_to_wait_exclusive(waiters[1], dax_entry_waitqueue(1, 4096 * 64 + 17, true));
    const lines = describeStuck(m);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^cpu 2 waits on dax_entry_lock of mapping 1 index 5 \(wait queue bucket \d+/);
    expect(lines[1]).toMatch(/^cpu 3 waits on dax_entry_lock of mapping 1 index 262144 \(PMD\)/);
    waiters.forEach(finish_wait);

    prepare_to_wait_exclusive(waiters[0], dax_entry_waitqueue(2, 9));
    expect(describeStuck(m)).toEqual([expect.stringMatching(/^cpu 2 waits on dax_entry_lock, wait queue bucket \d+, but no locked entry/)]);
    finish_wait(waiters[0]);
  });

  it('names a deadlock between two tree_locks with both holders', () => {
    const m = machineWith();
    const roots = m.views.indexRoots;
    const [a, b] = [attachCpu(m, 1), attachCpu(m, 2)];
    spin_lock(a, roots, treeLockAt(0), LOCK_CLASS.tree_lock);
    spin_lock(b, roots, treeLockAt(3), LOCK_CLASS.tree_lock);
    markWaiting(m, 1, WAIT_KIND_LOCK, 'indexRoots', treeLockAt(3), LOCK_CLASS.tree_lock);
    markWaiting(m, 2, WAIT_KIND_LOCK, 'indexRoots', treeLockAt(0), LOCK_CLASS.tree_lock);
    expect(describeStuck(m)).toEqual([
      'cpu 1 waits on tree_lock of mapping 3, held by cpu 2',
      'cpu 2 waits on tree_lock of mapping 0, held by cpu 1',
      'tree_lock of mapping 3 is held by cpu 2, itself waiting (above); waiting for it: cpu 1',
      'tree_lock of mapping 0 is held by cpu 1, itself waiting (above); waiting for it: cpu 2',
      'deadlock: cpu 1 waits for cpu 2 waits for cpu 1',
    ]);
    spin_unlock(a, roots, treeLockAt(0), LOCK_CLASS.tree_lock);
    expect(describeStuck(m)[1]).toMatch(/^cpu 2 waits on tree_lock of mapping 0, which is free now \(last held by cpu 1\)/);
    spin_unlock(b, roots, treeLockAt(3), LOCK_CLASS.tree_lock);
  });

  it('describes journal and i_mmap_sem waits', () => {
    const m = machineWith();
    const js = m.views.journalState;
    js[JOURNAL.runningTid] = 7;
    js[JOURNAL.commitSequence] = 5;
    js[JOURNAL.committingTid] = 6;
    js[JOURNAL.committingBuffers] = 12;
    js[JOURNAL.committer] = 4 + 1; // cpu 4 commits
    js[JOURNAL.outstandingCredits] = 40;
    markWaiting(m, 0, WAIT_KIND_JOURNAL, 'journalState', JOURNAL.commitSequence, LOCK_CLASS.j_state_lock);
    m.views.fsBufState[3 * FS_BUF.stride + FS_BUF.flags] = BH_Shadow;
    markWaiting(m, 1, WAIT_KIND_JOURNAL, 'fsBufState', 3 * FS_BUF.stride + FS_BUF.flags, LOCK_CLASS.j_state_lock);
    const sem = 2 * FS_INODE.stride + FS_INODE.mmapSemCount;
    const holder = attachCpu(m, 3);
    down_write(holder, m.views.fsInodeState, sem, LOCK_CLASS.i_mmap_sem);
    markWaiting(m, 2, WAIT_KIND_RWSEM, 'fsInodeState', sem, LOCK_CLASS.i_mmap_sem);
    const lines = describeStuck(m);
    expect(lines[0]).toMatch(
      /^cpu 0 waits for a journal commit \(committed through tid 5, committing tid 6 \(12 blocks\), cpu 4 committing, running tid 7 with 0 handles open and 40 credits reserved/,
    );
    expect(lines[1]).toBe('cpu 1 waits for write access to metadata block 3: the commit is writing it to the log (BH_Shadow)');
    expect(lines[2]).toMatch(/^cpu 2 waits on i_mmap_sem of inode 2, held for write/);
    up_write(holder, m.views.fsInodeState, sem);
    // A handle held back by the size limit, and a CPU waiting for its turn to commit inline.
    markWaiting(m, 0, WAIT_KIND_JOURNAL, 'journalState', JOURNAL.runningTid, LOCK_CLASS.j_state_lock);
    markWaiting(m, 1, WAIT_KIND_JOURNAL, 'journalState', JOURNAL.committer, LOCK_CLASS.j_state_lock);
    const [full, turn] = describeStuck(m);
    expect(full).toMatch(/^cpu 0 waits for the running transaction tid 7, too full for its handle's credits, to commit \(/);
    expect(turn).toMatch(/^cpu 1 waits for its turn to commit \(.*cpu 4 committing/);
    // A handle waiting for another CPU's checkpoint, and a fast commit's fallback waiting for its full commit.
    js[JOURNAL.checkpointMutex] = 2 + 1;
    js[JOURNAL.free] = 9;
    js[JOURNAL.committer] = COMMITTER_FULL_PENDING;
    markWaiting(m, 0, WAIT_KIND_JOURNAL, 'journalState', JOURNAL.checkpointMutex, LOCK_CLASS.j_state_lock);
    expect(describeStuck(m)[0]).toMatch(/^cpu 0 waits for j_checkpoint_mutex, held by cpu 2, to make room in the log \(9 blocks free; .*a full commit due for a fast commit that fell back/);
  });
});

describe('startWatchdog', () => {
  it('stays quiet while progress moves and fires once when it stops', async () => {
    const m = machineWith();
    let n = 0;
    const quiet: string[][] = [];
    const stopQuiet = startWatchdog({ machine: m, progress: () => n++, stallMs: 30, intervalMs: 5, onStall: (r) => quiet.push(r) });
    await new Promise((r) => setTimeout(r, 150));
    stopQuiet();
    expect(quiet).toEqual([]);

    const fired: string[][] = [];
    const stop = startWatchdog({ machine: m, progress: () => 42, stallMs: 30, intervalMs: 5, onStall: (r) => fired.push(r) });
    await until(() => fired.length > 0, 'the watchdog fires');
    await new Promise((r) => setTimeout(r, 60));
    stop();
    expect(fired).toHaveLength(1);
    expect(fired[0]).toEqual([expect.stringMatching(/^no CPU waits/)]);
    expect(() => startWatchdog({ machine: m, progress: () => 0, stallMs: 0, onStall: () => {} })).toThrow(RangeError);
  });
});

describe('watchdog on a stuck run', () => {
  const workers: Worker[] = [];
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.terminate()));
  });

  /** Starts one CPU thread running fn at once (its start gate already open), as runOnCpus would. */
  function startCpu(m: Machine, cpu: number, fn: string, args: unknown): Worker {
    const gate = new Int32Array(new SharedArrayBuffer(8));
    gate[1] = 1;
    const w = new Worker(workerUrl, {
      workerData: { descriptor: m.descriptor, cpu, moduleUrl: scenarios, fn, args, gate: gate.buffer },
    });
    w.on('error', () => {}); // a terminated CPU is no failure here
    workers.push(w);
    return w;
  }

  it('fires when a CPU never releases tree_lock, naming the lock, its holder and its waiter', async () => {
    const m = machineWith();
    const scratch = new SharedArrayBuffer(WAIT_SCRATCH.words * 4);
    const s = new Int32Array(scratch);
    startCpu(m, 1, 'stuckHolder', { scratch, mapping: 2 });
    startCpu(m, 3, 'blockedTaker', { scratch, mapping: 2 });
    const st = m.views.cpuState;
    await until(() => Atomics.load(st, 3 * CPU_STATE.stride + CPU_STATE.waitKind) === WAIT_KIND_LOCK, 'cpu 3 waits on the lock');

    const report = await new Promise<string[]>((resolve) => {
      startWatchdog({ machine: m, progress: () => Atomics.load(s, WAIT_SCRATCH.counter), stallMs: 100, onStall: resolve });
    });
    expect(Atomics.load(s, WAIT_SCRATCH.counter)).toBe(1);
    expect(report).toContain('cpu 3 waits on tree_lock of mapping 2, held by cpu 1');
    expect(report).toContain(
      'tree_lock of mapping 2 is held by cpu 1, not waiting on anything the watchdog sees: running, or stuck in its own code; waiting for it: cpu 3',
    );

    // What the lab does next: end the CPUs. A spinning holder and a sleeping waiter both stop.
    const codes = await Promise.all(workers.splice(0).map((w) => w.terminate()));
    expect(codes).toEqual([1, 1]);
  });
});
