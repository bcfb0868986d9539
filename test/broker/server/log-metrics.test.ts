// Partitions hosted and led, and bytes on disk per topic, at the broker's /metrics (the pipeline-health dashboard reads them).
import t from 'tap';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker, removeDir } from '../../helpers/broker-process.ts';

t.test('partitions, leaders and log size per topic are Prometheus metrics', async (t) => {
  const broker = await startBroker({ args: ['--metrics-listen', '127.0.0.1:0'] });
  t.teardown(async () => {
    await broker.stop();
    removeDir(broker.dataDir);
  });
  const metricsPort = Number(/metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(broker.output())![1]);
  const kafka = new Kafka({ clientId: 'log-metrics', brokers: [`127.0.0.1:${broker.port}`], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'three', numPartitions: 3 }, { topic: 'five', numPartitions: 5 }] });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'three', acks: -1, messages: Array.from({ length: 30 }, (_, i) => ({ value: 'x'.repeat(100), partition: i % 3 })) });
  await producer.disconnect();

  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  t.match(text, /tributary_broker_partitions\{topic="three",node_id="1"\} 3\n/);
  t.match(text, /tributary_broker_partitions\{topic="five",node_id="1"\} 5\n/);
  t.match(text, /tributary_broker_partition_leaders\{topic="five",node_id="1"\} 5\n/);
  const size = Number(/tributary_broker_log_size_bytes\{topic="three",node_id="1"\} (\d+)/.exec(text)?.[1]);
  t.ok(size >= 30 * 100, `three's partitions hold at least the 3,000 value bytes written (${size})`);
  t.match(text, /tributary_broker_log_size_bytes\{topic="five",node_id="1"\} 0\n/);
});
