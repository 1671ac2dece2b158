// Trains a fresh worker thread's JIT before it takes its first task. Every worker thread is
// its own V8 isolate: the first few hundred faults it runs are interpreted, then baseline-
// compiled, then optimized, and measured they would show a thread's warm-up rather than
// the model (on the development machine the first repeat of a 512-fault run averaged 10-35
// µs per fault, later ones 3-6 µs). So each worker first runs the fault, store, msync,
// fsync and write(2) paths on a private little machine of its own, for each personality.
// An unrecorded warm-up inside the run cannot do this job: it would change the state the
// measured part starts from (allocated blocks, a running transaction). Only wall-clock runs
// warm up (RunOptions.jitWarmup): on the virtual clock the JIT moves no figure.

import { MiB, PAGE_SIZE } from '../machine/layout.js';
import { attachMachine, createMachine } from '../machine/machine.js';
import { attachCpu } from '../sync/cpu.js';
import { PmemDevice } from '../pmem/device.js';
import { Journal } from '../journal/journal.js';
import { mkfs, mountFs } from '../fs/super.js';
import { personalityOps } from '../fs/personality_ops.js';
import { vfs_create, vfs_fallocate, vfs_fsync, vfs_truncate, vfs_write } from '../fs/inode.js';
import { FS_PERSONALITIES } from '../fs/ondisk.js';
import { attachMm } from '../mm/mm.js';
import { mmap, munmap } from '../mm/mmap.js';
import { MAP_SHARED, MAP_SHARED_VALIDATE, MAP_SYNC, PROT_READ, PROT_WRITE, MS_SYNC } from '../mm/mman.js';
import { OpLog } from './op_log.js';
import { Control } from './control.js';
import { createControl } from '../machine/run_block.js';

/** Pages of each warm-up file: small, so that the device pages the warm-up touches stay few (see warmUpPersonality). */
const PAGES = 64;
/**
 * Small costs on every step, so the branches that charge them (and ndelay's loops, and its
 * one-time calibration) are compiled here too: a run on a cost profile otherwise spends its
 * first repeats optimizing them (on kara-2017 the first repeats' median fault fell from 13
 * to 8 µs over five repeats).
 */
const WARMUP_COSTS = {
  trapNs: 700,
  syscallNs: 250,
  zeroBlockNs: 300,
  allocNs: 700,
  flushLineNs: 1,
  fenceNs: 50,
  copyBlockNs: 300,
  journalBlockWriteNs: 700,
  journalFlushNs: 50,
  commitNs: 700,
};
/**
 * Passes over the warm-up files per personality. V8 optimizes the fault path only after a
 * few thousand faults: 16 passes of 3 files x 2 mapping kinds x 64 pages are 6,144 faults.
 */
const PASSES = 16;

/** Runs each role's kernel paths a few thousand times on a throwaway machine per personality. */
export function warmUpJit(passes = PASSES): void {
  for (const personality of FS_PERSONALITIES) warmUpPersonality(personality, passes);
}

// One machine per personality, as small as a device can be (2 MiB), its files emptied and
// refilled pass after pass. The allocator moves on through the device as blocks are freed
// and taken again, so a pass touches all of it in time (data and media): a fresh 16 MiB
// machine per round, as before, touched ~34 MB each, which the collector frees late, and
// twelve of them were most of a worker thread's 200 MB.
function warmUpPersonality(personality: (typeof FS_PERSONALITIES)[number], passes: number): void {
  // Attached from a descriptor, as tasks attach theirs: objects of the same shapes, so the
  // code optimized here is the code the task runs (a created machine's views deoptimize it).
  const machine = attachMachine(
    createMachine({ cpus: 1, pmemBytes: 2 * MiB, mappings: 8, fsInodes: 8, indexNodes: 64, vmas: 8, ptePages: 512, costs: WARMUP_COSTS }).descriptor,
  );
  const cpu = attachCpu(machine, 0);
  const dev = new PmemDevice(cpu);
  const journal = personalityOps(personality).makesJournal ? new Journal(cpu, dev, {}) : undefined;
  mkfs(cpu, dev, { personality, journal });
  const fs = mountFs(cpu, { dev, journal });
  const mm = attachMm(cpu, fs);
  const word = new Uint8Array(8);
  const log = new OpLog(new Control(createControl(1), 0), { logIntervalMs: 0, attribute: false, coordinatedOmission: true, repeat: 0 });
  const states = (['empty', 'fallocated', 'written'] as const).map((state) => ({ state, ino: vfs_create(fs) }));
  const copy = vfs_create(fs);
  const chunk = new Uint8Array(16 * PAGE_SIZE);
  const bytes = PAGES * PAGE_SIZE;
  const zeros = new Uint8Array(bytes);
  for (let pass = 0; pass < passes; pass++) {
    for (const { state, ino } of states) {
      if (state === 'empty') vfs_truncate(fs, ino, bytes);
      else if (state === 'fallocated') vfs_fallocate(fs, ino, 0, 0, bytes);
      else vfs_write(fs, ino, 0, zeros);
      for (const flags of [MAP_SHARED, MAP_SHARED_VALIDATE | MAP_SYNC]) {
        const vma = mmap(mm, ino, bytes, PROT_READ | PROT_WRITE, flags, 0);
        for (let p = 0; p < PAGES; p++) {
          const t0 = log.begin();
          if (p % 4 === 0) vma.loadInto(p * PAGE_SIZE, word);
          vma.store(p * PAGE_SIZE, word);
          log.end('write-fault', t0);
          vma.store(p * PAGE_SIZE + 64, word);
        }
        vma.flushUser(0, PAGE_SIZE);
        vma.msync(0, vma.length, MS_SYNC);
        munmap(vma);
      }
      vfs_fsync(fs, ino, state === 'written');
      // Emptied, so the next pass faults its blocks in again.
      vfs_truncate(fs, ino, 0);
    }
    for (let off = 0; off < bytes; off += chunk.length) vfs_write(fs, copy, off, chunk);
    vfs_truncate(fs, copy, 0);
  }
  log.finish();
}
