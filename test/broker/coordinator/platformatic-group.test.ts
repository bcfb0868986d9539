// Acceptance: @platformatic/kafka consumer groups (JoinGroup v6-9, SyncGroup v4-5, OffsetCommit/Fetch v8-9)
// join, rebalance when members come and go, commit, and resume from the committed offset after a restart.
import t from 'tap';
import { Consumer, Producer, ProduceAcks, MessagesStreamModes, MessagesStreamFallbackModes, type MessagesStream } from '@platformatic/kafka';
import { startBroker, removeDir, type BrokerProcess } from '../../helpers/broker-process.ts';
import { until } from '../../helpers/collect.ts';

const TOPIC = 'pk-group';
let broker: BrokerProcess;
let bootstrapBrokers: string[];
t.before(async () => {
  broker = await startBroker({ args: ['--group-initial-rebalance-delay-ms', '300', '--num-partitions', '4'] });
  bootstrapBrokers = [`127.0.0.1:${broker.port}`];
});
t.teardown(async () => {
  await broker.stop();
  removeDir(broker.dataDir);
});

async function produce(from: number, to: number): Promise<void> {
  const producer = new Producer({ clientId: 'pk-p', bootstrapBrokers, autocreateTopics: true });
  await producer.send({ acks: ProduceAcks.ALL, messages: Array.from({ length: to - from }, (_, i) => ({ topic: TOPIC, key: Buffer.from(`k${from + i}`), value: Buffer.from(`m-${from + i}`) })) });
  await producer.close();
}

interface Member {
  consumer: Consumer;
  stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>;
  seen: number[];
}

async function member(clientId: string): Promise<Member> {
  const consumer = new Consumer({ clientId, groupId: 'pk-g', bootstrapBrokers, sessionTimeout: 10_000, heartbeatInterval: 500, rebalanceTimeout: 10_000, maxWaitTime: 200 });
  const stream = await consumer.consume({ topics: [TOPIC], mode: MessagesStreamModes.COMMITTED, fallbackMode: MessagesStreamFallbackModes.EARLIEST, autocommit: 100 });
  const seen: number[] = [];
  stream.on('data', (m) => seen.push(Number(m.value.toString().slice(2))));
  return { consumer, stream, seen };
}

const assignedCount = (m: Member) => (m.consumer.assignments ?? []).reduce((n, a) => n + a.partitions.length, 0);

t.test('join, rebalance, commit, resume', async (t) => {
  await produce(0, 200);
  const a = await member('pk-a');
  await until('a consumes the first 200', () => new Set(a.seen).size >= 200, 30_000);
  t.equal(assignedCount(a), 4, 'a alone owns every partition');

  const b = await member('pk-b');
  await until('a rebalance splits the partitions', () => assignedCount(a) === 2 && assignedCount(b) === 2, 30_000, () => `a=${assignedCount(a)} b=${assignedCount(b)}`);
  await produce(200, 400);
  await until('the next 200 are consumed by the group', () => new Set([...a.seen, ...b.seen].filter((v) => v >= 200)).size >= 200, 30_000);
  t.ok(b.seen.some((v) => v >= 200) && a.seen.some((v) => v >= 200), 'both members received new messages');

  await b.stream.close();
  await b.consumer.close();
  await until('a owns everything again after b left', () => assignedCount(a) === 4, 30_000, () => `a=${assignedCount(a)}`);
  await new Promise((r) => setTimeout(r, 300)); // let the last autocommit land
  await a.stream.close();
  await a.consumer.close();

  await produce(400, 450);
  const restarted = await member('pk-a2');
  await until('the restarted consumer gets the 50 new messages', () => new Set(restarted.seen).size >= 50, 30_000);
  await new Promise((r) => setTimeout(r, 500));
  t.same([...new Set(restarted.seen)].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => 400 + i), 'resumed from the committed offsets');
  await restarted.stream.close();
  await restarted.consumer.close();
});
