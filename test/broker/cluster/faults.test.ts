// Jepsen-style fault schedules against a 3-node cluster (issue #7): two idempotent acks=all producers and a
// group consumer run for ~25 s with one fault in the middle (kill -9 of a leader, a follower or the controller,
// SIGSTOP of a leader past its session timeout, a leader cut off by the proxies, a follower restarted empty);
// then the cluster heals, the ISRs fill up again and the checker judges the history. Each schedule prints its
// seed; FAULT_SEED=<n> replays the same choices of node and timing.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { seededRandom, type RandomSource } from '../../../lib/seeded-random.ts';
import { repoRoot } from '../../helpers/cli-process.ts';
import { startCluster, type Cluster, type PartitionState } from '../../helpers/cluster.ts';
import { check } from '../../helpers/jepsen/checker.ts';
import { acksBetween, type History } from '../../helpers/jepsen/history.ts';
import { Workload, WORKLOAD_PARTITIONS, collectFinalReads, createWorkloadTopic, highWatermarks } from '../../helpers/jepsen/workload.ts';

const SESSION_TIMEOUT_MS = 3000;
const CLUSTER_ARGS = [
  '--broker-session-timeout-ms', String(SESSION_TIMEOUT_MS),
  '--broker-heartbeat-interval-ms', '500',
  '--replica-lag-time-max-ms', '3000',
  '--default-replication-factor', '3',
  '--topic-default', 'min.insync.replicas=2',
  '--offsets-topic-partitions', '3',
  '--group-initial-rebalance-delay-ms', '0',
];
const TOPIC = 'jepsen';
const GROUP = 'jepsen-group';

/** The replicated broker is being built alongside this test: until the CLI knows its flags there is nothing to run. */
const help = spawnSync(process.execPath, [join(repoRoot, 'bin/tributary.js'), 'broker', '--help'], { encoding: 'utf8' });
const clusterAvailable = `${help.stdout}${help.stderr}`.includes('--controller-quorum');

interface FaultContext {
  cluster: Cluster;
  random: RandomSource;
  /** Milliseconds in [min, max), drawn from the seed. */
  between(min: number, max: number): number;
  /** One of the items, drawn from the seed. */
  pick<T>(items: T[]): T;
  /** Current state of a partition of the workload topic, once it has a leader. */
  partitionState(partition: number): Promise<PartitionState>;
  log(line: string): void;
}

type Fault = (ctx: FaultContext) => Promise<void>;

const schedules: { name: string; fault: Fault }[] = [
  {
    name: 'kill-leader',
    async fault({ cluster, between, partitionState, log }) {
      const { leader } = await partitionState(0);
      log(`kill -9 node ${leader}, the leader of partition 0`);
      await cluster.kill(leader);
      await sleep(between(3000, 7000));
      log(`restart node ${leader}`);
      await cluster.start(leader);
    },
  },
  {
    name: 'kill-follower',
    async fault({ cluster, between, pick, partitionState, log }) {
      const partition = pick([...Array(WORKLOAD_PARTITIONS).keys()]);
      const state = await partitionState(partition);
      const follower = pick(state.replicas.filter((r) => r !== state.leader));
      log(`kill -9 node ${follower}, a follower of partition ${partition}`);
      await cluster.kill(follower);
      await sleep(between(3000, 7000));
      log(`restart node ${follower}`);
      await cluster.start(follower);
    },
  },
  {
    name: 'kill-controller',
    async fault({ cluster, between, log }) {
      const { controllerId } = await cluster.waitFor(async () => {
        const m = await cluster.metadata();
        return m.controllerId >= 0 ? m : null;
      }, 30_000, 'a controller leader');
      log(`kill -9 node ${controllerId}, the controller leader`);
      await cluster.kill(controllerId);
      await cluster.waitFor(async () => {
        const m = await cluster.metadata();
        return m.controllerId >= 0 && m.controllerId !== controllerId;
      }, 30_000, 'a new controller leader');
      await sleep(between(1000, 4000));
      log(`restart node ${controllerId}`);
      await cluster.start(controllerId);
    },
  },
  {
    name: 'pause-leader',
    async fault({ cluster, between, pick, partitionState, log }) {
      const partition = pick([...Array(WORKLOAD_PARTITIONS).keys()]);
      const { leader } = await partitionState(partition);
      const pauseMs = SESSION_TIMEOUT_MS + between(2000, 5000);
      log(`SIGSTOP node ${leader}, the leader of partition ${partition}, for ${pauseMs} ms`);
      cluster.pause(leader);
      await sleep(pauseMs);
      log(`SIGCONT node ${leader}`);
      cluster.resume(leader);
    },
  },
  {
    name: 'isolate-leader',
    async fault({ cluster, between, pick, partitionState, log }) {
      const partition = pick([...Array(WORKLOAD_PARTITIONS).keys()]);
      const { leader } = await partitionState(partition);
      const isolatedMs = SESSION_TIMEOUT_MS + between(2000, 6000);
      log(`isolate node ${leader}, the leader of partition ${partition}, for ${isolatedMs} ms`);
      cluster.isolate(leader);
      await sleep(isolatedMs);
      log('heal');
      cluster.heal();
    },
  },
  {
    name: 'wipe-follower',
    async fault({ cluster, between, pick, partitionState, log }) {
      const partition = pick([...Array(WORKLOAD_PARTITIONS).keys()]);
      const state = await partitionState(partition);
      const follower = pick(state.replicas.filter((r) => r !== state.leader));
      log(`kill -9 node ${follower}, a follower of partition ${partition}, and restart it with an empty data directory`);
      await cluster.kill(follower);
      await sleep(between(1000, 3000));
      await cluster.start(follower, { wipe: true });
    },
  },
];

/** Every node that is up sees every partition of the topic led and fully in sync. */
async function fullIsr(cluster: Cluster): Promise<boolean> {
  for (const id of cluster.nodeIds) {
    const m = await cluster.metadata({ from: id, topics: [TOPIC] });
    const parts = m.partitions.filter((p) => p.topic === TOPIC);
    if (parts.length !== WORKLOAD_PARTITIONS || parts.some((p) => p.leader < 0 || p.isr.length !== cluster.nodeIds.length)) return false;
  }
  return true;
}

for (const { name, fault } of schedules) {
  t.test(name, { skip: clusterAvailable ? false : 'tributary broker has no --controller-quorum yet' }, async (t) => {
    t.setTimeout(150_000);
    const seed = process.env.FAULT_SEED ? Number(process.env.FAULT_SEED) : Math.floor(Math.random() * 2 ** 31);
    const banner = `fault schedule ${name} seed ${seed}`;
    t.comment(banner);
    console.error(banner);
    const random = seededRandom(seed);
    const log = (line: string) => t.comment(`${name}: ${line}`);

    const cluster = await startCluster({ args: CLUSTER_ARGS, seed });
    let workload: Workload | null = null;
    t.teardown(async () => {
      await workload?.abort();
      if (!t.passing()) t.comment(`${banner}\n${cluster.outputs()}`);
      await cluster.stop({ failed: !t.passing() });
    });
    const ctx: FaultContext = {
      cluster,
      random,
      between: (min, max) => Math.floor(min + random() * (max - min)),
      pick: (items) => items[Math.floor(random() * items.length)],
      partitionState: (partition) =>
        cluster.waitFor(async () => {
          const p = (await cluster.metadata({ topics: [TOPIC] })).partitions.find((x) => x.topic === TOPIC && x.partition === partition);
          return p && p.leader >= 0 ? p : null;
        }, 30_000, `a leader for partition ${partition}`),
      log,
    };

    await createWorkloadTopic(cluster.bootstrap, TOPIC);
    await cluster.waitFor(() => fullIsr(cluster), 60_000, 'the new topic fully in sync');
    workload = new Workload({ bootstrap: cluster.bootstrap, topic: TOPIC, group: GROUP });
    await workload.start();

    await sleep(ctx.between(6000, 9000));
    const faultStart = Date.now();
    await fault(ctx);
    const faultEnd = Date.now();
    cluster.heal();
    for (const id of cluster.nodeIds) if (!cluster.isUp(id)) log(`node ${id} is not up after the fault`);

    // Run on after the fault until the producers got through again (bounded), and a little longer.
    await cluster.waitFor(() => acksBetween(workload.events, faultEnd, Infinity) > 0, 45_000, 'acks after the fault').catch((err) => log(err.message));
    await sleep(5000);
    await workload.stopProducers();
    await cluster.waitFor(() => fullIsr(cluster), 60_000, 'every partition fully in sync after healing');
    const hw = await highWatermarks(cluster.bootstrap, TOPIC);
    await workload.stopConsumer(hw);

    const history: History = { topic: TOPIC, partitions: WORKLOAD_PARTITIONS, events: workload.events, final: await collectFinalReads(cluster, TOPIC, GROUP) };
    const result = check(history);
    t.comment(`${name}: ${JSON.stringify(result.stats)}`);
    if (!result.ok) {
      const file = join(cluster.root, 'history.json');
      writeFileSync(file, JSON.stringify(history));
      t.comment(`${banner}: history written to ${file}`);
    }
    t.same(result.problems.slice(0, 50), [], `${banner}: the history checks out (${result.problems.length} problems)`);
    t.ok(acksBetween(history.events, 0, faultStart) > 0, 'values were acknowledged before the fault');
    t.ok(acksBetween(history.events, faultEnd, Infinity) > 0, 'values were acknowledged after the fault');
  });
}
