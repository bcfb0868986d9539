// Acceptance: an idempotent producer whose acknowledgements are lost (a proxy drops Produce responses) and
// whose broker is killed and restarted mid-stream retries, and every message ends up stored exactly once.
import t from 'tap';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker, removeDir, tempDir, type BrokerProcess } from '../../helpers/broker-process.ts';
import { LossyProxy } from '../../helpers/lossy-proxy.ts';
import { kcat } from '../../helpers/kcat.ts';

const TOPIC = 'idem';

t.test('lost acknowledgements and a broker crash: every message exactly once', async (t) => {
  const proxy = new LossyProxy(7);
  await proxy.listen();
  const dataDir = tempDir('idem');
  const args = ['--advertised-listener', `127.0.0.1:${proxy.port}`];
  let broker: BrokerProcess = await startBroker({ dataDir, args });
  proxy.targetPort = broker.port;
  t.teardown(async () => {
    await proxy.close();
    await broker.stop();
    removeDir(dataDir);
  });

  const kafka = new Kafka({ clientId: 'idem', brokers: [`127.0.0.1:${proxy.port}`], logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 50, maxRetryTime: 1000 } });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 2 }] });
  await admin.disconnect();

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  const BATCHES = 120;
  for (let b = 0; b < BATCHES; b++) {
    if (b === BATCHES / 2) {
      // Crash the broker mid-stream; producer state must come back from its snapshot and the log.
      await broker.kill();
      proxy.disconnectAll();
      broker = await startBroker({ dataDir, args });
      proxy.targetPort = broker.port;
    }
    await producer.send({ topic: TOPIC, acks: -1, messages: Array.from({ length: 20 }, (_, i) => ({ key: `k${(b * 20 + i) % 2}`, value: `m-${b * 20 + i}` })) });
  }
  await producer.disconnect();
  t.ok(proxy.dropped >= 10, `${proxy.dropped} acknowledgements were lost and retried`);

  const read = await kcat(['-C', '-b', `127.0.0.1:${proxy.port}`, '-t', TOPIC, '-o', 'beginning', '-e', '-q', '-f', '%s\\n']);
  const values = read.stdout.toString().trim().split('\n');
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  t.equal(counts.size, BATCHES * 20, 'every message stored');
  t.same([...counts].filter(([, n]) => n > 1).slice(0, 5), [], 'none twice');
  t.equal(values.length, BATCHES * 20, 'exactly once');
});
