// Acceptance (golden): a fixed input set of logs, metrics and page views, with out-of-order, late and
// malformed records, goes through every stage into ClickHouse and Prometheus, run by
// `tributary pipelines`; queries return exactly the expected counts, sums, sessions and unique visitors.
import t from 'tap';
import { Producer, ProduceAcks } from '@platformatic/kafka';
import { startBroker, removeDir } from '../helpers/broker-process.ts';
import { startClickHouse } from '../helpers/clickhouse.ts';
import { startPrometheus } from '../helpers/prometheus.ts';
import { startCli, type CliProcess } from '../helpers/cli-process.ts';
import { until } from '../helpers/collect.ts';
import { HyperLogLog, HLL_STANDARD_ERROR } from '../../pipelines/sketches/hyperloglog.ts';

const MINUTE = 60_000;
// Recent enough for Prometheus to accept the samples, minute-aligned so windows are predictable.
const T0 = Math.floor((Date.now() - 30 * MINUTE) / MINUTE) * MINUTE;

const CHROME_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
const SAFARI_IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';

const log = (offsetMs: number, service: string, host: string, severityText: string, body: string) => ({
  key: host,
  value: { timestamp: T0 + offsetMs, severityText, body, resource: { 'service.name': service, 'host.name': host } },
});
const gauge = (offsetMs: number, value: number) => ({
  key: 'h1',
  value: { timestamp: T0 + offsetMs, name: 'cpu.temp', unit: 'Cel', type: 'gauge', value, attributes: { core: '0' }, resource: { 'service.name': 'node', 'host.name': 'h1' } },
});
const view = (offsetMs: number, visitorId: string, path: string, userAgent: string, extra: Record<string, unknown> = {}) => ({
  key: 'shop.example',
  value: { timestamp: T0 + offsetMs, site: 'shop.example', url: `https://shop.example${path}`, path, userAgent, visitorId, ...extra },
});

// Logs: minute 0 has api INFO ×3 and ERROR ×2 (one arriving after a minute-1 record: out of order but
// within the allowed lateness), web WARN ×1; minute 1 api INFO ×4; minute 2 web ERROR ×2. Then a record
// ten minutes on closes those windows, a record for minute 0 arriving after that is late, and one record
// is not JSON at all.
const LOGS = [
  log(1_000, 'api', 'h1', 'info', 'a'), log(2_000, 'api', 'h1', 'info', 'b'), log(3_000, 'api', 'h1', 'error', 'boom'),
  log(61_000, 'api', 'h1', 'info', 'c'), log(4_000, 'api', 'h1', 'error', 'late but allowed'), log(5_000, 'api', 'h1', 'INFO', 'd'),
  log(6_000, 'web', 'h2', 'warning', 'slow'), log(62_000, 'api', 'h1', 'info', 'e'), log(63_000, 'api', 'h1', 'info', 'f'),
  log(64_000, 'api', 'h1', 'info', 'g'), log(121_000, 'web', 'h2', 'error', 'x'), log(122_000, 'web', 'h2', 'ERR', 'y'),
  log(10 * MINUTE, 'api', 'h1', 'info', 'closes the earlier windows'),
  log(7_000, 'api', 'h1', 'error', 'too late'),
];
// Metrics: cpu.temp 10, 20, 30 in minute 0 (30 arriving first), 5 in minute 1; a point ten minutes on closes them.
const METRICS = [gauge(40_000, 30), gauge(0, 10), gauge(20_000, 20), gauge(70_000, 5), gauge(10 * MINUTE, 1)];
// Page views: v1 browses / → /pricing → /signup over 90 s (one session, not a bounce); v2 lands once
// from Google (a bounce); v3 comes from a newsletter (UTM) to /pricing?ref=mail; a bot is enriched but
// counted nowhere; a bot view three hours on moves the watermark past every session; then a late view.
const VIEWS = [
  view(0, 'a1a1a1a1a1a1a1a1', '/', CHROME_WINDOWS),
  view(10_000, 'b2b2b2b2b2b2b2b2', '/', FIREFOX_LINUX, { referrer: 'https://www.google.com/search?q=shop', timeZone: 'Europe/Berlin' }),
  view(30_000, 'a1a1a1a1a1a1a1a1', '/pricing', CHROME_WINDOWS, { referrer: 'https://shop.example/' }),
  view(20_000, 'c3c3c3c3c3c3c3c3', '/pricing?ref=mail', SAFARI_IPHONE, { utm: { source: 'newsletter', medium: 'email', campaign: 'nov' } }),
  view(25_000, 'd4d4d4d4d4d4d4d4', '/', GOOGLEBOT),
  view(90_000, 'a1a1a1a1a1a1a1a1', '/signup', CHROME_WINDOWS, { referrer: 'https://shop.example/pricing' }),
  view(180 * MINUTE, 'e5e5e5e5e5e5e5e5', '/', GOOGLEBOT),
  view(15_000, 'f6f6f6f6f6f6f6f6', '/', CHROME_WINDOWS),
];

t.test('raw topics through every stage into ClickHouse and Prometheus', async (t) => {
  const broker = await startBroker({ args: ['--num-partitions', '1'] });
  const clickhouse = await startClickHouse();
  const prometheus = await startPrometheus();
  let pipelines: CliProcess | null = null;
  t.teardown(async () => {
    await pipelines?.kill();
    await broker.kill();
    removeDir(broker.dataDir);
    await clickhouse.stop();
    await prometheus.stop();
  });
  const brokers = `127.0.0.1:${broker.port}`;
  const producer = new Producer({ clientId: 'golden', bootstrapBrokers: [brokers], idempotent: true, acks: ProduceAcks.ALL, autocreateTopics: true });
  const send = async (topic: string, records: { key: string; value: unknown }[]) => {
    for (const r of records) {
      await producer.send({ messages: [{ topic, key: Buffer.from(r.key), value: Buffer.from(JSON.stringify(r.value)) }] });
    }
  };
  await send('logs.raw', LOGS.slice(0, -1));
  await producer.send({ messages: [{ topic: 'logs.raw', key: Buffer.from('h1'), value: Buffer.from('{not json') }] });
  await send('logs.raw', LOGS.slice(-1));
  await send('metrics.raw', METRICS);
  await send('pageviews.raw', VIEWS);
  await producer.close();

  pipelines = await startCli(
    ['pipelines', '--brokers', brokers, '--clickhouse', clickhouse.url, '--prometheus', prometheus.url, '--metrics-listen', '127.0.0.1:0'],
    /ready: stages/,
  );
  const rows = async (sql: string) => (await clickhouse.query(`${sql} FORMAT JSONEachRow`)).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const count = async (table: string) => Number((await clickhouse.query(`SELECT count() FROM ${table}`).catch(() => '0')).trim());
  await until(
    'every derived table loaded',
    async () => (await count('logs_enriched')) >= 14 && (await count('logs_rollup_1m')) >= 4 && (await count('metrics_rollup_1m')) >= 2 && (await count('pageviews_enriched')) >= 8 && (await count('pageviews_sessions')) >= 3 && (await count('pageviews_rollup_1m')) >= 3,
    90_000,
    () => pipelines!.output().slice(-3000),
  );
  await new Promise((r) => setTimeout(r, 2000)); // anything extra (a duplicate) would have landed by now

  // Logs: every valid record enriched (the late one too: only its rollup window had closed), the malformed one not.
  t.equal(await count('logs_enriched'), 14, 'every valid log record, once');
  t.same(
    await rows(`SELECT severity, count() AS n FROM logs_enriched GROUP BY severity ORDER BY severity`),
    [{ severity: 'ERROR', n: '5' }, { severity: 'INFO', n: '8' }, { severity: 'WARN', n: '1' }],
    'severities normalised to OTel names',
  );
  t.same(
    await rows(`SELECT service, severity, toUnixTimestamp(minute) - ${T0 / 1000} AS m, sum(count) AS n FROM logs_rollup_1m GROUP BY service, severity, minute ORDER BY m, service, severity`),
    [
      { service: 'api', severity: 'ERROR', m: 0, n: '2' },
      { service: 'api', severity: 'INFO', m: 0, n: '3' },
      { service: 'web', severity: 'WARN', m: 0, n: '1' },
      { service: 'api', severity: 'INFO', m: 60, n: '4' },
      { service: 'web', severity: 'ERROR', m: 120, n: '2' },
    ],
    'per-minute counts by service and severity: out-of-order counted, late not, the open window not yet',
  );

  // Metrics: one rollup per minute for the series.
  const metricRows = await rows(`SELECT toUnixTimestamp(minute) - ${T0 / 1000} AS m, sum(count) AS count, sum(sum) AS sum, min(min) AS min, max(max) AS max, argMax(last, last_timestamp) AS last FROM metrics_rollup_1m WHERE name = 'cpu.temp' GROUP BY minute ORDER BY m`);
  t.same(metricRows, [{ m: 0, count: '3', sum: 60, min: 10, max: 30, last: 30 }, { m: 60, count: '1', sum: 5, min: 5, max: 5, last: 5 }], 'count, sum, min, max and last per minute');

  // Page views.
  t.equal(await count('pageviews_enriched'), 8, 'every view enriched, bots and the late one included');
  const [v1] = await rows(`SELECT browser, os, device, referrer_source, is_bot FROM pageviews_enriched WHERE visitor_id = 'a1a1a1a1a1a1a1a1' ORDER BY timestamp LIMIT 1`);
  t.equal(v1.browser, 'Chrome');
  t.equal(v1.os, 'Windows');
  t.equal(v1.device, 'desktop');
  t.same(await rows(`SELECT count() AS bots FROM pageviews_enriched WHERE is_bot = 1`), [{ bots: '2' }], 'bots flagged');
  const [c3] = await rows(`SELECT path, referrer_source, referrer_medium FROM pageviews_enriched WHERE visitor_id = 'c3c3c3c3c3c3c3c3'`);
  t.same(c3, { path: '/pricing', referrer_source: 'newsletter', referrer_medium: 'email' }, 'query stripped from the path; UTM wins');
  const [b2] = await rows(`SELECT referrer_source, referrer_medium, device FROM pageviews_enriched WHERE visitor_id = 'b2b2b2b2b2b2b2b2'`);
  t.equal(b2.referrer_medium, 'organic', 'Google is organic search');
  t.same(await rows(`SELECT visitor_id, country FROM pageviews_enriched WHERE country != ''`), [{ visitor_id: 'b2b2b2b2b2b2b2b2', country: 'DE' }], 'the country comes from the time zone, where one was sent');

  const sessions = await rows(`SELECT visitor_id, page_count, duration_ms, entry_path, exit_path, bounce, referrer_source, referrer_medium FROM pageviews_sessions ORDER BY visitor_id`);
  t.same(
    sessions.map((s) => ({ ...s, duration_ms: Number(s.duration_ms) })),
    [
      { visitor_id: 'a1a1a1a1a1a1a1a1', page_count: 3, duration_ms: 90_000, entry_path: '/', exit_path: '/signup', bounce: 0, referrer_source: 'direct', referrer_medium: '(none)' },
      { visitor_id: 'b2b2b2b2b2b2b2b2', page_count: 1, duration_ms: 0, entry_path: '/', exit_path: '/', bounce: 1, referrer_source: sessions[1]?.referrer_source, referrer_medium: 'organic' },
      { visitor_id: 'c3c3c3c3c3c3c3c3', page_count: 1, duration_ms: 0, entry_path: '/pricing', exit_path: '/pricing', bounce: 1, referrer_source: 'newsletter', referrer_medium: 'email' },
    ],
    'sessions: one of three pages over 90 s, two bounces; bots and the late view make none',
  );
  t.match(sessions[1].referrer_source, /google/i);

  const rollups = await rows(`SELECT path, toUnixTimestamp(minute) - ${T0 / 1000} AS m, sum(views) AS views, groupArray(visitors_hll) AS sketches FROM pageviews_rollup_1m GROUP BY path, minute ORDER BY m, path`);
  t.same(rollups.map((r) => [r.m, r.path, r.views]), [[0, '/', '2'], [0, '/pricing', '2'], [60, '/signup', '1']], 'views per path and minute');
  const minute0 = new HyperLogLog();
  for (const r of rollups.filter((r) => Number(r.m) === 0)) for (const s of r.sketches) minute0.merge(HyperLogLog.fromBase64(s));
  const estimate = minute0.estimate();
  t.ok(Math.abs(estimate - 3) <= 3 * 3 * HLL_STANDARD_ERROR + 0.5, `unique visitors in minute 0 ≈ 3 (estimate ${estimate.toFixed(3)}, within the sketch's error)`);

  // Prometheus: the remote-written rollup, queryable with PromQL.
  let last: any;
  await until('the rollup in Prometheus', async () => {
    last = await prometheus.query('cpu_temp', T0 + 90_000);
    return last.result.length > 0;
  }, 30_000);
  t.equal(Number(last.result[0].value[1]), 30, 'cpu_temp at the end of minute 0 is its last value');
  t.equal(last.result[0].metric.job, 'node');
  t.equal(last.result[0].metric.instance, 'h1');
  const sumOverTime = await prometheus.query('sum_over_time(cpu_temp_count[3m])', T0 + 179_999);
  t.equal(Number(sumOverTime.result[0].value[1]), 4, 'sum of per-minute counts over the first minutes');
  const max = await prometheus.query('cpu_temp_max', T0 + 90_000);
  t.equal(Number(max.result[0].value[1]), 30);
});
