// Acceptance: kafkajs consumer groups join, rebalance as members come and go, commit, and a restarted
// consumer resumes from the committed offset.
import t from 'tap';
import { Kafka, logLevel, type Consumer, type EachMessagePayload } from 'kafkajs';
import { startBroker, removeDir, type BrokerProcess } from '../../helpers/broker-process.ts';
import { until } from '../../helpers/collect.ts';

const TOPIC = 'kjs-group';
let broker: BrokerProcess;
let kafka: Kafka;
t.before(async () => {
  broker = await startBroker({ args: ['--group-initial-rebalance-delay-ms', '300'] });
  kafka = new Kafka({ clientId: 'kjs', brokers: [`127.0.0.1:${broker.port}`], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 4 }] });
  await admin.disconnect();
});
t.teardown(async () => {
  await broker.stop();
  removeDir(broker.dataDir);
});

async function produce(from: number, to: number): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: TOPIC, acks: -1, messages: Array.from({ length: to - from }, (_, i) => ({ key: `k${from + i}`, value: `m-${from + i}` })) });
  await producer.disconnect();
}

interface Member {
  consumer: Consumer;
  seen: string[];
  partitions: () => number[];
}

async function member(name: string): Promise<Member> {
  const consumer = kafka.consumer({ groupId: 'kjs-g', sessionTimeout: 10_000, heartbeatInterval: 500, rebalanceTimeout: 10_000 });
  const seen: string[] = [];
  let assigned: number[] = [];
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    assigned = (e.payload.memberAssignment[TOPIC] ?? []).slice().sort();
  });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  await consumer.run({ autoCommitInterval: 100, eachMessage: async ({ message }: EachMessagePayload) => void seen.push(message.value!.toString()) });
  void name;
  return { consumer, seen, partitions: () => assigned };
}

t.test('join, rebalance, commit, resume', async (t) => {
  await produce(0, 400);
  const a = await member('a');
  await until('a consumes the first 400', () => new Set(a.seen).size >= 400);
  t.same(a.partitions(), [0, 1, 2, 3], 'a alone owns every partition');

  const b = await member('b');
  await until('a rebalance splits the partitions', () => a.partitions().length === 2 && b.partitions().length === 2, 30_000, () => `a=${a.partitions()} b=${b.partitions()}`);
  t.same([...a.partitions(), ...b.partitions()].sort(), [0, 1, 2, 3], 'a and b share the partitions');
  await produce(400, 800);
  const union = () => new Set([...a.seen, ...b.seen].filter((v) => Number(v.slice(2)) >= 400));
  await until('both consume the next 400', () => union().size >= 400, 30_000);
  t.ok(b.seen.length > 0 && a.seen.some((v) => Number(v.slice(2)) >= 400), 'both members received new messages');

  await b.consumer.disconnect();
  await until('a owns everything again after b left', () => a.partitions().length === 4, 30_000, () => `a=${a.partitions()}`);
  await produce(800, 900);
  await until('a consumes what b would have', () => new Set(a.seen.filter((v) => Number(v.slice(2)) >= 800)).size >= 100, 30_000);
  await a.consumer.disconnect();

  await produce(900, 950);
  const restarted = await member('a2');
  await until('the restarted consumer gets the 50 new messages', () => new Set(restarted.seen).size >= 50, 30_000);
  await new Promise((r) => setTimeout(r, 500));
  t.same([...new Set(restarted.seen)].map((v) => Number(v.slice(2))).sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => 900 + i), 'resumed from the committed offsets: only new messages');
  await restarted.consumer.disconnect();

  const admin = kafka.admin();
  await admin.connect();
  const [offsets] = await admin.fetchOffsets({ groupId: 'kjs-g', topics: [TOPIC] });
  t.equal(offsets.partitions.reduce((n, p) => n + Number(p.offset), 0), 950, 'committed offsets cover all 950 messages');
  const described = await admin.describeGroups(['kjs-g']);
  t.equal(described.groups[0].state, 'Empty', 'the group is empty once everyone left');
  t.ok((await admin.listGroups()).groups.some((g) => g.groupId === 'kjs-g'), 'listed');
  await admin.deleteGroups(['kjs-g']);
  t.notOk((await admin.listGroups()).groups.some((g) => g.groupId === 'kjs-g'), 'deleted');
  await admin.disconnect();
});
