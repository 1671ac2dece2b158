// `metadata-dirtier`: chmod over many files, never synced (seed 001's "unrelated metadata"):
// it creates its files first, commits them, then changes one file's mode per operation, so
// the running transaction gathers inode-table blocks that a MAP_SYNC fault's commit on
// another file must write too. Recorded as `setattr`.

import { vfs_chmod, vfs_create, vfs_fsync } from '../../fs/inode.js';
import type { MetadataDirtierRole } from '../../workload/schema.js';
import { sleepUntil } from '../pace.js';
import type { RoleContext } from './context.js';

export function metadataDirtier(ctx: RoleContext, r: MetadataDirtierRole): void {
  const inos = new Int32Array(r.files);
  for (let i = 0; i < r.files; i++) inos[i] = vfs_create(ctx.fs);
  vfs_fsync(ctx.fs, inos[r.files - 1], false); // their creation is committed before anything is measured
  const intervalNs = r.rateHz > 0 ? 1e9 / r.rateHz : 0;
  const stop = () => ctx.ctl.stopping;
  let next = 0;
  for (let done = 0; !ctx.shouldStop(done); done++) {
    if (intervalNs > 0 && next > 0) sleepUntil(next, stop, ctx.ctl);
    const t0 = ctx.log.begin();
    if (next === 0) next = t0;
    vfs_chmod(ctx.fs, inos[done % r.files], 0o600 | (done & 1 ? 0o044 : 0));
    ctx.log.end('setattr', t0, intervalNs);
    next += intervalNs;
  }
}
