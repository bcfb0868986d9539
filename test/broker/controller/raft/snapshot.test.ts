// Snapshots bound the log, and a node whose log starts before the leader's compacted prefix catches up through
// InstallSnapshot: here a follower restarted with an emptied data directory. RAFT_SEED=<seed> RAFT_RUNS=1 replays.
import t from 'tap';
import { Simulation } from './simulation.ts';
import { baseSeed, runCount } from './seed.ts';

const SNAPSHOT_EVERY = 10;

t.test('a follower restarted with an empty log catches up through InstallSnapshot', (t) => {
  const seed = baseSeed();
  const runs = runCount(40);
  t.comment(`seed ${seed}, ${runs} runs (RAFT_SEED=<seed> RAFT_RUNS=1 replays run <seed>)`);
  for (let run = 0; run < runs; run++) {
    const runSeed = (seed + run) >>> 0;
    const nodeCount = run % 2 === 0 ? 3 : 5;
    const sim = new Simulation({ seed: runSeed, nodeCount, faults: { dropRate: 0.05, duplicateRate: 0.05, maxDelay: 2 }, snapshotEvery: SNAPSHOT_EVERY, flushRate: 1 });
    sim.awaitLiveness(300);
    const leader = sim.leader()!;
    const follower = sim.ids.find((id) => id !== leader.id)!;
    for (let step = 0; step < 200; step++) {
      sim.proposeFromClient();
      sim.step();
    }
    sim.crash(follower);
    sim.wipe(follower);
    sim.restart(follower);
    const before = sim.stats.snapshotsDelivered;
    const compactedTo = sim.node(leader.id)!.log.snapshotIndex;
    if (compactedTo === 0 || sim.node(follower)!.log.lastIndex !== 0) {
      t.fail(`seed ${runSeed}: setup: leader compacted to ${compactedTo}, follower log ends at ${sim.node(follower)!.log.lastIndex}`);
      break;
    }
    let caughtUp = -1;
    for (let step = 0; step < 300 && caughtUp < 0; step++) {
      sim.proposeFromClient();
      sim.step();
      if (sim.appliedIndex(follower) >= compactedTo + SNAPSHOT_EVERY) caughtUp = step;
    }
    // The safety checker compared the follower's state after the snapshot with what every other node applied.
    const installed = sim.stats.snapshotsDelivered - before;
    const followerLog = sim.node(follower)!.log;
    if (caughtUp < 0 || installed === 0 || followerLog.snapshotIndex < compactedTo) {
      t.fail(`seed ${runSeed}: follower applied ${sim.appliedIndex(follower)} (leader compacted to ${compactedTo}); ${installed} snapshots delivered; follower snapshot at ${followerLog.snapshotIndex}`);
      break;
    }
    const leaderLog = sim.node(sim.leader()!.id)!.log;
    if (leaderLog.lastIndex - leaderLog.snapshotIndex > 3 * SNAPSHOT_EVERY) {
      t.fail(`seed ${runSeed}: the leader's log holds ${leaderLog.lastIndex - leaderLog.snapshotIndex} entries past its snapshot`);
      break;
    }
    sim.checkLogMatching();
  }
  t.pass(`${runs} runs: the emptied follower installed a snapshot and applied past the leader's compaction point`);
  t.end();
});
