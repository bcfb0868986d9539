// Consumer lag (log end minus committed offset) per group, topic and partition at the broker's /metrics.
import t from 'tap';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker, removeDir } from '../../helpers/broker-process.ts';

t.test('lag per group, topic and partition is a Prometheus metric', async (t) => {
  const broker = await startBroker({ args: ['--metrics-listen', '127.0.0.1:0'] });
  t.teardown(async () => {
    await broker.stop();
    removeDir(broker.dataDir);
  });
  const metricsPort = Number(/metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(broker.output())![1]);
  const kafka = new Kafka({ clientId: 'lag', brokers: [`127.0.0.1:${broker.port}`], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'lagging', numPartitions: 2 }] });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'lagging', acks: -1, messages: Array.from({ length: 100 }, (_, i) => ({ value: String(i), partition: i % 2 })) });
  await producer.disconnect();
  await admin.setOffsets({ groupId: 'slow', topic: 'lagging', partitions: [{ partition: 0, offset: '20' }, { partition: 1, offset: '45' }] });
  await admin.disconnect();

  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  t.match(text, /tributary_broker_consumer_group_lag\{group="slow",topic="lagging",partition="0",node_id="1"\} 30/);
  t.match(text, /tributary_broker_consumer_group_lag\{group="slow",topic="lagging",partition="1",node_id="1"\} 5/);
  t.match(text, /tributary_broker_requests_total\{api="Produce",node_id="1"\} \d+/);
});
