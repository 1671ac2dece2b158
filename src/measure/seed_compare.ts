// The seed's own table beside the lab's rows, for the configurations named after its rows
// (workloads/kara-2017.json): what `daxlab run kara-2017` prints last.

import { KARA_2017_ROWS, formatSideBySide, type SideBySideRow } from './seed_format.js';
import type { RunResults } from './results.js';
import { MergedOps } from './histogram.js';
import { trimmedMeanNs } from './trimmed_mean.js';
import { isProbeResults } from './probe_marker.js';

/** '' when no configuration has a seed row's name. */
export function formatSeedComparison(r: RunResults): string {
  const rows: SideBySideRow[] = [];
  const wall = r.clock.kind === 'wall';
  const probe = isProbeResults(r);
  for (const seed of KARA_2017_ROWS) {
    const c = r.configs.find((x) => x.name === seed.name);
    const fault = c?.ops.fault;
    if (fault === undefined || fault.count === 0) continue;
    // On the wall clock the slowest faults hold the host's stalls: the ratio without them goes beside.
    const h = wall ? MergedOps.merge([c!.encoded]).get('fault') : undefined;
    rows.push({
      name: seed.name,
      title: seed.title,
      lab: fault,
      seed: seed.row,
      ...(h ? { labTrimmedAvgUs: trimmedMeanNs(h.histogram) / 1000 } : {}),
      ...(probe ? { leftLabel: 'probe' } : {}),
    });
  }
  if (rows.length === 0) return '';
  return (
    (probe
      ? `=== seed 002 (Jan Kara, 2017, ramdisk) beside this probe of a real kernel: every timed store's fault, µs ===\n` +
        `(the probe's slowest faults include host stalls; the ratio without them is in parentheses)\n`
      : `=== seed 002 (Jan Kara, 2017, ramdisk) beside the lab: every page fault of the timed CPU, µs ===\n` +
        (wall ? `(the lab's slowest faults include host stalls of this machine; the ratio without them is in parentheses)\n` : '')) +
    `\n${formatSideBySide(rows)}`
  );
}
