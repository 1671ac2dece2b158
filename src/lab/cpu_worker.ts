// A CPU thread: attaches the machine, waits at the start gate with the other CPUs, runs
// one exported function of a compiled module, and posts what it returns.

import { parentPort, workerData } from 'node:worker_threads';
import { attachMachine, type MachineDescriptor } from '../machine/machine.js';
import { attachCpu, type Cpu } from '../sync/cpu.js';
import { GATE } from '../machine/run_block.js';
import { bindThreadCpu, unbindThreadCpu } from '../sync/vclock.js';

export interface CpuWorkerData {
  descriptor: MachineDescriptor;
  cpu: number;
  /** file: URL of the compiled module that exports `fn`. */
  moduleUrl: string;
  fn: string;
  args: unknown;
  /** The start gate (machine/run_block.ts): every CPU arrives, then waits for the main thread to open it. */
  gate: SharedArrayBuffer;
}

export type CpuFunction = (cpu: Cpu, args: any) => unknown;

const data = workerData as CpuWorkerData;
const machine = attachMachine(data.descriptor);
const cpu = attachCpu(machine, data.cpu);
const mod = (await import(data.moduleUrl)) as Record<string, CpuFunction>;
const fn = mod[data.fn];
if (typeof fn !== 'function') throw new Error(`${data.moduleUrl} has no function ${data.fn}`);
const gate = new Int32Array(data.gate);
Atomics.add(gate, GATE.arrived, 1);
Atomics.notify(gate, GATE.arrived);
Atomics.wait(gate, GATE.open, 0);
// On the virtual clock the CPU runs from the instant the main thread parked it at (runOnCpus).
bindThreadCpu(cpu);
let out: unknown;
try {
  out = await fn(cpu, data.args);
} finally {
  unbindThreadCpu();
}
parentPort!.postMessage(out);
