import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { atomicMax } from '../src/sync/atomic_max.js';

describe('atomicMax', () => {
  it('leaves the word at the largest of its start and every value raised, in any order', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1000, max: 1000 }), fc.array(fc.integer({ min: -1000, max: 1000 })), (start, values) => {
        const w = new Int32Array(new SharedArrayBuffer(8));
        w[1] = start;
        for (const v of values) atomicMax(w, 1, v);
        expect(w[1]).toBe(Math.max(start, ...values));
        expect(w[0]).toBe(0);
      }),
    );
  });
});
