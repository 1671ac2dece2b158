// Test CPUs for the pmem device: stores and flushes racing on shared lines.
import { PmemDevice } from '../../src/pmem/device.js';
import type { Cpu } from '../../src/sync/cpu.js';

const SPAN = 64 * 1024;

export function storeAndFlush(cpu: Cpu, args: { rounds: number }): number {
  const dev = new PmemDevice(cpu);
  const src = new Uint8Array(24).fill(cpu.id + 1);
  let x = cpu.id * 7919;
  for (let i = 0; i < args.rounds; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    const off = (x % (SPAN - 24)) & ~7;
    dev.store(off, src);
    if ((i & 15) === 0) dev.flush(off, 24);
  }
  return args.rounds;
}

export function flushLoop(cpu: Cpu, args: { rounds: number }): number {
  const dev = new PmemDevice(cpu);
  for (let i = 0; i < args.rounds / 50; i++) {
    dev.flush(0, SPAN);
    dev.fence();
  }
  return 0;
}
