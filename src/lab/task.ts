// What the main thread sends a CPU worker (one role for a whole repeat) and what it sends
// back. Plain structured-cloneable data: messages start runs and return results only.

import type { MachineDescriptor } from '../machine/machine.js';
import type { VmaRef } from '../mm/memory.js';
import type { JournalPolicy } from '../journal/policy.js';
import type { FsPersonality } from '../fs/ondisk.js';
import type { WritebackMode } from '../dax/writeback.js';
import type { DaxVariant } from '../dax/variant.js';
import type { EncodedOps } from '../measure/histogram.js';
import type { EncodedAttribution } from '../measure/attribution.js';
import type { Role } from '../workload/schema.js';
import type { IntervalOps } from './op_log.js';
import type { CpuHooksTask } from './cpu_hooks.js';

export interface CpuTask {
  kind: 'role' | 'commit-thread';
  descriptor: MachineDescriptor;
  control: SharedArrayBuffer;
  cpu: number;
  role: Role | null;
  personality: FsPersonality;
  writeback: WritebackMode;
  variant: DaxVariant;
  policy: JournalPolicy;
  vmas: Record<string, VmaRef>;
  inos: Record<string, number>;
  fileSizes: Record<string, number>;
  /** Operations the role times (Infinity: until stopped), and the unrecorded warm-up before. */
  ops: number;
  warmupOps: number;
  /** run.durationMs: on the virtual clock each role stops itself this long after the measured phase began. */
  durationMs: number | null;
  /** Whether some syncer counts the storers' stores (CONTROL.stores). */
  countStores: boolean;
  logIntervalMs: number;
  attribute: boolean;
  coordinatedOmission: boolean;
  repeat: number;
  seed: number;
  /** An instrumented run (crashtest's stop-the-world, writeback log and ledger): the module each CPU installs, and its data. */
  hooks?: CpuHooksTask;
}

export interface CpuTaskResult {
  cpu: number;
  role: string;
  ops: EncodedOps | null;
  intervals: IntervalOps[];
  attribution: EncodedAttribution | null;
  counters: Record<string, number>;
  /** The role stopped because the run was interrupted before it finished its count. */
  interrupted: boolean;
  /**
   * What the simulated process got from the kernel that ended its role (a SIGBUS from a fault
   * that found no free block, an errno from a write): the model's outcome, not a lab failure,
   * so the figures gathered before it are kept.
   */
  failed?: string;
}
