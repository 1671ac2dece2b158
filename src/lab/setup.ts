// Before the CPUs start: the machine a configuration needs, the file system made and the
// files put in their states (empty, fallocated, written), and the mappings made, all on the
// main thread as the setup CPU. The CPU workers then mount the same file system and attach
// the same mappings by reference.

import { BLOCK_SIZE, DEFAULT_CONFIG, MIN_DEFAULT_JOURNAL_BLOCKS, PAGE_SIZE, resolveConfig, type MachineConfig } from '../machine/layout.js';
import { createMachine, wipeMachine, type Machine } from '../machine/machine.js';
import { attachCpu, type Cpu } from '../sync/cpu.js';
import { bindThreadCpu, unbindThreadCpu } from '../sync/vclock.js';
import { PmemDevice } from '../pmem/device.js';
import { Journal } from '../journal/journal.js';
import { personalityOps } from '../fs/personality_ops.js';
import type { JournalPolicy } from '../journal/policy.js';
import { mkfs, mountFs, type Fs } from '../fs/super.js';
import { vfs_create, vfs_fallocate, vfs_fsync, vfs_truncate, vfs_write } from '../fs/inode.js';
import { attachMm, type Mm } from '../mm/mm.js';
import { mmap } from '../mm/mmap.js';
import { MADV_NAMES, madvise } from '../mm/madvise.js';
import type { VmaRef } from '../mm/memory.js';
import { MAP_POPULATE, MAP_PRIVATE, MAP_SHARED, MAP_SHARED_VALIDATE, MAP_SYNC, PROT_READ, PROT_WRITE } from '../mm/mman.js';
import type { MachineCosts } from '../cost/profile.js';
import type { Workload, WorkloadFile } from '../workload/schema.js';
import { mappingLength, runClock } from '../workload/check.js';

const FLAG_BITS = { MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE, MAP_SYNC, MAP_POPULATE } as const;
const PROT_BITS = { PROT_READ, PROT_WRITE } as const;
/** Bytes written per write(2) while filling a file. */
const FILL_CHUNK = 1 << 20;

export interface SetupResult {
  machine: Machine;
  fs: Fs;
  mm: Mm;
  vmas: Record<string, VmaRef>;
  inos: Record<string, number>;
  fileSizes: Record<string, number>;
}

/**
 * ext2fs_default_journal_size() (e2fsprogs lib/ext2fs/mkjournal.c): the journal mke2fs makes
 * on a filesystem of `blocks` 4 KiB blocks without -J size=. Below 2,048 blocks mke2fs makes
 * none; the lab needs one, and keeps its own default there (1/32 of the device, at least
 * MIN_DEFAULT_JOURNAL_BLOCKS).
 */
export function defaultJournalBlocks(blocks: number): number {
  if (blocks < 2048) return Math.max(MIN_DEFAULT_JOURNAL_BLOCKS, Math.floor(blocks / 32));
  if (blocks < 32768) return 1024;
  if (blocks < 256 * 1024) return 4096;
  if (blocks < 512 * 1024) return 8192;
  if (blocks < 4096 * 1024) return 16384;
  if (blocks < 8192 * 1024) return 32768;
  if (blocks < 16384 * 1024) return 65536;
  if (blocks < 32768 * 1024) return 131072;
  return 262144;
}

/** The journal area for a journal of `blocks` (-J size=): mke2fs adds 1/64 of it for fast commits (journal/ondisk.ts journalAreas). */
export function withFastCommitArea(blocks: number): number {
  return blocks + Math.floor(blocks / 64);
}

/** The journal's knobs of a workload, without its size (a machine setting: journalBlocks). */
export function journalPolicyOf(w: Workload): Partial<JournalPolicy> {
  const { minBatchTimeUs, maxBatchTimeUs, fastCommit, asyncCommit } = w.journal;
  // Under xfs the commit interval is the log worker's period (xfs_log_worker), 30 s unless set.
  const commitIntervalMs = w.journal.commitIntervalMs ?? personalityOps(w.fs.personality).defaultCommitIntervalMs;
  const { logbsize, logbufs } = w.log;
  const policy: Partial<JournalPolicy> = { commitIntervalMs, minBatchTimeUs, maxBatchTimeUs, fastCommit, asyncCommit, logbsize, logbufs };
  for (const k of Object.keys(policy) as (keyof JournalPolicy)[]) if (policy[k] === undefined) delete policy[k];
  return policy;
}

/** The machine for a configuration run by `cpus` CPU slots (roles, commit thread and the setup CPU), charging a profile's costs. */
export function machineConfigFor(w: Workload, cpus: number, { costs, idleWakeup }: MachineCosts, holdTimes: boolean): MachineConfig {
  const filePages = w.files.reduce((s, f) => s + f.size / PAGE_SIZE, 0);
  const mappedPages = w.mappings.reduce((s, m) => s + mappingLength(w, m) / PAGE_SIZE, 0);
  const dirtierFiles = w.cpus.reduce((n, r) => n + (r.role === 'metadata-dirtier' && r.enabled ? r.files : 0), 0);
  const inodes = Math.max(16, w.files.length + dirtierFiles + 4);
  return resolveConfig({
    cpus,
    pmemBytes: w.device.size,
    pmemMode: w.device.mode,
    mappings: inodes,
    fsInodes: inodes,
    journalBlocks: withFastCommitArea((w.journal.size ?? defaultJournalBlocks(w.device.size / BLOCK_SIZE) * BLOCK_SIZE) / BLOCK_SIZE),
    // Every page of every file indexed, a radix-tree node per 64 entries plus the inner levels.
    indexNodes: Math.min(1 << 22, Math.ceil((filePages / 64) * 1.1) + 8 * inodes + 64),
    vmas: Math.max(16, w.mappings.length + 4),
    ptePages: Math.max(512, mappedPages),
    lockStatHoldTimes: holdTimes,
    clock: w.run.clock,
    windowNs: runClock(w).windowNs ?? DEFAULT_CONFIG.windowNs,
    costs,
    idleWakeup,
    cpuCores: cpuCoresOf(w, cpus),
  });
}

/**
 * The core of each CPU slot (run.ts numbers them: the enabled roles in order, the commit
 * thread, then the setup CPU), as the workload places them; -1: a core of its own.
 */
export function cpuCoresOf(w: Workload, cpus: number): number[] {
  const placed = [...w.cpus.filter((r) => r.enabled).map((r) => r.core ?? -1), w.commitThread.core ?? -1];
  if (placed.every((c) => c < 0)) return [];
  return Array.from({ length: cpus }, (_, i) => placed[i] ?? -1);
}

/**
 * Sets up a configuration's machine. `reuse`, a machine of the same config from an earlier
 * repeat, is wiped and used again: fresh SharedArrayBuffers would make the host fault in and
 * zero every page of the device the first time a simulated CPU touches it (a 64 KiB write
 * to fresh device memory took 140 µs instead of 10), and that cost is the host's, not the
 * model's. The device's bytes are kept: every block is zeroed or written before it is read.
 */
export function setupMachine(w: Workload, config: MachineConfig, setupCpu: number, policy: JournalPolicy, reuse?: Machine): SetupResult {
  const machine = reuse ? wipeMachine(reuse, ['pmemData', 'pmemMedia']) : createMachine(config);
  const cpu = attachCpu(machine, setupCpu);
  // On the virtual clock the setup CPU's costs are accounted, not spent; it lets go before the CPUs start.
  bindThreadCpu(cpu);
  try {
    return setupOnCpu(w, machine, cpu, policy);
  } finally {
    unbindThreadCpu();
  }
}

function setupOnCpu(w: Workload, machine: Machine, cpu: Cpu, policy: JournalPolicy): SetupResult {
  const dev = new PmemDevice(cpu);
  const journal = personalityOps(w.fs.personality).makesJournal ? new Journal(cpu, dev, policy) : undefined;
  mkfs(cpu, dev, { personality: w.fs.personality, journal });
  const fs = mountFs(cpu, { dev, journal });
  const mm = attachMm(cpu, fs, { mode: w.fs.writeback, variant: w.variant });
  const inos: Record<string, number> = {};
  const fileSizes: Record<string, number> = {};
  for (const f of w.files) {
    inos[f.name] = makeFile(fs, f);
    fileSizes[f.name] = f.size;
  }
  const vmas: Record<string, VmaRef> = {};
  for (const m of w.mappings) {
    const file = w.files.find((f) => f.name === m.file)!;
    const flags = m.flags.reduce((b, n) => b | FLAG_BITS[n], 0);
    const prot = m.prot.reduce((b, n) => b | PROT_BITS[n], 0);
    const vma = mmap(mm, inos[m.file], mappingLength(w, m), prot, flags, m.offset, { dax: file.dax });
    if (m.madvise !== undefined) madvise(vma, MADV_NAMES[m.madvise]);
    vmas[m.name] = vma.ref;
  }
  return { machine, fs, mm, vmas, inos, fileSizes };
}

/** Creates a file in its state and makes it durable, so the measured part starts from a committed journal. */
function makeFile(fs: Fs, f: WorkloadFile): number {
  const ino = vfs_create(fs);
  if (f.state === 'empty') vfs_truncate(fs, ino, f.size);
  else if (f.state === 'fallocated') vfs_fallocate(fs, ino, 0, 0, f.size);
  else {
    const chunk = new Uint8Array(Math.min(FILL_CHUNK, f.size)).fill(0x11);
    for (let off = 0; off < f.size; off += chunk.length) vfs_write(fs, ino, off, chunk.subarray(0, Math.min(chunk.length, f.size - off)));
  }
  vfs_fsync(fs, ino, false);
  return ino;
}
