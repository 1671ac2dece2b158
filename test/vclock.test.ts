// The virtual clock (src/sync/vclock.ts): waits are exactly what a schedule implies, in
// virtual time, whatever the host does meanwhile.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMachine, type Machine } from '../src/machine/machine.js';
import { JOURNAL, type MachineConfigInput } from '../src/machine/layout.js';
import { attachCpu } from '../src/sync/cpu.js';
import { PmemDevice } from '../src/pmem/device.js';
import { Journal } from '../src/journal/journal.js';
import { jbd2_journal_create } from '../src/journal/commit.js';
import { stopCommitThread, type KjournaldSummary } from '../src/journal/kjournald.js';
import { readCommitRecords } from '../src/journal/stats.js';
import { idleWakeupNs, wakeStream, type IdleWakeup } from '../src/cost/idle_wakeup.js';
import { runCpus } from './support/workers.js';
import type { TurnsResult } from './workers/vclock_scenarios.js';

function virtualMachine(extra: MachineConfigInput = {}): Machine {
  return createMachine({ cpus: 4, pmemBytes: 4 << 20, mappings: 2, clock: 'virtual', windowNs: 500, ...extra });
}

/** Two CPUs taking one lock in turns: hold 3 µs, think 2 µs, the second starting 1 µs late. */
async function turns(machine: Machine): Promise<TurnsResult[]> {
  const args = { rounds: 6, holdNs: 3000, thinkNs: 2000 };
  return runCpus<TurnsResult>(machine, [
    { cpu: 0, module: 'vclock_scenarios', fn: 'lockTurns', args: { ...args, startNs: 0 } },
    { cpu: 1, module: 'vclock_scenarios', fn: 'lockTurns', args: { ...args, startNs: 1000 } },
  ]);
}

// The schedule: CPU 0 takes the lock at 0; CPU 1 asks at 1 µs and gets it at 3 µs (waits 2);
// from then on each asks while the other holds it and waits 1 µs: a round is 6 µs per CPU.
const EXPECTED: TurnsResult[] = [
  { asked: [0, 5000, 11000, 17000, 23000, 29000], waited: [0, 1000, 1000, 1000, 1000, 1000] },
  { asked: [1000, 8000, 14000, 20000, 26000, 32000], waited: [2000, 1000, 1000, 1000, 1000, 1000] },
];

describe('virtual clock', () => {
  it('two CPUs taking a lock in turns wait exactly what the schedule implies', async () => {
    expect(await turns(virtualMachine())).toEqual(EXPECTED);
  });

  it('a lock hand-over and an uncontended acquisition charge their modeled costs', async () => {
    const r = await turns(virtualMachine({ costs: { lockNs: 20, lockHandoffNs: 50 } }));
    // spin_lock() charges lockNs once the lock is held: CPU 0's first spin_lock() takes 20 ns.
    expect(r[0].waited[0]).toBe(20);
    // CPU 1 asked at 1 µs; CPU 0 released at 3 µs + 20 ns; the hand-over takes 50 ns, then CPU 1's own acquisition 20.
    expect(r[1].waited[0]).toBe(3020 + 50 + 20 - 1000);
  });

  it('a paced CPU wakes exactly at its instants, and time jumps when nobody else runs', async () => {
    const at = [10_000, 20_000, 1_000_000_000, 1_000_010_000];
    const [woke] = await runCpus<number[]>(virtualMachine(), [{ cpu: 0, module: 'vclock_scenarios', fn: 'paced', args: { at, workNs: 1000 } }]);
    expect(woke).toEqual(at);
  });

  it('a paced CPU keeps its instants while another CPU works through them', async () => {
    const at = Array.from({ length: 20 }, (_, i) => (i + 1) * 7_000);
    const [woke] = await runCpus<[number[], number]>(virtualMachine(), [
      { cpu: 0, module: 'vclock_scenarios', fn: 'paced', args: { at, workNs: 1000 } },
      { cpu: 1, module: 'vclock_scenarios', fn: 'skewProbe', args: { steps: 2000, stepNs: 100, others: [0] } },
    ]);
    expect(woke).toEqual(at);
  });

  it('a CPU woken by another resumes at the waker instant, plus the wake-up cost', async () => {
    for (const wakeupNs of [0, 3000]) {
      const [w, setAt] = await runCpus<[{ began: number; woke: number }, number]>(virtualMachine({ costs: { wakeupNs } }), [
        { cpu: 0, module: 'vclock_scenarios', fn: 'waitForWord', args: { idx: 0, startNs: 1000 } },
        { cpu: 1, module: 'vclock_scenarios', fn: 'setWord', args: { idx: 0, workNs: 5000 } },
      ]).then((r) => r as unknown as [{ began: number; woke: number }, number]);
      expect(w.began).toBe(1000);
      expect(setAt).toBe(5000);
      expect(w.woke).toBe(5000 + wakeupNs);
    }
  });

  describe('idle wake-ups', () => {
    const idle: IdleWakeup = { distribution: 'lognormal', medianNs: 10_000, sigma: 0.5, minIdleNs: 20_000 };
    type Woke = { began: number; woke: number; drawn: number };
    const wake = async (machine: Machine, workNs: number, seed: number) =>
      (await runCpus(machine, [
        { cpu: 0, module: 'vclock_scenarios', fn: 'waitForWord', args: { idx: 0, startNs: 1000, seed } },
        { cpu: 1, module: 'vclock_scenarios', fn: 'setWord', args: { idx: 0, workNs } },
      ])) as [Woke, number];

    it('a CPU woken after idling past minIdleNs pays the wake-up cost and its seeded draw; one idle for less pays no draw', async () => {
      const machine = () => virtualMachine({ costs: { wakeupNs: 3000 }, idleWakeup: idle });
      // Idle from 1 µs to 50 µs: the draw is CPU 0's first of seed 5 (repeat 0).
      const [w, setAt] = await wake(machine(), 50_000, 5);
      expect(setAt).toBe(50_000);
      expect(w.woke).toBe(50_000 + 3000 + idleWakeupNs(idle, wakeStream(5, 0, 0), 0));
      expect(w.drawn).toBe(1);
      // Another seed, another draw.
      const [w6] = await wake(machine(), 50_000, 6);
      expect(w6.woke).toBe(50_000 + 3000 + idleWakeupNs(idle, wakeStream(6, 0, 0), 0));
      expect(w6.woke).not.toBe(w.woke);
      // Idle from 1 µs to 10 µs: the CPU stayed in a shallow state, and pays wakeupNs alone.
      const [short] = await wake(machine(), 10_000, 5);
      expect(short.woke).toBe(10_000 + 3000);
      expect(short.drawn).toBe(0);
    });

    it("an SMT sibling's activity decides the idle state: a CPU whose sibling ran wakes from C0, one whose core idled past minIdleNs pays its draw", async () => {
      // CPU 0 sleeps from 1 µs until CPU 1 wakes it at 50 µs; CPU 2 is CPU 0's sibling (core 0).
      const machine = (cpuCores: number[]) => virtualMachine({ costs: { wakeupNs: 3000 }, idleWakeup: idle, cpuCores });
      const draw = idleWakeupNs(idle, wakeStream(5, 0, 0), 0);
      const withSibling = async (cpuCores: number[], sibling: { fn: string; args: Record<string, number> }) =>
        (await runCpus(machine(cpuCores), [
          { cpu: 0, module: 'vclock_scenarios', fn: 'waitForWord', args: { idx: 0, startNs: 1000, seed: 5 } },
          { cpu: 1, module: 'vclock_scenarios', fn: 'setWord', args: { idx: 0, workNs: 50_000 } },
          { cpu: 2, module: 'vclock_scenarios', ...sibling },
          { cpu: 3, module: 'vclock_scenarios', fn: 'setWord', args: { idx: 1, workNs: 60_000 } },
        ])) as [Woke, number, unknown, number];
      // The sibling works through 70 µs: the core never left C0, and the wake-up is wakeupNs alone.
      const busy = { fn: 'setWord', args: { idx: 2, workNs: 70_000 } };
      const [running] = await withSibling([0, -1, 0, -1], busy);
      expect(running.woke).toBe(50_000 + 3000);
      expect(running.drawn).toBe(0);
      // The same CPUs on cores of their own: CPU 0's core idled 49 µs, and it pays the draw.
      const [ownCore] = await withSibling([], busy);
      expect(ownCore.woke).toBe(50_000 + 3000 + draw);
      expect(ownCore.drawn).toBe(1);
      // The sibling went to sleep at 30 µs: the core idled 20 µs (minIdleNs) when CPU 0 woke, and the draw is paid.
      const [slept30] = await withSibling([0, -1, 0, -1], { fn: 'waitForWord', args: { idx: 1, startNs: 30_000 } });
      expect(slept30.woke).toBe(50_000 + 3000 + draw);
      expect(slept30.drawn).toBe(1);
      // At 40 µs: the core idled 10 µs, too short for a deep state.
      const [slept40] = await withSibling([0, -1, 0, -1], { fn: 'waitForWord', args: { idx: 1, startNs: 40_000 } });
      expect(slept40.woke).toBe(50_000 + 3000);
      expect(slept40.drawn).toBe(0);
    });

    it('on the wall clock a wake-up draws nothing: the host pays its own', async () => {
      const machine = createMachine({ cpus: 4, pmemBytes: 4 << 20, mappings: 2, clock: 'wall', idleWakeup: idle });
      const [w] = await wake(machine, 50_000, 5);
      expect(w.woke).toBeGreaterThan(w.began);
      expect(w.drawn).toBe(0);
    });

    it("a commit wait holds both idle wake-ups exactly: kjournald2's, then the waiting task's", async () => {
      const costs = { wakeupNs: 3000, commitNs: 50_000 };
      const machine = createMachine({ cpus: 6, pmemBytes: 8 << 20, indexNodes: 2, mappings: 1, fsInodes: 16, clock: 'virtual', windowNs: 500, costs, idleWakeup: idle });
      const setup = attachCpu(machine, 0);
      jbd2_journal_create(new Journal(setup, new PmemDevice(setup), {}));
      const [seed, repeat, kjCpu, taskCpu] = [11, 2, 5, 1];
      const kj = runCpus<{ summary: KjournaldSummary; drawn: number }>(machine, [{ cpu: kjCpu, module: 'vclock_scenarios', fn: 'seededCommitThread', args: { seed, repeat } }]);
      const js = machine.views.journalState;
      while (Atomics.load(js, JOURNAL.threadRunning) === 0) {
        const r = Atomics.waitAsync(js, JOURNAL.threadRunning, 0, 5);
        if (r.async) await r.value;
      }
      const [task] = await runCpus<{ asked: number; woke: number; drawn: number }>(machine, [
        { cpu: taskCpu, module: 'vclock_scenarios', fn: 'commitWait', args: { seed, repeat, workNs: 100_000 } },
      ]);
      stopCommitThread(machine);
      const [{ summary, drawn }] = await kj;
      expect(summary.commits).toBe(1);
      const [rec] = readCommitRecords(machine);
      // kjournald2 idled since the handle's transaction began (100 µs): woken by the request,
      // it starts the commit its wake-up and its last draw later.
      const kjDraw = idleWakeupNs(idle, wakeStream(seed, repeat, kjCpu), drawn - 1);
      expect(rec.requestToDurableNs - rec.commitNs).toBe(costs.wakeupNs + kjDraw);
      // The task idled through the commit: it runs again its wake-up and its first draw after the commit is durable.
      const taskDraw = idleWakeupNs(idle, wakeStream(seed, repeat, taskCpu), 0);
      expect(task.drawn).toBe(1);
      expect(task.woke - task.asked - rec.requestToDurableNs).toBe(costs.wakeupNs + taskDraw);
      // The whole wait: two wake-ups with their draws, and the commit's own work (nothing else costs here).
      expect(task.woke - task.asked).toBe(costs.wakeupNs + kjDraw + costs.commitNs + costs.wakeupNs + taskDraw);
      expect(kjDraw).not.toBe(taskDraw);
    });
  });

  it('no CPU runs more than a window ahead of another that runs', async () => {
    const windowNs = 1000;
    const r = await runCpus<number>(virtualMachine({ windowNs }), [
      { cpu: 0, module: 'vclock_scenarios', fn: 'skewProbe', args: { steps: 3000, stepNs: 70, others: [1, 2] } },
      { cpu: 1, module: 'vclock_scenarios', fn: 'skewProbe', args: { steps: 2000, stepNs: 110, others: [0, 2] } },
      { cpu: 2, module: 'vclock_scenarios', fn: 'skewProbe', args: { steps: 1000, stepNs: 230, others: [0, 1] } },
    ]);
    // A CPU sees another at most a window (plus that CPU's one step past it) ahead of itself.
    for (const worst of r) expect(worst).toBeLessThanOrEqual(windowNs + 230);
  });

  describe('a run', () => {
    const cli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
    const tmp = mkdtempSync(path.join(tmpdir(), 'daxlab-vclock-'));
    afterAll(() => rmSync(tmp, { recursive: true, force: true }));
    const tiny = {
      name: 'tiny',
      device: { size: '16MiB' },
      files: [{ name: 'a', size: '256KiB', state: 'empty' }],
      mappings: [{ name: 'm', file: 'a', flags: ['MAP_SHARED_VALIDATE', 'MAP_SYNC'] }],
      cpus: [{ role: 'faulter', mapping: 'm', pages: 16 }],
      profile: 'optane-adr',
      run: { watchdogMs: 5000 },
    };
    const configs = (out: string, seed: number) => {
      const file = path.join(tmp, 'tiny.json');
      writeFileSync(file, JSON.stringify(tiny));
      const r = spawnSync(process.execPath, [cli, 'run', file, '--out', path.join(tmp, out), '--seed', String(seed), '--quiet'], { encoding: 'utf8', timeout: 120_000 });
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(readFileSync(path.join(tmp, out, 'results.json'), 'utf8')).configs as { ops: Record<string, { meanNs: number }> }[];
    };

    it('with the same seed gives the same figures, to the last histogram count; another seed draws other idle wake-ups', () => {
      const a = configs('a', 3);
      expect(a[0].ops['sync-fault'].meanNs).toBeGreaterThan(0);
      expect(configs('b', 3)).toEqual(a);
      expect(configs('c', 4)[0].ops['sync-fault'].meanNs).not.toBe(a[0].ops['sync-fault'].meanNs);
    });
  });

  describe('beside a busy-loop process', () => {
    let busy: ChildProcess;
    beforeAll(() => {
      busy = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
    });
    afterAll(() => {
      busy.kill('SIGKILL');
    });

    it('the lock turns still wait exactly what the schedule implies', async () => {
      expect(await turns(virtualMachine())).toEqual(EXPECTED);
    });
  });
});
