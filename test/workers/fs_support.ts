// Shared setup for the filesystem tests (imported by test/fs*.test.ts, not run on a CPU):
// a small machine, mkfs, a mount on CPU 0, and a crash -> recovery -> fsck helper.

import { createMachine, type Machine } from '../../src/machine/machine.js';
import { MiB, fsGeometry, type MachineConfigInput } from '../../src/machine/layout.js';
import { attachCpu } from '../../src/sync/cpu.js';
import { PmemDevice } from '../../src/pmem/device.js';
import { Journal } from '../../src/journal/journal.js';
import { jbd2_journal_commit_transaction } from '../../src/journal/commit.js';
import { jbd2_journal_recover } from '../../src/journal/recovery.js';
import type { JournalPolicy } from '../../src/journal/policy.js';
import { mkfs, mountFs, type Fs } from '../../src/fs/super.js';
import type { FsPersonality } from '../../src/fs/ondisk.js';
import { ext4_fc_set_bitmaps_and_counters, fsck } from '../../src/fs/fsck.js';

export const never = () => 0.99; // a crash that evicts no dirty cache line

export interface FsSetup {
  machine: Machine;
  dev: PmemDevice;
  fs: Fs;
}

export function setupFs(personality: FsPersonality, config: MachineConfigInput = {}, policy: Partial<JournalPolicy> = {}): FsSetup {
  const machine = createMachine({ cpus: 6, pmemBytes: 8 * MiB, indexNodes: 2, mappings: 1, fsInodes: 16, fsExtentBlocksPerInode: 2, ...config });
  const cpu = attachCpu(machine, 0);
  const dev = new PmemDevice(cpu);
  const journal = personality === 'ext4-nojournal' ? undefined : new Journal(cpu, dev, policy);
  mkfs(cpu, dev, { personality, journal });
  const fs = mountFs(cpu, { dev, journal });
  return { machine, dev, fs };
}

/** Commits the running transaction on this thread (no commit thread running). */
export function commitNow(fs: Fs): void {
  if (fs.journal) jbd2_journal_commit_transaction(fs.journal);
}

/** A power failure now, then journal recovery: the image a reboot would find. */
export function recoveredImage(fs: Fs, rng: () => number = never): Uint8Array {
  const image = fs.dev.crashImage(rng);
  const g = fsGeometry(fs.cpu.machine.config);
  if (fs.journal) jbd2_journal_recover(image, g, { afterFastCommitReplay: (img) => ext4_fc_set_bitmaps_and_counters(img, g) });
  return image;
}

export function fsckImage(fs: Fs, image: Uint8Array): string[] {
  return fsck(image, fs.g);
}
