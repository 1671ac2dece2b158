// The xfs personality's log (journal/xfs_log.ts): transactions commit into the CIL without
// waiting, a log force pushes the CIL through the in-core log buffers and waits for their
// I/O, and never for a transaction still open; ext4's fsync does wait for one.
import { afterEach, describe, expect, it } from 'vitest';
import { BLOCK_SIZE } from '../src/machine/layout.js';
import { bindThreadCpu, unbindThreadCpu } from '../src/sync/vclock.js';
import { nowNs } from '../src/util/clock.js';
import { vfs_chmod, vfs_create, vfs_fsync } from '../src/fs/inode.js';
import { iclogStats, xlogCilSpaceLimit } from '../src/journal/xfs_log.js';
import { INODE_SIZE, JOURNAL } from '../src/machine/layout.js';
import { runCpus } from './support/workers.js';
import { fsckImage, recoveredImage, setupFs } from './workers/fs_support.js';

const W = 1000; // journalBlockWriteNs: a block copied into an iclog (jbd2: written to the log)
const F = 10_000; // journalFlushNs: an iclog's REQ_PREFLUSH|REQ_FUA (jbd2: a commit's flush)
const COSTS = { handleNs: 300, syscallNs: 100, commitNs: 2000, journalBlockWriteNs: W, journalFlushNs: F };
const HOLD = 50_000;

describe('an fsync while another CPU holds a transaction open, virtual time exact', () => {
  it.each([
    // xfs: the chmod commits into the CIL; the force pushes it (one inode-table block between a
    // descriptor and a commit block, one iclog) and waits for that iclog's I/O.
    ['xfs', () => 100 + COSTS.commitNs + 3 * W + F],
    // ext4: the commit (after the fsync's system call) locks the transaction and waits for the
    // holder's handle to stop, then writes both inodes' blocks (the holder's too) and flushes twice.
    ['ext4', (holderDone: number, syncStart: number) => holderDone - (syncStart + 100 + 300) + COSTS.commitNs + 4 * W + 2 * F],
  ] as const)('%s', async (p, expected) => {
    const { machine, fs } = setupFs(p, { clock: 'virtual', costs: COSTS, fsInodes: 32 });
    const flags = new SharedArrayBuffer(8);
    const [holderDone, r] = await runCpus<number | { startNs: number; fsyncNs: number }>(machine, [
      { cpu: 1, module: 'xfs_log_scenarios', fn: 'holder', args: { holdNs: HOLD, flags } },
      { cpu: 2, module: 'xfs_log_scenarios', fn: 'syncer', args: { flags } },
    ]);
    const { startNs, fsyncNs } = r as { startNs: number; fsyncNs: number };
    expect(fsyncNs).toBe(expected(holderDone as number, startNs));
    if (p === 'xfs') expect(fsyncNs).toBeLessThan(HOLD);
    else expect(fsyncNs).toBeGreaterThan(HOLD - 1000);
    expect(fsckImage(fs, recoveredImage(fs))).toEqual([]);
  });
});

describe('the in-core log buffers', () => {
  afterEach(() => unbindThreadCpu());

  /** Changes `n` inodes, each in its own inode-table block, and fsyncs the last: one push of n blocks. Returns the fsync's ns. */
  function bigForce(logbsize: number, logbufs: number, n: number): { ns: number; stats: ReturnType<typeof iclogStats> } {
    const { fs } = setupFs('xfs', { clock: 'virtual', costs: COSTS, fsInodes: 16 * n }, { logbsize, logbufs });
    bindThreadCpu(fs.cpu);
    const perBlock = BLOCK_SIZE / INODE_SIZE;
    const inos: number[] = [];
    for (let i = 0; i < 16 * n; i++) inos.push(vfs_create(fs));
    vfs_fsync(fs, inos[0], false);
    const before = iclogStats(fs.journal!);
    for (let k = 0; k < n; k++) vfs_chmod(fs, inos[k * perBlock], 0o600);
    const t0 = nowNs();
    vfs_fsync(fs, inos[(n - 1) * perBlock], false);
    const ns = nowNs() - t0;
    const after = iclogStats(fs.journal!);
    expect(fsckImage(fs, recoveredImage(fs))).toEqual([]);
    return { ns, stats: { iclogs: after.iclogs - before.iclogs, waits: after.waits - before.waits, waitNs: after.waitNs - before.waitNs } };
  }

  it('a push of 10 log blocks through 16k iclogs: three iclog writes, and with logbufs=2 the third waits for the first', () => {
    // 8 inode-table blocks, a descriptor and a commit block: 4 + 4 + 2 blocks in three iclogs.
    // Their I/O completes in order, F apart: the last at 4W + 3F after the push began.
    const two = bigForce(16384, 2, 8);
    expect(two.stats).toEqual({ iclogs: 3, waits: 1, waitNs: F - 4 * W });
    expect(two.ns).toBe(100 + COSTS.commitNs + 4 * W + 3 * F);
    const eight = bigForce(16384, 8, 8);
    expect(eight.stats).toEqual({ iclogs: 3, waits: 0, waitNs: 0 });
    expect(eight.ns).toBe(two.ns);
    // One 256k iclog holds the whole push: one write, one flush.
    const big = bigForce(262144, 8, 8);
    expect(big.stats).toEqual({ iclogs: 1, waits: 0, waitNs: 0 });
    expect(big.ns).toBe(100 + COSTS.commitNs + 10 * W + F);
  });
});

describe('the CIL', () => {
  it('asks for a background push once it holds more than its space limit (XLOG_CIL_SPACE_LIMIT), and not before', () => {
    const { fs } = setupFs('xfs', { fsInodes: 16 * 32, journalBlocks: 256 });
    const j = fs.journal!;
    const limit = xlogCilSpaceLimit(j);
    expect(limit).toBe(Math.floor(j.areas.fullBlocks / 8));
    const perBlock = BLOCK_SIZE / INODE_SIZE;
    const inos: number[] = [];
    for (let i = 0; i < 16 * (limit + 1); i++) inos.push(vfs_create(fs));
    vfs_fsync(fs, inos[0], false);
    // One inode-table block per chmod: the CIL grows by one block each time.
    for (let k = 0; k < limit; k++) vfs_chmod(fs, inos[k * perBlock], 0o600);
    const seq = j.js[JOURNAL.runningTid];
    expect(j.js[JOURNAL.nrBuffers]).toBe(limit);
    expect(j.js[JOURNAL.commitRequest]).toBeLessThan(seq);
    vfs_chmod(fs, inos[limit * perBlock], 0o600);
    expect(j.js[JOURNAL.commitRequest]).toBe(seq);
  });
});
