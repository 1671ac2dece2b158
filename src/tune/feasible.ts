// How far a candidate's repeats break the constraints: the search ranks by it (feasible first)
// and the recommendation takes only candidates at zero.

import { evaluate, satisfies, type Constraint } from './expr.js';
import type { Sample } from './metrics.js';

/** How far a candidate's repeats go past the constraints (0: every repeat within every bound). */
export function violation(samples: readonly Sample[], constraints: readonly Constraint[]): number {
  let v = 0;
  for (const s of samples) {
    for (const c of constraints) {
      const x = evaluate(c.expr, s);
      if (!satisfies(c, x)) v += Math.abs(x - c.bound) / Math.max(Math.abs(c.bound), 1e-9) + 1;
    }
  }
  return v;
}
