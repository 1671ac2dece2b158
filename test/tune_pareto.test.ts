// The Pareto filter: by medians it keeps exactly the non-dominated points (a property over
// random point sets), and by statistics it drops a point only when a dominating point is
// clearly better on a metric by the U test.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dominates, estimate, frontStatus, nonDominated } from '../src/tune/pareto.js';

const point = fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 3, maxLength: 3 });

describe('Pareto filter', () => {
  it('never drops a non-dominated point, and drops every dominated one', () => {
    fc.assert(
      fc.property(fc.array(point, { minLength: 1, maxLength: 25 }), (pts) => {
        const keep = nonDominated(pts);
        pts.forEach((p, i) => {
          const beaten = pts.some((q, j) => j !== i && dominates(q, p));
          expect(keep[i]).toBe(!beaten);
        });
      }),
    );
  });

  it('keeps every point the medians do not beat, and drops one only with a clear test', () => {
    const repeats = fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 8 });
    fc.assert(
      fc.property(fc.array(fc.array(repeats, { minLength: 2, maxLength: 2 }), { minLength: 1, maxLength: 10 }), (samples) => {
        const medians = samples.map((s) => s.map((xs) => estimate(xs).median));
        const nd = nonDominated(medians);
        frontStatus(samples).forEach((st, i) => {
          if (nd[i]) expect(st.status).toBe('front');
          else expect(st.status).not.toBe('front');
          if (st.status === 'dominated') expect(dominates(medians[st.by!], medians[i])).toBe(true);
        });
      }),
    );
  });

  it('needs enough repeats to call a domination clear', () => {
    // Better on both metrics by medians: with one repeat each no test can say so; with six, it does.
    expect(frontStatus([[[1], [1]], [[2], [2]]]).map((s) => s.status)).toEqual(['front', 'unclear']);
    const six = (v: number) => [v, v + 0.1, v + 0.2, v + 0.3, v + 0.4, v + 0.5];
    expect(frontStatus([[six(1), six(1)], [six(2), six(2)]]).map((s) => s.status)).toEqual(['front', 'dominated']);
  });

  it('gives the order-statistic interval from 6 repeats and [min, max] with its coverage below', () => {
    expect(estimate([3, 1, 2])).toEqual({ median: 2, low: 1, high: 3, confidence: 0.75, n: 3 });
    const e = estimate([1, 2, 3, 4, 5, 6]);
    expect([e.median, e.low, e.high, e.confidence]).toEqual([3.5, 1, 6, 0.95]);
  });
});
