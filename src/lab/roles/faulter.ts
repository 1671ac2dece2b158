// `faulter`: touches pages of a mapping once each, one timed page fault per touch (two for
// read-write: a read fault, then the write-protect fault that makes the page writable), as
// the seed's test program faults the 512 pages of its mapping. Each fault is recorded under
// the kind it turned out to be: read-fault, write-fault, or sync-fault when the write fault
// returned VM_FAULT_NEEDDSYNC (MAP_SYNC on a block whose mapping was not yet durable).

import { PAGE_SIZE } from '../../machine/layout.js';
import type { RecordedOpKind } from '../../measure/histogram.js';
import type { FaulterRole } from '../../workload/schema.js';
import { sleepUntil } from '../pace.js';
import type { RoleContext } from './context.js';

export function faulter(ctx: RoleContext, r: FaulterRole): void {
  const vma = ctx.vma(r.mapping);
  const order = pageOrder(vma.pages, r.order === 'random' ? ctx.rng : null);
  const word = new Uint8Array(8).fill(0x5a);
  const c = ctx.mm.counters;
  const vmf = ctx.mm.vmf;
  const intervalNs = r.intervalUs * 1000;
  const stop = () => ctx.ctl.stopping;
  const touches = r.access === 'read-write' ? 2 : 1;
  let next = 0;
  for (let done = 0; !ctx.shouldStop(done); done++) {
    const offset = order[Math.floor(done / touches)] * PAGE_SIZE;
    const write = r.access === 'write' || (r.access === 'read-write' && done % touches === 1);
    if (intervalNs > 0 && done > ctx.task.warmupOps) {
      sleepUntil(next, stop, ctx.ctl);
      if (stop()) break;
    }
    const reads = c.readFaults;
    const writes = c.writeFaults + c.wpFaults;
    const syncs = vmf.needDsync;
    const t0 = ctx.log.begin();
    // In a crashtest run a write stores the stamp of the page's first line (crash/content.ts).
    const stamp = write && ctx.content !== null ? ctx.content.stampAt(vma, offset) : null;
    if (stamp !== null) vma.store(stamp.at, stamp.src);
    else if (write) vma.store(offset, word);
    else vma.loadInto(offset, word);
    if (stamp !== null) ctx.content!.wrote(stamp);
    const kind: RecordedOpKind | null =
      vmf.needDsync !== syncs ? 'sync-fault' : c.writeFaults + c.wpFaults !== writes ? 'write-fault' : c.readFaults !== reads ? 'read-fault' : null;
    if (kind === null) {
      // Already mapped (a PMD fault mapped its neighbours): no fault to time.
      ctx.count('touchesWithoutFault');
      ctx.log.discard();
      continue;
    }
    ctx.log.end(kind, t0, intervalNs);
    next = t0 + intervalNs;
  }
}

/** The pages in the order the role touches them: 0..n-1, or a seeded shuffle. */
function pageOrder(n: number, rng: (() => number) | null): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  if (rng !== null) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
  }
  return a;
}
