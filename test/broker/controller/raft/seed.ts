// Seeds for randomized tests: random unless RAFT_SEED is set, always printed so a failure can be replayed.

export function baseSeed(): number {
  const fromEnv = process.env.RAFT_SEED;
  return fromEnv !== undefined ? Number(fromEnv) >>> 0 : Math.floor(Math.random() * 2 ** 31);
}

/** How many seeds a randomized test runs: RAFT_RUNS, or `fallback`. RAFT_RUNS=1 with RAFT_SEED replays one. */
export function runCount(fallback: number): number {
  const fromEnv = process.env.RAFT_RUNS;
  return fromEnv !== undefined ? Math.max(1, Number(fromEnv)) : fallback;
}
