// Idle wake-ups: what waking a CPU that went idle costs beyond try_to_wake_up and the context
// switch (wakeupNs). In the lab every task has a CPU of its own, so a task that sleeps (kjournald2
// waiting for work, a task waiting for a commit, a reader blocked on an rwsem) leaves its CPU
// with nothing to run: the CPU enters an idle state, and whoever wakes the task also waits for
// the CPU to leave that state. The cost is a draw from a distribution, seeded, so the same seed
// gives the same draws on any host.
//
// Why a distribution, and which:
//  - The idle governor (drivers/cpuidle/governors/menu.c) picks, for each idle period, the
//    deepest state whose target residency fits the idle time it predicts. A CPU idle for less
//    than minIdleNs stays in a polling or C1 state, whose exit (1-2 us in intel_idle's tables)
//    is within wakeupNs; a longer idle period may end in C1E, C3 or C6, whose worst-case exit
//    latencies range from 10 to 133 us (drivers/idle/intel_idle.c: hsw_cstates C1E 10 us,
//    C3 33 us, C6 133 us; skx_cstates C1E 10 us, C6 133 us, with target residencies of 20, 100,
//    400 and 600 us). The lab's governor is an oracle: it knows the idle period's length (the
//    virtual time between sleep and wake-up), where menu predicts it from recent ones.
//  - Which state the governor picked, and how far below the table's worst case the exit came
//    (measured exits vary with the state, the core's frequency and where the waker runs:
//    Schöne, Molka and Werner, "Wake-up latencies for processor idle states on current x86
//    processors", Computer Science - Research and Development, 2014), and the idle loop's own
//    exit (the tick restarted, the runqueue locked) multiply rather than add: a positive,
//    right-skewed latency. A lognormal has that shape with two parameters, the median and the
//    spread (sigma), which map onto what a seed's histogram shows: where its fullest buckets
//    sit and how wide they are. Seed 002's empty-file MAP_SYNC row (64-127 us: 333 faults,
//    128-255 us: 178) is a commit plus two such draws (kjournald2's and the faulting task's):
//    a median of about 35 us with sigma 0.45 on a 48 us base gives a mean of 125 us with 61 %
//    of faults below 128 us, the seed's shape. A mixture of C-states would need a weight and
//    a latency per state, more than the three rows the refit may use can pin down.
//
// Whose idle period counts: the core's. A core enters the shallowest C-state its hardware
// threads ask for (Intel's datasheets, "Core C-states": "a core C-state is determined by the
// lowest numerical thread state"), so a CPU whose SMT sibling ran while it slept found its core
// in C0 and pays wakeupNs alone; the draw is paid when the core as a whole idled at least
// minIdleNs (sync/vclock.ts coreIdleNs). Workloads place CPUs on cores (cpus[i].core,
// commitThread.core); by default each has a core of its own. Seed 002's background copy is why
// this matters: with the copy on the faulter's sibling, the faulter's wake-up from a commit
// costs no draw, and the empty-file MAP_SYNC row gets faster and narrower with the copy
// running, as the seed's did (112 against 124 us, 96 % below 128 us against 65 %).
//
// The draw for a CPU's k-th idle wake-up is a counter-based hash of (seed, repeat, cpu, k):
// it does not depend on which thread ran first, only on the CPU's own sequence of wake-ups.

/** The distributions an idle wake-up can be drawn from. */
export const IDLE_WAKEUP_DISTRIBUTIONS = ['lognormal'] as const;
export type IdleWakeupDistribution = (typeof IDLE_WAKEUP_DISTRIBUTIONS)[number];

export interface IdleWakeup {
  distribution: IdleWakeupDistribution;
  /** The median cost of leaving the idle state, ns; 0: idle wake-ups cost nothing beyond wakeupNs. */
  medianNs: number;
  /** The spread: the draw is medianNs * e^(sigma * Z), Z standard normal. */
  sigma: number;
  /** The shortest idle period (ns) of the CPU's core after which waking the CPU costs a draw; shorter ones cost wakeupNs alone. */
  minIdleNs: number;
}

/** The parameters of the distribution, in the order profiles and reports list them. */
export const IDLE_WAKEUP_PARAMS = ['medianNs', 'sigma', 'minIdleNs'] as const;
export type IdleWakeupParam = (typeof IDLE_WAKEUP_PARAMS)[number];

/** What each parameter is, for the cost table (costs.ts COST_MEANINGS has the constants'). */
export const IDLE_WAKEUP_MEANINGS: Readonly<Record<IdleWakeupParam, string>> = {
  medianNs:
    "the median cost of waking a CPU from the idle state it entered when its task slept: the C-state's exit and the idle loop's, beside wakeupNs (sync/vclock.ts vwait)",
  sigma: 'the spread of that cost: a draw is medianNs * e^(sigma * Z), Z standard normal, seeded by the run (cost/idle_wakeup.ts)',
  minIdleNs:
    "the shortest idle period of the CPU's core (its SMT siblings idle too: a core's C-state is the shallowest its threads request) after which a wake-up pays a draw: shorter ones stay in a polling or C1 state, whose exit is within wakeupNs",
};

/** The kernel step behind the parameters, for the cost table (costs.ts COST_STEPS has the constants'). */
export const IDLE_WAKEUP_STEP = {
  step: 'leaving an idle state (lognormal draw)',
  kernel: 'cpuidle_enter_state (intel_idle: mwait), do_idle',
  chargedIn: 'sync/vclock.ts vwait',
} as const;

/** Idle wake-ups cost nothing beyond wakeupNs. */
export const ZERO_IDLE_WAKEUP: Readonly<IdleWakeup> = Object.freeze({ distribution: 'lognormal', medianNs: 0, sigma: 0, minIdleNs: 0 });

/** The largest draw, ns (costs.ts's MAX_COST_NS: one second), whatever the tail of the distribution. */
const MAX_DRAW_NS = 1e9;
/** The widest spread accepted: e^3 = 20x either way of the median at one standard deviation. */
export const MAX_SIGMA = 3;
/** The largest median or idle threshold accepted, ns. */
export const MAX_IDLE_NS = 1e9;

/**
 * Fills missing parameters with 0 and rejects anything else with a RangeError naming the
 * field (`idleWakeup.sigma: expected a number from 0 to 3, got -1`). Returns a new frozen object.
 */
export function resolveIdleWakeup(partial: Partial<IdleWakeup> | undefined, field = 'idleWakeup'): Readonly<IdleWakeup> {
  if (partial === undefined) return ZERO_IDLE_WAKEUP;
  if (partial === null || typeof partial !== 'object' || Array.isArray(partial)) {
    throw new RangeError(`${field}: expected an object {distribution, ${IDLE_WAKEUP_PARAMS.join(', ')}}, got ${JSON.stringify(partial)}`);
  }
  for (const k of Object.keys(partial)) {
    if (k !== 'distribution' && !(IDLE_WAKEUP_PARAMS as readonly string[]).includes(k)) {
      throw new RangeError(`${field}.${k}: unknown field (known: distribution, ${IDLE_WAKEUP_PARAMS.join(', ')})`);
    }
  }
  const out: IdleWakeup = { ...ZERO_IDLE_WAKEUP };
  if (partial.distribution !== undefined) {
    if (!(IDLE_WAKEUP_DISTRIBUTIONS as readonly string[]).includes(partial.distribution)) {
      throw new RangeError(`${field}.distribution: expected one of ${IDLE_WAKEUP_DISTRIBUTIONS.join(', ')}, got ${JSON.stringify(partial.distribution)}`);
    }
    out.distribution = partial.distribution;
  }
  for (const name of IDLE_WAKEUP_PARAMS) {
    const v = partial[name];
    if (v === undefined) continue;
    const max = name === 'sigma' ? MAX_SIGMA : MAX_IDLE_NS;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > max) {
      throw new RangeError(`${field}.${name}: expected a number from 0 to ${max}${name === 'sigma' ? '' : ' (ns)'}, got ${JSON.stringify(v)}`);
    }
    out[name] = v;
  }
  return Object.freeze(out);
}

// ---- the seeded draw ----------------------------------------------------------------------

/** A 32-bit integer hash with good avalanche (lowbias32, from Chris Wellons' hash-prospector). */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The stream of one CPU's draws in one repeat of a run with `seed`. */
export function wakeStream(seed: number, repeat: number, cpu: number): number {
  let h = mix32((seed >>> 0) ^ 0x9e3779b9);
  h = mix32(h ^ mix32(((repeat >>> 0) + 0x85ebca6b) >>> 0));
  return mix32(h ^ mix32(((cpu >>> 0) + 0xc2b2ae35) >>> 0));
}

/** The k-th uniform number of a stream, in (0, 1): 2^32 evenly spaced values. */
export function wakeUniform(stream: number, k: number): number {
  const h = mix32((stream ^ mix32(((k >>> 0) + 0x27d4eb2f) >>> 0)) >>> 0);
  return (h + 0.5) / 4294967296;
}

// The inverse of the standard normal distribution function: Acklam's rational approximation
// (relative error below 1.15e-9), with one uniform number per draw, so a draw is a function
// of its uniform alone. Its Math.log and Math.exp (idleWakeupQuantileNs) are V8's own software
// functions (src/base/ieee754.cc, a port of fdlibm), not the host's libm: the same on any host.
const A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
const B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
const C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
const D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
const P_LOW = 0.02425;

/** The standard normal quantile of p, 0 < p < 1. */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: expected 0 < p < 1, got ${p}`);
  if (p < P_LOW || p > 1 - P_LOW) {
    const q = Math.sqrt(-2 * Math.log(p < P_LOW ? p : 1 - p));
    const x = (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
    return p < P_LOW ? x : -x;
  }
  const q = p - 0.5;
  const r = q * q;
  return ((((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q) / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1);
}

/** The cost at quantile p of the distribution, ns (unrounded). */
export function idleWakeupQuantileNs(p: Readonly<IdleWakeup>, q: number): number {
  return p.medianNs * Math.exp(p.sigma * normalQuantile(q));
}

/** The cost of a CPU's k-th idle wake-up on `stream`, whole ns; 0 when medianNs is 0. */
export function idleWakeupNs(p: Readonly<IdleWakeup>, stream: number, k: number): number {
  if (!(p.medianNs > 0)) return 0;
  return Math.min(MAX_DRAW_NS, Math.round(idleWakeupQuantileNs(p, wakeUniform(stream, k))));
}
