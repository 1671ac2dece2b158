// The journal commit thread as a test CPU.
import type { Cpu } from '../../src/sync/cpu.js';
import { kjournald2, type KjournaldSummary } from '../../src/journal/kjournald.js';
import type { JournalPolicy } from '../../src/journal/policy.js';

export function commitThread(cpu: Cpu, a: { policy: Partial<JournalPolicy> }): KjournaldSummary {
  return kjournald2(cpu, { policy: a.policy });
}
