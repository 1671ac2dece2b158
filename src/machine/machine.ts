// Creates the shared memory on the main thread and attaches the same views in a worker.
// A Machine is the only way to reach shared state: modules take it (or its views) and
// never allocate SharedArrayBuffers themselves.

import {
  type MachineConfig,
  type MachineConfigInput,
  type MachineViews,
  type RegionName,
  REGIONS,
  REGION_NAMES,
  resolveConfig,
} from './layout.js';
import { checkInt, checkOneOf } from '../util/check.js';

/** What a worker needs to attach: plain data and SharedArrayBuffers, so it survives postMessage. */
export interface MachineDescriptor {
  readonly config: MachineConfig;
  readonly buffers: Readonly<Record<RegionName, SharedArrayBuffer>>;
}

export interface Machine {
  readonly config: MachineConfig;
  readonly views: MachineViews;
  readonly descriptor: MachineDescriptor;
}

function buildViews(desc: MachineDescriptor): MachineViews {
  const views = {} as Record<RegionName, unknown>;
  for (const name of REGION_NAMES) {
    const spec = REGIONS[name];
    const buf = desc.buffers[name];
    if (!(buf instanceof SharedArrayBuffer)) {
      throw new TypeError(`machine descriptor: region ${name} is not a SharedArrayBuffer`);
    }
    const length = spec.length(desc.config);
    if (buf.byteLength !== length * spec.view.BYTES_PER_ELEMENT) {
      throw new RangeError(`machine descriptor: region ${name} has ${buf.byteLength} bytes, layout wants ${length * spec.view.BYTES_PER_ELEMENT}`);
    }
    const View = spec.view as unknown as new (b: SharedArrayBuffer, offset: number, length: number) => unknown;
    views[name] = new View(buf, 0, length);
  }
  return views as MachineViews;
}

/** Allocates every shared region for a configuration (main thread only, once per run). */
export function createMachine(partial: MachineConfigInput = {}): Machine {
  const config = resolveConfig(partial);
  const buffers = {} as Record<RegionName, SharedArrayBuffer>;
  for (const name of REGION_NAMES) {
    const spec = REGIONS[name];
    buffers[name] = new SharedArrayBuffer(spec.length(config) * spec.view.BYTES_PER_ELEMENT);
  }
  const descriptor: MachineDescriptor = Object.freeze({ config, buffers: Object.freeze(buffers) });
  return { config, views: buildViews(descriptor), descriptor };
}

/**
 * Returns a machine to the state createMachine() leaves, except for the regions in `keep`,
 * whose contents stay as they are. Reusing a machine's memory this way spares the host the
 * first-touch page faults of fresh SharedArrayBuffers (the lab keeps the device's data and
 * media: a block's old bytes are never read before it is zeroed or written).
 */
export function wipeMachine(machine: Machine, keep: readonly RegionName[] = []): Machine {
  // A misspelt name would keep nothing and wipe the region the caller meant to keep.
  for (const name of keep) checkOneOf('keep', name, REGION_NAMES);
  for (const name of REGION_NAMES) {
    if (keep.includes(name)) continue;
    new Uint8Array(machine.descriptor.buffers[name]).fill(0);
  }
  return machine;
}

/** Attaches the views of a machine created elsewhere (in a worker, from a posted descriptor). */
export function attachMachine(descriptor: MachineDescriptor): Machine {
  const config = resolveConfig(descriptor.config);
  const desc = { config, buffers: descriptor.buffers };
  return { config, views: buildViews(desc), descriptor: desc };
}

/** Checks a CPU number against the machine's CPU slots. */
export function checkCpu(machine: Machine, cpu: number): number {
  return checkInt('cpu', cpu, 0, machine.config.cpus - 1);
}
