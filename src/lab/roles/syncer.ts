// `syncer`: msync, fsync or fdatasync, back to back, every N stores of the storers, or every
// so many microseconds.

import { MS_SYNC } from '../../mm/mman.js';
import { vfs_fsync } from '../../fs/inode.js';
import type { SyncerRole } from '../../workload/schema.js';
import { CONTROL } from '../../machine/run_block.js';
import { sleepUntil } from '../pace.js';
import { vwaitEvent } from '../../sync/vclock.js';
import type { RoleContext } from './context.js';

export function syncer(ctx: RoleContext, r: SyncerRole): void {
  const vma = r.mapping !== undefined ? ctx.vma(r.mapping) : null;
  const ino = r.file !== undefined ? ctx.ino(r.file) : vma!.ino;
  const intervalNs = (r.everyUs ?? 0) * 1000;
  const stop = () => ctx.ctl.stopping;
  const w = ctx.ctl.w;
  let seen = 0;
  let next = 0;
  for (let done = 0; !ctx.shouldStop(done); done++) {
    // Warm-up syncs go back to back: the storers' warm-up is too short to pace them.
    if (!ctx.log.measuring) {
      // nothing to wait for
    } else if (r.everyStores !== undefined) {
      // On the wall clock, poll: the storers do not notify (a notify per store would cost
      // more than the store). On the virtual clock they do (a load when nobody sleeps), and
      // the syncer wakes at the instant of the store it waited for.
      while (Atomics.load(w, CONTROL.stores) - seen < r.everyStores && !stop()) {
        if (Atomics.load(w, CONTROL.storersActive) === 0) return; // no store will come: done
        vwaitEvent(ctx.cpu, w, CONTROL.stores, Atomics.load(w, CONTROL.stores), 0.05);
      }
      seen = Atomics.load(w, CONTROL.stores);
    } else if (intervalNs > 0 && next > 0) {
      sleepUntil(next, stop, ctx.ctl);
    }
    if (stop()) break;
    const t0 = ctx.log.begin();
    if (next === 0) next = t0;
    const sync = () => (r.call === 'msync' ? vma!.msync(0, vma!.length, MS_SYNC) : vfs_fsync(ctx.fs, ino, r.call === 'fdatasync'));
    // In a crashtest run what was written before the call is promised once it returns.
    if (ctx.content === null) sync();
    else ctx.content.synced(ino, sync);
    ctx.log.end(r.call === 'msync' ? 'msync' : 'fsync', t0, intervalNs);
    next += intervalNs;
  }
}
