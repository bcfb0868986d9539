// Acceptance: kill -9 the stage workers and the ClickHouse sink (one `tributary pipelines` process) at
// random points during a 500,000-record run and restart it; ClickHouse holds every record exactly once
// and the rollups equal those computed from the input (what an uninterrupted run produces).
// TRIBUTARY_TEST_SEED=<n> replays a run.
import t from 'tap';
import { seededRandom } from '../../lib/seeded-random.ts';
import { Producer, ProduceAcks, type MessageToProduce } from '@platformatic/kafka';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBroker, removeDir } from '../helpers/broker-process.ts';
import { startClickHouse } from '../helpers/clickhouse.ts';
import { startCli, type CliProcess } from '../helpers/cli-process.ts';
import { until } from '../helpers/collect.ts';

const RECORDS = 500_000;
const PARTITIONS = 3;
const MINUTE = 60_000;
const T0 = Math.floor(Date.now() / MINUTE) * MINUTE - 60 * MINUTE;
const SERVICES = ['api', 'web', 'worker', 'db'];
const SEVERITIES = ['info', 'warn', 'error'];

t.test('500,000 log records, the pipeline killed -9 and restarted: exactly once, rollups exact', async (t) => {
  const seed = Number(process.env.TRIBUTARY_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
  t.comment(`seed ${seed} (TRIBUTARY_TEST_SEED=${seed} replays this run)`);
  const random = seededRandom(seed);
  const broker = await startBroker({ args: ['--num-partitions', String(PARTITIONS)] });
  const clickhouse = await startClickHouse();
  let pipelines: CliProcess | null = null;
  t.teardown(async () => {
    await pipelines?.kill();
    await broker.kill();
    removeDir(broker.dataDir);
    await clickhouse.stop();
  });
  const brokers = `127.0.0.1:${broker.port}`;

  // The input: event time advances through 30 minutes; per partition, records are in time order except
  // for small jitter (out of order within the allowed lateness).
  const expected = new Map<string, number>();
  const producer = new Producer({ clientId: 'crash-input', bootstrapBrokers: [brokers], idempotent: true, acks: ProduceAcks.ALL, autocreateTopics: true });
  const BATCH = 10_000;
  for (let start = 0; start < RECORDS; start += BATCH) {
    const messages: MessageToProduce<Buffer, Buffer, Buffer, Buffer>[] = [];
    for (let i = start; i < start + BATCH; i++) {
      const service = SERVICES[i % SERVICES.length];
      const severity = SEVERITIES[(i * 7) % SEVERITIES.length];
      const timestamp = T0 + Math.floor((i / RECORDS) * 30 * MINUTE) + Math.floor(random() * 5_000);
      const minute = Math.floor(timestamp / MINUTE) * MINUTE;
      const id = `${service}|${severity.toUpperCase()}|${minute}`;
      expected.set(id, (expected.get(id) ?? 0) + 1);
      const value = { timestamp, severityText: severity, body: `record ${i}`, resource: { 'service.name': service, 'host.name': `h${i % 6}` } };
      messages.push({ topic: 'logs.raw', partition: i % PARTITIONS, key: Buffer.from(`h${i % 6}`), value: Buffer.from(JSON.stringify(value)) });
    }
    await producer.send({ messages });
  }
  // One record an hour on in every partition closes every window of the run (it is enriched, but its own window stays open).
  const closer = { timestamp: T0 + 90 * MINUTE, severityText: 'info', body: 'closer', resource: { 'service.name': 'api', 'host.name': 'h0' } };
  await producer.send({ messages: Array.from({ length: PARTITIONS }, (_, p) => ({ topic: 'logs.raw', partition: p, key: Buffer.from('h0'), value: Buffer.from(JSON.stringify(closer)) })) });
  // The other stages need their inputs to exist.
  const point = { timestamp: T0, name: 'noop', type: 'gauge', value: 1, resource: { 'host.name': 'h0' } };
  const pageView = { timestamp: T0, site: 's.example', url: 'https://s.example/', path: '/' };
  await producer.send({ messages: [{ topic: 'metrics.raw', key: Buffer.from('h0'), value: Buffer.from(JSON.stringify(point)) }, { topic: 'pageviews.raw', key: Buffer.from('s.example'), value: Buffer.from(JSON.stringify(pageView)) }] });
  await producer.close();
  const total = RECORDS + PARTITIONS;

  const args = ['pipelines', '--brokers', brokers, '--clickhouse', clickhouse.url, '--metrics-listen', '127.0.0.1:0', '--session-timeout-ms', '6000'];
  const count = async (sql: string) => Number((await clickhouse.query(sql).catch(() => '0')).trim());
  const kills = 3 + Math.floor(random() * 2);
  // Kill points spread over the run: each once that much is loaded, plus a random instant.
  const killAt = Array.from({ length: kills }, () => Math.floor((0.05 + 0.85 * random()) * RECORDS)).sort((a, b) => a - b);
  for (let k = 0; k < kills; k++) {
    pipelines = await startCli(args, /ready: stages/);
    await until(`${killAt[k]} rows loaded`, async () => (await count('SELECT count() FROM logs_enriched')) >= killAt[k], 180_000, () => pipelines!.output().slice(-2000));
    await sleep(Math.floor(random() * 500));
    const loaded = await count('SELECT count() FROM logs_enriched');
    await pipelines.kill();
    t.comment(`kill -9 #${k + 1} with ${loaded} enriched rows loaded`);
  }
  pipelines = await startCli(args, /ready: stages/);
  await until('every record loaded', async () => (await count('SELECT count() FROM logs_enriched')) >= total, 300_000, () => pipelines!.output().slice(-2000));
  await until('every rollup window loaded', async () => (await count('SELECT sum(count) FROM logs_rollup_1m')) >= RECORDS, 120_000);
  await sleep(3_000); // a duplicate would land by now

  t.equal(await count('SELECT count() FROM logs_enriched'), total, 'every record enriched and loaded once');
  t.equal(await count('SELECT uniqExact(body) FROM logs_enriched'), RECORDS + 1, 'no record twice (bodies are unique but the closers)');
  t.equal(await count('SELECT count() FROM (SELECT _partition, _offset FROM logs_enriched GROUP BY _partition, _offset HAVING count() > 1)'), 0, 'no source position twice');
  const rows = (await clickhouse.query(`SELECT service, severity, toUnixTimestamp(minute) * 1000 AS m, sum(count) AS n FROM logs_rollup_1m GROUP BY service, severity, minute FORMAT TSV`)).trim().split('\n');
  const actual = new Map(rows.map((line) => {
    const [service, severity, m, n] = line.split('\t');
    return [`${service}|${severity}|${m}`, Number(n)];
  }));
  let mismatches = 0;
  for (const [id, n] of expected) if (actual.get(id) !== n) mismatches++;
  for (const id of actual.keys()) if (!expected.has(id)) mismatches++;
  t.equal(mismatches, 0, `rollups equal the counts computed from the input (${expected.size} service/severity/minute cells)`);
});
