// One CPU, a machine with a written 64 MiB-class file, mounted and mapped: the rig the fault
// and store benchmarks (suite mm, the targets) run their loops on, with no injected cost.
// Their figures are per 4 KiB fault: mappings refuse PMD faults (MADV_NOHUGEPAGE).

import { createMachine } from '../src/machine/machine.js';
import { MiB, PAGE_SIZE } from '../src/machine/layout.js';
import { attachCpu } from '../src/sync/cpu.js';
import { PmemDevice } from '../src/pmem/device.js';
import { Journal } from '../src/journal/journal.js';
import { mkfs, mountFs } from '../src/fs/super.js';
import { vfs_create, vfs_write } from '../src/fs/inode.js';
import { attachMm, type Mm } from '../src/mm/mm.js';
import { mmap } from '../src/mm/mmap.js';
import { madvise } from '../src/mm/madvise.js';
import { MADV_NOHUGEPAGE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../src/mm/mman.js';
import type { Vma } from '../src/mm/memory.js';

export function faultRig(pages: number): { mm: Mm; ino: number } {
  const machine = createMachine({ cpus: 1, pmemBytes: 128 * MiB, mappings: 4, indexNodes: pages / 32 + 64, fsInodes: 4, ptePages: 1 << 16 });
  const cpu = attachCpu(machine, 0);
  const dev = new PmemDevice(cpu);
  const journal = new Journal(cpu, dev);
  mkfs(cpu, dev, { personality: 'ext4', journal });
  const fs = mountFs(cpu, { dev, journal });
  const mm = attachMm(cpu, fs);
  const ino = vfs_create(fs);
  vfs_write(fs, ino, 0, new Uint8Array(pages * PAGE_SIZE).fill(1));
  return { mm, ino };
}

/** A shared read-write mapping of the rig's file whose faults are all 4 KiB (madvise(MADV_NOHUGEPAGE)). */
export function map4k(mm: Mm, ino: number, pages: number): Vma {
  const vma = mmap(mm, ino, pages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
  madvise(vma, MADV_NOHUGEPAGE);
  return vma;
}
