// Randomness is injected so that a node is a pure function of its inputs: the same seed and the same inputs give
// the same elections, which is what lets a failing simulation be replayed.

import type { RandomSource } from '../../../lib/seeded-random.ts';

export { seededRandom, type RandomSource } from '../../../lib/seeded-random.ts';

/** An integer in [min, max). */
export function randomInt(random: RandomSource, min: number, max: number): number {
  return min + Math.floor(random() * (max - min));
}
