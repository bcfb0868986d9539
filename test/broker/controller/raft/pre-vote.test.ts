// Pre-vote and check-quorum on a reliable network: a partitioned follower must not disrupt a healthy leader when it
// comes back, and a leader cut off from the majority must step down so the rest can elect another.
// Each scenario runs over many seeds; RAFT_SEED=<seed> RAFT_RUNS=1 replays one.
import t, { type Test } from 'tap';
import type { NodeId } from '../../../../broker/controller/raft/types.ts';
import { Simulation } from './simulation.ts';
import { baseSeed, runCount } from './seed.ts';

const RELIABLE_SLOW = { dropRate: 0, duplicateRate: 0, maxDelay: 2 };
const ELECTION_TIMEOUT = 10;

function healthyCluster(seed: number, nodeCount: number): Simulation {
  const sim = new Simulation({ seed, nodeCount, faults: RELIABLE_SLOW, tickRate: 1, flushRate: 1, electionTimeoutTicks: ELECTION_TIMEOUT });
  sim.awaitLiveness(200);
  return sim;
}

function forEachSeed(t: Test, runs: number, scenario: (t: Test, seed: number, nodeCount: number) => void): void {
  const seed = baseSeed();
  const count = runCount(runs);
  t.comment(`seed ${seed}, ${count} runs (RAFT_SEED=<seed> RAFT_RUNS=1 replays run <seed>)`);
  for (let run = 0; run < count; run++) {
    const runSeed = (seed + run) >>> 0;
    scenario(t, runSeed, run % 2 === 0 ? 3 : 5);
    if (!t.passing()) {
      t.comment(`failed at RAFT_SEED=${runSeed} RAFT_RUNS=1`);
      return;
    }
  }
}

t.test('a follower isolated for many election timeouts keeps its term and does not depose the leader on return', (t) => {
  forEachSeed(t, 100, (t, seed, nodeCount) => {
    // Half the runs stay idle while the node is away: its log is then as up to date as anyone's, so only the
    // leader lease (followers refuse pre-votes while they hear from a leader) keeps it from winning an election.
    const idle = seed % 4 < 2;
    const sim = healthyCluster(seed, nodeCount);
    const leader = sim.leader()!;
    const follower = sim.ids.find((id) => id !== leader.id)!;
    sim.network.isolate(follower, sim.ids);
    let sawCandidate = false;
    for (let step = 0; step < 30 * ELECTION_TIMEOUT; step++) {
      if (!idle && step % 3 === 0) sim.proposeFromClient();
      sim.step();
      sawCandidate ||= sim.status(follower)!.role === 'candidate';
    }
    const isolated = sim.status(follower)!;
    if (isolated.term !== leader.term || sawCandidate) t.fail(`seed ${seed}: isolated node reached term ${isolated.term} (leader's ${leader.term}), candidate: ${sawCandidate}`);
    sim.network.heal();
    for (let step = 0; step < 20 * ELECTION_TIMEOUT; step++) {
      if (!idle && step % 3 === 0) sim.proposeFromClient();
      sim.step();
      const now = sim.leader();
      if (now?.id !== leader.id || now.term !== leader.term) {
        t.fail(`seed ${seed}: leadership moved from ${leader.id}@${leader.term} to ${JSON.stringify(now)} after the node rejoined`);
        return;
      }
    }
    // It caught up with everything committed while it was away.
    const applied = sim.appliedIndex(leader.id);
    if (sim.appliedIndex(follower) < applied - 5) t.fail(`seed ${seed}: rejoined node applied ${sim.appliedIndex(follower)} of ${applied}`);
    else t.pass(`seed ${seed}, ${nodeCount} nodes${idle ? ', idle' : ''}: leader ${leader.id} kept term ${leader.term}`);
  });
  t.end();
});

function stepDownScenario(t: Test, seed: number, nodeCount: number, cut: (sim: Simulation, leader: NodeId) => void, what: string): void {
  const sim = healthyCluster(seed, nodeCount);
  const old = sim.leader()!;
  cut(sim, old.id);
  let steppedDownAt = -1;
  let newLeader = null;
  // Check-quorum fires within two election timeouts (one window may have started just before the cut).
  for (let step = 0; step < 40 * ELECTION_TIMEOUT; step++) {
    sim.step();
    if (steppedDownAt < 0 && sim.status(old.id)!.role !== 'leader') steppedDownAt = step;
    const current = sim.leader();
    if (current && current.id !== old.id) newLeader = current;
    if (steppedDownAt >= 0 && newLeader) break;
  }
  if (steppedDownAt < 0 || steppedDownAt > 2 * ELECTION_TIMEOUT) return void t.fail(`seed ${seed}, ${what}: old leader stepped down at step ${steppedDownAt}`);
  if (!newLeader) return void t.fail(`seed ${seed}, ${what}: the majority elected no new leader`);
  // With the cut still in place, the old leader's campaigns (if it can send at all) must not unseat the new one.
  for (let step = 0; step < 20 * ELECTION_TIMEOUT; step++) {
    sim.step();
    const current = sim.leader();
    if (current?.id !== newLeader.id || current.term !== newLeader.term) {
      return void t.fail(`seed ${seed}, ${what}: new leader ${newLeader.id}@${newLeader.term} replaced by ${JSON.stringify(current)}`);
    }
  }
  t.pass(`seed ${seed}, ${nodeCount} nodes, ${what}: stepped down after ${steppedDownAt} steps; ${newLeader.id} leads term ${newLeader.term}`);
}

t.test('a leader cut off from the majority steps down (check-quorum) and the majority elects another', (t) => {
  forEachSeed(t, 40, (t, seed, nodeCount) => {
    stepDownScenario(t, seed, nodeCount, (sim, leader) => sim.network.isolate(leader, sim.ids), 'symmetric partition');
  });
  t.end();
});

t.test('a leader that can send but not receive steps down too, and cannot disrupt the new leader', (t) => {
  forEachSeed(t, 40, (t, seed, nodeCount) => {
    stepDownScenario(t, seed, nodeCount, (sim, leader) => {
      for (const id of sim.ids) if (id !== leader) sim.network.cut(id, leader);
    }, 'one-way partition');
  });
  t.end();
});
