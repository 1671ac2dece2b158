// The run's progress bar: on a terminal only. Under CI, or with stderr piped, nothing is
// drawn (warnings still print, one line each).

import cliProgress from 'cli-progress';
import type { RunProgress } from '../lab/run.js';

export interface Progress {
  update: (p: RunProgress) => void;
  log: (line: string) => void;
  stop: () => void;
}

export function startProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  const live = stream.isTTY === true && !process.env.CI;
  if (!live) return { update: () => {}, log: (l) => stream.write(`${l}\n`), stop: () => {} };
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
