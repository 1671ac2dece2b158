// What a role does differently in a crashtest run (lab/roles/*): its stores write stamps
// (content.ts) and record them in the ledger, and each sync it makes promises the versions
// written before the call once the call returns. The task carries the shared blocks; each
// CPU thread imports this module by the URL in its task (lab/cpu_hooks.ts: the lab does not
// import crashtest) and installs its crash stop and writeback log.

import { CACHELINE, PAGE_SIZE } from '../machine/layout.js';
import { setWritebackHook } from '../pmem/device.js';
import type { CpuHooks, CpuHooksTask, Mapped, RoleContent, Stamp } from '../lab/cpu_hooks.js';
import { Ledger, PROMISE_FLUSH, PROMISE_SYNC, writeStamp, type LedgerFile } from './content.js';
import { CrashBlock, installCrashStop } from './points.js';
import { PersistLog } from './persist_log.js';

/** The crashtest part of a CPU task: plain data and SharedArrayBuffers. */
export interface CrashTask {
  block: SharedArrayBuffer;
  persist: SharedArrayBuffer;
  cpus: number;
  ledger: SharedArrayBuffer;
  files: LedgerFile[];
}

/** What a CPU task carries in a crashtest run: this module, and the crashtest data for it. */
export function crashHooksTask(task: CrashTask): CpuHooksTask {
  return { module: import.meta.url, data: task };
}

/** Installs the crash stop and the writeback log on this thread's CPU (CpuHooksModule's entry). */
export function attachCpuHooks(data: unknown, cpu: number): CpuHooks {
  const task = data as CrashTask;
  installCrashStop(new CrashBlock(task.block), cpu);
  setWritebackHook(new PersistLog(task.persist, task.cpus).section(cpu));
  return {
    roleContent: () => new CrashContent(task),
    uninstall: () => {
      installCrashStop(null, cpu);
      setWritebackHook(null);
    },
  };
}

/** A stamp and the ledger entry it stands for. */
interface CrashStamp extends Stamp {
  file: LedgerFile;
  line: number;
  version: number;
}

export class CrashContent implements RoleContent {
  readonly ledger: Ledger;
  private readonly line = new Uint8Array(CACHELINE);
  private readonly lineWords = new Int32Array(this.line.buffer);

  constructor(task: CrashTask) {
    this.ledger = new Ledger(task.ledger, task.files);
  }

  private fileOf(ino: number): LedgerFile {
    const f = this.ledger.file(ino);
    if (f === undefined) throw new Error(`crashtest: inode ${ino} is not a tracked file`);
    return f;
  }

  /**
   * The stamp for the line holding byte `offset` of a mapping, its version issued: returns
   * the line's mapping offset and the bytes to store. Call wrote() after the store returns.
   */
  stampAt(m: Mapped, offset: number): CrashStamp {
    const at = offset - (offset % CACHELINE);
    const file = this.fileOf(m.ino);
    const line = (m.pgoff * PAGE_SIZE + at) / CACHELINE;
    const version = this.ledger.issue(file, line);
    writeStamp(this.lineWords, 0, m.ino, line, version);
    return { at, src: this.line, file, line, version };
  }

  wrote(s: CrashStamp): void {
    this.ledger.wrote(s.file, s.line, s.version);
  }

  /** A userspace flush of the line returned: its version is durable (MAP_SYNC's promise). */
  flushed(s: CrashStamp): void {
    this.ledger.promise(s.file, Int32Array.of(s.version, Atomics.load(this.ledger.revoked, s.file.base + s.line)), s.line, PROMISE_FLUSH);
  }

  /** Bytes [offset, offset + len) of file `ino` as stamps, versions issued (write(2)'s source); wroteChunk() after. */
  stampedChunk(ino: number, offset: number, len: number, out: Uint8Array): Uint8Array {
    const file = this.fileOf(ino);
    const w = new Int32Array(out.buffer, out.byteOffset, len / 4);
    for (let k = 0; k < len / CACHELINE; k++) {
      const line = offset / CACHELINE + k;
      writeStamp(w, k * (CACHELINE / 4), ino, line, this.ledger.issue(file, line));
    }
    return out.subarray(0, len);
  }

  /** write(2) of a stampedChunk returned. */
  wroteChunk(ino: number, offset: number, src: Uint8Array): void {
    const file = this.fileOf(ino);
    const w = new Int32Array(src.buffer, src.byteOffset, src.length / 4);
    for (let k = 0; k < src.length / CACHELINE; k++) this.ledger.wrote(file, offset / CACHELINE + k, w[k * (CACHELINE / 4) + 3]);
  }

  /** Runs a sync of file `ino` (fsync, fdatasync, msync): what was written before it is promised once it returns. */
  synced(ino: number, sync: () => void): void {
    const file = this.fileOf(ino);
    const snap = this.ledger.snapshot(file);
    sync();
    this.ledger.promise(file, snap, 0, PROMISE_SYNC);
  }

  /** A truncate or hole punch of bytes [from, to) of `ino` begins: its promises no longer hold. */
  dropping(ino: number, from: number, to: number): void {
    this.ledger.revoke(this.fileOf(ino), Math.floor(from / CACHELINE), Math.ceil(to / CACHELINE));
  }
}
