// Acceptance: with retention.ms of a few seconds and small segments, old segments are deleted while
// producing continues; consumers at the deleted range get OFFSET_OUT_OF_RANGE and reset per their policy.
// DeleteRecords moves the log start offset at once.
import t from 'tap';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker, removeDir, type BrokerProcess } from '../../helpers/broker-process.ts';
import { RawKafkaClient } from '../../../bench/lib/raw-kafka-client.ts';
import { kcat } from '../../helpers/kcat.ts';
import { ErrorCode } from '../../../broker/protocol/error-codes.ts';

const TOPIC = 'short-lived';
let broker: BrokerProcess;
let kafka: Kafka;
t.before(async () => {
  broker = await startBroker({ args: ['--retention-check-interval-ms', '200'] });
  kafka = new Kafka({ clientId: 'ret', brokers: [`127.0.0.1:${broker.port}`], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '1500' }, { name: 'segment.bytes', value: '20000' }] }, { topic: 'trimmed', numPartitions: 1 }] });
  await admin.disconnect();
});
t.teardown(async () => {
  await broker.stop();
  removeDir(broker.dataDir);
});

async function offsets(topic: string): Promise<{ low: number; high: number }> {
  const admin = kafka.admin();
  await admin.connect();
  const [p] = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  return { low: Number(p.low), high: Number(p.high) };
}

t.test('time retention deletes old segments while producing continues', async (t) => {
  const producer = kafka.producer();
  await producer.connect();
  const until = Date.now() + 5000;
  let sent = 0;
  while (Date.now() < until) {
    await producer.send({ topic: TOPIC, acks: -1, messages: Array.from({ length: 20 }, () => ({ value: `m-${sent++}-${'x'.repeat(80)}` })) });
    await new Promise((r) => setTimeout(r, 20));
  }
  await producer.disconnect();
  const { low, high } = await offsets(TOPIC);
  t.equal(high, sent, 'every message was appended');
  t.ok(low > 0, `the log start offset advanced to ${low}`);
  const segments = readdirSync(join(broker.dataDir, 'topics', TOPIC, '0')).filter((f) => f.endsWith('.log'));
  t.ok(segments.length < Math.ceil((sent * 100) / 20000), `${segments.length} segments remain, old ones are gone`);
  t.match(broker.output(), /retention deleted \d+ segment\(s\) of short-lived-0/);

  // A fetch in the deleted range: OFFSET_OUT_OF_RANGE with the log start offset.
  const c = await RawKafkaClient.connect(broker.port);
  const res = await c.request(1, 11, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: TOPIC, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [], rackId: '',
  });
  c.close();
  t.equal(res.responses[0].partitions[0].errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  t.ok(res.responses[0].partitions[0].logStartOffset > 0, 'and says where the log starts now');

});

t.test('DeleteRecords moves the log start offset', async (t) => {
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'trimmed', acks: -1, messages: Array.from({ length: 100 }, (_, i) => ({ value: `v${i}` })) });
  await producer.disconnect();
  const admin = kafka.admin();
  await admin.connect();
  await admin.fetchTopicMetadata({ topics: ['trimmed'] });
  await admin.deleteTopicRecords({ topic: 'trimmed', partitions: [{ partition: 0, offset: '60' }] });
  await admin.disconnect();
  t.same(await offsets('trimmed'), { low: 60, high: 100 });
  const read = await kcat(['-C', '-b', `127.0.0.1:${broker.port}`, '-t', 'trimmed', '-o', 'beginning', '-e', '-q', '-f', '%s\\n']);
  const values = read.stdout.toString().trim().split('\n');
  t.equal(values.length, 40, 'only the 40 records after it are served');
  t.equal(values[0], 'v60');
  // A consumer positioned in the deleted range gets OFFSET_OUT_OF_RANGE and resets per its policy.
  const reset = await kcat(['-C', '-b', `127.0.0.1:${broker.port}`, '-t', 'trimmed', '-p', '0', '-o', '10', '-X', 'auto.offset.reset=earliest', '-e', '-f', '%o %s\\n']);
  t.match(reset.stderr, /offset reset \(at offset 10.*Offset out of range/s, 'librdkafka was told OFFSET_OUT_OF_RANGE');
  t.equal(reset.stdout.toString().split('\n')[0], '60 v60', 'and reset to the earliest retained record');
});
