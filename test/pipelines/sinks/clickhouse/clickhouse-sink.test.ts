// The ClickHouse sink against a real broker and a real ClickHouse 18.16: every derived topic lands in its
// table exactly as produced, mismatching records go to <topic>.dlq, and neither a kill -9 of the sink nor
// of ClickHouse loses or duplicates a row.
import t, { type Test } from 'tap';
import { seededRandom as random } from '../../../../lib/seeded-random.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Producer, ProduceAcks } from '@platformatic/kafka';
import { startClickHouseSink, dateTimeText } from '../../../../pipelines/sinks/clickhouse/clickhouse-sink.ts';
import { TOPIC_TABLES, migratedColumns, type SinkTopic } from '../../../../pipelines/sinks/clickhouse/schema.ts';
import { startBroker, removeDir, type BrokerProcess } from '../../../helpers/broker-process.ts';
import { startClickHouse, type ClickHouseServer } from '../../../helpers/clickhouse.ts';
import { createTopics } from '../../../helpers/admin.ts';
import { kcat } from '../../../helpers/kcat.ts';
import { until } from '../../../helpers/collect.ts';
import { reapOnExit } from '../../../helpers/server-processes.ts';
import { createLogger } from '../../../../broker/server/logger.ts';

const quiet = createLogger('sink-clickhouse', true);
const BASE = Date.UTC(2024, 4, 1, 12, 0, 0);

interface Env {
  broker: BrokerProcess;
  ch: ClickHouseServer;
  brokers: string[];
}

async function environment(t: Test, partitions: number): Promise<Env> {
  const [broker, ch] = await Promise.all([startBroker({ args: ['--group-initial-rebalance-delay-ms', '0'] }), startClickHouse()]);
  t.teardown(async () => {
    await broker.stop();
    removeDir(broker.dataDir);
    await ch.stop();
  });
  await createTopics(broker.port, Object.keys(TOPIC_TABLES).map((topic) => ({ topic, numPartitions: partitions })));
  return { broker, ch, brokers: [`127.0.0.1:${broker.port}`] };
}

async function produce(brokers: string[], messages: { topic: string; partition: number; value: unknown }[]): Promise<void> {
  const producer = new Producer({ clientId: 'sink-test', bootstrapBrokers: brokers, acks: ProduceAcks.ALL });
  try {
    for (let i = 0; i < messages.length; i += 5_000) {
      await producer.send({
        messages: messages.slice(i, i + 5_000).map((m) => ({
          topic: m.topic,
          partition: m.partition,
          key: Buffer.from(`k${i}`),
          value: Buffer.isBuffer(m.value) ? m.value : Buffer.from(JSON.stringify(m.value)),
        })),
      });
    }
  } finally {
    await producer.close();
  }
}

async function rows(ch: ClickHouseServer, query: string): Promise<any[]> {
  const text = await ch.query(`${query} FORMAT JSONEachRow`);
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

const count = async (ch: ClickHouseServer, table: string) => Number((await ch.query(`SELECT count() FROM ${table}`)).trim());

function logRecord(i: number) {
  return {
    time: BASE + i * 1000 + 250,
    timestamp: BASE + i * 1000 + 250,
    observed_timestamp: 0,
    service: `svc-${i % 5}`,
    host: 'host-a',
    severity_number: 9,
    severity: 'INFO',
    body: `line ${i} with 'quotes' and \\ and ünïcode`,
    attribute_keys: ['k'],
    attribute_values: [`v${i}`],
    resource_keys: ['service.name'],
    resource_values: [`svc-${i % 5}`],
    trace_id: '',
    span_id: '',
    source_file: '/var/log/app.log',
    source_offset: i,
  };
}

const SAMPLES: Record<SinkTopic, Record<string, unknown>> = {
  'logs.enriched': logRecord(7),
  'logs.rollup.1m': { minute: BASE, service: 'svc-1', severity: 'ERROR', count: 12 },
  'metrics.rollup.1m': {
    minute: BASE, name: 'http.server.duration', type: 'histogram', unit: 'ms', service: 'api', host: 'host-a',
    label_keys: ['method', 'route'], label_values: ['GET', '/x'], count: 3, sum: 1.5, min: 0.25, max: 1, last: 0.25, last_timestamp: BASE + 59_000, sketch: '',
  },
  'pageviews.enriched': {
    time: BASE + 1500, timestamp: BASE + 1500, site: 'example.com', url: 'https://example.com/a?utm_source=n', path: '/a', title: 'A',
    referrer: 'https://news.example/', referrer_host: 'news.example', referrer_source: 'news.example', referrer_medium: 'referral',
    utm_source: 'n', utm_medium: '', utm_campaign: '', utm_term: '', utm_content: '', browser: 'Firefox', browser_version: '126.0',
    os: 'Linux', os_version: '', device: 'desktop', is_bot: 0, screen_width: 1920, screen_height: 1080, language: 'en', time_zone: 'UTC',
    visitor_id: 'v1', navigation: 'navigate',
    // No `country`: a record written before that column was added still loads, with its default.
  },
  'pageviews.sessions': {
    start: BASE, start_timestamp: BASE, end_timestamp: BASE + 90_000, duration_ms: 90_000, site: 'example.com', visitor_id: 'v1', session_id: 's1',
    page_count: 3, entry_path: '/a', exit_path: '/c', bounce: 0, referrer_source: 'news.example', referrer_medium: 'referral',
    utm_source: 'n', utm_medium: '', utm_campaign: '', browser: 'Firefox', os: 'Linux', device: 'desktop',
  },
  'pageviews.rollup.1m': { minute: BASE, site: 'example.com', path: '/a', views: 4, visitors_hll: 'AAEC' },
};

const DATETIME_COLUMNS = new Set(['time', 'minute', 'start']);

/** The row ClickHouse returns for a record: DateTime as text, 64-bit integers quoted (18.16's JSON output). */
function expectedRow(topic: string, partition: number, offset: number, record: Record<string, unknown>) {
  const out: Record<string, unknown> = { _topic: topic, _partition: partition, _offset: String(offset) };
  for (const [k, v] of Object.entries(record)) out[k] = DATETIME_COLUMNS.has(k) ? dateTimeText(v as number) : v;
  for (const c of migratedColumns().get(TOPIC_TABLES[topic as SinkTopic]) ?? []) if (c.added && !(c.name in record)) out[c.name] = '';
  return out;
}

t.test('every derived topic lands in its table; mismatching records go to the DLQ; a restart adds nothing twice', async (t) => {
  const { broker, ch, brokers } = await environment(t, 2);
  const messages: { topic: string; partition: number; value: unknown }[] = [];
  for (const [topic, record] of Object.entries(SAMPLES)) messages.push({ topic, partition: 1, value: record });
  // Offsets 1 and 2 of logs.rollup.1m partition 1: not JSON, and a missing column.
  messages.push({ topic: 'logs.rollup.1m', partition: 1, value: Buffer.from('{not json') });
  messages.push({ topic: 'logs.rollup.1m', partition: 1, value: { minute: BASE, service: 'svc-1', severity: 'WARN' } });
  messages.push({ topic: 'logs.rollup.1m', partition: 1, value: { ...SAMPLES['logs.rollup.1m'], count: 5 } });
  await produce(brokers, messages);

  const sink = await startClickHouseSink({ brokers, clickhouseUrl: ch.url, flushIntervalMs: 100, sessionTimeoutMs: 6_000, log: quiet });
  await until('all rows loaded', async () => (await count(ch, 'logs_rollup_1m')) === 2 && (await count(ch, 'pageviews_rollup_1m')) === 1, 30_000);

  for (const [topic, record] of Object.entries(SAMPLES)) {
    const table = TOPIC_TABLES[topic as SinkTopic];
    const got = await rows(ch, `SELECT * FROM ${table} ORDER BY _offset`);
    const want = [expectedRow(topic, 1, 0, record)];
    if (topic === 'logs.rollup.1m') want.push(expectedRow(topic, 1, 3, { ...record, count: 5 }));
    // 18.16 quotes UInt64 in JSON output; compare after normalising them to numbers.
    t.same(got.map(normalise), want.map(normalise), `${table} holds exactly the produced rows`);
  }

  const dlq = await kcat(['-C', '-b', brokers[0], '-t', 'logs.rollup.1m.dlq', '-o', 'beginning', '-e', '-q', '-f', '%s\t%h\n']);
  const letters = dlq.stdout.toString().trim().split('\n');
  t.equal(letters.length, 2, 'two records dead-lettered');
  t.match(letters[0], /^\{not json\t.*tributary\.error=value is not JSON.*tributary\.source=logs\.rollup\.1m\/1@1/);
  t.match(letters[1], /tributary\.error=missing column count.*tributary\.source=logs\.rollup\.1m\/1@2/);

  const metrics = await sink.registry.getMetricsAsJSON();
  const inserted = metrics.find((m) => m.name === 'tributary_sink_clickhouse_rows_inserted_total')!;
  t.equal(inserted.values.reduce((n, v) => n + v.value, 0), 7, 'rows inserted counted');
  const invalid = metrics.find((m) => m.name === 'tributary_sink_clickhouse_invalid_records_total')!;
  t.same(invalid.values.map((v) => [v.labels.topic, v.value]), [['logs.rollup.1m', 2]]);
  await sink.stop();

  // A restart resumes from ClickHouse: nothing again, and what is new arrives once.
  await produce(brokers, [{ topic: 'logs.enriched', partition: 0, value: logRecord(8) }, { topic: 'logs.enriched', partition: 1, value: logRecord(9) }]);
  const again = await startClickHouseSink({ brokers, clickhouseUrl: ch.url, flushIntervalMs: 100, sessionTimeoutMs: 6_000, log: quiet });
  t.teardown(() => again.stop());
  await until('the new rows loaded', async () => (await count(ch, 'logs_enriched')) >= 3, 30_000);
  await new Promise((r) => setTimeout(r, 500));
  t.same(await rows(ch, 'SELECT _partition, _offset, source_offset FROM logs_enriched ORDER BY _partition, _offset'), [
    { _partition: 0, _offset: '0', source_offset: '8' },
    { _partition: 1, _offset: '0', source_offset: '7' },
    { _partition: 1, _offset: '1', source_offset: '9' },
  ]);
  t.equal(await count(ch, 'logs_rollup_1m'), 2, 'the rollup rows are not loaded again');
  const dlqAfter = await kcat(['-C', '-b', brokers[0], '-t', 'logs.rollup.1m.dlq', '-o', 'beginning', '-e', '-q', '-f', '%o\n']);
  t.equal(dlqAfter.stdout.toString().trim().split('\n').length, 2, 'a dead letter followed by a stored row is not sent again');
  void broker;
});

function normalise(row: Record<string, unknown>) {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) out[k] = typeof v === 'string' && /^\d+$/.test(v) && k !== '_offset' ? Number(v) : v;
  return out;
}

const TOTAL = 100_000;

async function checkExactlyOnce(t: Test, ch: ClickHouseServer, total: number): Promise<void> {
  const [summary] = await rows(ch, 'SELECT count() AS n, uniqExact(_partition, _offset) AS distinct_positions, uniqExact(source_offset) AS distinct_records, sum(source_offset) AS s FROM logs_enriched');
  t.same(
    { n: Number(summary.n), positions: Number(summary.distinct_positions), records: Number(summary.distinct_records), sum: Number(summary.s) },
    { n: total, positions: total, records: total, sum: (total * (total - 1)) / 2 },
    'every record exactly once',
  );
  const perPartition = await rows(ch, 'SELECT _partition AS p, count() AS n, min(_offset) AS lo, max(_offset) AS hi FROM logs_enriched GROUP BY _partition ORDER BY _partition');
  for (const r of perPartition) t.equal(Number(r.hi) - Number(r.lo) + 1, Number(r.n), `partition ${r.p}: offsets ${r.lo}…${r.hi} without gaps or repeats`);
}

function logMessages(from: number, to: number) {
  return Array.from({ length: to - from }, (_, k) => ({ topic: 'logs.enriched', partition: (from + k) % 3, value: logRecord(from + k) }));
}

t.test('kill -9 of the sink at random moments: ClickHouse holds every record exactly once', async (t) => {
  const { ch, brokers } = await environment(t, 3);
  const seed = Number(process.env.SINK_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
  t.comment(`seed ${seed} (SINK_CRASH_SEED=${seed} repeats this run)`);
  const rand = random(seed);
  await produce(brokers, logMessages(0, TOTAL));

  const script = join(import.meta.dirname, 'fixtures/run-sink.ts');
  let child: ChildProcess | undefined;
  let output = '';
  const launch = async () => {
    const c = spawn(process.execPath, [script, brokers.join(','), ch.url, 'logs.enriched', '1000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    reapOnExit(c);
    child = c;
    c.stderr!.on('data', (d) => (output = (output + d).slice(-20_000)));
    await new Promise<void>((resolve, reject) => {
      c.stdout!.on('data', (d) => String(d).includes('ready') && resolve());
      c.once('exit', (code) => reject(new Error(`sink exited with ${code}:\n${output}`)));
    });
  };
  t.teardown(() => {
    child?.kill('SIGKILL');
  });

  const kills = 3 + Math.floor(rand() * 3);
  for (let k = 0; k < kills; k++) {
    const before = k === 0 ? 0 : await count(ch, 'logs_enriched'); // the first sink creates the table
    await launch();
    // Each life must make progress before it dies (a rebalance takes seconds after a kill), then dies at a
    // random moment of its loading: between inserts, mid-insert, or between an insert and its commit.
    await until('loading resumed', async () => (await count(ch, 'logs_enriched')) > before || before >= TOTAL, 30_000, () => output.slice(-2000));
    const delay = Math.floor(rand() * 800);
    await new Promise((r) => setTimeout(r, delay));
    const c = child!;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
    t.comment(`kill ${k + 1}/${kills}, ${delay} ms after loading resumed: ${await count(ch, 'logs_enriched')} rows stored`);
  }
  await launch();
  await until('all records loaded', async () => (await count(ch, 'logs_enriched')) >= TOTAL, 60_000, () => output.slice(-2000));
  await new Promise((r) => setTimeout(r, 1_000)); // time for an extra (duplicate) insert to show
  await checkExactlyOnce(t, ch, TOTAL);
  const c = child!;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  await exited;
});

t.test('ClickHouse killed and restarted mid-run: the sink retries, nothing lost or duplicated', async (t) => {
  const { ch, brokers } = await environment(t, 3);
  const total = 30_000;
  await produce(brokers, logMessages(0, 10_000));
  const sink = await startClickHouseSink({ brokers, clickhouseUrl: ch.url, topics: ['logs.enriched'], batchMaxRows: 1_000, flushIntervalMs: 100, sessionTimeoutMs: 6_000, log: quiet });
  t.teardown(() => sink.stop());
  await until('loading started', async () => (await count(ch, 'logs_enriched')) > 0, 30_000);
  await ch.kill9();
  await produce(brokers, logMessages(10_000, total));
  await new Promise((r) => setTimeout(r, 2_000));
  await ch.restart();
  await until('all records loaded', async () => (await count(ch, 'logs_enriched')) >= total, 60_000);
  await new Promise((r) => setTimeout(r, 500));
  await checkExactlyOnce(t, ch, total);
  const errors = (await sink.registry.getMetricsAsJSON()).find((m) => m.name === 'tributary_sink_clickhouse_errors_total')!;
  t.ok(errors.values.some((v) => v.labels.kind === 'insert' && v.value > 0), 'failed inserts were counted and retried');
});
