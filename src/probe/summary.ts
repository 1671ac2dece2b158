// What `daxlab probe` prints when it is done: the setup, whether the filesystem is DAX (said
// plainly when it is not), each series' figures, and what could not be measured and why.

import { formatAligned, formatUs } from '../measure/text_table.js';
import type { Probe, ProbeStats } from './schema.js';
import { copyPlacementOf } from './placement.js';

function statCells(s: ProbeStats | undefined): string[] {
  if (s === undefined) return ['', '', '', '', ''];
  return [String(s.count), formatUs(s.meanNs), formatUs(s.p50Ns), formatUs(s.p99Ns), formatUs(s.maxNs)];
}

function setupLines(p: Probe): string[] {
  const { setup } = p;
  const dev = setup.device;
  const device =
    dev === null
      ? 'no block device under the mount'
      : `device ${dev.name}: queue/dax ${dev.queueDax === null ? 'unreadable' : dev.queueDax ? '1' : '0'}` +
        (dev.namespace === null ? ', no nvdimm namespace' : `, ${dev.namespace} in ${dev.namespaceMode ?? 'an unreadable'} mode`);
  const statx = setup.statxDax === null ? 'statx cannot say whether files are DAX' : `statx STATX_ATTR_DAX: ${setup.statxDax ? 'yes' : 'no'}`;
  return [
    `kernel ${setup.kernel}`,
    `${setup.mount.fstype} on ${setup.mount.source} (${setup.mount.options.join(',')}); ${device}; ${statx}`,
    `cpu ${setup.cpu}; clock source ${setup.clocksource ?? 'unreadable'}` +
      (setup.timerNs === undefined ? '' : `; a clock_gettime pair costs ${setup.timerNs} ns, inside every timed figure`),
  ];
}

/** Warnings about figures that are not what their row says: stores that did not each fault. */
function faultCountNotes(p: Probe): string[] {
  const out: string[] = [];
  for (const r of p.rows) {
    if (r.status !== 'measured' || r.fault === undefined || r.rusageFaults === undefined) continue;
    if (r.rusageFaults < r.fault.count) {
      out.push(
        `${r.name}: getrusage counted ${r.rusageFaults} faults for ${r.fault.count} timed stores: ` +
          'some stores did not fault (the kernel mapped several pages at one fault, large folios or fault-around), so its figures mix faults and plain stores',
      );
    }
  }
  return out;
}

export function formatProbeSummary(p: Probe): string {
  const parts: string[] = [];
  parts.push(setupLines(p).join('\n') + '\n');
  parts.push(
    p.dax.isDax
      ? 'This filesystem is DAX: MAP_SYNC maps.\n'
      : `This filesystem is not DAX.\n  ${p.dax.reason ?? ''}\nThe MAP_SYNC series could not be measured; the others were, through the page cache.\n`,
  );
  const head = ['', 'status', 'n', 'mean µs', 'p50 µs', 'p99 µs', 'max µs'];
  const rowLine = (name: string, status: string, s: ProbeStats | undefined, extra: string[] = []) => [name, status, ...statCells(s), ...extra];

  parts.push(
    `write faults (one timed store per ${p.rows.some((r) => r.huge) ? 'page, or per 2 MiB in the -pmd rows' : 'page'})${p.quick ? ', --quick' : ''}:\n` +
      formatAligned(
        [
          [...head, 'rusage faults'],
          ...p.rows.map((r) => rowLine(r.name, r.status, r.fault, [r.rusageFaults === undefined ? '' : String(r.rusageFaults)])),
        ],
        { indent: '  ', align: ['l', 'l'] },
      ),
  );
  parts.push(
    'fsync after k dirty pages of a written file:\n' +
      formatAligned([['k', ...head.slice(1)], ...p.fsync.map((f) => rowLine(String(f.dirtyPages), f.status, f.fsync))], { indent: '  ', align: ['r', 'l'] }),
  );
  parts.push(
    'ordering tax: write faults on an empty file, paced apart, beside a chmod metadata dirtier:\n' +
      formatAligned(
        [['', ...head.slice(1)], ...p.orderingTax.map((t) => rowLine(`${t.pauseMs} ms ${t.mapSync ? 'MAP_SYNC' : 'no MAP_SYNC'}`, t.status, t.fault))],
        { indent: '  ', align: ['l', 'l'] },
      ),
  );
  const b = p.baseline;
  parts.push(
    `baselines: null system call ${b.nullSyscallNs === null ? 'not measured' : `${Math.round(b.nullSyscallNs)} ns`}, ` +
      `page-cache read fault ${b.pageCacheFaultNs === null ? 'not measured' : `${Math.round(b.pageCacheFaultNs)} ns`}\n`,
  );

  const missing = [
    ...p.rows.filter((r) => r.status === 'unsupported').map((r) => ({ what: r.name, reason: r.reason ?? '' })),
    ...p.fsync.filter((f) => f.status === 'unsupported').map((f) => ({ what: `fsync after ${f.dirtyPages}`, reason: f.reason ?? '' })),
    ...p.orderingTax.filter((t) => t.status === 'unsupported').map((t) => ({ what: `tax ${t.pauseMs} ms${t.mapSync ? ' MAP_SYNC' : ''}`, reason: t.reason ?? '' })),
  ];
  if (missing.length > 0) {
    // One line per reason: seven MAP_SYNC rows refused for one cause are one finding.
    const byReason = new Map<string, string[]>();
    for (const m of missing) byReason.set(m.reason, [...(byReason.get(m.reason) ?? []), m.what]);
    parts.push(
      `not measured (${missing.length}):\n` + [...byReason].map(([reason, whats]) => `  ${whats.join(', ')}: ${reason}\n`).join(''),
    );
  }
  const placement = copyPlacementOf(p);
  const notes = [...faultCountNotes(p), ...(placement === null ? [] : [placement.line])];
  if (notes.length > 0) parts.push('notes:\n' + notes.map((n) => `  ${n}\n`).join(''));
  return parts.join('\n');
}
