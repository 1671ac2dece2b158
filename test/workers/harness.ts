// A test CPU: attaches the machine, waits at the start gate with the other test CPUs,
// runs one exported function of a compiled scenario module, and posts its result.
// Scenario modules live beside this file; tests name them without the extension.

import { parentPort, workerData } from 'node:worker_threads';
import { attachMachine, type MachineDescriptor } from '../../src/machine/machine.js';
import { attachCpu, type Cpu } from '../../src/sync/cpu.js';

export interface HarnessData {
  descriptor: MachineDescriptor;
  cpu: number;
  module: string;
  fn: string;
  args: unknown;
  /** Int32 [arrived, go]: every worker arrives, then waits for the main thread's go. */
  gate: SharedArrayBuffer;
}

export type Scenario = (cpu: Cpu, args: any) => unknown;

const data = workerData as HarnessData;
const machine = attachMachine(data.descriptor);
const cpu = attachCpu(machine, data.cpu);
const mod = (await import(`./${data.module}.js`)) as Record<string, Scenario>;
const fn = mod[data.fn];
if (typeof fn !== 'function') throw new Error(`scenario ${data.module}.${data.fn} not found`);
const gate = new Int32Array(data.gate);
Atomics.add(gate, 0, 1);
Atomics.notify(gate, 0);
Atomics.wait(gate, 1, 0);
const result = await fn(cpu, data.args);
parentPort!.postMessage(result);
