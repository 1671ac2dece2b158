// `storer`: stores through a mapping, flat out or at a fixed rate, optionally flushing each
// store from userspace (clwb + sfence, as a MAP_SYNC program does) or fsyncing the file
// after every so many stores (with the stores waiting, unlike a separate syncer CPU). A store that finds its
// page not writable takes the fault inside the store, so its latency includes it.

import { PAGE_SIZE } from '../../machine/layout.js';
import { vfs_fsync } from '../../fs/inode.js';
import type { StorerRole } from '../../workload/schema.js';
import { CONTROL } from '../../machine/run_block.js';
import { sleepUntil } from '../pace.js';
import { isVirtual, vnotify } from '../../sync/vclock.js';
import type { RoleContext } from './context.js';

export function storer(ctx: RoleContext, r: StorerRole): void {
  try {
    storeLoop(ctx, r);
  } finally {
    // Syncers paced by stores stop once no storer is left.
    Atomics.sub(ctx.ctl.w, CONTROL.storersActive, 1);
    if (ctx.task.countStores) vnotify(ctx.cpu, ctx.ctl.w, CONTROL.stores);
  }
}

function storeLoop(ctx: RoleContext, r: StorerRole): void {
  const vma = ctx.vma(r.mapping);
  const src = new Uint8Array(r.bytes).fill(ctx.cpu.id + 1);
  const slots = Math.floor(PAGE_SIZE / r.bytes);
  const span = vma.pages * slots;
  const intervalNs = r.rateHz > 0 ? 1e9 / r.rateHz : 0;
  const stop = () => ctx.ctl.stopping;
  const w = ctx.ctl.w;
  const virtual = isVirtual();
  let next = 0;
  let last = -1;
  for (let done = 0; !ctx.shouldStop(done); done++) {
    if (done === ctx.task.warmupOps) last = -1; // the warm-up barrier is not a store's time
    const slot = r.order === 'random' ? Math.floor(ctx.rng() * span) : done % span;
    const offset = Math.floor(slot / slots) * PAGE_SIZE + (slot % slots) * r.bytes;
    if (intervalNs > 0 && done > ctx.task.warmupOps) sleepUntil(next, stop, ctx.ctl);
    // Flat out, each store starts where the previous one ended (one clock read per store).
    const t0 = ctx.log.begin(intervalNs === 0 && !r.flushUser && r.fsyncEvery === 0 ? last : -1);
    // The schedule starts at the first measured store and advances by the interval, late or not.
    if (done <= ctx.task.warmupOps) next = t0;
    vma.store(offset, src);
    last = ctx.log.end('store', t0, intervalNs);
    if (r.flushUser) {
      const t1 = ctx.log.begin();
      vma.flushUser(offset, r.bytes);
      ctx.log.end('flushUser', t1);
    }
    if (ctx.task.countStores) {
      Atomics.add(w, CONTROL.stores, 1);
      if (virtual) vnotify(ctx.cpu, w, CONTROL.stores);
    }
    if (r.fsyncEvery > 0 && (done + 1) % r.fsyncEvery === 0) {
      const t2 = ctx.log.begin();
      vfs_fsync(ctx.fs, vma.ino, false);
      ctx.log.end('fsync', t2);
    }
    next += intervalNs;
  }
}
