// Suite `fs` (issue 5): what an fsync costs the simulator itself, with the commit thread on
// its own CPU and the `zero` cost profile (no injected device or journal cost). Each
// operation appends one block to a file and fsyncs it, so every fsync waits for a commit
// (or a fast commit) of the allocation: the sleep-and-wake hand-off to kjournald2 and back
// is most of it.

import { createMachine } from '../src/machine/machine.js';
import { BLOCK_SIZE, JOURNAL, MiB } from '../src/machine/layout.js';
import { attachCpu } from '../src/sync/cpu.js';
import { PmemDevice } from '../src/pmem/device.js';
import { Journal } from '../src/journal/journal.js';
import { stopCommitThread } from '../src/journal/kjournald.js';
import type { JournalPolicy } from '../src/journal/policy.js';
import { mkfs, mountFs } from '../src/fs/super.js';
import type { FsPersonality } from '../src/fs/ondisk.js';
import { vfs_create, vfs_fsync, vfs_truncate, vfs_write } from '../src/fs/inode.js';
import { runOnCpus } from '../src/lab/cpus.js';
import { formatRows, runBatched, type BenchRow } from './support.js';

const kjournald = new URL('../src/journal/kjournald.js', import.meta.url).href;

async function appendFsync(personality: FsPersonality, policy: Partial<JournalPolicy>, label: string): Promise<BenchRow> {
  const machine = createMachine({ cpus: 2, pmemBytes: 64 * MiB, mappings: 1, indexNodes: 2, fsInodes: 16 });
  const cpu = attachCpu(machine, 0);
  const dev = new PmemDevice(cpu);
  const journal = personality === 'ext4-nojournal' ? undefined : new Journal(cpu, dev, policy);
  mkfs(cpu, dev, { personality, journal });
  const fs = mountFs(cpu, { dev, journal });
  const thread = journal ? runOnCpus(machine, [{ cpu: 1, moduleUrl: kjournald, fn: 'kjournald2', args: { policy } }], { timeoutMs: 600_000 }) : null;
  while (thread && Atomics.load(machine.views.journalState, JOURNAL.threadRunning) === 0) await new Promise((r) => setTimeout(r, 1));
  const ino = vfs_create(fs);
  const block = new Uint8Array(BLOCK_SIZE).fill(7);
  let off = 0;
  const limit = 1 * MiB; // a small file: fsync's data step (the default writeback hook) flushes the whole file
  const [row] = await runBatched(
    [
      {
        name: `append 4 KiB + fsync, ${label}`,
        batch: 1,
        fn: () => {
          if (off >= limit) {
            vfs_truncate(fs, ino, 0);
            off = 0;
          }
          vfs_write(fs, ino, off, block);
          vfs_fsync(fs, ino, true);
          off += BLOCK_SIZE;
        },
      },
    ],
    300,
  );
  if (thread) {
    stopCommitThread(machine);
    await thread;
  }
  return row;
}

export async function runFsSuite(log: (s: string) => void): Promise<BenchRow[]> {
  const rows = [
    await appendFsync('ext4', {}, 'ext4 (full commit per fsync)'),
    await appendFsync('ext4', { fastCommit: true }, 'ext4 fast commit'),
    await appendFsync('xfs', {}, 'xfs (log force)'),
    await appendFsync('ext4-nojournal', {}, 'ext4 without journal'),
  ];
  log(formatRows(rows));
  return rows;
}
