// Test CPUs for the measurement core: each records a deterministic stream of latencies into
// its own recorders and posts them encoded; the test records the same streams on one
// thread and checks that the merge equals it.
import { CpuRecorders, type EncodedOps, type RecordedOpKind } from '../../src/measure/histogram.js';
import type { Cpu } from '../../src/sync/cpu.js';

export interface MeasureArgs {
  seed: number;
  /** Samples per CPU. */
  n: number;
}

export interface Sample {
  kind: RecordedOpKind;
  ns: number;
  /** > 0: recorded with coordinated-omission correction at this expected interval. */
  intervalNs: number;
}

const KINDS: RecordedOpKind[] = ['read-fault', 'write-fault', 'sync-fault', 'store', 'msync', 'commit'];

/** The samples CPU `cpuId` records: log-uniform latencies from 100 ns to 10 s, half the stores paced at 50 µs (and under 10 ms). */
export function samplesFor(cpuId: number, args: MeasureArgs): Sample[] {
  let x = (args.seed * 2654435761 + cpuId * 40503 + 1) >>> 0;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
  const out: Sample[] = [];
  for (let i = 0; i < args.n; i++) {
    const kind = KINDS[Math.floor(next() * KINDS.length)];
    const paced = kind === 'store' && next() < 0.5;
    // Paced stores stay under 10 ms, so that the synthetic values keep sums far below 2^53.
    const ns = Math.floor(100 * Math.exp(next() * Math.log(paced ? 1e5 : 1e8))) + next();
    out.push({ kind, ns, intervalNs: paced ? 50_000 : 0 });
  }
  return out;
}

export function recordSamples(cpu: Cpu, args: MeasureArgs): EncodedOps {
  const set = new CpuRecorders();
  try {
    for (const s of samplesFor(cpu.id, args)) {
      if (s.intervalNs > 0) set.recordWithExpectedInterval(s.kind, s.ns, s.intervalNs);
      else set.record(s.kind, s.ns);
    }
    return set.encode();
  } finally {
    set.destroy();
  }
}
