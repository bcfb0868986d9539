// A three-node cluster as users run it (three `tributary broker --controller-quorum` processes): brokers find
// each other, topics get replicas spread over them with balanced leaders, real clients produce with acks=all and
// consume, min.insync.replicas refuses writes it cannot honour, controlled shutdown moves leadership away and
// preferred-leader rebalancing brings it back.
import t from 'tap';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startCluster, type Cluster } from '../../helpers/cluster.ts';
import { kcat } from '../../helpers/kcat.ts';
import { repoRoot } from '../../helpers/cli-process.ts';
import { KafkaWireClient } from '../../../broker/client/kafka-wire-client.ts';
import { buildRecordBatch } from '../../../broker/protocol/record-batch/records.ts';
import { ErrorCode } from '../../../broker/protocol/error-codes.ts';

const TOPIC = 'basics';
const PARTITIONS = 6;
/** A topic whose every write needs all three replicas. */
const STRICT = 'basics-strict';
const TIMINGS = ['--broker-session-timeout-ms', '3000', '--broker-heartbeat-interval-ms', '500', '--replica-lag-time-max-ms', '3000', '--leader-rebalance-interval-ms', '2000'];

async function produceWithKcat(cluster: Cluster, lines: string[]): Promise<void> {
  const r = await kcat(['-b', cluster.bootstrap, '-P', '-t', TOPIC, '-K', ':', '-X', 'acks=all', '-X', 'enable.idempotence=true'], lines.join('\n') + '\n');
  if (r.code !== 0) throw new Error(`kcat produce failed: ${r.stderr}`);
}

async function consumeAllWithKcat(cluster: Cluster): Promise<string[]> {
  const r = await kcat(['-b', cluster.bootstrap, '-C', '-t', TOPIC, '-o', 'beginning', '-e', '-q', '-f', '%p %o %s\n']);
  if (r.code !== 0) throw new Error(`kcat consume failed: ${r.stderr}`);
  return r.stdout.toString('utf8').split('\n').filter(Boolean);
}

/** Sends one acks=all produce straight to the partition's leader and returns its error code. */
async function produceOnce(cluster: Cluster, topic: string, leader: number, partition: number): Promise<number> {
  const [host, port] = cluster.kafkaAddress(leader).split(':');
  const client = await KafkaWireClient.connect(host, Number(port), { timeoutMs: 5000, clientId: 'cluster-basics' });
  try {
    const res = await client.request<{ responses: { partitionResponses: { errorCode: number }[] }[] }>(0, 9, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: topic, partitionData: [{ index: partition, records: buildRecordBatch({ records: [{ key: null, value: Buffer.from('probe') }] }) }] }],
    }, 15_000);
    return res.responses[0].partitionResponses[0].errorCode;
  } finally {
    client.close();
  }
}

t.test('a three-node cluster serves replicated topics to real clients', async (t) => {
  t.setTimeout(240_000);
  const cluster = await startCluster({ nodes: 3, seed: 1, args: TIMINGS });
  let failed = true;
  t.teardown(async () => {
    if (failed) t.comment(cluster.outputs().split('\n').filter((l) => /controller|WARN|ERROR|leader of|---/.test(l)).join('\n'));
    await cluster.stop({ failed });
  });

  const md = await cluster.waitFor(async () => {
    const m = await cluster.metadata();
    return m.brokers.length === 3 && m.controllerId > 0 ? m : null;
  }, 30_000, 'three brokers in Metadata');
  t.same(md.brokers.map((b) => b.nodeId).sort(), [1, 2, 3], 'Metadata lists every broker');

  const created = await kcat(['-b', cluster.bootstrap, '-L']);
  t.equal(created.code, 0, 'kcat reads the cluster metadata');
  // Not spawnSync: a blocked event loop stops reading the brokers' output pipes, and a broker writing to a full
  // pipe blocks too.
  const admin = await promisify(execFile)(process.execPath, ['-e', `
    const { Kafka, logLevel } = require('kafkajs');
    const admin = new Kafka({ brokers: '${cluster.bootstrap}'.split(','), logLevel: logLevel.NOTHING }).admin();
    admin.connect()
      .then(() => admin.createTopics({ topics: [
        { topic: '${TOPIC}', numPartitions: ${PARTITIONS}, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] },
        { topic: '${STRICT}', numPartitions: 3, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '3' }] },
      ] }))
      .then((ok) => { console.log(ok); return admin.disconnect(); })
      .catch((e) => { console.error(e.message, JSON.stringify(e.topicErrors ?? e.errors ?? '')); process.exit(1); });
  `], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 }).then(
    (r) => ({ status: 0, stderr: r.stderr }),
    (err: { code?: number; stderr?: string }) => ({ status: err.code ?? 1, stderr: err.stderr ?? '' }),
  );
  t.equal(admin.status, 0, `kafkajs creates the topics ${admin.stderr}`);

  const partitions = await cluster.waitFor(async () => {
    const m = await cluster.metadata({ topics: [TOPIC] });
    const ps = m.partitions.filter((p) => p.topic === TOPIC);
    return ps.length === PARTITIONS && ps.every((p) => p.isr.length === 3 && p.leader > 0) ? ps : null;
  }, 30_000, 'the topic with full ISRs');
  for (const p of partitions) t.same([...p.replicas].sort(), [1, 2, 3], `partition ${p.partition} has a replica on every broker`);
  const ledBy = (id: number) => partitions.filter((p) => p.leader === id).length;
  t.same([ledBy(1), ledBy(2), ledBy(3)], [2, 2, 2], 'leaders are balanced');

  const first = Array.from({ length: 600 }, (_, i) => `k${i % 17}:first-${i}`);
  await produceWithKcat(cluster, first);
  t.equal((await consumeAllWithKcat(cluster)).length, 600, 'kcat reads back every record produced with acks=all');

  // Controlled shutdown: the stopping broker hands its leaderships over before it exits.
  const stopping = partitions[0].leader;
  const stopped = await cluster.stopNode(stopping);
  t.equal(stopped, 0, 'a stopping broker exits cleanly');
  t.match(cluster.output(stopping), /controlled shutdown: every leadership moved to another broker/, 'its leaderships moved before it stopped');
  // Metadata reaches each broker asynchronously (after a new controller election, when the stopped broker led the quorum).
  const stillLed = await cluster.waitFor(async () => {
    const led = (await cluster.metadata({ topics: [TOPIC, STRICT] })).partitions.filter((p) => p.leader === stopping);
    return led.length === 0 ? led : null;
  }, 15_000, 'no partition led by the stopped broker').catch(() => ['still led']);
  t.same(stillLed, [], 'no partition is led by the stopped broker');

  // One broker down: ISR 2 meets min.insync.replicas=2, so acks=all still succeeds.
  await cluster.waitFor(async () => (await cluster.metadata({ topics: [TOPIC] })).partitions.every((p) => p.isr.length === 2) || null, 30_000, 'ISRs without the stopped broker');
  const second = Array.from({ length: 300 }, (_, i) => `k${i % 17}:second-${i}`);
  await produceWithKcat(cluster, second);

  // With min.insync.replicas=3 and one broker down, acks=all is refused rather than silently weakened.
  const strict = await cluster.waitFor(async () => {
    const m = await cluster.metadata({ topics: [STRICT] });
    return m.partitions.find((p) => p.topic === STRICT && p.isr.length === 2 && p.leader > 0 && p.leader !== stopping) ?? null;
  }, 30_000, `a ${STRICT} partition with an ISR of 2`);
  t.equal(await produceOnce(cluster, STRICT, strict.leader, strict.partition), ErrorCode.NOT_ENOUGH_REPLICAS, 'acks=all with an ISR of 2 and min.insync.replicas=3 is NOT_ENOUGH_REPLICAS');

  // It comes back: it catches up, rejoins every ISR, and the preferred leaders are restored.
  await cluster.start(stopping);
  const healed = await cluster.waitFor(async () => {
    const ps = (await cluster.metadata({ topics: [TOPIC] })).partitions;
    return ps.length === PARTITIONS && ps.every((p) => p.isr.length === 3 && p.leader === p.replicas[0]) ? ps : null;
  }, 60_000, 'full ISRs and preferred leaders again');
  t.same([1, 2, 3].map((id) => healed.filter((p) => p.leader === id).length), [2, 2, 2], 'leadership is balanced again');
  const strictNow = await cluster.waitFor(async () => {
    const m = await cluster.metadata({ topics: [STRICT] });
    return m.partitions.find((p) => p.topic === STRICT && p.partition === strict.partition && p.isr.length === 3) ?? null;
  }, 30_000, `${STRICT}-${strict.partition} with a full ISR`);
  t.equal(await produceOnce(cluster, STRICT, strictNow.leader, strictNow.partition), ErrorCode.NONE, 'with all three in the ISR the strict topic takes writes again');

  const all = await consumeAllWithKcat(cluster);
  const values = all.map((l) => l.split(' ').slice(2).join(' '));
  for (const v of [...first.map((l) => l.split(':')[1]), ...second.map((l) => l.split(':')[1])]) {
    if (!values.includes(v)) t.fail(`acknowledged record ${v} is missing`);
  }
  t.equal(new Set(values).size, values.length, 'no record is stored twice');
  failed = false;
});

t.test('--controller-quorum mistakes are refused with a clear message', async (t) => {
  const dataDir = join(tmpdir(), `tributary-quorum-flags-${process.pid}`);
  const run = (args: string[]) => spawnSync(process.execPath, [join(repoRoot, 'bin/tributary.js'), 'broker', '--node-id', '4', '--data-dir', dataDir, ...args], { encoding: 'utf8', timeout: 30_000 });
  const malformed = run(['--controller-quorum', '1@127.0.0.1']);
  t.equal(malformed.status, 2, 'a malformed quorum is a usage error');
  t.match(malformed.stderr, /--controller-quorum: controller quorum entry "1@127.0.0.1" is not id@host:port/);
  const badRf = run(['--controller-quorum', '1@127.0.0.1:1', '--default-replication-factor', '3']);
  t.equal(badRf.status, 2);
  t.match(badRf.stderr, /--default-replication-factor 3 is larger than the cluster \(1 nodes\)/);
  const notMember = run(['--controller-quorum', '1@127.0.0.1:1,2@127.0.0.1:2', '--listen', '127.0.0.1:0']);
  t.equal(notMember.status, 2, 'a node outside the quorum does not start');
  t.match(notMember.stderr, /node 4 is not in --controller-quorum \(1, 2\)/);
  t.notOk(existsSync(dataDir), 'nothing was written');
});
