// A randomized fault schedule for a Simulation: clients propose throughout while nodes crash and restart, and the
// network partitions (symmetrically or in one direction) and heals. Each schedule draws its own fault profile, from
// calm to hostile, because different bugs need different weather: long delays make stale messages, quick restarts
// expose state that was not persisted, frequent partitions make many competing terms. Safety is checked as it
// runs; liveness after healing.
import { randomInt, seededRandom } from '../../../../broker/controller/raft/random.ts';
import { Simulation, type SimulationOptions, type SimulationStats } from './simulation.ts';

export interface ScheduleOptions {
  seed: number;
  nodeCount: number;
  steps: number;
  /** Steps allowed, once everything is healed, for a leader to be elected and a command applied everywhere. */
  livenessBound: number;
  openStorage?: SimulationOptions['openStorage'];
}

export interface ScheduleResult {
  profile: FaultProfile;
  stats: SimulationStats;
  leaderTerms: number;
  committed: number;
  stepsToRecover: number;
}

export interface FaultProfile {
  dropRate: number;
  duplicateRate: number;
  maxDelay: number;
  tickRate: number;
  flushRate: number;
  heartbeatIntervalTicks: number;
  proposeRate: number;
  crashRate: number;
  restartRate: number;
  partitionRate: number;
  healRate: number;
}

function drawProfile(seed: number): FaultProfile {
  const random = seededRandom(seed ^ 0x9e3779b9);
  const pick = <T>(items: readonly T[]): T => items[randomInt(random, 0, items.length)];
  return {
    dropRate: pick([0, 0.02, 0.1, 0.3]),
    duplicateRate: pick([0, 0.03, 0.2]),
    maxDelay: pick([1, 3, 8, 25]),
    tickRate: pick([0.6, 0.9, 1]),
    flushRate: pick([0.4, 0.8, 1]),
    heartbeatIntervalTicks: pick([1, 2, 4]),
    proposeRate: pick([0.1, 0.3, 1]),
    crashRate: pick([0.001, 0.005, 0.02]),
    restartRate: pick([0.005, 0.02, 0.2]),
    partitionRate: pick([0.001, 0.005, 0.02]),
    healRate: pick([0.005, 0.02, 0.05]),
  };
}

export function runSchedule(options: ScheduleOptions): ScheduleResult {
  const profile = drawProfile(options.seed);
  const sim = new Simulation({
    seed: options.seed,
    nodeCount: options.nodeCount,
    faults: { dropRate: profile.dropRate, duplicateRate: profile.duplicateRate, maxDelay: profile.maxDelay },
    tickRate: profile.tickRate,
    flushRate: profile.flushRate,
    heartbeatIntervalTicks: profile.heartbeatIntervalTicks,
    openStorage: options.openStorage,
  });
  const random = sim.random;
  const pick = <T>(items: readonly T[]): T => items[randomInt(random, 0, items.length)];
  for (let step = 0; step < options.steps; step++) {
    if (random() < profile.proposeRate) sim.proposeFromClient();
    if (random() < profile.restartRate) {
      const down = sim.ids.filter((id) => !sim.isUp(id));
      if (down.length > 0) sim.restart(pick(down));
    }
    if (random() < profile.partitionRate) {
      const kind = random();
      if (kind < 0.4) {
        const shuffled = [...sim.ids].sort(() => random() - 0.5);
        const cut = randomInt(random, 1, sim.ids.length);
        sim.network.partition(shuffled.slice(0, cut), shuffled.slice(cut));
      } else if (kind < 0.8) {
        const from = pick(sim.ids);
        sim.network.cut(from, pick(sim.ids.filter((id) => id !== from)));
      } else {
        const leader = sim.leader();
        if (leader) sim.network.isolate(leader.id, sim.ids);
      }
    }
    if (random() < profile.healRate) sim.network.heal();
    sim.step(() => {
      if (random() < profile.crashRate) sim.crash(pick(sim.ids));
    });
    if (step % 50 === 0) sim.checkLogMatching();
  }
  sim.checkLogMatching();
  // Half the schedules recover with a minority still down, half with every node back.
  const minority = random() < 0.5 ? randomInt(random, 1, Math.floor((options.nodeCount - 1) / 2) + 1) : 0;
  const keepDown = [...sim.ids].sort(() => random() - 0.5).slice(0, minority);
  const stepsToRecover = sim.awaitLiveness(options.livenessBound, keepDown);
  sim.checkLogMatching();
  return { profile, stats: sim.stats, leaderTerms: sim.checker.leaderTerms, committed: sim.checker.highestCommitted, stepsToRecover };
}
