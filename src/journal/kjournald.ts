// The journal commit thread (kjournald2, fs/jbd2/journal.c): its own CPU, like jbd2's
// kthread. It commits the running transaction when someone asked for its commit, when its
// commit interval expires (commit=), or when a handle found it full; between those it
// sleeps on the journal's wake word. It never waits once a commit is asked for (jbd2's
// batching happens in the syncing task's jbd2_journal_stop()), never performs fast commits
// (the fsyncing task does) and never checkpoints (a task short of log space does). Its timer
// runs in the CPU's time: virtual time on the virtual clock, where it ends at its virtual
// instant even when every other CPU sleeps.

import { JOURNAL, REGION_NAMES } from '../machine/layout.js';
import type { Machine } from '../machine/machine.js';
import type { Cpu } from '../sync/cpu.js';
import { PmemDevice } from '../pmem/device.js';
import { Journal, commitTimerExpiresNs, transactionAgeMs } from './journal.js';
import { jbd2_journal_commit_transaction } from './commit.js';
import type { JournalPolicy } from './policy.js';
import { vnotifyFromHost, vwaitTimer } from '../sync/vclock.js';

const J = JOURNAL;

export interface KjournaldSummary {
  commits: number;
  /** Why each full commit started: a waiter asked, the interval expired, or the transaction was full. */
  triggers: { request: number; interval: number; size: number };
}

/**
 * kjournald2(): runs until journalState.shutdown is set, then commits what is left and returns.
 * The summary counts only the commits that end while `counting()` says so (a run's measured
 * phase; always, without it).
 */
export function kjournald2(cpu: Cpu, args: { policy?: Partial<JournalPolicy>; counting?: () => boolean }): KjournaldSummary {
  const j = new Journal(cpu, new PmemDevice(cpu), args.policy ?? {});
  const js = j.js;
  const counted: KjournaldSummary = { commits: 0, triggers: { request: 0, interval: 0, size: 0 } };
  const ignored: KjournaldSummary = structuredClone(counted);
  const counting = args.counting ?? (() => true);
  Atomics.store(js, J.threadRunning, 1);
  // The main thread waits for this before it starts the CPUs.
  Atomics.notify(js, J.threadRunning);
  try {
    runCommitLoop(j, () => (counting() ? counted : ignored));
  } finally {
    Atomics.store(js, J.threadRunning, 0);
  }
  return counted;
}

/** `summary()`: where a commit that just ended is counted. */
function runCommitLoop(j: Journal, summary: () => KjournaldSummary): void {
  const js = j.js;
  const { commitIntervalMs } = j.policy;
  for (;;) {
    const seq = Atomics.load(js, J.wakeSeq);
    const stopping = Atomics.load(js, J.shutdown) !== 0;
    const tid = Atomics.load(js, J.runningTid);
    // The commit timer runs only while a transaction does (jbd2_get_transaction arms
    // j_commit_timer without waking kjournald2); with none, kjournald2 sleeps until asked, or
    // until a new transaction's timer expires. On the virtual clock a timer with nothing to
    // commit would otherwise carry its clock seconds ahead of every CPU whenever the others sleep.
    if (tid !== 0) {
      const age = transactionAgeMs(j);
      const requested = Atomics.load(js, J.commitRequest) >= tid;
      // A handle was held back: the transaction has no room left for it (add_transaction_credits).
      const full = Atomics.load(js, J.sizeLimitTid) === tid;
      const expired = age >= commitIntervalMs;
      if (requested || full || expired || stopping) {
        if (jbd2_journal_commit_transaction(j)) {
          const s = summary();
          s.commits++;
          if (full) s.triggers.size++;
          else if (requested) s.triggers.request++;
          else s.triggers.interval++;
        }
        continue;
      }
    } else if (stopping) {
      break;
    }
    vwaitTimer(j.cpu, js, J.wakeSeq, seq, () => commitTimerExpiresNs(j));
  }
}

/** jbd2_journal_destroy()'s first half, from the main thread: asks the commit thread to commit what is left and exit. */
export function stopCommitThread(machine: Machine): void {
  const js = machine.views.journalState;
  Atomics.store(js, J.shutdown, 1);
  Atomics.add(js, J.wakeSeq, 1);
  Atomics.notify(js, J.wakeSeq);
  vnotifyFromHost(machine, js, J.wakeSeq, REGION_NAMES.indexOf('journalState'));
}
