// Acceptance: kafkajs produces (headers, null keys, null values) and reads back by partition and offset.
// kafkajs's public consumer always joins a group; reading by partition and offset goes through its own
// cluster/broker layer, so the Fetch requests on the wire are still kafkajs's.
import t from 'tap';
import { Kafka, logLevel, CompressionTypes } from 'kafkajs';
import { startBroker, removeDir, type BrokerProcess } from '../../helpers/broker-process.ts';

let broker: BrokerProcess;
let kafka: Kafka;
t.before(async () => {
  broker = await startBroker();
  kafka = new Kafka({ clientId: 'kafkajs-test', brokers: [`127.0.0.1:${broker.port}`], logLevel: logLevel.NOTHING });
});
t.teardown(async () => {
  await broker.stop();
  removeDir(broker.dataDir);
});

interface FetchedMessage {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | Buffer[] | undefined>;
}

/** kafkajs's private cluster (created per Kafka instance) gives broker-level Fetch by partition and offset. */
async function fetchFrom(topic: string, partition: number, offset: number): Promise<FetchedMessage[]> {
  const createCluster = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
  const cluster = (kafka as any)[createCluster!]({});
  await cluster.connect();
  try {
    await cluster.refreshMetadataIfNecessary();
    await cluster.addTargetTopic(topic);
    const leader = cluster.findTopicPartitionMetadata(topic).find((p: any) => p.partitionId === partition).leader;
    const brokerConn = await cluster.findBroker({ nodeId: String(leader) });
    const messages: FetchedMessage[] = [];
    let next = offset;
    for (let i = 0; i < 50; i++) {
      const res = await brokerConn.fetch({
        replicaId: -1,
        isolationLevel: 1,
        maxWaitTime: 100,
        minBytes: 1,
        maxBytes: 10485760,
        topics: [{ topic, partitions: [{ partition, fetchOffset: String(next), maxBytes: 1048576 }] }],
      });
      const p = res.responses[0].partitions[0];
      if (p.errorCode !== 0) throw new Error(`fetch error ${p.errorCode}`);
      const batch = p.messages.filter((m: any) => Number(m.offset) >= next);
      if (batch.length === 0) break;
      messages.push(...batch);
      next = Number(batch[batch.length - 1].offset) + 1;
      if (next >= Number(p.highWatermark)) break;
    }
    return messages;
  } finally {
    await cluster.disconnect();
  }
}

t.test('produce and fetch by partition and offset, with headers and null keys and values', async (t) => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'kafkajs-roundtrip', numPartitions: 2 }] });
  await admin.disconnect();

  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const sent = [
    { key: 'k1', value: 'v1', headers: { trace: 'abc', multi: ['x', 'y'] } },
    { key: null, value: 'no key' },
    { key: 'tombstone', value: null },
    { key: 'k4', value: Buffer.from([0, 1, 2, 255]), headers: { empty: '' } },
  ];
  for (const compression of [CompressionTypes.None, CompressionTypes.GZIP]) {
    const res = await producer.send({ topic: 'kafkajs-roundtrip', acks: -1, compression, messages: sent.map((m) => ({ ...m, partition: 1 })) });
    t.equal(res[0].errorCode, 0);
  }
  await producer.disconnect();

  const fetched = await fetchFrom('kafkajs-roundtrip', 1, 0);
  t.equal(fetched.length, 8, 'both batches read back');
  t.same(fetched.map((m) => Number(m.offset)), [0, 1, 2, 3, 4, 5, 6, 7], 'offsets are dense and ordered');
  for (const [i, m] of fetched.entries()) {
    const want = sent[i % 4];
    t.equal(m.key === null ? null : m.key.toString(), want.key, `key of ${i}`);
    t.same(m.value === null ? null : Buffer.from(m.value), want.value === null ? null : Buffer.from(want.value as string | Buffer), `value of ${i}`);
  }
  t.equal(String(fetched[0].headers.trace), 'abc', 'header survives');
  t.same((fetched[0].headers.multi as Buffer[]).map(String), ['x', 'y'], 'repeated header keys survive');
  t.equal(String(fetched[3].headers.empty), '', 'empty header value survives');

  const fromMiddle = await fetchFrom('kafkajs-roundtrip', 1, 5);
  t.same(fromMiddle.map((m) => Number(m.offset)), [5, 6, 7], 'fetch from an offset inside a batch starts there');

  const other = await fetchFrom('kafkajs-roundtrip', 0, 0);
  t.equal(other.length, 0, 'the other partition is empty');
});

t.test('admin: offsets, topic metadata and configs', async (t) => {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets('kafkajs-roundtrip');
  const p1 = offsets.find((o) => o.partition === 1)!;
  t.equal(p1.offset, '8', 'latest offset');
  t.equal(p1.low, '0', 'earliest offset');
  const configs = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: 'kafkajs-roundtrip' }] });
  const retention = configs.resources[0].configEntries.find((c) => c.configName === 'retention.ms');
  t.equal(retention?.configValue, '604800000', 'retention.ms defaults to 7 days');
  await admin.createPartitions({ topicPartitions: [{ topic: 'kafkajs-roundtrip', count: 4 }] });
  const meta = await admin.fetchTopicMetadata({ topics: ['kafkajs-roundtrip'] });
  t.equal(meta.topics[0].partitions.length, 4, 'partitions added');
  await admin.deleteTopics({ topics: ['kafkajs-roundtrip'] });
  t.notOk((await admin.listTopics()).includes('kafkajs-roundtrip'), 'topic deleted');
  await admin.disconnect();
});
