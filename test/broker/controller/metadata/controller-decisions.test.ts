import t from 'tap';
import {
  alterPartition,
  alterTopicConfig,
  controlledShutdown,
  createTopic,
  deleteTopic,
  electLeader,
  electPreferredLeaders,
  fenceBroker,
  registerBroker,
  unfenceBroker,
  type AlterPartitionRequest,
} from '../../../../broker/controller/metadata/controller-decisions.ts';
import { ControllerErrorCode as Code } from '../../../../broker/controller/metadata/controller-errors.ts';
import type { MetadataImage } from '../../../../broker/controller/metadata/metadata-image.ts';
import { cluster, commit, endpointsOf, incarnation, leaderCounts, startBroker } from './cluster-fixture.ts';

const T1 = '11111111-1111-4111-8111-111111111111';
const T2 = '22222222-2222-4222-8222-222222222222';

function withTopic(image: MetadataImage, partitions = 3, replicationFactor = 3, topicId = T1, name = 'logs'): MetadataImage {
  return commit(image, createTopic(image, { name, topicId, partitions, replicationFactor, configs: new Map() })).image;
}

function code(decision: { ok: boolean; code?: number }): number {
  return decision.ok ? Code.NONE : decision.code!;
}

t.test('electLeader takes the first replica, in preferred order, that is in the ISR and eligible', async (t) => {
  t.equal(electLeader([3, 1, 2], [1, 2, 3], () => true), 3);
  t.equal(electLeader([3, 1, 2], [1, 2], () => true), 1);
  t.equal(electLeader([3, 1, 2], [1, 2], (id) => id !== 1), 2);
  t.equal(electLeader([3, 1, 2], [3], (id) => id !== 3), -1, 'nobody eligible in the ISR: offline, never a replica outside it');
});

t.test('createTopic spreads replicas over live brokers and balances preferred leaders', async (t) => {
  const image = cluster(3);
  const decision = createTopic(image, { name: 'logs', topicId: T1, partitions: 6, replicationFactor: 2, configs: new Map([['retention.ms', '1000']]) });
  t.ok(decision.ok);
  if (!decision.ok) return;
  t.same(decision.assignments, [[1, 2], [3, 1], [2, 3], [1, 2], [3, 1], [2, 3]]);
  const after = commit(image, decision).image;
  t.same([...leaderCounts(after)], [[1, 2], [2, 2], [3, 2]], 'two leaders each');
  for (const { partition } of after.allPartitions()) {
    t.same([partition.leader, partition.isr, partition.leaderEpoch, partition.partitionEpoch], [partition.replicas[0], partition.replicas, 0, 0]);
  }
  t.equal(after.topic('logs')?.configs.get('retention.ms'), '1000');

  // A second topic fills in where the first left brokers lighter: counts stay within one of each other.
  const more = withTopic(after, 4, 3, T2, 'metrics');
  const counts = [...leaderCounts(more).values()];
  t.ok(Math.max(...counts) - Math.min(...counts) <= 1, `leaders ${counts}`);
});

t.test('createTopic refuses what Kafka refuses', async (t) => {
  let image = cluster(3);
  const req = { name: 'logs', topicId: T1, partitions: 3, replicationFactor: 3, configs: new Map<string, string>() };
  t.equal(code(createTopic(image, { ...req, replicationFactor: 4 })), Code.INVALID_REPLICATION_FACTOR);
  t.equal(code(createTopic(image, { ...req, replicationFactor: 0 })), Code.INVALID_REPLICATION_FACTOR);
  t.equal(code(createTopic(image, { ...req, partitions: 0 })), Code.INVALID_PARTITIONS);
  t.equal(code(createTopic(image, { ...req, name: '..' })), Code.INVALID_TOPIC_EXCEPTION);
  t.equal(code(createTopic(image, { ...req, configs: new Map([['retention.ms', 'soon']]) })), Code.INVALID_CONFIG);
  t.equal(code(createTopic(image, { ...req, configs: new Map([['no.such', '1']]) })), Code.INVALID_CONFIG);
  image = withTopic(image);
  t.equal(code(createTopic(image, req)), Code.TOPIC_ALREADY_EXISTS);
  t.equal(code(createTopic(image, { ...req, name: 'other' })), Code.INVALID_REQUEST, 'a topic id already in use');

  // Only live brokers count: with broker 3 fenced, RF 3 is refused and RF 2 avoids broker 3.
  image = commit(image, fenceBroker(image, 3)).image;
  const rf3 = createTopic(image, { ...req, name: 'm', topicId: T2 });
  t.equal(code(rf3), Code.INVALID_REPLICATION_FACTOR);
  t.match(!rf3.ok && rf3.message, /number of available brokers \(2\)/);
  const rf2 = createTopic(image, { ...req, name: 'm', topicId: T2, replicationFactor: 2 });
  t.ok(rf2.ok && rf2.assignments.every((r) => !r.includes(3)));
});

t.test('deleteTopic and alterTopicConfig', async (t) => {
  let image = withTopic(cluster(1), 1, 1);
  t.equal(code(alterTopicConfig(image, 'logs', 'retention.ms', '-2')), Code.INVALID_CONFIG);
  t.equal(code(alterTopicConfig(image, 'nope', 'retention.ms', '5')), Code.UNKNOWN_TOPIC_OR_PARTITION);
  image = commit(image, alterTopicConfig(image, 'logs', 'retention.ms', '5')).image;
  t.equal(image.topic('logs')?.configs.get('retention.ms'), '5');
  image = commit(image, alterTopicConfig(image, 'logs', 'retention.ms', null)).image;
  t.equal(image.topic('logs')?.configs.has('retention.ms'), false);
  t.equal(code(deleteTopic(image, 'nope')), Code.UNKNOWN_TOPIC_OR_PARTITION);
  image = commit(image, deleteTopic(image, 'logs')).image;
  t.equal(image.topic('logs'), undefined);
  t.same(image.allPartitions(), []);
  t.ok(createTopic(image, { name: 'logs', topicId: T2, partitions: 1, replicationFactor: 1, configs: new Map() }).ok, 'the name is free again');
});

t.test('a failed broker: leaders move within the ISR with an epoch bump; sole-ISR partitions go offline and come back', async (t) => {
  let image = cluster(3);
  image = withTopic(image, 3, 2); // [1,2] [3,1] [2,3]
  image = withTopic(image, 1, 1, T2, 'solo'); // [1]
  const before = image;
  image = commit(image, fenceBroker(image, 1)).image;
  t.equal(image.broker(1)?.state, 'fenced');
  t.same(image.partitionsLedBy(1), []);
  const p0 = image.partition(T1, 0)!;
  t.same([p0.leader, p0.isr, p0.leaderEpoch, p0.partitionEpoch], [2, [2], 1, 1], 'the follower in the ISR took over');
  const p1 = image.partition(T1, 1)!;
  t.same([p1.leader, p1.isr, p1.leaderEpoch, p1.partitionEpoch], [3, [3], 0, 1], 'a follower left the ISR; the leader epoch stays');
  t.same(image.partition(T1, 2), before.partition(T1, 2), 'partitions without broker 1 are untouched');
  const solo = image.partition(T2, 0)!;
  t.same([solo.leader, solo.isr, solo.leaderEpoch], [-1, [1], 1], 'offline, and the last ISR member stays in the ISR');
  t.same(fenceBroker(image, 1), { ok: true, records: [] }, 'fencing again writes nothing');
  t.equal(code(fenceBroker(image, 9)), Code.BROKER_ID_NOT_REGISTERED);

  // Broker 1 comes back as a new incarnation: registered fenced, then unfenced; it leads 'solo' again.
  const reg = registerBroker(image, { brokerId: 1, incarnationId: incarnation(1, 1), endpoints: endpointsOf(1), rack: null });
  t.ok(reg.ok && reg.brokerEpoch === image.highestBrokerEpoch + 1);
  image = commit(image, reg).image;
  t.equal(image.broker(1)?.state, 'fenced');
  t.equal(image.partition(T2, 0)?.leader, -1, 'a registered but fenced broker leads nothing');
  t.equal(code(unfenceBroker(image, 1, 1)), Code.STALE_BROKER_EPOCH);
  image = commit(image, unfenceBroker(image, 1, image.broker(1)!.brokerEpoch)).image;
  const back = image.partition(T2, 0)!;
  t.same([back.leader, back.isr, back.leaderEpoch], [1, [1], 2]);
  t.same(image.partition(T1, 0)?.isr, [2], 'it rejoins other ISRs only when their leader says it caught up');
});

t.test('unclean election is off: live replicas outside the ISR never become leader', async (t) => {
  let image = withTopic(cluster(3), 1, 3); // [1,2,3]
  image = commit(image, alterPartition(image, alterRequest(image, [1]))).image;
  image = commit(image, fenceBroker(image, 1)).image;
  const p = image.partition(T1, 0)!;
  t.same([p.leader, p.isr], [-1, [1]], 'offline, although brokers 2 and 3 are up');
  const election = electPreferredLeaders(image);
  t.same(election.ok && election.records, [], 'no election brings it back either');
  image = startBroker(image, 1, 1);
  t.same([image.partition(T1, 0)?.leader, image.partition(T1, 0)?.leaderEpoch], [1, p.leaderEpoch + 1], 'only the last ISR member, once back');
});

t.test('registerBroker: a retry is idempotent; a new incarnation of a live broker fences the old one first', async (t) => {
  let image = withTopic(cluster(2), 2, 2);
  const epoch = image.broker(1)!.brokerEpoch;
  const retry = registerBroker(image, { brokerId: 1, incarnationId: incarnation(1, 0), endpoints: endpointsOf(1), rack: null });
  t.same(retry, { ok: true, records: [], brokerEpoch: epoch });
  const restart = registerBroker(image, { brokerId: 1, incarnationId: incarnation(1, 5), endpoints: endpointsOf(1), rack: 'r1' });
  t.ok(restart.ok);
  t.same(restart.ok && restart.records.map((r) => r.type), ['PartitionChange', 'PartitionChange', 'FenceBroker', 'RegisterBroker']);
  image = commit(image, restart).image;
  t.same(image.partitionsLedBy(1), []);
  t.same([image.broker(1)?.rack, image.broker(1)?.state], ['r1', 'fenced']);
  t.equal(code(registerBroker(image, { brokerId: -1, incarnationId: incarnation(1, 6), endpoints: endpointsOf(1), rack: null })), Code.INVALID_REQUEST);
});

t.test('controlled shutdown moves leadership off the broker before it stops', async (t) => {
  let image = cluster(3);
  image = withTopic(image, 3, 2); // [1,2] [3,1] [2,3]
  image = withTopic(image, 1, 1, T2, 'solo'); // [1]
  const epoch = image.broker(1)!.brokerEpoch;
  t.equal(code(controlledShutdown(image, 1, epoch - 1)), Code.STALE_BROKER_EPOCH);
  const first = controlledShutdown(image, 1, epoch);
  t.ok(first.ok && first.remainingLeaderships === 1, 'only the single-replica partition has nobody else to go to');
  image = commit(image, first).image;
  t.equal(image.broker(1)?.state, 'shutting-down');
  t.same(image.partition(T1, 0)?.leader, 2);
  t.same(image.partition(T1, 0)?.isr, [2], 'it left the ISR, so acks=all stops waiting for it');
  t.same(image.partition(T1, 1)?.isr, [3]);
  t.same([image.partition(T2, 0)?.leader, image.partition(T2, 0)?.isr], [1, [1]], 'it keeps serving what nobody else can');
  const retry = controlledShutdown(image, 1, epoch);
  t.same(retry, { ok: true, records: [], remainingLeaderships: 1 }, 'a retry with nothing to move writes nothing');
  image = commit(image, fenceBroker(image, 1)).image;
  t.same([image.partition(T2, 0)?.leader, image.partition(T2, 0)?.isr], [-1, [1]]);
  t.same(controlledShutdown(image, 1, epoch), { ok: true, records: [], remainingLeaderships: 0 });
});

function alterRequest(image: MetadataImage, newIsr: number[], over: Partial<AlterPartitionRequest> = {}): AlterPartitionRequest {
  const p = image.partition(T1, 0)!;
  return { brokerId: p.leader, brokerEpoch: image.broker(p.leader)!.brokerEpoch, topicId: T1, partitionId: 0, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr, ...over };
}

t.test('alterPartition: the leader shrinks and expands the ISR, validated against the partition epoch', async (t) => {
  let image = withTopic(cluster(3), 1, 3); // [1,2,3]
  const shrink = alterPartition(image, alterRequest(image, [1, 2]));
  t.ok(shrink.ok);
  t.same(shrink.ok && shrink.result, { leader: 1, leaderEpoch: 0, isr: [1, 2], partitionEpoch: 1 });
  const stale = alterRequest(image, [1, 3]);
  image = commit(image, shrink).image;
  t.same(image.partition(T1, 0)?.isr, [1, 2]);

  t.equal(code(alterPartition(image, stale)), Code.INVALID_UPDATE_VERSION, 'a request built on the old state does not undo the newer one');
  t.equal(code(alterPartition(image, alterRequest(image, [1, 2, 3], { partitionEpoch: 5 }))), Code.NOT_CONTROLLER);
  t.equal(code(alterPartition(image, alterRequest(image, [1, 2, 3], { leaderEpoch: 1 }))), Code.NOT_CONTROLLER);
  t.equal(code(alterPartition(image, alterRequest(image, [2, 3], { brokerId: 2, brokerEpoch: image.broker(2)!.brokerEpoch }))), Code.INVALID_REQUEST, 'only the leader alters');
  t.equal(code(alterPartition(image, alterRequest(image, [1, 2], { brokerEpoch: 99 }))), Code.STALE_BROKER_EPOCH);
  t.equal(code(alterPartition(image, alterRequest(image, [1, 2], { brokerId: 8 }))), Code.STALE_BROKER_EPOCH);
  t.equal(code(alterPartition(image, alterRequest(image, [2]))), Code.INVALID_REQUEST, 'the leader cannot drop itself');
  t.equal(code(alterPartition(image, alterRequest(image, [1, 4]))), Code.INVALID_REQUEST, 'not a replica');
  t.equal(code(alterPartition(image, alterRequest(image, [1, 1]))), Code.INVALID_REQUEST, 'repeated');
  t.equal(code(alterPartition(image, alterRequest(image, [1], { topicId: T2 }))), Code.UNKNOWN_TOPIC_ID);
  t.equal(code(alterPartition(image, alterRequest(image, [1], { partitionId: 4 }))), Code.UNKNOWN_TOPIC_OR_PARTITION);

  const same = alterPartition(image, alterRequest(image, [2, 1]));
  t.same(same.ok && same.records, [], 'the ISR it already has: nothing written');

  // Broker 3 is fenced: it cannot rejoin; once unfenced (after re-registering) it can.
  image = commit(image, fenceBroker(image, 3)).image;
  t.equal(code(alterPartition(image, alterRequest(image, [1, 2, 3]))), Code.INELIGIBLE_REPLICA);
  image = startBroker(image, 3, 1);
  image = commit(image, alterPartition(image, alterRequest(image, [1, 2, 3]))).image;
  t.same(image.partition(T1, 0)?.isr, [1, 2, 3]);

  // After a leader change the old leader's request is fenced by the leader epoch.
  const oldLeader = alterRequest(image, [1]);
  image = commit(image, fenceBroker(image, 1)).image;
  image = startBroker(image, 1, 1);
  t.equal(code(alterPartition(image, { ...oldLeader, brokerEpoch: image.broker(1)!.brokerEpoch })), Code.FENCED_LEADER_EPOCH);
});

t.test('preferred-leader election restores the first replica when it is in the ISR', async (t) => {
  let image = withTopic(cluster(3), 3, 2); // [1,2] [3,1] [2,3]
  image = commit(image, fenceBroker(image, 1)).image; // 1's leadership of p0 goes to 2
  image = startBroker(image, 1, 1);
  t.same([...leaderCounts(image)], [[1, 0], [2, 2], [3, 1]]);

  const notYet = electPreferredLeaders(image);
  t.same(notYet.ok && notYet.results.map((r) => r.code), [Code.PREFERRED_LEADER_NOT_AVAILABLE, Code.ELECTION_NOT_NEEDED, Code.ELECTION_NOT_NEEDED], 'broker 1 is not back in the ISR yet');
  t.same(notYet.ok && notYet.records, []);

  // The leader (2) sees broker 1 catch up and adds it back; then the election moves leadership home.
  image = commit(image, alterPartition(image, alterRequest(image, [2, 1]))).image;
  const elected = electPreferredLeaders(image, [{ topicId: T1, partitionId: 0 }, { topicId: T1, partitionId: 0 }, { topicId: T2, partitionId: 0 }]);
  t.same(elected.ok && elected.results.map((r) => r.code), [Code.NONE, Code.ELECTION_NOT_NEEDED, Code.UNKNOWN_TOPIC_OR_PARTITION]);
  const before = image.partition(T1, 0)!;
  image = commit(image, elected).image;
  const after = image.partition(T1, 0)!;
  t.same([after.leader, after.leaderEpoch, after.partitionEpoch, after.isr], [1, before.leaderEpoch + 1, before.partitionEpoch + 1, [2, 1]]);
  t.same([...leaderCounts(image)], [[1, 1], [2, 1], [3, 1]]);
});
