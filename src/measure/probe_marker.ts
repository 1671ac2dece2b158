// How a probe read as a run is told from a lab run: the commands that refuse to mix clocks
// let a probe (a real kernel, timed by its own clock) stand beside the lab's virtual clock,
// since comparing the two is what a probe is for. No dependencies: compare.ts imports it, and probe/ (which builds on measure/) marks its results with it.

export const PROBE_WORKLOAD = 'probe';
export const PROBE_VARIANT = 'real-kernel';

export function isProbeResults(r: { workload: { name: string }; variant: string }): boolean {
  return r.workload.name === PROBE_WORKLOAD && r.variant === PROBE_VARIANT;
}
