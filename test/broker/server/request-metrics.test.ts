// The broker's request-time histogram at /metrics (Kafka's TotalTimeMs): every request counted under its API,
// and the time runs from arrival to the response being written, so a fetch parked for data counts its wait.
import t from 'tap';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker, removeDir } from '../../helpers/broker-process.ts';

const FETCH_WAIT_MS = 600;

function series(text: string, name: string, api: string, extra = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`api="${api}"`) && l.includes(extra));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : NaN;
}

t.test('request durations per API are a Prometheus histogram, parked fetches included', async (t) => {
  const broker = await startBroker({ args: ['--metrics-listen', '127.0.0.1:0'] });
  const kafka = new Kafka({ clientId: 'request-metrics', brokers: [`127.0.0.1:${broker.port}`], logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: 'request-metrics', maxWaitTimeInMs: FETCH_WAIT_MS });
  t.teardown(async () => {
    await consumer.disconnect().catch(() => {});
    await broker.stop();
    removeDir(broker.dataDir);
  });
  const metricsPort = Number(/metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(broker.output())![1]);
  const scrape = async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();

  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'timed', numPartitions: 1 }, { topic: 'idle', numPartitions: 1 }] });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < 5; i++) await producer.send({ topic: 'timed', acks: -1, messages: [{ value: `v${i}` }] });
  await producer.disconnect();

  // A consumer of a topic nobody writes to: each of its fetches waits the whole max wait at the broker.
  await consumer.connect();
  await consumer.subscribe({ topic: 'idle', fromBeginning: true });
  await consumer.run({ eachMessage: async () => {} });
  const deadline = Date.now() + 30_000;
  let text = await scrape();
  while (!(series(text, 'tributary_broker_request_duration_seconds_count', 'Fetch') >= 3) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 300));
    text = await scrape();
  }

  t.match(text, /# TYPE tributary_broker_request_duration_seconds histogram/);
  t.ok(series(text, 'tributary_broker_request_duration_seconds_count', 'Produce') >= 5, 'the five produce requests are counted');
  t.ok(series(text, 'tributary_broker_request_duration_seconds_count', 'Metadata') >= 1, 'metadata requests are counted');
  const fetches = series(text, 'tributary_broker_request_duration_seconds_count', 'Fetch');
  t.ok(fetches >= 3, `fetches are counted (${fetches})`);
  // Parked fetches last about the max wait; a histogram that timed only the handler would put them all under 10 ms.
  const fetchesUnder250ms = series(text, 'tributary_broker_request_duration_seconds_bucket', 'Fetch', 'le="0.25"');
  t.ok(fetchesUnder250ms < fetches, `some fetches took longer than 250 ms (${fetches - fetchesUnder250ms} of ${fetches})`);
  const fetchSeconds = series(text, 'tributary_broker_request_duration_seconds_sum', 'Fetch');
  t.ok(fetchSeconds >= ((fetches - fetchesUnder250ms) * FETCH_WAIT_MS * 0.8) / 1000, `the fetches' waits are in the sum (${fetchSeconds.toFixed(2)} s)`);
  t.equal(series(text, 'tributary_broker_request_duration_seconds_bucket', 'Produce', 'le="+Inf"'), series(text, 'tributary_broker_request_duration_seconds_count', 'Produce'), 'the +Inf bucket holds every produce request');
});
