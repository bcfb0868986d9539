// Randomness is injected so that a node is a pure function of its inputs: the same seed and the same inputs give
// the same elections, which is what lets a failing simulation be replayed.

/** Returns a number in [0, 1), like Math.random. */
export type RandomSource = () => number;

/** mulberry32: a tiny, fast, seedable generator; plenty for election jitter and simulations, not for secrets. */
export function seededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [min, max). */
export function randomInt(random: RandomSource, min: number, max: number): number {
  return min + Math.floor(random() * (max - min));
}
