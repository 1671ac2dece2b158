import { describe, expect, it } from 'vitest';
import { attachMachine, createMachine, wipeMachine, type MachineDescriptor } from '../src/machine/machine.js';
import { MiB, REGION_NAMES, type MachineConfig, type MachineConfigInput } from '../src/machine/layout.js';
import { runCpus } from './support/workers.js';

const small: Partial<MachineConfig> = { cpus: 2, pmemBytes: 2 * MiB, indexNodes: 8, mappings: 2 };

describe('machine', () => {
  it('shares every region between the main thread and a worker, both ways', async () => {
    const machine = createMachine(small);
    REGION_NAMES.forEach((name, i) => {
      const v = machine.views[name];
      v[0] = 1 + i;
      v[v.length - 1] = 50 + i;
    });
    const [seen] = await runCpus<Record<string, [number, number]>>(machine, [{ cpu: 1, module: 'sync_scenarios', fn: 'regionEcho' }]);
    REGION_NAMES.forEach((name, i) => {
      expect(seen[name], name).toEqual([1 + i, 50 + i]);
      const v = machine.views[name];
      expect([v[0], v[v.length - 1]], name).toEqual([100 + i, 150 + i]);
    });
  });

  it('attaches the same memory from a descriptor', () => {
    const machine = createMachine(small);
    const other = attachMachine(machine.descriptor);
    other.views.lockStat[3] = 42.5;
    expect(machine.views.lockStat[3]).toBe(42.5);
    expect(other.config).toEqual(machine.config);
  });

  it('rejects a descriptor that does not fit its configuration', () => {
    const machine = createMachine(small);
    const d = machine.descriptor;
    const withBuffers = (buffers: Record<string, unknown>): MachineDescriptor =>
      ({ config: d.config, buffers: { ...d.buffers, ...buffers } }) as unknown as MachineDescriptor;

    // A region of the wrong size, as when the config is not the one the buffers were made for.
    expect(() => attachMachine({ config: { ...d.config, cpus: 4 }, buffers: d.buffers })).toThrow(RangeError);
    expect(() => attachMachine({ config: { ...d.config, cpus: 4 }, buffers: d.buffers })).toThrow(/region \w+ has \d+ bytes/);
    expect(() => attachMachine(withBuffers({ waitTable: new SharedArrayBuffer(64) }))).toThrow(/region waitTable/);
    // Not shared memory, or missing.
    expect(() => attachMachine(withBuffers({ cpuState: new ArrayBuffer(d.buffers.cpuState.byteLength) }))).toThrow(TypeError);
    expect(() => attachMachine(withBuffers({ lockStat: undefined }))).toThrow(/region lockStat is not a SharedArrayBuffer/);
    // An impossible configuration is rejected before any buffer is looked at.
    expect(() => attachMachine({ config: { ...d.config, pmemMode: 'nvme' as never }, buffers: d.buffers })).toThrow(/pmemMode/);
  });

  it('rejects a bad configuration with a RangeError naming the field', () => {
    const bad: [Partial<MachineConfig>, string][] = [
      [{ pmemBytes: 3 * MiB }, 'pmemBytes'],
      [{ pmemBytes: 0 }, 'pmemBytes'],
      [{ cpus: 0 }, 'cpus'],
      [{ cpus: 1.5 }, 'cpus'],
      [{ cpus: 65 }, 'cpus'],
      [{ mappings: 0 }, 'mappings'],
      [{ indexNodes: 1 }, 'indexNodes'],
      [{ lockSpinNs: -1 }, 'lockSpinNs'],
      [{ pmemMode: 'nvme' as never }, 'pmemMode'],
      [{ lockStatHoldTimes: 'yes' as never }, 'lockStatHoldTimes'],
    ];
    for (const [config, field] of bad) {
      expect(() => createMachine({ ...small, ...config }), field).toThrow(RangeError);
      expect(() => createMachine({ ...small, ...config }), field).toThrow(new RegExp(`^${field}: `));
    }
  });

  it('wipeMachine rejects an unknown region name to keep, wiping nothing', () => {
    const machine = createMachine(small);
    machine.views.pmemData[0] = 7;
    machine.views.indexRoots[0] = 7;
    expect(() => wipeMachine(machine, ['pmemData', 'nope' as never])).toThrow(RangeError);
    expect(() => wipeMachine(machine, ['nope' as never])).toThrow(/^keep: expected one of pmemData, pmemMedia, .*, got "nope"$/);
    expect([machine.views.pmemData[0], machine.views.indexRoots[0]]).toEqual([7, 7]);
    wipeMachine(machine, ['pmemData']);
    expect([machine.views.pmemData[0], machine.views.indexRoots[0]]).toEqual([7, 0]);
  });

  it('rejects an unknown configuration field, naming it and listing the accepted ones', () => {
    for (const field of ['bogusField', 'pmemByte', 'cost']) {
      const config = { ...small, [field]: 1 } as MachineConfigInput;
      expect(() => createMachine(config), field).toThrow(RangeError);
      expect(() => createMachine(config), field).toThrow(
        new RegExp(`^${field}: unknown machine configuration field; expected one of cpus, pmemBytes, pmemMode, mappings, indexNodes, .*, costs$`),
      );
    }
  });
});
