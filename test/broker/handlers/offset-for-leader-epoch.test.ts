// OffsetForLeaderEpoch (API 23) on a real single-node broker: end offsets per epoch, current-epoch fencing,
// unknown partitions, every version 0-4, and the range ApiVersions advertises.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KafkaWireClient } from '../../../broker/client/kafka-wire-client.ts';
import { Broker } from '../../../broker/server/broker.ts';
import { defaultBrokerConfig } from '../../../broker/server/broker-config.ts';
import { createLogger } from '../../../broker/server/logger.ts';
import { buildRecordBatch } from '../../../broker/protocol/record-batch/records.ts';
import { ErrorCode } from '../../../broker/protocol/error-codes.ts';
import type { ApiVersionsResponse, OffsetForLeaderEpochResponse, ProduceResponse } from '../../../broker/protocol/messages/index.ts';
import type { EpochEndOffset } from '../../../broker/protocol/messages/OffsetForLeaderEpochResponse.ts';

const UNKNOWN_LEADER_EPOCH = 75;

const dataDir = mkdtempSync(join(tmpdir(), 'tributary-olep-'));
const broker = new Broker(defaultBrokerConfig({ dataDir, port: 0 }), createLogger('olep-test', true));
let c: KafkaWireClient;

t.before(async () => {
  await broker.start();
  c = await KafkaWireClient.connect('127.0.0.1', broker.port, { timeoutMs: 5000, clientId: 'olep-test' });
  const created = await c.request<{ topics: { errorCode: number }[] }>(19, 7, {
    topics: [
      { name: 'epochs', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] },
      { name: 'empty', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] },
    ],
    timeoutMs: 5000,
    validateOnly: false,
  }, 10_000);
  if (created.topics.some((x) => x.errorCode !== 0)) throw new Error('create topics failed');
  for (let i = 0; i < 3; i++) {
    const res = await c.request<ProduceResponse>(0, 9, {
      transactionalId: null, acks: -1, timeoutMs: 5000,
      topicData: [{ name: 'epochs', partitionData: [{ index: 0, records: buildRecordBatch({ records: [{ key: null, value: Buffer.from(`v${i}`) }, { key: null, value: Buffer.from('x') }] }) }] }],
    }, 10_000);
    if (res.responses[0].partitionResponses[0].errorCode !== 0) throw new Error('produce failed');
  }
});
t.teardown(async () => {
  c?.close();
  await broker.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function ask(version: number, topic: string, partition: number, leaderEpoch: number, currentLeaderEpoch = -1): Promise<EpochEndOffset> {
  const res = await c.request<OffsetForLeaderEpochResponse>(23, version, {
    replicaId: 2,
    topics: [{ topic, partitions: [{ partition, currentLeaderEpoch, leaderEpoch }] }],
  }, 5000);
  if (res.topics.length !== 1 || res.topics[0].topic !== topic) throw new Error(`answer for the wrong topics: ${JSON.stringify(res.topics)}`);
  return res.topics[0].partitions[0];
}

t.test('ApiVersions advertises versions 0-4', async (t) => {
  const res = await c.request<ApiVersionsResponse>(18, 3, { clientSoftwareName: 'olep', clientSoftwareVersion: '1' }, 5000);
  const entry = res.apiKeys.find((k) => k.apiKey === 23);
  t.same(entry && { min: entry.minVersion, max: entry.maxVersion }, { min: 0, max: 4 });
});

t.test('the current epoch ends at the log end, in every version', async (t) => {
  for (const v of [0, 1, 2, 3, 4]) {
    const r = await ask(v, 'epochs', 0, 0, 0);
    t.equal(r.errorCode, ErrorCode.NONE, `v${v}`);
    t.equal(r.partition, 0);
    t.equal(r.endOffset, 6, `v${v}: three batches of two records`);
    t.equal(r.leaderEpoch, v >= 1 ? 0 : -1, `v${v}: leader epoch (from v1)`);
  }
});

t.test('currentLeaderEpoch fences callers from the future; -1 means not given', async (t) => {
  const ahead = await ask(4, 'epochs', 0, 0, 1);
  t.equal(ahead.errorCode, UNKNOWN_LEADER_EPOCH);
  t.equal(ahead.endOffset, -1);
  const notGiven = await ask(4, 'epochs', 0, 0, -1);
  t.equal(notGiven.errorCode, ErrorCode.NONE);
  t.equal(notGiven.endOffset, 6);
  // v0-1 carry no current epoch at all.
  t.equal((await ask(1, 'epochs', 0, 0, 5)).errorCode, ErrorCode.NONE);
});

t.test('epochs this log does not know are UNDEFINED', async (t) => {
  const later = await ask(4, 'epochs', 0, 5, 0);
  t.equal(later.errorCode, ErrorCode.NONE);
  t.same([later.leaderEpoch, later.endOffset], [-1, -1]);
  const empty = await ask(4, 'empty', 0, 0, 0);
  t.equal(empty.errorCode, ErrorCode.NONE);
  t.same([empty.leaderEpoch, empty.endOffset], [-1, -1], 'an empty log has no epochs');
});

t.test('unknown topics and partitions', async (t) => {
  const topic = await ask(4, 'no-such-topic', 0, 0);
  t.equal(topic.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  t.same([topic.leaderEpoch, topic.endOffset], [-1, -1]);
  t.equal((await ask(3, 'epochs', 7, 0)).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  t.ok(broker.port > 0);
});

t.test('several topics and partitions in one request', async (t) => {
  const res = await c.request<OffsetForLeaderEpochResponse>(23, 4, {
    replicaId: -1,
    topics: [
      { topic: 'epochs', partitions: [{ partition: 0, currentLeaderEpoch: 0, leaderEpoch: 0 }, { partition: 1, currentLeaderEpoch: 0, leaderEpoch: 0 }] },
      { topic: 'empty', partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] },
    ],
  }, 5000);
  t.same(
    res.topics.map((x) => [x.topic, x.partitions.map((p) => [p.partition, p.errorCode, p.endOffset])]),
    [
      ['epochs', [[0, 0, 6], [1, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1]]],
      ['empty', [[0, 0, -1]]],
    ],
  );
});
