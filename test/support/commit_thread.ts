// Starts kjournald2 on a worker CPU for a test and gives back its stop function.
import type { Machine } from '../../src/machine/machine.js';
import { JOURNAL } from '../../src/machine/layout.js';
import { stopCommitThread, type KjournaldSummary } from '../../src/journal/kjournald.js';
import type { JournalPolicy } from '../../src/journal/policy.js';
import { runCpus } from './workers.js';

/** Resolves once kjournald2 runs (from then on no CPU commits inline); the stop function is idempotent. */
export async function startCommitThread(
  machine: Machine,
  cpu: number,
  policy: Partial<JournalPolicy>,
): Promise<() => Promise<KjournaldSummary>> {
  const run = runCpus<KjournaldSummary>(machine, [{ cpu, module: 'kjournald_cpu', fn: 'commitThread', args: { policy } }]);
  const js = machine.views.journalState;
  let failed: unknown;
  run.catch((e) => (failed = e));
  while (Atomics.load(js, JOURNAL.threadRunning) === 0) {
    if (failed) throw failed;
    const r = Atomics.waitAsync(js, JOURNAL.threadRunning, 0, 5);
    if (r.async) await r.value;
  }
  let done: KjournaldSummary | undefined;
  return async () => {
    if (!done) {
      stopCommitThread(machine);
      done = (await run)[0];
    }
    return done;
  };
}
