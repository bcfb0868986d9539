// The growth section's load generator against a real broker: every batch it counts has landed, in the
// partition the round robin sent it to, and a batch the broker refuses fails the run instead of counting.
import t from 'tap';
import { startBroker, removeDir } from '../../helpers/broker-process.ts';
import { RawKafkaClient } from '../../../bench/lib/raw-kafka-client.ts';
import { produceSpread } from '../../../bench/growth/multi-partition-load.ts';

const PARTITIONS = 7;
const LATEST = -1;

async function createTopic(client: RawKafkaClient, name: string, partitions: number): Promise<void> {
  const res = await client.request(19, 7, { topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 30_000, validateOnly: false });
  if (res.topics[0].errorCode !== 0) throw new Error(`create ${name}: ${res.topics[0].errorMessage}`);
}

async function endOffsets(client: RawKafkaClient, topic: string, partitions: number): Promise<number[]> {
  const res = await client.request(2, 7, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: topic, partitions: Array.from({ length: partitions }, (_, p) => ({ partitionIndex: p, currentLeaderEpoch: -1, timestamp: LATEST })) }],
  });
  return res.topics[0].partitions.sort((a: { partitionIndex: number }, b: { partitionIndex: number }) => a.partitionIndex - b.partitionIndex).map((p: { errorCode: number; offset: number }) => {
    if (p.errorCode !== 0) throw new Error(`ListOffsets error ${p.errorCode}`);
    return Number(p.offset);
  });
}

t.test('produceSpread over partitions and connections', async (t) => {
  const broker = await startBroker();
  const client = await RawKafkaClient.connect(broker.port);
  t.teardown(async () => {
    client.close();
    await broker.stop();
    removeDir(broker.dataDir);
  });
  await createTopic(client, 'spread', PARTITIONS);

  t.test('every batch lands, round robin over the partitions', async (t) => {
    // 23 batches of 10 over 7 partitions: partitions 0 and 1 get four, the others three.
    const run = await produceSpread(broker.port, 'spread', { total: 230, recordBytes: 100, batchRecords: 10, partitions: PARTITIONS, connections: 3, inFlight: 2 });
    t.equal(run.records, 230);
    t.equal(run.latenciesMs.filter((l) => l >= 0).length, 23, 'one ack latency per request');
    const ends = await endOffsets(client, 'spread', PARTITIONS);
    t.same(ends, [40, 40, 30, 30, 30, 30, 30]);
    t.equal(ends.reduce((a, b) => a + b, 0), run.records, 'end offsets sum to the records sent');
  });

  t.test('many connections, one in flight each, fewer requests than connections', async (t) => {
    const before = await endOffsets(client, 'spread', PARTITIONS);
    const run = await produceSpread(broker.port, 'spread', { total: 50, recordBytes: 10, batchRecords: 5, partitions: PARTITIONS, connections: 20, inFlight: 1 });
    const after = await endOffsets(client, 'spread', PARTITIONS);
    t.equal(run.records, 50);
    t.equal(after.reduce((a, b) => a + b, 0) - before.reduce((a, b) => a + b, 0), 50);
  });

  t.test('a partition the topic does not have fails the run', async (t) => {
    await t.rejects(
      produceSpread(broker.port, 'spread', { total: 100, recordBytes: 10, batchRecords: 10, partitions: PARTITIONS + 3, connections: 1, inFlight: 1 }),
      /produce to spread-\d+ failed with error code \d+/,
    );
  });
});
