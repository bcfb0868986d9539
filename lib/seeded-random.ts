// Seeded randomness for everything that must replay: Raft's election jitter, simulations, test schedules.

/** Returns a number in [0, 1), like Math.random. */
export type RandomSource = () => number;

/** mulberry32: a tiny, fast, seedable generator; plenty for jitter, simulations and test data, not for secrets. */
export function seededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
