import { describe, expect, it } from 'vitest';
import { createMachine, type Machine } from '../src/machine/machine.js';
import { LOCK_CLASS, LOCK_CLASSES, LOCK_STAT, MiB } from '../src/machine/layout.js';
import {
  diffLockStat,
  emptyLockStatFigures,
  mergeLockStat,
  readLockClass,
  readLockStat,
  resetLockStat,
  snapshotLockStat,
  type LockStatFigures,
} from '../src/sync/lockstat.js';
import { formatLockStat, formatLockStatNarrow, formatLockStatRow, formatLockTime, NARROW_WIDTH } from '../src/measure/lock_stat_format.js';

const figures = (f: Partial<LockStatFigures>): LockStatFigures => ({ ...emptyLockStatFigures(), ...f });

/** Writes one CPU's record of one class, as that CPU's lock code would have. */
function put(m: Machine, cpu: number, cls: number, f: Partial<Record<keyof typeof LOCK_STAT, number>>): void {
  const s = (cpu * LOCK_CLASSES.length + cls) * LOCK_STAT.stride;
  for (const [k, v] of Object.entries(f)) m.views.lockStat[s + LOCK_STAT[k as keyof typeof LOCK_STAT]] = v;
}

const machine = (cpus = 4) => createMachine({ cpus, pmemBytes: 2 * MiB, indexNodes: 8, mappings: 1 });

describe('lock_stat merging', () => {
  it('sums counts, takes max, and takes min only over CPUs that have samples', () => {
    const m = machine();
    put(m, 0, LOCK_CLASS.tree_lock, { acquisitions: 10, acqBounces: 2, contentions: 0, holdSamples: 10, holdNsMin: 50, holdNsMax: 90, holdNsTotal: 600 });
    put(m, 1, LOCK_CLASS.tree_lock, { acquisitions: 5, contentions: 2, conBounces: 1, sleeps: 1, waitNsMin: 300, waitNsMax: 900, waitNsTotal: 1200 });
    put(m, 3, LOCK_CLASS.tree_lock, { acquisitions: 1, contentions: 1, waitNsMin: 700, waitNsMax: 700, waitNsTotal: 700, holdSamples: 1, holdNsMin: 40, holdNsMax: 40, holdNsTotal: 40 });
    const t = readLockClass(m, 'tree_lock');
    expect(t).toEqual(
      figures({
        acquisitions: 16, acqBounces: 2, contentions: 3, conBounces: 1, sleeps: 1,
        waitNsMin: 300, waitNsMax: 900, waitNsTotal: 1900,
        holdSamples: 11, holdNsMin: 40, holdNsMax: 90, holdNsTotal: 640,
      }),
    );
    // CPU 2 (all zero) and CPU 0's zero wait figures did not drag the mins to 0.
    expect(readLockStat(m).dax_entry_lock).toEqual(emptyLockStatFigures());
    expect(Object.keys(readLockStat(m))).toEqual([...LOCK_CLASSES]);
    expect(() => readLockClass(m, 'no_such_lock' as never)).toThrow(RangeError);
  });

  it('resets every class, or one', () => {
    const m = machine(2);
    put(m, 0, LOCK_CLASS.tree_lock, { acquisitions: 3 });
    put(m, 1, LOCK_CLASS.radix_node_pool, { acquisitions: 4 });
    resetLockStat(m, 'radix_node_pool');
    expect(readLockClass(m, 'tree_lock').acquisitions).toBe(3);
    expect(readLockClass(m, 'radix_node_pool').acquisitions).toBe(0);
    resetLockStat(m);
    expect(readLockClass(m, 'tree_lock').acquisitions).toBe(0);
  });

  it('diffs two snapshots: exact counts and totals, extremes exact only when set in the window', () => {
    const m = machine(2);
    const tl = LOCK_CLASS.tree_lock;
    put(m, 0, tl, { acquisitions: 100, contentions: 10, waitNsMin: 5, waitNsMax: 10_000, waitNsTotal: 20_000 }); // warm-up outlier
    put(m, 1, tl, { acquisitions: 50, contentions: 0 });
    const warm = snapshotLockStat(m);
    put(m, 0, tl, { acquisitions: 130, contentions: 12, waitNsTotal: 20_400 }); // two waits, neither a new extreme
    put(m, 1, tl, { acquisitions: 60, contentions: 3, waitNsMin: 100, waitNsMax: 400, waitNsTotal: 700 }); // first waits
    const end = snapshotLockStat(m);

    const d = diffLockStat(warm, end).tree_lock;
    expect(d.acquisitions).toBe(40);
    expect(d.contentions).toBe(5);
    expect(d.waitNsTotal).toBe(1100);
    // CPU 0's window waits are somewhere in [5, 10000]: the bounds are reported, marked inexact.
    expect(d.waitNsMax).toBe(10_000);
    expect(d.waitNsMin).toBe(5);
    expect(d.extremesExact).toBe(false);

    // CPU 1 set a new min in this window (exact) but not a new max (400 is only a bound).
    const later = snapshotLockStat(m);
    put(m, 1, tl, { acquisitions: 61, contentions: 4, waitNsMin: 50, waitNsMax: 400, waitNsTotal: 750 });
    const d2 = diffLockStat(later, snapshotLockStat(m)).tree_lock;
    expect(d2).toMatchObject({ acquisitions: 1, contentions: 1, waitNsTotal: 50, waitNsMin: 50, extremesExact: false });
    // And the other way round: a new max (exact), the old min a bound.
    const later2 = snapshotLockStat(m);
    put(m, 1, tl, { acquisitions: 62, contentions: 5, waitNsMin: 50, waitNsMax: 900, waitNsTotal: 1650 });
    put(m, 0, tl, { acquisitions: 131 });
    const d3 = diffLockStat(later2, snapshotLockStat(m)).tree_lock;
    expect(d3).toMatchObject({ acquisitions: 2, contentions: 1, waitNsTotal: 900, waitNsMax: 900, extremesExact: false });

    // A merge of one snapshot is the cumulative figures.
    expect(mergeLockStat(end).tree_lock).toMatchObject({ acquisitions: 190, contentions: 15, waitNsMin: 5, waitNsMax: 10_000 });
    expect(diffLockStat(end, end).tree_lock).toEqual(emptyLockStatFigures());
    expect(() => diffLockStat(warm, snapshotLockStat(machine(3)))).toThrow(RangeError);
  });

  it('diffs exactly when every CPU with samples in the window started from none or set new extremes', () => {
    const m = machine(2);
    const tl = LOCK_CLASS.tree_lock;
    put(m, 0, tl, { acquisitions: 10, contentions: 2, waitNsMin: 300, waitNsMax: 500, waitNsTotal: 800 });
    const a = snapshotLockStat(m);
    put(m, 0, tl, { acquisitions: 12, contentions: 4, waitNsMin: 100, waitNsMax: 900, waitNsTotal: 1800 });
    put(m, 1, tl, { acquisitions: 3, contentions: 1, waitNsMin: 200, waitNsMax: 200, waitNsTotal: 200 });
    const d = diffLockStat(a, snapshotLockStat(m)).tree_lock;
    expect(d).toMatchObject({ acquisitions: 5, contentions: 3, waitNsMin: 100, waitNsMax: 900, waitNsTotal: 1200, extremesExact: true });
  });

  it('treats a CPU reset between the snapshots as starting from zero, inexactly', () => {
    const m = machine(1);
    put(m, 0, LOCK_CLASS.tree_lock, { acquisitions: 10, contentions: 2, waitNsMin: 1, waitNsMax: 2, waitNsTotal: 3 });
    const a = snapshotLockStat(m);
    resetLockStat(m);
    put(m, 0, LOCK_CLASS.tree_lock, { acquisitions: 4 });
    const d = diffLockStat(a, snapshotLockStat(m)).tree_lock;
    expect(d.acquisitions).toBe(4);
    expect(d.contentions).toBe(0);
    expect(d.extremesExact).toBe(false);
  });
});

// Figures (ns) behind two rows of Documentation/locking/lockstat.rst.
const unixTableLock = figures({
  conBounces: 110, contentions: 112, waitNsMin: 210, waitNsMax: 49_240, waitNsTotal: 163_910,
  acqBounces: 21094, acquisitions: 66312, holdSamples: 66312, holdNsMin: 120, holdNsMax: 624_420, holdNsTotal: 31_589_810,
});
// The kernel prints a write-locked rwsem as "%38s-W:", which is "%40s:" of the name with "-W".
const mmapSemW = figures({
  conBounces: 46, contentions: 84, waitNsMin: 260, waitNsMax: 939_100, waitNsTotal: 16_371_530,
  acqBounces: 47291, acquisitions: 2922365, holdSamples: 2922365, holdNsMin: 160, holdNsMax: 2_220_301_690, holdNsTotal: 17_464_026_916_320,
});

describe('lock_stat format', () => {
  it('prints times as the kernel does: µs with two decimals after rounding up at 5 ns', () => {
    expect(formatLockTime(0)).toBe('0.00');
    expect(formatLockTime(4)).toBe('0.00');
    expect(formatLockTime(5)).toBe('0.01');
    expect(formatLockTime(994)).toBe('0.99');
    expect(formatLockTime(995)).toBe('1.00');
    expect(formatLockTime(1234.6)).toBe('1.24');
    expect(formatLockTime(1_000_000)).toBe('1000.00');
    expect(formatLockTime(17_464_026_916_320)).toBe('17464026916.32');
    expect(formatLockTime(-3)).toBe('0.00');
  });

  const docRows = {
    unix:
      '                         unix_table_lock:           110            112           0.21          49.24         163.91           1.46          21094          66312           0.12         624.42       31589.81           0.48\n',
    mmap:
      '                         &mm->mmap_sem-W:            46             84           0.26         939.10       16371.53         194.90          47291        2922365           0.16     2220301.69 17464026916.32        5975.99\n',
  };

  it('prints a row exactly as /proc/lock_stat does', () => {
    expect(formatLockStatRow('unix_table_lock', unixTableLock)).toBe(docRows.unix);
    expect(formatLockStatRow('&mm->mmap_sem-W', mmapSemW)).toBe(docRows.mmap);
  });

  it('prints the header and sorts classes by contentions, most first', () => {
    const idle = figures({});
    const text = formatLockStat({ '&mm->mmap_sem-W': mmapSemW, idle_lock: idle, unix_table_lock: unixTableLock });
    const rule = '-'.repeat(221);
    expect(text).toBe(
      'lock_stat version 0.4\n' +
        rule + '\n' +
        '                              class name    con-bounces    contentions   waittime-min   waittime-max waittime-total   waittime-avg    acq-bounces   acquisitions   holdtime-min   holdtime-max holdtime-total   holdtime-avg\n' +
        rule + '\n' +
        '\n' +
        docRows.unix + // 112 contentions
        docRows.mmap, // 84
    );
    expect(formatLockStat({ idle_lock: idle }, { includeIdle: true })).toContain('idle_lock:');
  });

  it('lines every figure up under its column, in the column order of the header', () => {
    const m = machine(1);
    put(m, 0, LOCK_CLASS.dax_entry_lock, { acquisitions: 9, contentions: 1, waitNsMin: 1000, waitNsMax: 1000, waitNsTotal: 1000 });
    put(m, 0, LOCK_CLASS.tree_lock, {
      conBounces: 1, contentions: 2, waitNsMin: 3000, waitNsMax: 4000, waitNsTotal: 5000,
      acqBounces: 7, acquisitions: 8, holdSamples: 8, holdNsMin: 9000, holdNsMax: 10_000, holdNsTotal: 88_000,
    });
    const lines = formatLockStat(readLockStat(m)).split('\n');
    const header = lines[2];
    const [first, second] = [lines[5], lines[6]];
    expect(first.trimStart().startsWith('tree_lock:')).toBe(true);
    expect(second.trimStart().startsWith('dax_entry_lock:')).toBe(true);
    expect(lines).toHaveLength(8); // radix_node_pool was never taken: left out
    const values = ['1', '2', '3.00', '4.00', '5.00', '2.50', '7', '8', '9.00', '10.00', '88.00', '11.00'];
    const columns = header.trim().split(/\s+/).slice(2); // drop "class name"
    expect(columns).toHaveLength(12);
    values.forEach((v, i) => {
      const end = header.indexOf(columns[i]) + columns[i].length;
      expect(first.slice(end - 14, end).trim(), columns[i]).toBe(v);
    });
    expect(first).toHaveLength(header.length);
  });
});

describe('lock_stat in 120 columns (the default of run and show)', () => {
  const busy = (i: number) =>
    figures({
      // Figures as wide as a long run gives: billions of acquisitions, hours of summed waits.
      conBounces: 123_456_789 + i, contentions: 987_654_321 - i, waitNsMin: 210, waitNsMax: 9_876_543_210, waitNsTotal: 98_765_432_109_876,
      acqBounces: 4_000_000_000, acquisitions: 9_999_999_999, holdSamples: 9_999_999_999, holdNsMin: 120, holdNsMax: 2_220_301_690, holdNsTotal: 17_464_026_916_320,
    });

  it("fits every line of the model's lock classes, at their largest figures, in 120 columns", () => {
    const table = Object.fromEntries(LOCK_CLASSES.map((name, i) => [name, busy(i)]));
    const lines = formatLockStatNarrow(table).trimEnd().split('\n');
    expect(lines).toHaveLength(1 + LOCK_CLASSES.length + 1);
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(NARROW_WIDTH);
    // The model's names are short enough to stay whole.
    for (const name of LOCK_CLASSES) expect(lines.some((l) => l.trimStart().startsWith(`${name}:`)), name).toBe(true);
    // The wide layout does not fit: that is what --wide is for.
    expect(Math.max(...formatLockStat(table).split('\n').map((l) => l.length))).toBeGreaterThan(NARROW_WIDTH);
  });

  it("keeps the kernel's figures, order and column names, and names the columns it leaves out", () => {
    const text = formatLockStatNarrow({ '&mm->mmap_sem-W': mmapSemW, unix_table_lock: unixTableLock, idle_lock: figures({}) });
    const lines = text.split('\n');
    expect(lines[0].trim().split(/\s{2,}/)).toEqual(['class name', 'con-bounces', 'contentions', 'waittime-max', 'waittime-total', 'waittime-avg', 'acquisitions', 'holdtime-avg']);
    // The same figures as the kernel rows above, most contended first; the idle class left out.
    expect(lines[1].trim().split(/:?\s+/)).toEqual(['unix_table_lock', '110', '112', '49.24', '163.91', '1.46', '66312', '0.48']);
    expect(lines[2].trim().split(/:?\s+/)).toEqual(['&mm->mmap_sem-W', '46', '84', '939.10', '16371.53', '194.90', '2922365', '5975.99']);
    expect(lines[3]).toBe('(left out: waittime-min, acq-bounces, holdtime-min, holdtime-max, holdtime-total; --wide prints all 12)');
    expect(lines).toHaveLength(5);
  });

  it('cuts a class name only when the line would not fit otherwise, and says so with …', () => {
    const long = 'a_lock_class_name_much_longer_than_any_the_model_has_'.repeat(2);
    const lines = formatLockStatNarrow({ [long]: busy(0), tree_lock: busy(1) }).trimEnd().split('\n');
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(NARROW_WIDTH);
    const row = lines.find((l) => l.includes('…:'))!;
    expect(long.startsWith(row.trimStart().split('…:')[0])).toBe(true);
    expect(lines.some((l) => l.trimStart().startsWith('tree_lock:'))).toBe(true);
  });
});
