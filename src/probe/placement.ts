// Where a probe's background copy ran beside the faulter (probe.json rows[].copyPlacement),
// in one sentence, and what it means for the lab: a copy on the faulter's SMT sibling keeps
// the faulter's core out of deep idle states (a core's C-state is the shallowest its threads
// ask for), which the lab models with kara-2017's placement (cpus[1].core beside cpus[0].core).

import type { CopyPlacement, Probe } from './schema.js';

export interface CopyPlacementVerdict {
  /** The faults the bg rows timed with the copy's CPU known, and where it was. */
  known: number;
  placement: CopyPlacement;
  /** More than half of the known faults had the copy on the faulter's SMT sibling. */
  onSibling: boolean;
  /** One line for a person: the shares and what the lab does with them. */
  line: string;
}

const pct = (n: number, of: number) => `${((100 * n) / of).toFixed(0)} %`;

/** The placement summed over the probe's measured bg rows; null when none recorded it. */
export function copyPlacementOf(p: Probe): CopyPlacementVerdict | null {
  const rows = p.rows.filter((r) => r.bg && r.status === 'measured' && r.copyPlacement !== undefined);
  if (rows.length === 0) return null;
  const sum = (k: keyof CopyPlacement) => rows.reduce((s, r) => s + r.copyPlacement![k], 0);
  const placement: CopyPlacement = { sameCpu: sum('sameCpu'), smtSibling: sum('smtSibling'), otherCore: sum('otherCore'), unknown: sum('unknown') };
  const known = placement.sameCpu + placement.smtSibling + placement.otherCore;
  const onSibling = known > 0 && placement.smtSibling * 2 > known;
  const shares =
    known === 0
      ? `not known at any of ${placement.unknown} faults (no CPU topology, or the copy never wrote)`
      : `on the faulter's SMT sibling at ${pct(placement.smtSibling, known)} of ${known} faults, on another core at ${pct(placement.otherCore, known)}, ` +
        `time-sharing the faulter's CPU at ${pct(placement.sameCpu, known)}`;
  const lab = onSibling
    ? "the lab runs it on the faulter's sibling (kara-2017's placement)"
    : 'the lab gives it a core of its own' + (placement.sameCpu * 2 > known ? ' (it cannot time-share a CPU: every task has one)' : '');
  return { known, placement, onSibling, line: `the background copy ran ${shares}: ${lab}` };
}
