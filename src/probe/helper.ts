// Running the native helper (native/daxprobe.c, built into dist/native/daxprobe): finding
// it, saying what is missing when it is not there, streaming its progress, and passing on
// Ctrl-C so that it removes its files before daxlab exits.

import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../util/usage_error.js';
import { parseRawLine, type ProgressRaw } from './raw.js';

/** Where `npm run build` puts the helper; DAXLAB_PROBE_HELPER names another (one built elsewhere). */
export function helperPath(): string {
  return process.env.DAXLAB_PROBE_HELPER || fileURLToPath(new URL('../../native/daxprobe', import.meta.url));
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** A command's path on PATH, or undefined. */
export function findOnPath(cmd: string, pathVar = process.env.PATH ?? ''): string | undefined {
  if (cmd.includes('/')) return executable(cmd) ? cmd : undefined;
  for (const dir of pathVar.split(path.delimiter)) {
    if (dir === '') continue;
    const f = path.join(dir, cmd);
    if (executable(f)) return f;
  }
  return undefined;
}

/** The helper's path, or a UsageError saying what the user must install or run. */
export function requireHelper(): string {
  if (process.platform !== 'linux') {
    throw new UsageError(`probe: daxlab probe measures a Linux kernel's DAX paths; this system is ${process.platform} (run it on Linux, or in a Linux VM)`);
  }
  const file = helperPath();
  if (executable(file)) return file;
  const cc = process.env.CC || 'cc';
  if (findOnPath(cc) === undefined) {
    throw new UsageError(
      `probe: no C compiler found (${cc}): install gcc (apt-get install gcc, dnf install gcc) or clang, then run npm run build:probe to build the native helper`,
    );
  }
  throw new UsageError(`probe: the native helper ${file} is not built: run npm run build:probe (it compiles native/daxprobe.c with ${cc})`);
}

export interface HelperRun {
  /** Everything the helper wrote to stdout: the raw records. */
  text: string;
  /** Exit status, or the signal that ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The helper's own stderr (its error messages). */
  stderr: string;
  /** The signal daxlab received and passed on, if any. */
  interrupted: NodeJS.Signals | null;
}

/**
 * Runs the helper on dir. Progress records are handed to onProgress as they arrive; SIGINT
 * and SIGTERM to daxlab are passed on as SIGTERM, and the promise settles only once the
 * helper has exited (it removes its files first).
 */
export function runHelper(helper: string, dir: string, quick: boolean, onProgress: (p: ProgressRaw) => void): Promise<HelperRun> {
  return new Promise((resolve, reject) => {
    let interrupted: NodeJS.Signals | null = null;
    const onSignal = (sig: NodeJS.Signals) => {
      interrupted ??= sig;
      child.kill('SIGTERM');
    };
    const onInt = () => onSignal('SIGINT');
    const onTerm = () => onSignal('SIGTERM');
    // Before the spawn: the helper may make its folder before spawn() returns, and a Ctrl-C
    // then must not find Node's default handler, which would leave the helper running. A
    // handler runs from the event loop, so `child` is set by the time one does.
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    let child: ChildProcessByStdio<null, Readable, Readable>;
    try {
      child = spawn(helper, ['--dir', dir, ...(quick ? ['--quick'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      throw e;
    }
    const chunks: string[] = [];
    let pending = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s: string) => {
      chunks.push(s);
      pending += s;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (!line.startsWith('{"type":"progress"')) continue;
        try {
          const r = parseRawLine(line, 'helper');
          if (r.type === 'progress') onProgress(r);
        } catch {
          // A progress line is for show: the whole output is checked when it is read.
        }
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      stderr += s;
    });
    child.on('error', (e) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      reject(e);
    });
    child.on('close', (code, signal) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve({ text: chunks.join(''), code, signal, stderr, interrupted });
    });
  });
}
