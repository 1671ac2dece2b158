// Test CPUs for cost injection and attribution (test/attribution.test.ts,
// test/cost_profile.test.ts): a CPU that reports the costs it sees, and a faulter that
// write-faults every page of a mapping once, timing each fault with its own clock reads and
// attributing it (the way a lab role does).

import type { Cpu } from '../../src/sync/cpu.js';
import type { Costs } from '../../src/cost/costs.js';
import { mountFs } from '../../src/fs/super.js';
import { attachMm } from '../../src/mm/mm.js';
import { attachVma } from '../../src/mm/mmap.js';
import type { VmaRef } from '../../src/mm/memory.js';
import { opBegin, opCommitCarriedOtherInodes, opEnd, setAttributing } from '../../src/measure/steps.js';
import { AttributionRecorder, type EncodedAttribution } from '../../src/measure/attribution.js';
import { nowNs } from '../../src/util/clock.js';
import { JOURNAL, PAGE_SIZE } from '../../src/machine/layout.js';
import { vnotify } from '../../src/sync/vclock.js';
import { listProfiles } from '../../src/cost/profile.js';

/** The costs this CPU's attached machine carries, and what its device and file system charge. */
export function costsSeen(cpu: Cpu): { config: Costs; fs: { zeroBlockNs: number; allocNs: number; syscallNs: number }; flushLineNs: number } {
  const fs = mountFs(cpu);
  return {
    config: { ...cpu.machine.config.costs },
    fs: { zeroBlockNs: fs.zeroBlockNs, allocNs: fs.allocNs, syscallNs: fs.syscallNs },
    flushLineNs: fs.dev.flushLineNs,
  };
}

export interface FaultOp {
  latencyNs: number;
  steps: number[];
  carried: boolean;
  needDsync: boolean;
}

/** Write-faults each page of the mapping once (one 8-byte store per page), attributed. */
export function attributedFaults(cpu: Cpu, a: { ref: VmaRef; pages: number }): { ops: FaultOp[]; encoded: EncodedAttribution } {
  const fs = mountFs(cpu);
  const mm = attachMm(cpu, fs);
  const vma = attachVma(mm, a.ref);
  const rec = new AttributionRecorder();
  const ops: FaultOp[] = [];
  const bytes = new Uint8Array(8).fill(cpu.id + 1);
  setAttributing(true);
  try {
    for (let p = 0; p < a.pages; p++) {
      const before = mm.vmf.needDsync;
      const t0 = nowNs();
      opBegin(t0);
      vma.store(p * PAGE_SIZE, bytes);
      const t1 = nowNs();
      const steps = opEnd(t1);
      const carried = opCommitCarriedOtherInodes();
      const needDsync = mm.vmf.needDsync > before;
      rec.record(needDsync ? 'sync-fault' : 'write-fault', t1 - t0, steps, cpu.id, 0, carried);
      ops.push({ latencyNs: t1 - t0, steps: Array.from(steps), carried, needDsync });
    }
  } finally {
    setAttributing(false);
  }
  return { ops, encoded: rec.encode() };
}

/** The shipped profiles as a worker (running dist/) finds them. */
export function profilesInWorker(): { name: string; description: string }[] {
  return listProfiles();
}

/** attributedFaults(), then stops the commit thread running beside it (as jbd2_journal_destroy would), so one runCpus call holds both. */
export function attributedFaultsThenStopJournal(cpu: Cpu, a: { ref: VmaRef; pages: number }): { ops: FaultOp[]; encoded: EncodedAttribution } {
  try {
    return attributedFaults(cpu, a);
  } finally {
    const js = cpu.machine.views.journalState;
    Atomics.store(js, JOURNAL.shutdown, 1);
    Atomics.add(js, JOURNAL.wakeSeq, 1);
    vnotify(cpu, js, JOURNAL.wakeSeq);
  }
}
