// What a simulated CPU costs in memory (issue 15: 215 MB a worker thread, 62 roles took
// 13.8 GB). Peak resident sets of two runs in processes of their own, 2 and 8 storers.
import { describe, expect, it } from 'vitest';
import { measureWorkerMemory } from '../bench/worker_memory.js';

describe('worker memory', () => {
  it('costs under 50 MB a CPU worker thread', () => {
    const m = measureWorkerMemory([2, 8]);
    expect(m.perWorkerMB, JSON.stringify(m.peakMB)).toBeLessThan(50);
    expect(m.perWorkerMB).toBeGreaterThan(0);
  }, 240_000);
});
