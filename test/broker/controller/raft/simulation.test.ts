// Randomized schedules of a 3-node and a 5-node controller quorum under message loss, duplication, reordering,
// symmetric and one-way partitions, crash-restarts that lose unflushed state and torn flushes. After every input:
// Election Safety, Leader Completeness, State Machine Safety (committed and applied); every 50 steps: Log Matching;
// at the end: liveness once healed (every node back, or a minority left down): a leader is elected and a new
// command is applied on every running node within LIVENESS_BOUND steps. Replay one schedule with
// RAFT_SEED=<seed> RAFT_RUNS=1.
import t from 'tap';
import { runSchedule } from './schedule.ts';
import { baseSeed, runCount } from './seed.ts';

const LIVENESS_BOUND = 400; // steps; an election round is 10-20 ticks, so this allows many failed rounds

for (const nodeCount of [3, 5]) {
  t.test(`${nodeCount} nodes: safety under faults, liveness after healing`, (t) => {
    const seed = baseSeed();
    const runs = runCount(300);
    t.comment(`seed ${seed}, ${runs} schedules (RAFT_SEED=<seed> RAFT_RUNS=1 replays schedule <seed>)`);
    const totals = { crashes: 0, tornFlushes: 0, snapshotsDelivered: 0, compactions: 0, leaderTerms: 0, committed: 0, worstRecovery: 0 };
    for (let run = 0; run < runs; run++) {
      const scheduleSeed = (seed + run) >>> 0;
      let result;
      try {
        result = runSchedule({ seed: scheduleSeed, nodeCount, steps: 3000, livenessBound: LIVENESS_BOUND });
      } catch (error) {
        t.fail(`schedule ${scheduleSeed} (RAFT_SEED=${scheduleSeed} RAFT_RUNS=1): ${(error as Error).message}`);
        break;
      }
      totals.crashes += result.stats.crashes;
      totals.tornFlushes += result.stats.tornFlushes;
      totals.snapshotsDelivered += result.stats.snapshotsDelivered;
      totals.compactions += result.stats.compactions;
      totals.leaderTerms += result.leaderTerms;
      totals.committed += result.committed;
      totals.worstRecovery = Math.max(totals.worstRecovery, result.stepsToRecover);
    }
    t.comment(JSON.stringify(totals));
    // The schedules must actually exercise what the checks are about, or passing them would mean little.
    t.ok(totals.committed > runs * 200, 'commands were committed');
    t.ok(totals.leaderTerms > runs * 2, 'leadership changed hands');
    t.ok(totals.crashes > 0 && totals.tornFlushes > 0, 'nodes crashed, some mid-flush');
    t.ok(totals.snapshotsDelivered > 0 && totals.compactions > 0, 'logs were compacted and snapshots installed');
    t.end();
  });
}
