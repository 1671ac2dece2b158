// The virtual clock (src/sync/vclock.ts): waits are exactly what a schedule implies, in
// virtual time, whatever the host does meanwhile.

import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMachine, type Machine } from '../src/machine/machine.js';
import type { MachineConfigInput } from '../src/machine/layout.js';
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
