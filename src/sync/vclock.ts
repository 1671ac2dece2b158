// Virtual time: each simulated CPU (the worker CPUs and kjournald2 alike) keeps its own clock
// in shared memory (views.cpuClock). Time is accounted, not spent:
//  - A modeled cost advances the clock of the CPU that pays it (charge()); nothing busy-waits.
//  - A wait moves the waiter's clock to the virtual instant of what it waited for: whoever
//    releases a lock or wakes a word (vnotify(), the spinlock hand-off) writes its own clock
//    into the waiter's, so a figure never holds the host's wake-up latency.
//  - Timed sleeps (the commit interval, batching windows, paced roles) end at their virtual
//    deadline; when every CPU sleeps, time jumps to the earliest deadline.
//  - Lax synchronisation (Graphite's, with a barrier window): a CPU may run at most
//    machine.config.windowNs ahead of the slowest CPU that holds time back, so no CPU sees
//    another's effects from more than one window in its own future. A CPU further ahead
//    sleeps in the host until the others catch up.
//
// The simulator's own execution time is in no figure: only charge() moves a clock, and the
// host's speed, load and core count decide how fast a run goes, never what it reports. The
// error left is the window's: two events closer than windowNs in virtual time may be seen in
// the order the host ran them.
//
// States (CPU_STATE.vstate). What a CPU contributes to the window's minimum:
//  - V_RUNNING: its clock.
//  - V_TIMED (asleep until a deadline, or a wake-up): its deadline.
//  - V_READY (set by the main thread before a run, until the CPU's thread binds it): its
//    clock, so no CPU runs ahead of one that has not started yet.
//  - V_PARKED (arrived at a run's barrier: the others may need time to pass to get there),
//    V_BLOCKED (asleep until a wake-up) and V_OFF (not running): nothing. The last CPU to
//    reach a barrier sets every parked clock to the latest of them, running
//    (vclockArrive()). A blocked CPU is woken at its waker's instant, which is never below
//    the minimum.
//
// Locking rules: the scheduler lock (VSCHED.lockState, a futex mutex of its own, not a
// lock_stat class) serialises a sleeper's last check of its word and its registration against
// a waker's scan, so no wake-up is lost between them; it is held for a scan of the CPU slots
// at most and nothing else is taken under it. A CPU's clock is written by itself, by a waker
// that holds the scheduler lock while the CPU is registered asleep, by the last CPU at a
// barrier while it is parked, and by the main thread before it starts. Window stalls and timed sleeps are woken by whoever moves time
// (kickTimeWaiters()) and also re-check every SAFETY_MS of host time, since a clock is a plain
// Float64 store and a kick can pass it by: a late re-check costs host time, never virtual time.
//
// One CPU per thread: a worker binds its CPU (bindThreadCpu()) and the lab's clock
// (util/clock.ts nowNs()) then reads that CPU's virtual clock. A thread that binds nothing, or
// a machine on the wall clock, keeps the host's time and busy-waits for costs (cost/delay.ts).

import { CPU_CLOCK, CPU_STATE, REGION_NAMES, VSCHED } from '../machine/layout.js';
import type { Machine } from '../machine/machine.js';
import { ndelay } from '../cost/delay.js';
import { ZERO_IDLE_WAKEUP, idleWakeupNs, wakeStream, type IdleWakeup } from '../cost/idle_wakeup.js';
import { clearThreadClock, monoNs, setThreadClock } from '../util/clock.js';
import type { Cpu } from './cpu.js';

export const V_OFF = 0;
export const V_RUNNING = 1;
export const V_BLOCKED = 2;
export const V_TIMED = 3;
export const V_PARKED = 4;
export const V_READY = 5;
export const V_STATE_NAMES = ['off', 'running', 'blocked', 'timed sleep', 'parked', 'ready to start'] as const;

/** Host milliseconds between a sleeping CPU's re-checks, in case a kick passed it by. */
const SAFETY_MS = 2;
/** Re-checks that must find a slept-on word changed, with no wake-up, before the sleep ends without one. */
const LOST_WAKE_CHECKS = 250;

const S = CPU_STATE.stride;
const C = CPU_CLOCK.stride;
const VSTATE = CPU_STATE.vstate;
const VWAKE = CPU_STATE.vwake;
const VSTAMPED = CPU_STATE.vstamped;
const VKEY_REGION = CPU_STATE.vkeyRegion;
const VKEY_AT = CPU_STATE.vkeyAt;
const VSTALL = CPU_STATE.vstall;
const NOW = CPU_CLOCK.now;
const DEADLINE = CPU_CLOCK.deadline;
const ARRIVAL = CPU_CLOCK.arrival;

// ---- the thread's bound CPU -------------------------------------------------------------

let bound: Cpu | null = null;
let clk = new Float64Array(0);
let st = new Int32Array(0);
let vs = new Int32Array(0);
let me = 0;
let cb = 0;
let sb = 0;
let ncpu = 0;
let windowNs = 0;
/** costs.wakeupNs: what a CPU woken by an event pays before it runs again. */
let wakeupNs = 0;
/** The machine's idle wake-up distribution: what waking this CPU from an idle state adds to wakeupNs. */
let idle: Readonly<IdleWakeup> = ZERO_IDLE_WAKEUP;
/** This CPU's stream of idle wake-up draws (seedIdleWakeups), and how many it has drawn. */
let idleStream = 0;
let idleDraws = 0;
/** This CPU's SMT siblings (machine.config.cpuCores): the other CPU slots of its core. */
let siblings: number[] = [];
/**
 * The clock may reach this without a look at the others: their minimum plus the window. The
 * others' minimum only grows, except where this CPU wakes one (it then runs at this CPU's
 * instant): a waker forgets the bound.
 */
let floorNs = -Infinity;
/** Polls of the others' clocks before a window stall sleeps: only worth it when every CPU has a core. */
let spinPolls = 0;

/** Whether this thread runs a CPU on the virtual clock. */
export function isVirtual(): boolean {
  return bound !== null;
}

/**
 * Makes `cpu` this thread's CPU. On a virtual-clock machine it starts running at its clock
 * (0 on a fresh machine) and nowNs() reads that clock; on the wall clock nothing changes.
 * `cores`: the host's cores, to decide whether a window stall may spin before it sleeps.
 */
export function bindThreadCpu(cpu: Cpu, cores = 1): void {
  unbindThreadCpu();
  if (cpu.machine.config.clock !== 'virtual') return;
  const v = cpu.machine.views;
  bound = cpu;
  clk = v.cpuClock;
  st = v.cpuState;
  vs = v.vsched;
  me = cpu.id;
  cb = me * C;
  sb = me * S;
  ncpu = cpu.machine.config.cpus;
  windowNs = cpu.machine.config.windowNs;
  wakeupNs = cpu.machine.config.costs.wakeupNs;
  idle = cpu.machine.config.idleWakeup;
  idleStream = wakeStream(0, 0, me);
  idleDraws = 0;
  siblings = siblingsOf(cpu.machine.config.cpuCores, me, ncpu);
  floorNs = -Infinity;
  // The CPUs that take part (readied by the main thread, or running): with a core each, a
  // stalled CPU polls the others' clocks a while before it sleeps in the host.
  let active = 0;
  for (let i = 0; i < ncpu; i++) if (Atomics.load(st, i * S + VSTATE) !== V_OFF || i === me) active++;
  spinPolls = active <= cores ? 200 : 0;
  st[sb + VKEY_REGION] = -1;
  st[sb + VKEY_AT] = -1;
  Atomics.store(st, sb + VSTAMPED, 0);
  Atomics.store(st, sb + VSTATE, V_RUNNING);
  setThreadClock(clk, cb + NOW);
}

/**
 * Seeds this CPU's idle wake-up draws from the run's seed and the repeat (bindThreadCpu seeds
 * with 0): its k-th idle wake-up then costs the same on any host, whatever the other CPUs'
 * threads did first.
 */
export function seedIdleWakeups(seed: number, repeat: number): void {
  if (bound === null) return;
  idleStream = wakeStream(seed, repeat, me);
  idleDraws = 0;
}

/** How many idle wake-up draws this CPU has paid since it was bound or seeded. */
export function idleWakeupsDrawn(): number {
  return idleDraws;
}

/** Lets the thread's CPU go: it no longer holds time back (its task ended). */
export function unbindThreadCpu(): void {
  if (bound === null) return;
  Atomics.store(st, sb + VSTATE, V_OFF);
  bound = null;
  clearThreadClock();
  kickTimeWaiters();
}

// ---- charging costs and the window ---------------------------------------------------------

/**
 * Crashtest's stop-the-world (crash/points.ts): the virtual instant to stop at (a shared
 * word; Infinity when none) and what a CPU does once its clock reaches it: it parks at its
 * next step. Outside crashtest the test costs one load per charge.
 */
const NO_CRASH = new Float64Array([Infinity]);
let crashAt: Float64Array = NO_CRASH;
let crashStop: (t: number) => void = () => {};

/** Installs this thread's crash point word and stop (null: none). */
export function setCrashPoint(at: Float64Array | null, stop: (t: number) => void = () => {}): void {
  crashAt = at ?? NO_CRASH;
  crashStop = stop;
}

/**
 * The cost of one kernel or device step, ns: advances this CPU's virtual clock (then keeps
 * it within the window), or busy-waits on the wall clock.
 */
export function charge(ns: number): void {
  if (bound === null) {
    ndelay(ns);
    return;
  }
  if (!(ns > 0)) return;
  const t = (clk[cb + NOW] += ns);
  if (t >= crashAt[0]) crashStop(t);
  if (Atomics.load(vs, VSCHED.timeWaiters) !== 0) kickTimeWaiters();
  if (t > floorNs) syncWindow();
}

/** What a CPU contributes to the window's minimum (see the header). */
function effective(i: number): number {
  const s = st[i * S + VSTATE];
  if (s === V_RUNNING || s === V_READY) return clk[i * C + NOW];
  if (s === V_TIMED) return clk[i * C + DEADLINE];
  return Infinity;
}

function minOthers(): number {
  let m = Infinity;
  for (let i = 0; i < ncpu; i++) {
    if (i === me) continue;
    const e = effective(i);
    if (e < m) m = e;
  }
  return m;
}

/** Sleeps in the host while this CPU is more than a window ahead of the others. */
function syncWindow(): void {
  let polls = 0;
  for (;;) {
    const m = minOthers();
    floorNs = m + windowNs;
    if (clk[cb + NOW] <= floorNs) return;
    if (polls++ < spinPolls) continue;
    sleepForTime(() => clk[cb + NOW] <= minOthers() + windowNs);
  }
}

/**
 * Sleeps until kicked (or SAFETY_MS), announcing itself as waiting for time to pass; returns
 * at once when `ready()` already holds after the announcement.
 */
function sleepForTime(ready: () => boolean): void {
  const v = Atomics.load(st, sb + VWAKE);
  Atomics.store(st, sb + VSTALL, 1);
  Atomics.add(vs, VSCHED.timeWaiters, 1);
  if (!ready()) Atomics.wait(st, sb + VWAKE, v, SAFETY_MS);
  if (Atomics.compareExchange(st, sb + VSTALL, 1, 0) === 1) Atomics.sub(vs, VSCHED.timeWaiters, 1);
}

/**
 * Wakes the CPUs waiting for time whose wait is over: a stalled CPU now within the window, a
 * timed sleeper whose deadline the others have reached (up to the window).
 */
function kickTimeWaiters(): void {
  if (Atomics.load(vs, VSCHED.timeWaiters) === 0) return;
  // The two smallest contributions: a CPU's own is left out of the minimum it compares with.
  let m1 = Infinity;
  let m2 = Infinity;
  let a = -1;
  for (let i = 0; i < ncpu; i++) {
    const e = effective(i);
    if (e < m1) {
      m2 = m1;
      m1 = e;
      a = i;
    } else if (e < m2) m2 = e;
  }
  for (let i = 0; i < ncpu; i++) {
    if (st[i * S + VSTALL] !== 1) continue;
    const mine = st[i * S + VSTATE] === V_TIMED ? clk[i * C + DEADLINE] : clk[i * C + NOW];
    if (mine > (i === a ? m2 : m1) + windowNs) continue;
    if (Atomics.compareExchange(st, i * S + VSTALL, 1, 0) !== 1) continue;
    Atomics.sub(vs, VSCHED.timeWaiters, 1);
    kick(i);
  }
}

function kick(i: number): void {
  Atomics.add(st, i * S + VWAKE, 1);
  Atomics.notify(st, i * S + VWAKE);
}

// ---- the scheduler lock ---------------------------------------------------------------------

function schedLock(): void {
  if (Atomics.compareExchange(vs, VSCHED.lockState, 0, 1) === 0) return;
  for (let i = 0; i < 100; i++) {
    if (Atomics.load(vs, VSCHED.lockState) === 0 && Atomics.compareExchange(vs, VSCHED.lockState, 0, 1) === 0) return;
  }
  while (Atomics.exchange(vs, VSCHED.lockState, 2) !== 0) Atomics.wait(vs, VSCHED.lockState, 2, SAFETY_MS);
}

function schedUnlock(): void {
  if (Atomics.exchange(vs, VSCHED.lockState, 0) === 2) Atomics.notify(vs, VSCHED.lockState, 1);
}

// ---- sleeping on a word and waking it ------------------------------------------------------

/** The key a word is slept on by: its region's number and the word's index within the region. */
function keyRegion(cpu: Cpu, arr: Int32Array): number {
  return cpu.regionOf(arr.buffer);
}

function keyAt(arr: Int32Array, idx: number): number {
  return idx + (arr.byteOffset >> 2);
}

/**
 * Registers this CPU asleep on a key; call with the scheduler lock held, after counting
 * itself in VSCHED.sleepers (see vwait).
 */
function register(region: number, at: number, state: number, deadline: number): void {
  st[sb + VKEY_REGION] = region;
  st[sb + VKEY_AT] = at;
  clk[cb + ARRIVAL] = clk[cb + NOW];
  clk[cb + DEADLINE] = deadline;
  Atomics.store(st, sb + VSTAMPED, 0);
  Atomics.store(st, sb + VSTATE, state);
}

/** Wakes CPU i at instant t (its clock becomes at least t); call with the scheduler lock held. */
function stamp(i: number, t: number): void {
  const c = i * C + NOW;
  if (t > clk[c]) clk[c] = t;
  st[i * S + VKEY_REGION] = -1;
  st[i * S + VKEY_AT] = -1;
  Atomics.store(st, i * S + VSTATE, V_RUNNING);
  Atomics.store(st, i * S + VSTAMPED, 1);
  Atomics.sub(vs, VSCHED.sleepers, 1);
}

function asleepOn(i: number, region: number, at: number): boolean {
  const s = st[i * S + VSTATE];
  return (s === V_BLOCKED || s === V_TIMED) && st[i * S + VKEY_AT] === at && st[i * S + VKEY_REGION] === region;
}

/**
 * Sleeps until a waker stamps this CPU, or (timed) until its deadline is reached. `changed`,
 * when given, is checked at each host re-check: a word that stays changed with no wake-up
 * for half a second of host time (a bug in a waker) then ends the sleep at this CPU's own
 * instant rather than never.
 */
function sleepUntilWoken(timed: boolean, changed?: () => boolean): 'ok' | 'timed-out' {
  // Host re-checks that found the word changed and no wake-up: a waker stores, then stamps,
  // so only a long run of them (LOST_WAKE_CHECKS * SAFETY_MS of host time) means a lost one.
  let unstamped = 0;
  for (;;) {
    if (changed !== undefined && Atomics.load(st, sb + VSTAMPED) === 0 && changed()) {
      if (++unstamped > LOST_WAKE_CHECKS && unregister()) return 'ok';
    } else unstamped = 0;
    if (Atomics.load(st, sb + VSTAMPED) === 1) {
      Atomics.store(st, sb + VSTAMPED, 0);
      floorNs = -Infinity;
      return 'ok';
    }
    // A blocked sleeper becomes a timed one when a timer is armed for it (vtimerArm).
    const t = timed || Atomics.load(st, sb + VSTATE) === V_TIMED;
    // The deadline is reached: the timer fires at its own instant, unless a waker came first.
    if (t && clk[cb + DEADLINE] <= minOthers() + windowNs) {
      if (unregister(clk[cb + DEADLINE])) return 'timed-out';
      continue;
    }
    if (t) {
      sleepForTime(() => Atomics.load(st, sb + VSTAMPED) === 1 || clk[cb + DEADLINE] <= minOthers() + windowNs);
    } else {
      const v = Atomics.load(st, sb + VWAKE);
      if (Atomics.load(st, sb + VSTAMPED) === 0) Atomics.wait(st, sb + VWAKE, v, SAFETY_MS);
    }
  }
}

/**
 * Takes this CPU off its key, running again at `at` (or where its clock stands, if later),
 * unless a waker stamped it first; true when it did.
 */
function unregister(at = 0): boolean {
  schedLock();
  const stamped = Atomics.load(st, sb + VSTAMPED) === 1;
  if (!stamped) {
    if (at > clk[cb + NOW]) clk[cb + NOW] = at;
    st[sb + VKEY_REGION] = -1;
    st[sb + VKEY_AT] = -1;
    Atomics.store(st, sb + VSTATE, V_RUNNING);
    Atomics.sub(vs, VSCHED.sleepers, 1);
  }
  schedUnlock();
  floorNs = -Infinity;
  return !stamped;
}

/**
 * Atomics.wait() for a CPU: sleeps while arr[idx] holds `expected`, until vnotify() on the
 * word (this CPU's clock then reads the waker's instant, plus costs.wakeupNs and, after an idle
 * period of at least idleWakeup.minIdleNs, an idle wake-up draw) or, with a finite timeoutNs, until
 * that much virtual time has passed. On the wall clock it is Atomics.wait with the timeout
 * in host time. The caller re-checks its condition after, as after Atomics.wait.
 */
export function vwait(cpu: Cpu, arr: Int32Array, idx: number, expected: number, timeoutNs = Infinity): 'ok' | 'not-equal' | 'timed-out' {
  if (bound === null) return Atomics.wait(arr, idx, expected, timeoutNs === Infinity ? undefined : timeoutNs / 1e6);
  return sleepOnWord(cpu, arr, idx, expected, (asleepAt) => (timeoutNs === Infinity ? Infinity : asleepAt + Math.max(0, timeoutNs)));
}

/**
 * Sleeps on arr[idx] while it holds `expected`, until woken or until the deadline
 * deadlineFrom(asleepAt) gives (Infinity: none), read under the scheduler lock with the word.
 */
function sleepOnWord(cpu: Cpu, arr: Int32Array, idx: number, expected: number, deadlineFrom: (asleepAt: number) => number): 'ok' | 'not-equal' | 'timed-out' {
  const region = keyRegion(cpu, arr);
  const at = keyAt(arr, idx);
  schedLock();
  // Counted before the word is read: a waker changes the word, then reads the count (both
  // Atomics operations, so ordered), and so either sees this sleeper or was seen by it.
  Atomics.add(vs, VSCHED.sleepers, 1);
  if (Atomics.load(arr, idx) !== expected) {
    Atomics.sub(vs, VSCHED.sleepers, 1);
    schedUnlock();
    return 'not-equal';
  }
  const asleepAt = clk[cb + NOW];
  const d = deadlineFrom(asleepAt);
  register(region, at, d === Infinity ? V_BLOCKED : V_TIMED, d);
  schedUnlock();
  kickTimeWaiters();
  const r = sleepUntilWoken(d !== Infinity, () => Atomics.load(arr, idx) !== expected);
  // Woken by an event (a timer's expiry is its own instant).
  if (r === 'ok') chargeWakeup(clk[cb + NOW] - asleepAt);
  return r;
}

/**
 * What a CPU woken by an event pays before its task runs: try_to_wake_up and the switch back
 * (wakeupNs) and, when its core idled at least idle.minIdleNs, leaving the idle state the core
 * entered (a draw, cost/idle_wakeup.ts). The task that slept left its CPU with nothing to run
 * (one task per CPU), so every such wake-up is an idle CPU's. A CPU handed a contended
 * spinlock never slept: it spun, and pays lockHandoffNs instead (vspinUnlockContended).
 */
function chargeWakeup(idleNs: number): void {
  let ns = wakeupNs;
  if (idle.medianNs > 0 && idleNs > 0 && coreIdleNs(idleNs) >= idle.minIdleNs) ns += idleWakeupNs(idle, idleStream, idleDraws++);
  if (ns > 0) charge(ns);
}

/**
 * How long this CPU's core has been idle, given this CPU's own idle period: the shorter of it
 * and each SMT sibling's. A core enters the shallowest C-state its threads ask for ("a core
 * C-state is determined by the lowest numerical thread state": Intel's datasheets, e.g. 2nd
 * Generation Intel Core Processor Family Desktop, vol. 1, section 4.2.4 "Core C-states"),
 * so while a sibling runs the core stays in C0, and a thread woken then leaves mwait at once.
 * A sibling asleep since instant a has been idle (now - a); one running, 0; one with no task, forever.
 */
function coreIdleNs(idleNs: number): number {
  const now = clk[cb + NOW];
  let m = idleNs;
  for (const j of siblings) {
    const s = Atomics.load(st, j * S + VSTATE);
    if (s === V_OFF) continue;
    const sib = s === V_BLOCKED || s === V_TIMED ? now - clk[j * C + ARRIVAL] : 0;
    if (sib < m) m = sib;
  }
  return m;
}

/** The other CPU slots on cpu's core (cpuCores[cpu], -1 or absent: a core of its own). */
export function siblingsOf(cpuCores: readonly number[], cpu: number, cpus: number): number[] {
  const core = cpuCores[cpu] ?? -1;
  if (core < 0) return [];
  const out: number[] = [];
  for (let j = 0; j < cpus; j++) if (j !== cpu && cpuCores[j] === core) out.push(j);
  return out;
}

/**
 * vwait() for a sleeper that a timer may wake (kjournald2 and j_commit_timer): the deadline
 * (Infinity: no timer armed) is read under the scheduler lock, as vtimerArm() arms it, so a
 * timer armed between the caller's look at its state and its sleep is never missed. On the
 * wall clock the timeout is the deadline's distance (deadlines in monoNs()), read once.
 */
export function vwaitTimer(cpu: Cpu, arr: Int32Array, idx: number, expected: number, deadlineNs: () => number): 'ok' | 'not-equal' | 'timed-out' {
  if (bound === null) {
    const d = deadlineNs();
    return vwait(cpu, arr, idx, expected, d === Infinity ? Infinity : Math.max(0, d - monoNs()));
  }
  return sleepOnWord(cpu, arr, idx, expected, (asleepAt) => Math.max(asleepAt, deadlineNs()));
}

/**
 * mod_timer() for the sleepers of arr[idx] that wait in vwaitTimer(): each wakes at
 * `deadlineNs` (its own instant, no wake-up charged, as a timer's expiry) unless woken or
 * timed to wake sooner. The sleeper is not woken now: arming a timer costs it nothing. A
 * sleeper still on its way to sleep reads the deadline itself (vwaitTimer). On the wall clock
 * nothing: the caller wakes the sleeper to have it re-read its timeout.
 */
export function vtimerArm(cpu: Cpu, arr: Int32Array, idx: number, deadlineNs: number): void {
  if (bound === null) return;
  if (Atomics.add(vs, VSCHED.sleepers, 0) === 0) return;
  const region = keyRegion(cpu, arr);
  const at = keyAt(arr, idx);
  const armed: number[] = [];
  schedLock();
  for (let i = 0; i < ncpu; i++) {
    if (!asleepOn(i, region, at) || Atomics.load(st, i * S + VSTAMPED) === 1) continue;
    if (st[i * S + VSTATE] === V_TIMED && clk[i * C + DEADLINE] <= deadlineNs) continue;
    clk[i * C + DEADLINE] = Math.max(clk[i * C + ARRIVAL], deadlineNs);
    Atomics.store(st, i * S + VSTATE, V_TIMED);
    armed.push(i);
  }
  schedUnlock();
  // A blocked sleeper waits in the host for a kick: have it look at its new deadline.
  for (const i of armed) kick(i);
}

/**
 * vwait() for an event with no timeout of its own: on the wall clock the host re-checks every
 * wallPollMs (a guard against a wake-up lost between a waker's check and the sleep); on the
 * virtual clock it sleeps until vnotify(), which cannot be lost there.
 */
export function vwaitEvent(cpu: Cpu, arr: Int32Array, idx: number, expected: number, wallPollMs: number): 'ok' | 'not-equal' | 'timed-out' {
  if (bound === null) return Atomics.wait(arr, idx, expected, wallPollMs);
  return vwait(cpu, arr, idx, expected);
}

/** Sleeps until this CPU's clock reads `untilNs` (a paced role's next start); returns at once if it already does. */
export function vsleepUntil(untilNs: number): void {
  if (bound === null) throw new Error('vsleepUntil: this thread runs no CPU on the virtual clock');
  if (untilNs <= clk[cb + NOW]) return;
  schedLock();
  Atomics.add(vs, VSCHED.sleepers, 1);
  register(-2, -2, V_TIMED, untilNs);
  schedUnlock();
  kickTimeWaiters();
  sleepUntilWoken(true);
}

/**
 * Atomics.notify() for a CPU: wakes up to `count` CPUs asleep on arr[idx] (the earliest to
 * fall asleep first), each at this CPU's instant. Costs one load when nobody sleeps anywhere.
 */
export function vnotify(cpu: Cpu, arr: Int32Array, idx: number, count = Infinity): number {
  if (bound === null) {
    if (cpu.machine.config.clock === 'virtual') return vnotifyFromHost(cpu.machine, arr, idx, cpu.regionOf(arr.buffer));
    return Atomics.notify(arr, idx, count);
  }
  // A read-modify-write, not a load: a full fence after the caller's change to the word,
  // which may have been a plain store (under a lock), so the count read is not stale.
  if (Atomics.add(vs, VSCHED.sleepers, 0) === 0) return 0;
  return wakeKey(keyRegion(cpu, arr), keyAt(arr, idx), count, clk[cb + NOW]);
}

/** Wakes up to count sleepers of a key at instant t, earliest arrival first; returns how many. */
function wakeKey(region: number, at: number, count: number, t: number): number {
  let woke = 0;
  const kicked: number[] = [];
  schedLock();
  while (woke < count) {
    let best = -1;
    for (let i = 0; i < ncpu; i++) {
      if (!asleepOn(i, region, at)) continue;
      if (best < 0 || clk[i * C + ARRIVAL] < clk[best * C + ARRIVAL]) best = i;
    }
    if (best < 0) break;
    stamp(best, t);
    kicked.push(best);
    woke++;
  }
  schedUnlock();
  // The woken now run at this CPU's instant: the minimum this CPU cached may have counted them as asleep.
  if (woke > 0) floorNs = -Infinity;
  for (const i of kicked) kick(i);
  return woke;
}

// ---- the spinlock hand-off --------------------------------------------------------------------

/**
 * A contended spin_lock() on the virtual clock: queues this CPU on the lock's state word and
 * sleeps until a holder's spin_unlock() hands the lock over, at the holder's instant. Returns
 * true with the lock held (taken free, or handed over). The state word keeps spinlock.ts's
 * meaning: 0 free, 1 held, 2 held with CPUs queued.
 */
export function vspinLockContended(cpu: Cpu, words: Int32Array, stateAt: number): void {
  const region = keyRegion(cpu, words);
  const at = keyAt(words, stateAt);
  schedLock();
  for (;;) {
    const s = Atomics.load(words, stateAt);
    if (s === 0) {
      if (Atomics.compareExchange(words, stateAt, 0, 1) === 0) {
        schedUnlock();
        return;
      }
      continue;
    }
    if (s === 1 && Atomics.compareExchange(words, stateAt, 1, 2) !== 1) continue;
    break;
  }
  Atomics.add(vs, VSCHED.sleepers, 1);
  register(region, at, V_BLOCKED, Infinity);
  schedUnlock();
  kickTimeWaiters();
  sleepUntilWoken(false);
}

/**
 * The slow half of spin_unlock() on the virtual clock, for a lock whose state word reads 2:
 * hands the lock to the CPU queued longest (FIFO, as qspinlock's queue serves), which resumes
 * at this CPU's instant; frees it when nobody is queued any more.
 */
export function vspinUnlockContended(cpu: Cpu, words: Int32Array, stateAt: number, handoffNs: number): void {
  const region = keyRegion(cpu, words);
  const at = keyAt(words, stateAt);
  const t = clk[cb + NOW] + handoffNs;
  schedLock();
  let best = -1;
  let more = false;
  for (let i = 0; i < ncpu; i++) {
    if (!asleepOn(i, region, at)) continue;
    if (best < 0) best = i;
    else {
      more = true;
      if (clk[i * C + ARRIVAL] < clk[best * C + ARRIVAL]) best = i;
    }
  }
  if (best >= 0) {
    Atomics.store(words, stateAt, more ? 2 : 1);
    stamp(best, t);
  } else {
    Atomics.store(words, stateAt, 0);
  }
  schedUnlock();
  if (best >= 0) {
    floorNs = -Infinity;
    kick(best);
  }
}

// ---- the main thread's view -------------------------------------------------------------------

/** vnotify() from a thread that runs no CPU (the main thread stopping a run): wakes every sleeper of the word where it stands in time. */
export function vnotifyFromHost(machine: Machine, arr: Int32Array, idx: number, region: number): number {
  const v = machine.views;
  if (Atomics.load(v.vsched, VSCHED.sleepers) === 0) return 0;
  const at = idx + (arr.byteOffset >> 2);
  const saved = { clk, st, vs, ncpu };
  clk = v.cpuClock;
  st = v.cpuState;
  vs = v.vsched;
  ncpu = machine.config.cpus;
  // The scan and the wake-ups are a CPU's (wakeKey), on this machine's views; at instant 0,
  // so every sleeper keeps its own clock.
  try {
    return wakeKey(region, at, Infinity, 0);
  } finally {
    ({ clk, st, vs, ncpu } = saved);
  }
}

/**
 * Main thread, before a run's CPUs start: each of `cpus` holds time back until it binds,
 * from the latest instant any CPU of the machine reached (0 on a fresh machine), so a run
 * starts after whatever ran on the machine before (the setup CPU's work, an earlier job).
 */
export function vclockPark(machine: Machine, cpus: readonly number[]): void {
  if (machine.config.clock !== 'virtual') return;
  const st = machine.views.cpuState;
  const clk = machine.views.cpuClock;
  let t = 0;
  for (let i = 0; i < machine.config.cpus; i++) t = Math.max(t, clk[i * C + NOW]);
  for (const i of cpus) {
    clk[i * C + NOW] = t;
    Atomics.store(st, i * S + VSTATE, V_READY);
  }
}

/**
 * A CPU arriving at a run's barrier. `arrive()` counts it in and returns how many have
 * arrived; `participants` is how many will. One that is not the last parks, holding nothing
 * back (the others may need time to pass to get there). The last never parks: it waits for
 * the others to finish parking, sets every parked CPU running at the latest of their clocks
 * and its own, and so holds time back at that instant, with them, while the main thread
 * moves the phase. (Were it to park too, every CPU of the barrier would count for nothing
 * for an instant, and a timer could fire seconds past the barrier.)
 */
export function vclockArrive(arrive: () => number, participants: number): void {
  if (bound === null) {
    arrive();
    return;
  }
  if (arrive() < participants) {
    Atomics.store(st, sb + VSTATE, V_PARKED);
    kickTimeWaiters();
    return;
  }
  // The others counted themselves in before parking, with nothing in between: a short wait.
  for (;;) {
    let parked = 0;
    for (let i = 0; i < ncpu; i++) if (Atomics.load(st, i * S + VSTATE) === V_PARKED) parked++;
    if (parked >= participants - 1) break;
  }
  let t = clk[cb + NOW];
  for (let i = 0; i < ncpu; i++) if (Atomics.load(st, i * S + VSTATE) === V_PARKED) t = Math.max(t, clk[i * C + NOW]);
  clk[cb + NOW] = t;
  for (let i = 0; i < ncpu; i++) {
    if (Atomics.load(st, i * S + VSTATE) !== V_PARKED) continue;
    clk[i * C + NOW] = t;
    Atomics.store(st, i * S + VSTATE, V_RUNNING);
  }
  floorNs = -Infinity;
}

/** A CPU leaving a barrier that was not released (the run stopped): it runs again from its own instant. */
export function vclockUnparkSelf(): void {
  if (bound === null) return;
  Atomics.compareExchange(st, sb + VSTATE, V_PARKED, V_RUNNING);
  floorNs = -Infinity;
}

/** Main thread: the latest clock among `cpus`, whatever their state (where the last of them stopped). */
export function vclockMax(machine: Machine, cpus: readonly number[]): number {
  const clk = machine.views.cpuClock;
  let m = 0;
  for (const i of cpus) m = Math.max(m, clk[i * C + NOW]);
  return m;
}

/** One CPU's virtual state and clock, for the watchdog. */
export function vclockDescribe(machine: Pick<Machine, 'views'>, i: number): string {
  const s = machine.views.cpuState[i * S + VSTATE];
  const name = V_STATE_NAMES[s] ?? `state ${s}`;
  const t = machine.views.cpuClock[i * C + NOW];
  const region = machine.views.cpuState[i * S + VKEY_REGION];
  const on = s === V_BLOCKED || s === V_TIMED ? (region >= 0 ? ` on word ${machine.views.cpuState[i * S + VKEY_AT]} of ${REGION_NAMES[region]}` : region === -1 ? ' on a run-control word' : '') : '';
  const stalled = s === V_RUNNING && machine.views.cpuState[i * S + VSTALL] === 1 ? ', a window ahead: waiting for the others to catch up' : '';
  const extra = (s === V_TIMED ? ` until ${(machine.views.cpuClock[i * C + DEADLINE] / 1e3).toFixed(1)} µs` : '') + on + stalled;
  return `${name} at ${(t / 1e3).toFixed(1)} µs${extra}`;
}
