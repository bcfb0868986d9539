import t from 'tap';
import { MetadataImage, MetadataValidationError } from '../../../../broker/controller/metadata/metadata-image.ts';
import { MetadataDecodeError, encodeRecordBatch } from '../../../../broker/controller/metadata/record-codec.ts';
import type { MetadataRecord, PartitionChangeRecord } from '../../../../broker/controller/metadata/records.ts';
import { endpointsOf, incarnation } from './cluster-fixture.ts';

const T1 = '11111111-1111-4111-8111-111111111111';
const T2 = '22222222-2222-4222-8222-222222222222';

function register(brokerId: number, brokerEpoch: number, fenced = false): MetadataRecord {
  return { type: 'RegisterBroker', brokerId, incarnationId: incarnation(brokerId, brokerEpoch), brokerEpoch, endpoints: endpointsOf(brokerId), rack: brokerId % 2 ? 'a' : null, fenced };
}

/** Brokers 1-3 active (epochs 1-3), topic 'logs' with partitions [1,2,3] led by 1 and [2,3,1] led by 2. */
function base(): MetadataImage {
  return MetadataImage.EMPTY.replay([
    register(1, 1),
    register(2, 2),
    register(3, 3),
    { type: 'Topic', name: 'logs', topicId: T1, configs: new Map([['retention.ms', '60000']]) },
    { type: 'Partition', topicId: T1, partitionId: 0, replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1, leaderEpoch: 0, partitionEpoch: 0 },
    { type: 'Partition', topicId: T1, partitionId: 1, replicas: [2, 3, 1], isr: [2, 3, 1], leader: 2, leaderEpoch: 0, partitionEpoch: 0 },
  ]);
}

function changeOf(over: Partial<PartitionChangeRecord> = {}): PartitionChangeRecord {
  return { type: 'PartitionChange', topicId: T1, partitionId: 0, leader: 1, isr: [1, 2], leaderEpoch: 0, partitionEpoch: 1, ...over };
}

t.test('queries: brokers and endpoints, topics by name and id, partitions, leaderships', async (t) => {
  const image = base();
  t.same(image.brokers().map((b) => [b.brokerId, b.brokerEpoch, b.state]), [[1, 1, 'active'], [2, 2, 'active'], [3, 3, 'active']]);
  t.same(image.broker(2)?.endpoints, endpointsOf(2));
  t.equal(image.broker(1)?.rack, 'a');
  t.equal(image.broker(9), undefined);
  t.same(image.eligibleBrokerIds(), [1, 2, 3]);
  t.equal(image.topic('logs')?.topicId, T1);
  t.equal(image.topicById(T1)?.name, 'logs');
  t.equal(image.topic('nope'), undefined);
  t.equal(image.topic('logs')?.configs.get('retention.ms'), '60000');
  t.same(image.partition(T1, 1), { topicId: T1, partitionId: 1, replicas: [2, 3, 1], isr: [2, 3, 1], leader: 2, leaderEpoch: 0, partitionEpoch: 0 });
  t.equal(image.partition(T1, 2), undefined);
  t.same(image.partitionsLedBy(2), [{ topicId: T1, topicName: 'logs', partitionId: 1 }]);
  t.same(image.partitionsLedBy(3), []);
  t.equal(image.highestBrokerEpoch, 3);
});

t.test('a partition change moves the epochs: partition epoch always, leader epoch with the leader', async (t) => {
  const shrunk = base().replay([changeOf()]);
  t.same(shrunk.partition(T1, 0), { topicId: T1, partitionId: 0, replicas: [1, 2, 3], isr: [1, 2], leader: 1, leaderEpoch: 0, partitionEpoch: 1 });
  const moved = shrunk.replay([changeOf({ leader: 2, isr: [2], leaderEpoch: 1, partitionEpoch: 2 })]);
  t.same(moved.partitionsLedBy(2).map((p) => p.partitionId), [0, 1]);
  t.equal(moved.partition(T1, 0)?.leaderEpoch, 1);
  t.equal(shrunk.partition(T1, 0)?.leader, 1, 'the earlier image is untouched');
});

t.test('invalid records are rejected with a reason and leave the image unchanged', async (t) => {
  const image = base();
  const cases: [string, MetadataRecord, RegExp][] = [
    ['change to an unknown topic', changeOf({ topicId: T2 }), /unknown topic id/],
    ['change to an unknown partition', changeOf({ partitionId: 7 }), /unknown partition logs-7/],
    ['leader not in the ISR', changeOf({ isr: [2, 3] }), /leader 1 is not in the ISR \[2, 3\]/],
    ['ISR not a subset of the replicas', changeOf({ isr: [1, 4] }), /broker\(s\) 4 that are not replicas/],
    ['empty ISR', changeOf({ leader: -1, isr: [], leaderEpoch: 1 }), /ISR cannot be empty/],
    ['partition epoch going backwards', changeOf({ partitionEpoch: 0 }), /partition epoch 0 does not follow 0/],
    ['partition epoch skipping ahead', changeOf({ partitionEpoch: 5 }), /partition epoch 5 does not follow 0/],
    ['leader change without a leader epoch bump', changeOf({ leader: 2, isr: [1, 2] }), /leader epoch 0 should be 1/],
    ['leader epoch bump without a leader change', changeOf({ leaderEpoch: 1 }), /leader epoch 1 should be 0/],
    ['a change that changes nothing', changeOf({ isr: [3, 2, 1] }), /changes neither the leader nor the ISR/],
    ['fencing a broker that still leads', { type: 'FenceBroker', brokerId: 1, brokerEpoch: 1 }, /still leads 1 partition/],
    ['stale broker epoch', { type: 'BrokerShutdown', brokerId: 3, brokerEpoch: 2 }, /epoch 2 is stale \(current 3\)/],
    ['unknown broker', { type: 'UnfenceBroker', brokerId: 9, brokerEpoch: 1 }, /unknown broker 9/],
    ['unfencing an active broker', { type: 'UnfenceBroker', brokerId: 3, brokerEpoch: 3 }, /not fenced \(active\)/],
    ['broker epoch going backwards', register(4, 3), /broker epoch 3 is not above the highest so far, 3/],
    ['re-registering an active broker', register(2, 10), /fence it before it registers again/],
    ['duplicate topic name', { type: 'Topic', name: 'logs', topicId: T2, configs: new Map() }, /'logs' already exists/],
    ['duplicate topic id', { type: 'Topic', name: 'other', topicId: T1, configs: new Map() }, /already used by 'logs'/],
    ['invalid topic name', { type: 'Topic', name: 'a/b', topicId: T2, configs: new Map() }, /characters other than/],
    ['partition out of order', { type: 'Partition', topicId: T1, partitionId: 3, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0 }, /the next one is 2/],
    ['replica on an unregistered broker', { type: 'Partition', topicId: T1, partitionId: 2, replicas: [1, 7], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0 }, /replica\(s\) 7 are not registered/],
    ['config of an unknown topic', { type: 'Config', resourceType: 'topic', resourceName: 'nope', name: 'retention.ms', value: '1' }, /unknown topic 'nope'/],
    ['config of an unknown broker', { type: 'Config', resourceType: 'broker', resourceName: '9', name: 'x', value: '1' }, /unknown broker '9'/],
    ['a broker id spelled two ways', { type: 'Config', resourceType: 'broker', resourceName: '01', name: 'x', value: '1' }, /unknown broker '01'/],
    ['removing an unknown topic', { type: 'RemoveTopic', topicId: T2 }, /unknown topic id/],
    ['a malformed record', { type: 'FenceBroker', brokerId: -5, brokerEpoch: 1 }, /brokerId must be/],
  ];
  const before = image.snapshot();
  for (const [what, record, reason] of cases) {
    const result = image.apply(record);
    t.notOk(result.ok, what);
    if (!result.ok) t.match(result.reason, reason, what);
  }
  t.same(image.snapshot(), before, 'no rejected record changed the image');
});

t.test('eligibility: fenced or shutting-down brokers take no new leadership and join no ISR', async (t) => {
  let image = base().replay([
    changeOf({ isr: [1, 2] }),
    { type: 'PartitionChange', topicId: T1, partitionId: 1, leader: 2, isr: [2, 1], leaderEpoch: 0, partitionEpoch: 1 },
    { type: 'FenceBroker', brokerId: 3, brokerEpoch: 3 },
  ]);
  const rejoin = image.apply(changeOf({ isr: [1, 2, 3], partitionEpoch: 2 }));
  t.match(!rejoin.ok && rejoin.reason, /broker 3 cannot join the ISR while fenced/);
  const lead = image.apply({ type: 'PartitionChange', topicId: T1, partitionId: 1, leader: 1, isr: [1, 2], leaderEpoch: 1, partitionEpoch: 2 });
  t.ok(lead.ok, 'an active ISR member can take over');

  image = image.replay([{ type: 'BrokerShutdown', brokerId: 2, brokerEpoch: 2 }]);
  t.equal(image.broker(2)?.state, 'shutting-down');
  t.same(image.eligibleBrokerIds(), [1]);
  const toShuttingDown = image.apply(changeOf({ leader: 2, leaderEpoch: 1, partitionEpoch: 2 }));
  t.match(!toShuttingDown.ok && toShuttingDown.reason, /new leader 2 is shutting-down/);
  t.ok(image.apply(changeOf({ isr: [1], partitionEpoch: 2 })).ok, 'a shutting-down broker can leave an ISR');

  // A fenced broker may stay as the last ISR member of an offline partition, and lead again once unfenced.
  image = image.replay([
    changeOf({ leader: -1, isr: [1], leaderEpoch: 1, partitionEpoch: 2 }),
    { type: 'PartitionChange', topicId: T1, partitionId: 1, leader: 1, isr: [1], leaderEpoch: 1, partitionEpoch: 2 },
    { type: 'FenceBroker', brokerId: 2, brokerEpoch: 2 },
  ]);
  image = image.replay([{ type: 'PartitionChange', topicId: T1, partitionId: 1, leader: -1, isr: [1], leaderEpoch: 2, partitionEpoch: 3 }, { type: 'FenceBroker', brokerId: 1, brokerEpoch: 1 }]);
  t.same(image.partitionsLedBy(1), []);
  t.same(image.eligibleBrokerIds(), []);
  const relead = image.apply(changeOf({ leader: 1, isr: [1], leaderEpoch: 2, partitionEpoch: 3 }));
  t.match(!relead.ok && relead.reason, /new leader 1 is fenced/);
  image = image.replay([{ type: 'UnfenceBroker', brokerId: 1, brokerEpoch: 1 }, changeOf({ leader: 1, isr: [1], leaderEpoch: 2, partitionEpoch: 3 })]);
  t.equal(image.partition(T1, 0)?.leader, 1);

  const reregistered = image.replay([register(2, 4)]);
  t.same([reregistered.broker(2)?.brokerEpoch, reregistered.broker(2)?.state], [4, 'active'], 'a fenced broker may register a new incarnation');
});

t.test('applyAll is all or nothing; replay throws on a refused committed record', async (t) => {
  const image = base();
  const result = image.applyAll([changeOf(), { type: 'RemoveTopic', topicId: T1 }, changeOf({ partitionEpoch: 2 })]);
  t.notOk(result.ok);
  if (!result.ok) t.match(result.reason, /^record 2 of 3: PartitionChange: unknown topic id/);
  t.same(image.partition(T1, 0)?.isr, [1, 2, 3], 'the first records of the refused batch were not applied');
  t.throws(() => image.replay([changeOf({ partitionEpoch: 3 })]), MetadataValidationError);
});

t.test('images are frozen: callers cannot change them behind apply()', async (t) => {
  const p = base().partition(T1, 0)!;
  t.throws(() => (p.isr as number[]).push(9), TypeError);
  t.throws(() => {
    (p as { leader: number }).leader = 3;
  }, TypeError);
});

t.test('snapshot and load round-trip every part of the image', async (t) => {
  const image = base().replay([
    register(4, 7, true),
    { type: 'Topic', name: 'metrics', topicId: T2, configs: new Map() },
    { type: 'Partition', topicId: T2, partitionId: 0, replicas: [3, 4], isr: [3], leader: 3, leaderEpoch: 0, partitionEpoch: 0 },
    { type: 'Config', resourceType: 'topic', resourceName: 'metrics', name: 'cleanup.policy', value: 'compact' },
    { type: 'Config', resourceType: 'topic', resourceName: 'logs', name: 'retention.ms', value: null },
    { type: 'Config', resourceType: 'broker', resourceName: '', name: 'num.partitions', value: '3' },
    { type: 'Config', resourceType: 'broker', resourceName: '2', name: 'log.dirs', value: '/data' },
    { type: 'BrokerShutdown', brokerId: 2, brokerEpoch: 2 },
    { type: 'PartitionChange', topicId: T1, partitionId: 1, leader: 3, isr: [3, 1], leaderEpoch: 1, partitionEpoch: 1 },
  ]);
  const bytes = image.snapshot();
  const loaded = MetadataImage.load(bytes);
  t.same(loaded.snapshot(), bytes, 'the loaded image snapshots to the same bytes');
  t.same(loaded.brokers(), image.brokers());
  t.same(loaded.topics().map((x) => [x.name, x.topicId, [...x.configs], x.partitions]), image.topics().map((x) => [x.name, x.topicId, [...x.configs], x.partitions]));
  t.same([...loaded.brokerConfigs('')], [['num.partitions', '3']]);
  t.same([...loaded.brokerConfigs('2')], [['log.dirs', '/data']]);
  t.equal(loaded.highestBrokerEpoch, 7);
  t.equal(loaded.broker(2)?.state, 'shutting-down');
  t.equal(loaded.broker(4)?.state, 'fenced');

  // The highest epoch survives even when no live registration carries it (the next epoch must not be reused).
  const empty = MetadataImage.load(MetadataImage.EMPTY.snapshot());
  t.equal(empty.highestBrokerEpoch, 0);
  t.same(empty.brokers(), []);
});

t.test('load refuses corrupt snapshots whole', async (t) => {
  const bytes = base().snapshot();
  for (const cut of [0, 1, 2, 10, bytes.length - 1]) t.throws(() => MetadataImage.load(bytes.subarray(0, cut)), MetadataDecodeError, `cut at ${cut}`);
  t.throws(() => MetadataImage.load(Buffer.concat([Buffer.from([1]), bytes.subarray(1)])), { message: /snapshot format 1 is not supported/ });
  // Well-formed records that do not describe a valid image: a partition of a topic that does not exist.
  const orphan = Buffer.concat([Buffer.from([0, 0]), encodeRecordBatch([register(1, 1), { type: 'Partition', topicId: T2, partitionId: 0, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0 }])]);
  t.throws(() => MetadataImage.load(orphan), { name: 'MetadataValidationError', message: /unknown topic id/ });
  const overlong = Buffer.concat([Buffer.from([0, 0x80, 0x00]), bytes.subarray(2)]);
  t.throws(() => MetadataImage.load(Buffer.concat([Buffer.from([0, 0x86, 0x00]), bytes.subarray(2)])), { message: /header is not in canonical form/ }, 'epoch 3 as two bytes');
  t.throws(() => MetadataImage.load(overlong), MetadataDecodeError);
  // A header that claims a lower highest epoch than a registration in it.
  const low = Buffer.concat([Buffer.from([0, 0]), encodeRecordBatch([register(1, 1)])]);
  t.throws(() => MetadataImage.load(low), { name: 'MetadataValidationError', message: /highest broker epoch is 0, but a broker has 1/ });
});
