// Test CPUs for the allocator's group locks (test/fs_alloc.test.ts), on the virtual clock and
// without a journal (so ext4_mb_new_blocks runs without a handle): one CPU holds an
// allocation group's lock for a while, another allocates one block for a goal and times it.
// Flags: Int32 [holder has the lock].

import type { Cpu } from '../../src/sync/cpu.js';
import { mountFs } from '../../src/fs/super.js';
import { ext4_lock_group, ext4_mb_new_blocks, ext4_unlock_group } from '../../src/fs/balloc.js';
import { charge } from '../../src/sync/vclock.js';
import { nowNs } from '../../src/util/clock.js';

/** Takes group `group`'s lock, says so, holds it for `holdNs` of virtual time, drops it. */
export function holder(cpu: Cpu, a: { group: number; holdNs: number; flags: SharedArrayBuffer }): void {
  const fs = mountFs(cpu);
  const flags = new Int32Array(a.flags);
  ext4_lock_group(fs, a.group);
  Atomics.store(flags, 0, 1);
  Atomics.notify(flags, 0);
  charge(a.holdNs);
  ext4_unlock_group(fs, a.group);
}

/** Once the holder has its lock, allocates one block for `goal`; returns the block and the allocation's virtual time. */
export function allocator(cpu: Cpu, a: { goal: number; flags: SharedArrayBuffer }): { block: number; ns: number } {
  const fs = mountFs(cpu);
  const flags = new Int32Array(a.flags);
  while (Atomics.load(flags, 0) === 0) Atomics.wait(flags, 0, 0, 5);
  const t0 = nowNs();
  const block = ext4_mb_new_blocks(fs, null, a.goal, 1);
  return { block, ns: nowNs() - t0 };
}
