// A run's per-CPU instrumentation, supplied by a layer above the lab (crashtest's, in
// crash/role_content.ts). The lab never imports that layer (DESIGN.md's one-way data flow):
// the run names the module by URL beside plain data, and each CPU worker imports it,
// installs its hooks on its thread and hands its role what to call around stores and syncs.

/** What a CPU task carries: the URL of a module exporting attachCpuHooks (a CpuHooksModule) and its structured-cloneable data. */
export interface CpuHooksTask {
  module: string;
  data: unknown;
}

export interface CpuHooksModule {
  /** Installs the hooks on this thread, CPU `cpu` (after it is bound to the virtual clock). */
  attachCpuHooks(data: unknown, cpu: number): CpuHooks;
}

export interface CpuHooks {
  /** What a role calls around its stores and syncs (the commit thread has no role, and asks for none). */
  roleContent(): RoleContent;
  /** Undoes the install, when the task ends. */
  uninstall(): void;
}

/** A store target: a mapping's file and where it starts (Vma has these). */
export interface Mapped {
  ino: number;
  pgoff: number;
}

/** The bytes a store writes instead of its own, at mapping offset `at` (the hooks keep the rest). */
export interface Stamp {
  at: number;
  src: Uint8Array;
}

/** What the roles do differently in an instrumented run (lab/roles/*). */
export interface RoleContent {
  /** The stamp for the line holding byte `offset` of mapping m; wrote() after the store returns. */
  stampAt(m: Mapped, offset: number): Stamp;
  wrote(s: Stamp): void;
  /** A userspace flush of the stamp's line returned. */
  flushed(s: Stamp): void;
  /** Bytes [offset, offset + len) of file `ino` to write(2), built in `out`; wroteChunk() after. */
  stampedChunk(ino: number, offset: number, len: number, out: Uint8Array): Uint8Array;
  wroteChunk(ino: number, offset: number, src: Uint8Array): void;
  /** Runs `sync`, a sync of file `ino` (fsync, fdatasync, msync). */
  synced(ino: number, sync: () => void): void;
  /** A truncate or hole punch of bytes [from, to) of `ino` begins. */
  dropping(ino: number, from: number, to: number): void;
}

/** The task's hooks module, imported once per worker thread (import() caches it). */
export async function loadCpuHooks(task: CpuHooksTask): Promise<CpuHooksModule> {
  return (await import(task.module)) as CpuHooksModule;
}
