// Shared setup for the mm tests (test/mm*.test.ts, and the CPUs of test/workers/mm_scenarios.ts):
// a machine with room for a few mapped files, a file in a chosen state, and the byte pattern
// storing CPUs write so the main thread can check what survived.

import { MiB, PAGE_SIZE, type MachineConfig, type MachineConfigInput } from '../../src/machine/layout.js';
import type { FsPersonality } from '../../src/fs/ondisk.js';
import type { JournalPolicy } from '../../src/journal/policy.js';
import type { Fs } from '../../src/fs/super.js';
import { vfs_create, vfs_fallocate, vfs_fsync, vfs_truncate, vfs_write } from '../../src/fs/inode.js';
import { attachMm, type AttachMmOptions, type Mm } from '../../src/mm/mm.js';
import { setupFs, type FsSetup } from './fs_support.js';

export const MM_CONFIG: Partial<MachineConfig> = { cpus: 6, pmemBytes: 16 * MiB, mappings: 16, indexNodes: 512, fsInodes: 16, vmas: 16, ptePages: 1 << 14 };

export type FileState = 'empty' | 'fallocated' | 'written';

/** Gives inode ino `pages` pages in a state: a hole (truncated up), unwritten extents, or written with 0x11; synced. */
export function makeFile(fs: Fs, pages: number, state: FileState, ino = vfs_create(fs)): number {
  const size = pages * PAGE_SIZE;
  if (state === 'empty') vfs_truncate(fs, ino, size);
  else if (state === 'fallocated') vfs_fallocate(fs, ino, 0, 0, size);
  else vfs_write(fs, ino, 0, new Uint8Array(size).fill(0x11));
  vfs_fsync(fs, ino, false);
  return ino;
}

export interface MmSetup extends FsSetup {
  mm: Mm;
}

export function setupMm(
  personality: FsPersonality = 'ext4',
  config: MachineConfigInput = {},
  policy: Partial<JournalPolicy> = {},
  opts: AttachMmOptions = {},
): MmSetup {
  const s = setupFs(personality, { ...MM_CONFIG, ...config }, policy);
  return { ...s, mm: attachMm(s.fs.cpu, s.fs, opts) };
}
