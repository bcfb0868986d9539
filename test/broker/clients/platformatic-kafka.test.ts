// Acceptance: @platformatic/kafka (flexible versions only: Produce v7-11, Fetch v12-17, Metadata v9-12, ...)
// produces with headers and null keys/values and fetches back by partition and offset.
import t from 'tap';
import { Admin, Consumer, Producer, ProduceAcks } from '@platformatic/kafka';
import { startBroker, removeDir, type BrokerProcess } from '../../helpers/broker-process.ts';

let broker: BrokerProcess;
let bootstrapBrokers: string[];
t.before(async () => {
  broker = await startBroker();
  bootstrapBrokers = [`127.0.0.1:${broker.port}`];
});
t.teardown(async () => {
  await broker.stop();
  removeDir(broker.dataDir);
});

t.test('produce and fetch by partition and offset', async (t) => {
  const admin = new Admin({ clientId: 'pk-admin', bootstrapBrokers });
  await admin.createTopics({ topics: ['pk-roundtrip'], partitions: 3, replicas: 1 });

  const producer = new Producer({ clientId: 'pk-producer', bootstrapBrokers, autocreateTopics: false });
  const messages = [
    { topic: 'pk-roundtrip', partition: 2, key: Buffer.from('a'), value: Buffer.from('first'), headers: new Map([[Buffer.from('h1'), Buffer.from('v1')]]) },
    { topic: 'pk-roundtrip', partition: 2, key: null as unknown as Buffer, value: Buffer.from('null key') },
    { topic: 'pk-roundtrip', partition: 2, key: Buffer.from('tomb'), value: null as unknown as Buffer },
    { topic: 'pk-roundtrip', partition: 2, key: Buffer.from('z'), value: Buffer.alloc(10_000, 7) },
  ];
  const result = await producer.send({ messages, acks: ProduceAcks.ALL });
  t.ok(result.offsets && result.offsets.length > 0, 'broker acknowledged');
  await producer.close();

  const consumer = new Consumer({ clientId: 'pk-consumer', groupId: 'pk-unused', bootstrapBrokers });
  const metadata = await consumer.metadata({ topics: ['pk-roundtrip'] });
  const topic = metadata.topics.get('pk-roundtrip')!;
  t.equal(topic.partitionsCount, 3);
  const leader = topic.partitions[2].leader;
  const fetchFrom = async (offset: number) => {
    const res = await consumer.fetch({
      node: leader,
      maxWaitTime: 100,
      topics: [{ topicId: topic.id, partitions: [{ partition: 2, currentLeaderEpoch: -1, fetchOffset: BigInt(offset), lastFetchedEpoch: -1, partitionMaxBytes: 1 << 20 }] }],
    });
    const p = res.responses[0].partitions[0];
    t.equal(p.errorCode, 0, 'no fetch error');
    const out: { offset: number; key: Buffer | null; value: Buffer | null; headers: [Buffer | null, Buffer | null][] }[] = [];
    for (const batch of p.records ?? []) {
      for (const r of batch.records) {
        const offset2 = Number(batch.firstOffset) + r.offsetDelta;
        if (offset2 >= offset) out.push({ offset: offset2, key: r.key, value: r.value, headers: r.headers });
      }
    }
    return { records: out, highWatermark: Number(p.highWatermark) };
  };
  const all = await fetchFrom(0);
  t.equal(all.highWatermark, 4);
  t.same(all.records.map((r) => r.offset), [0, 1, 2, 3]);
  t.equal(all.records[0].key?.toString(), 'a');
  t.equal(all.records[0].value?.toString(), 'first');
  t.same(all.records[0].headers.map(([k, v]) => [k?.toString(), v?.toString()]), [['h1', 'v1']]);
  t.ok(all.records[1].key === null || all.records[1].key.length === 0, 'null key');
  t.ok(all.records[2].value === null || all.records[2].value.length === 0, 'null value');
  t.same(all.records[3].value, Buffer.alloc(10_000, 7));
  const tail = await fetchFrom(3);
  t.same(tail.records.map((r) => r.offset), [3], 'fetch from offset 3');
  const earliest = await consumer.listOffsets({ topics: ['pk-roundtrip'], timestamp: -2n });
  const latest = await consumer.listOffsets({ topics: ['pk-roundtrip'] });
  t.equal(Number(earliest.get('pk-roundtrip')![2]), 0, 'earliest');
  t.equal(Number(latest.get('pk-roundtrip')![2]), 4, 'latest');
  await consumer.close();
  await admin.deleteTopics({ topics: ['pk-roundtrip'] });
  await admin.close();
});
