// The run's progress: a bar on a terminal; under CI, or with stderr piped, a one-line status
// every `statusMs` instead (fio's --status-interval), so a long run in a log is not silent
// until its end. Warnings print one line each either way; statusMs 0 drops the status lines.

import cliProgress from 'cli-progress';
import type { RunProgress } from '../lab/run.js';

export interface Progress {
  update: (p: RunProgress) => void;
  log: (line: string) => void;
  stop: () => void;
}

export function startProgress(stream: NodeJS.WriteStream = process.stderr, statusMs = 5000): Progress {
  const live = stream.isTTY === true && !process.env.CI;
  if (!live) return statusLines(stream, statusMs);
  const bar = new cliProgress.SingleBar(
    { stream, format: '{config} [{bar}] {percentage}% | repeat {repeat} | config {ci}/{cc} | {value}/{total} ops', hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let stopped = false;
  return {
    update: (p) => {
      if (stopped) return;
      const payload = { config: p.config, repeat: p.repeat < 0 ? 'warm-up' : `${p.repeat + 1}/${p.repeats}`, ci: p.configIndex + 1, cc: p.configCount };
      const total = p.expectedOps || Math.max(1, p.ops);
      if (!started) {
        bar.start(total, p.ops, payload);
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(Math.min(p.ops, total), payload);
      }
    },
    log: (l) => stream.write(started && !stopped ? `\r\x1b[K${l}\n` : `${l}\n`),
    stop: () => {
      if (started && !stopped) bar.stop();
      stopped = true;
    },
  };
}

/** Off a terminal: the latest progress, written as one line every statusMs. */
function statusLines(stream: NodeJS.WritableStream, statusMs: number): Progress {
  const t0 = Date.now();
  let last: RunProgress | null = null;
  const timer = !(statusMs > 0)
    ? null
    : setInterval(() => {
        if (last === null) return;
        const p = last;
        const repeat = p.repeat < 0 ? 'warm-up repeat' : `repeat ${p.repeat + 1}/${p.repeats}`;
        const ops = p.expectedOps > 0 ? `${p.ops}/${p.expectedOps} ops` : `${p.ops} ops`;
        stream.write(`daxlab: ${Math.round((Date.now() - t0) / 1000)} s: configuration ${p.configIndex + 1}/${p.configCount} ${p.config}, ${repeat}, ${ops}\n`);
      }, statusMs);
  timer?.unref();
  return {
    update: (p) => {
      last = p;
    },
    log: (l) => stream.write(`${l}\n`),
    stop: () => {
      if (timer !== null) clearInterval(timer);
    },
  };
}
