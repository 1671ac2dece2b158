// Seeded randomness: a run with the same seed makes the same choices (crash images,
// workloads). pure-rand's xoroshiro128+ supplies the generator.

import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';

/** A source of numbers in [0, 1). */
export type Rng = () => number;

export function seededRng(seed: number): Rng {
  const gen = xoroshiro128plus(seed | 0);
  return () => uniformFloat64(gen);
}
