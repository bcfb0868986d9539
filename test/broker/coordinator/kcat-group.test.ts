// Acceptance: three kcat -G members share a 6-partition topic of 60,000 messages, each message consumed by
// exactly one member; after one member is killed the others take over its partitions, the group still
// consumes every message at least once, and committed offsets keep advancing.
import t from 'tap';
import { Kafka, logLevel } from 'kafkajs';
import { kcat } from '../../helpers/kcat.ts';
import { startBroker, removeDir, type BrokerProcess } from '../../helpers/broker-process.ts';
import { createTopics } from '../../helpers/admin.ts';
import { KcatGroupMember, waitFor } from '../../helpers/kcat-group-member.ts';

const TOPIC = 'group-topic';
const GROUP = 'kcat-group';

let broker: BrokerProcess;
t.before(async () => {
  broker = await startBroker({ args: ['--group-initial-rebalance-delay-ms', '1500'] });
  await createTopics(broker.port, [{ topic: TOPIC, numPartitions: 6 }]);
});
t.teardown(async () => {
  await broker.stop();
  removeDir(broker.dataDir);
});

async function produce(from: number, to: number): Promise<void> {
  const lines = Array.from({ length: to - from }, (_, i) => `k${(from + i) % 1000}:m-${from + i}`).join('\n') + '\n';
  const res = await kcat(['-P', '-b', `127.0.0.1:${broker.port}`, '-t', TOPIC, '-K', ':'], lines);
  if (res.code !== 0) throw new Error(res.stderr);
}

async function committedOffsets(): Promise<Map<number, number>> {
  const kafka = new Kafka({ clientId: 'offsets-check', brokers: [`127.0.0.1:${broker.port}`], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [res] = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
    return new Map(res.partitions.map((p) => [p.partition, Number(p.offset)]));
  } finally {
    await admin.disconnect();
  }
}

t.test('a group of three kcat consumers', async (t) => {
  await produce(0, 60_000);
  const members = ['a', 'b', 'c'].map((n) => new KcatGroupMember(n, broker.port, GROUP, TOPIC));
  t.teardown(() => Promise.all(members.map((m) => m.kill())));
  const consumed = () => members.reduce((n, m) => n + m.messages.length, 0);
  await waitFor('60,000 messages consumed', () => consumed() >= 60_000, 90_000).catch((err) => {
    throw new Error(`${err.message}: ${members.map((m) => `${m.name}=${m.messages.length} [${m.assigned}] ${m.stderr.slice(-300)}`).join(' | ')}`);
  });
  await new Promise((r) => setTimeout(r, 500));

  const owners = new Map<string, string[]>();
  for (const m of members) for (const msg of m.messages) owners.set(msg.value, [...(owners.get(msg.value) ?? []), m.name]);
  t.equal(owners.size, 60_000, 'every message consumed');
  t.equal([...owners.values()].filter((o) => o.length !== 1).length, 0, 'each by exactly one member');
  const partitionsOf = (m: KcatGroupMember) => [...new Set(m.messages.map((x) => x.partition))].sort();
  t.same(members.map((m) => partitionsOf(m).length), [2, 2, 2], 'two partitions each');

  await waitFor('offsets committed up to the end', async () => {
    const c = await committedOffsets();
    return [...c.values()].reduce((a, b) => a + b, 0) === 60_000;
  });
  const before = await committedOffsets();

  // Kill c: its session expires, a and b take over its partitions.
  const cPartitions = partitionsOf(members[2]);
  await members[2].kill();
  await produce(60_000, 90_000);
  const survivors = members.slice(0, 2);
  const newValues = () => new Set(survivors.flatMap((m) => m.messages.filter((x) => Number(x.value.slice(2)) >= 60_000).map((x) => x.value)));
  await waitFor('the 30,000 new messages consumed by the survivors', () => newValues().size >= 30_000, 90_000);
  t.equal(newValues().size, 30_000, 'the group consumed every new message at least once');
  const takenOver = new Set(survivors.flatMap((m) => m.messages.filter((x) => Number(x.value.slice(2)) >= 60_000).map((x) => x.partition)));
  for (const p of cPartitions) t.ok(takenOver.has(p), `partition ${p} of the killed member was taken over`);

  await waitFor('committed offsets advanced to the new end', async () => {
    const c = await committedOffsets();
    return [...c.values()].reduce((a, b) => a + b, 0) === 90_000;
  });
  const after = await committedOffsets();
  for (const [p, o] of after) t.ok(o > (before.get(p) ?? -1), `partition ${p}: committed offset advanced ${before.get(p)} → ${o}`);
  await Promise.all(survivors.map((m) => m.stop()));
});

t.test('the cooperative-sticky assignor works too (the broker never looks inside assignments)', async (t) => {
  const topic = 'coop-topic';
  await createTopics(broker.port, [{ topic, numPartitions: 4 }]);
  const lines = Array.from({ length: 4000 }, (_, i) => `k${i}:c-${i}`).join('\n') + '\n';
  await kcat(['-P', '-b', `127.0.0.1:${broker.port}`, '-t', topic, '-K', ':'], lines);
  const coop = ['-X', 'partition.assignment.strategy=cooperative-sticky'];
  const first = new KcatGroupMember('x', broker.port, 'coop-group', topic, coop);
  const second = new KcatGroupMember('y', broker.port, 'coop-group', topic, coop);
  t.teardown(() => Promise.all([first.kill(), second.kill()]));
  await waitFor('4,000 messages consumed', () => new Set([...first.messages, ...second.messages].map((m) => m.value)).size >= 4000, 60_000);
  t.equal(new Set([...first.messages, ...second.messages].map((m) => m.value)).size, 4000, 'every message consumed');
  t.match(first.stderr + second.stderr, /COOPERATIVE|cooperative|assigned/, 'members were assigned partitions');
  await Promise.all([first.stop(), second.stop()]);
});
