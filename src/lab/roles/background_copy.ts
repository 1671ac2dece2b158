// `background-copy`: the seed's background load, a file copy running beside the faults:
// write(2) the file chunk by chunk, and when it is full truncate it and start again, so the
// journal keeps receiving the copy's block allocations and frees. In a crashtest run each
// chunk is stamps (crash/content.ts), and the truncate drops what earlier fsyncs promised.

import { vfs_fsync, vfs_truncate, vfs_write, inodeInfo } from '../../fs/inode.js';
import type { BackgroundCopyRole } from '../../workload/schema.js';
import type { RoleContext } from './context.js';

export function backgroundCopy(ctx: RoleContext, r: BackgroundCopyRole, fileSize: number): void {
  const ino = ctx.ino(r.file);
  const content = ctx.content;
  const chunk = new Uint8Array(r.chunk).fill(0xc0 + (ctx.cpu.id & 0x3f));
  let offset = inodeInfo(ctx.fs, ino).size;
  if (offset >= fileSize) offset = 0;
  let writes = 0;
  for (let done = 0; !ctx.shouldStop(done); done++) {
    if (offset + r.chunk > fileSize) {
      content?.dropping(ino, 0, fileSize);
      vfs_truncate(ctx.fs, ino, 0);
      ctx.count('backgroundTruncates');
      offset = 0;
    }
    const t0 = ctx.log.begin();
    const src = content === null ? chunk : content.stampedChunk(ino, offset, r.chunk, chunk);
    vfs_write(ctx.fs, ino, offset, src);
    ctx.log.end('background-write', t0);
    content?.wroteChunk(ino, offset, src);
    offset += r.chunk;
    writes++;
    if (r.fsyncEvery > 0 && writes % r.fsyncEvery === 0) {
      if (content === null) vfs_fsync(ctx.fs, ino, false);
      else content.synced(ino, () => vfs_fsync(ctx.fs, ino, false));
    }
  }
}
