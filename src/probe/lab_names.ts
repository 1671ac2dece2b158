// The lab's name for a probe row's configuration. Seed 002 and KERNEL-REF.md call a
// fallocated file "prealloc"; the lab's kara-2017 workload keeps "prealloc-*" for the 2017
// table's rows, which it models as a written file, and calls the fallocated one
// "fallocated-*". Comparing a probe with a run pairs the same setup, so names go through here.

import type { ProbePrep } from './schema.js';

const LAB_STATE: Record<ProbePrep, string> = { prealloc: 'fallocated', empty: 'empty', written: 'prealloc' };

/** The probe's own row name: `<prep>-<bg|nobg>-<sync|nosync>[-pmd]`. */
export function probeRowName(r: { prep: ProbePrep; bg: boolean; mapSync: boolean; huge: boolean }): string {
  return `${r.prep}-${r.bg ? 'bg' : 'nobg'}-${r.mapSync ? 'sync' : 'nosync'}${r.huge ? '-pmd' : ''}`;
}

/** The kara-2017 configuration with the same setup (fallocated file: fallocated-*, written file: prealloc-*). */
export function labConfigName(r: { prep: ProbePrep; bg: boolean; mapSync: boolean; huge: boolean }): string {
  return `${LAB_STATE[r.prep]}-${r.bg ? 'bg' : 'nobg'}-${r.mapSync ? 'sync' : 'nosync'}${r.huge ? '-pmd' : ''}`;
}

/** The run configuration of a probe's fsync row (`daxlab show probe.json`, calibrate's lab runs). */
export function fsyncConfigName(dirtyPages: number): string {
  return `fsync-${dirtyPages}-pages`;
}

/** The run configuration of a probe's ordering-tax row. */
export function taxConfigName(t: { pauseMs: number; mapSync: boolean }): string {
  return `tax-${t.pauseMs}ms-${t.mapSync ? 'sync' : 'nosync'}`;
}
