// tune's --objective and --constraint expressions: what they parse to, and the one-line
// errors (UsageError: exit 2) that name the token at fault.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/cli/errors.js';
import { evaluate, parseConstraint, parseObjective, satisfies } from '../src/tune/expr.js';

const usage = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).not.toContain('\n');
    return (e as Error).message;
  }
  throw new Error('expected a UsageError');
};

describe('tune expressions', () => {
  it('parses a metric and a weighted sum', () => {
    expect(parseObjective('p99:sync-fault').terms).toEqual([{ coef: 1, metric: 'p99:sync-fault' }]);
    const e = parseObjective('p99:fsync + 0.01*journalBlocksPerSec - commitsPerSec * 2 + 5');
    expect(e.terms).toEqual([
      { coef: 1, metric: 'p99:fsync' },
      { coef: 0.01, metric: 'journalBlocksPerSec' },
      { coef: -2, metric: 'commitsPerSec' },
    ]);
    expect(e.constant).toBe(5);
    expect(evaluate(e, { 'p99:fsync': 100, journalBlocksPerSec: 1000, commitsPerSec: 3 })).toBe(100 + 10 - 6 + 5);
  });

  it('parses a constraint and converts a latency bound to µs', () => {
    const c = parseConstraint('commitsPerSec<=50');
    expect([c.op, c.bound, c.expr.terms[0].metric]).toEqual(['<=', 50, 'commitsPerSec']);
    expect(satisfies(c, 50)).toBe(true);
    expect(satisfies(c, 50.1)).toBe(false);
    expect(parseConstraint('p99:sync-fault < 0.2ms').bound).toBeCloseTo(200);
    expect(parseConstraint('p99:sync-fault >= 1500ns').bound).toBeCloseTo(1.5);
    expect(parseConstraint('2*p99:sync-fault <= 100us').bound).toBeCloseTo(50);
  });

  it('names the token of a bad expression, an unknown metric and a misplaced unit', () => {
    expect(usage(() => parseObjective('p98:sync-fault'))).toMatch(/--objective: unknown metric .*"p98:sync-fault"/);
    expect(usage(() => parseObjective('p99:sync-faults'))).toContain('"p99:sync-faults"');
    expect(usage(() => parseObjective('latency'))).toContain('"latency"');
    expect(usage(() => parseObjective('p99:fsync $ 3'))).toContain('"$"');
    expect(usage(() => parseObjective('p99:fsync +'))).toMatch(/at the end of/);
    expect(usage(() => parseObjective('p99:fsync commitsPerSec'))).toContain('unexpected "commitsPerSec"');
    expect(usage(() => parseObjective('5'))).toMatch(/names no metric/);
    expect(usage(() => parseConstraint('commitsPerSec 50'))).toMatch(/--constraint: expected EXPR <= NUMBER/);
    expect(usage(() => parseConstraint('commitsPerSec <= fast'))).toContain('"fast"');
    expect(usage(() => parseConstraint('commitsPerSec <= 50ms'))).toContain('"50ms"');
    expect(usage(() => parseConstraint('commitz <= 5'))).toContain('"commitz"');
  });

  it('names an unmeasured metric when a run is evaluated', () => {
    const e = parseObjective('p99:fsync');
    expect(usage(() => evaluate(e, { 'p99:sync-fault': 3, commitsPerSec: 1 }))).toMatch(/measures no fsync \(it measures sync-fault\)/);
  });
});
