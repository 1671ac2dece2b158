// --objective and --constraint: small linear expressions over tune's metrics.
//   objective   EXPR                     minimised, e.g. p99:sync-fault, or p99:sync-fault + 0.01*journalBlocksPerSec
//   constraint  EXPR OP NUMBER[UNIT]     OP one of <= < >= >, e.g. commitsPerSec<=50, p99:sync-fault<200us
//   EXPR        TERM (('+'|'-') TERM)*   TERM: [NUMBER '*'] METRIC | METRIC ['*' NUMBER] | NUMBER
// Latencies are in µs; a bound on one may name its unit (ns, us, µs, ms, s). A mistake exits 2
// with one line naming the token.

import { UsageError } from '../util/usage_error.js';
import { isLatency, isMetric, metricHelp, type Sample } from './metrics.js';

export interface LinearExpr {
  text: string;
  terms: { coef: number; metric: string }[];
  constant: number;
}

export type Comparison = '<=' | '<' | '>=' | '>';

export interface Constraint {
  text: string;
  expr: LinearExpr;
  op: Comparison;
  bound: number;
}

interface Token {
  kind: 'num' | 'metric' | 'op';
  text: string;
  at: number;
  value?: number;
  unit?: string;
}

const UNITS_TO_US: Record<string, number> = { ns: 1e-3, us: 1, µs: 1, ms: 1e3, s: 1e6 };

function tokenize(flag: string, src: string): Token[] {
  const out: Token[] = [];
  const re = /\s*(?:(\d+(?:\.\d+)?(?:e[+-]?\d+)?)(ns|us|µs|ms|s)?(?![A-Za-z0-9:])|([A-Za-z][A-Za-z0-9]*(?::[A-Za-z0-9-]+)?)|(<=|>=|<|>|\+|-|\*))/y;
  let i = 0;
  while (i < src.length) {
    if (/^\s*$/.test(src.slice(i))) break;
    re.lastIndex = i;
    const m = re.exec(src);
    if (m === null) {
      const at = i + (src.slice(i).length - src.slice(i).trimStart().length);
      const bad = /^\S+/.exec(src.slice(at))![0];
      throw new UsageError(`${flag}: unexpected ${JSON.stringify(bad)} at column ${at + 1} of ${JSON.stringify(src)}`);
    }
    const at = m.index + m[0].length - m[0].trimStart().length;
    if (m[1] !== undefined) out.push({ kind: 'num', text: m[1] + (m[2] ?? ''), at, value: Number(m[1]), unit: m[2] });
    else if (m[3] !== undefined) out.push({ kind: 'metric', text: m[3], at });
    else out.push({ kind: 'op', text: m[4], at });
    i = re.lastIndex;
  }
  return out;
}

class Parser {
  private i = 0;
  constructor(
    private readonly flag: string,
    private readonly src: string,
    private readonly toks: Token[],
  ) {}

  fail(why: string, t?: Token): never {
    if (t === undefined) throw new UsageError(`${this.flag}: ${why} at the end of ${JSON.stringify(this.src)}`);
    throw new UsageError(`${this.flag}: ${why} ${JSON.stringify(t.text)} at column ${t.at + 1} of ${JSON.stringify(this.src)}`);
  }

  peek(): Token | undefined {
    return this.toks[this.i];
  }

  next(): Token | undefined {
    return this.toks[this.i++];
  }

  metric(t: Token): string {
    if (!isMetric(t.text)) this.fail(`unknown metric (expected ${metricHelp()}):`, t);
    return t.text;
  }

  number(t: Token): number {
    if (t.unit !== undefined) this.fail('a unit belongs on a bound, not in an expression:', t);
    return t.value!;
  }

  term(): { coef: number; metric: string | null } {
    const t = this.next();
    if (t === undefined) this.fail('expected a metric or a number');
    if (t.kind === 'op') this.fail('expected a metric or a number, got', t);
    if (t.kind === 'metric') {
      const metric = this.metric(t);
      if (this.peek()?.text === '*') {
        this.next();
        const n = this.next();
        if (n === undefined || n.kind !== 'num') this.fail('expected a number after "*"', n);
        return { coef: this.number(n), metric };
      }
      return { coef: 1, metric };
    }
    const coef = this.number(t);
    if (this.peek()?.text === '*') {
      this.next();
      const m = this.next();
      if (m === undefined || m.kind !== 'metric') this.fail('expected a metric after "*"', m);
      return { coef, metric: this.metric(m) };
    }
    return { coef, metric: null };
  }

  expr(): LinearExpr {
    const terms: { coef: number; metric: string }[] = [];
    let constant = 0;
    let sign = 1;
    for (;;) {
      const t = this.term();
      if (t.metric === null) constant += sign * t.coef;
      else terms.push({ coef: sign * t.coef, metric: t.metric });
      const p = this.peek();
      if (p?.text !== '+' && p?.text !== '-') break;
      sign = this.next()!.text === '-' ? -1 : 1;
    }
    if (terms.length === 0) this.fail('names no metric:', this.toks[0]);
    return { text: '', terms, constant };
  }

  done(): void {
    const t = this.peek();
    if (t !== undefined) this.fail('unexpected', t);
  }
}

export function parseObjective(src: string, flag = '--objective'): LinearExpr {
  const p = new Parser(flag, src, tokenize(flag, src));
  const e = p.expr();
  p.done();
  return { ...e, text: src.trim() };
}

export function parseConstraint(src: string, flag = '--constraint'): Constraint {
  const toks = tokenize(flag, src);
  const opAt = toks.findIndex((t) => t.kind === 'op' && ['<=', '<', '>=', '>'].includes(t.text));
  if (opAt < 0) throw new UsageError(`${flag}: expected EXPR <= NUMBER (or <, >=, >) in ${JSON.stringify(src)}`);
  const p = new Parser(flag, src, toks.slice(0, opAt));
  const expr = p.expr();
  p.done();
  const rest = toks.slice(opAt + 1);
  const rp = new Parser(flag, src, rest);
  if (rest.length === 0) rp.fail('expected a number after the comparison');
  let sign = 1;
  if (rest[0].text === '-') {
    sign = -1;
    rest.shift();
  }
  const b = rest[0];
  if (b === undefined || b.kind !== 'num') rp.fail('expected a number, got', b);
  if (rest.length > 1) rp.fail('unexpected', rest[1]);
  let bound = sign * b.value!;
  if (b.unit !== undefined) {
    if (!(expr.terms.length === 1 && isLatency(expr.terms[0].metric) && expr.constant === 0)) {
      rp.fail(`a unit fits a bound on one latency, not on ${JSON.stringify(src.slice(0, toks[opAt].at).trim())}:`, b);
    }
    bound = (bound * UNITS_TO_US[b.unit]) / expr.terms[0].coef;
    expr.terms[0] = { ...expr.terms[0], coef: 1 };
  }
  return { text: src.trim(), expr: { ...expr, text: src.slice(0, toks[opAt].at).trim() }, op: toks[opAt].text as Comparison, bound };
}

/** The expression's value for one repeat; a metric the run did not measure is an error naming it. */
export function evaluate(e: LinearExpr, s: Sample): number {
  let v = e.constant;
  for (const t of e.terms) {
    const x = s[t.metric];
    if (x === undefined) {
      const kinds = [...new Set(Object.keys(s).filter((k) => k.startsWith('p99:')).map((k) => k.slice(4)))];
      throw new UsageError(`${e.text}: ${t.metric}: the workload measures no ${t.metric.split(':')[1]} (it measures ${kinds.join(', ') || 'no latency'})`);
    }
    v += t.coef * x;
  }
  return v;
}

export function satisfies(c: Constraint, value: number): boolean {
  switch (c.op) {
    case '<=':
      return value <= c.bound;
    case '<':
      return value < c.bound;
    case '>=':
      return value >= c.bound;
    case '>':
      return value > c.bound;
  }
}

export function metricsOf(exprs: readonly LinearExpr[]): string[] {
  return [...new Set(exprs.flatMap((e) => e.terms.map((t) => t.metric)))];
}
