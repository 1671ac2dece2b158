// `storer`: stores through a mapping, flat out or at a fixed rate, optionally flushing each
// store from userspace (clwb + sfence, as a MAP_SYNC program does) or fsyncing the file
// after every so many stores (with the stores waiting, unlike a separate syncer CPU), and
// optionally punching a one-page hole in its mapping now and then (and, every so many punches,
// the whole 2 MiB around it, so the range is mapped by a PMD again). A store that finds its
// page not writable takes the fault inside the store, so its latency includes it. In a
// crashtest run a store writes the stamp of the 64-byte line it falls in (crash/content.ts).

import { PAGE_SIZE, PMD_SIZE } from '../../machine/layout.js';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, vfs_fallocate, vfs_fsync } from '../../fs/inode.js';
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
  const content = ctx.content;
  let next = 0;
  let last = -1;
  let punches = 0;
  for (let done = 0; !ctx.shouldStop(done); done++) {
    if (done === ctx.task.warmupOps) last = -1; // the warm-up barrier is not a store's time
    const slot = r.order === 'random' ? Math.floor(ctx.rng() * span) : done % span;
    const offset = Math.floor(slot / slots) * PAGE_SIZE + (slot % slots) * r.bytes;
    if (intervalNs > 0 && done > ctx.task.warmupOps) sleepUntil(next, stop, ctx.ctl);
    // Flat out, each store starts where the previous one ended (one clock read per store).
    const t0 = ctx.log.begin(intervalNs === 0 && !r.flushUser && r.fsyncEvery === 0 ? last : -1);
    // The schedule starts at the first measured store and advances by the interval, late or not.
    if (done <= ctx.task.warmupOps) next = t0;
    const stamp = content === null ? null : content.stampAt(vma, offset);
    if (stamp === null) vma.store(offset, src);
    else vma.store(stamp.at, stamp.src);
    last = ctx.log.end('store', t0, intervalNs);
    if (stamp !== null) content!.wrote(stamp);
    if (r.flushUser) {
      const t1 = ctx.log.begin();
      if (stamp === null) vma.flushUser(offset, r.bytes);
      else vma.flushUser(stamp.at, stamp.src.length);
      ctx.log.end('flushUser', t1);
      if (stamp !== null) content!.flushed(stamp);
    }
    if (ctx.task.countStores) {
      Atomics.add(w, CONTROL.stores, 1);
      if (virtual) vnotify(ctx.cpu, w, CONTROL.stores);
    }
    if (r.fsyncEvery > 0 && (done + 1) % r.fsyncEvery === 0) {
      const t2 = ctx.log.begin();
      if (content === null) vfs_fsync(ctx.fs, vma.ino, false);
      else content.synced(vma.ino, () => vfs_fsync(ctx.fs, vma.ino, false));
      ctx.log.end('fsync', t2);
    }
    if (r.punchEvery > 0 && (done + 1) % r.punchEvery === 0) {
      const at = (vma.pgoff + Math.floor(ctx.rng() * vma.pages)) * PAGE_SIZE;
      content?.dropping(vma.ino, at, at + PAGE_SIZE);
      vfs_fallocate(ctx.fs, vma.ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, at, PAGE_SIZE);
      ctx.count('punches');
      // The first punch split the 2 MiB extent (and its PMD entry): the pages that stay fault
      // back as PTEs. Punching all of it lets the next store's PMD fault allocate a fresh
      // aligned extent, so that seed 003's case (a punch inside a dirty PMD) comes again.
      if (r.punchPmdEvery > 0 && ++punches % r.punchPmdEvery === 0) punchPmd(ctx, vma, at, content);
    }
    next += intervalNs;
  }
}

/** Punches the whole PMD-sized range (2 MiB, aligned in the file) around file byte `at`, where it lies inside the mapping. */
function punchPmd(ctx: RoleContext, vma: { ino: number; pgoff: number; pages: number }, at: number, content: RoleContext['content']): void {
  const from = at - (at % PMD_SIZE);
  if (from < vma.pgoff * PAGE_SIZE || from + PMD_SIZE > (vma.pgoff + vma.pages) * PAGE_SIZE) return;
  content?.dropping(vma.ino, from, from + PMD_SIZE);
  vfs_fallocate(ctx.fs, vma.ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, from, PMD_SIZE);
  ctx.count('pmdPunches');
}
