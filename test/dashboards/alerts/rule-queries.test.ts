// Rule queries on a real ClickHouse (18.16 here) and a real Prometheus: results become series with labels and
// numeric values, and every unusable result or failure is an error that says what to fix.
import t from 'tap';
import { createServer } from 'node:http';
import { createClient } from '@clickhouse/client';
import type { AlertRule } from '../../../dashboards/alerts/alert-rule.ts';
import { clickhouseQuery, promqlInstantQuery, ruleQuery } from '../../../dashboards/alerts/rule-queries.ts';
import { startClickHouse } from '../../helpers/clickhouse.ts';
import { startPrometheus } from '../../helpers/prometheus.ts';
import { freePort } from '../../helpers/server-processes.ts';

const [ch, prom] = await Promise.all([startClickHouse(), startPrometheus()]);
const client = createClient({ url: ch.url });
t.teardown(async () => {
  await client.close();
  await Promise.all([ch.stop(), prom.stop()]);
});

const sorted = <T extends { labels: Record<string, string> }>(xs: T[]) => [...xs].sort((a, b) => JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)));

t.test('ClickHouse rows become series: `value` is the value, the other columns labels', async (t) => {
  await ch.query('CREATE TABLE errs (service String, host String, n UInt64) ENGINE = MergeTree() ORDER BY service');
  await ch.query("INSERT INTO errs VALUES ('api', 'h1', 3), ('api', 'h2', 4), ('web', '', 1)");
  const samples = await clickhouseQuery(client, 'SELECT service, host, sum(n) AS value FROM errs GROUP BY service, host', 5_000);
  t.strictSame(sorted(samples), [
    { labels: { host: 'h1', service: 'api' }, value: 3 },
    { labels: { host: 'h2', service: 'api' }, value: 4 },
    { labels: { service: 'web' }, value: 1 },
  ], 'UInt64 (quoted in JSON) read as a number; an empty label is absent, as in Prometheus');
  t.strictSame(await clickhouseQuery(client, 'SELECT 7 AS port, toFloat32(0.5) AS value', 5_000), [{ labels: { port: '7' }, value: 0.5 }], 'a numeric label is its text');
  t.strictSame(await clickhouseQuery(client, "SELECT toDecimal32('1.25', 2) AS value", 5_000), [{ labels: {}, value: 1.25 }]);
  t.strictSame(await clickhouseQuery(client, 'SELECT service, sum(n) AS value FROM errs WHERE 0 GROUP BY service', 5_000), [], 'no rows, no series');
  const [nan] = await clickhouseQuery(client, 'SELECT nan AS value', 5_000);
  t.ok(Number.isNaN(nan.value), 'NaN stays NaN, which never breaches');
  t.strictSame((await clickhouseQuery(client, 'SELECT 1 / 0 AS value UNION ALL SELECT -1 / 0 AS value', 5_000)).map((s) => s.value).sort(), [-Infinity, Infinity]);
  const [nullable] = await clickhouseQuery(client, 'SELECT CAST(NULL AS Nullable(Float64)) AS value', 5_000);
  t.ok(Number.isNaN(nullable.value), 'NULL is NaN');
});

t.test('unusable ClickHouse results and failures are clear errors', async (t) => {
  await t.rejects(clickhouseQuery(client, "SELECT 'a' AS service, 1 AS n", 5_000), /no `value` column \(columns: service, n\).*AS value/);
  await t.rejects(clickhouseQuery(client, "SELECT '5' AS value", 5_000), /the `value` column is String, not a number; convert it/);
  await t.rejects(clickhouseQuery(client, 'SELECT count() , 1 AS value FROM errs', 5_000), /column "count\(\)" is not a valid label name; give it an alias/);
  await t.rejects(clickhouseQuery(client, 'SELECT value FROM no_such_table', 5_000), /ClickHouse query failed: .*no_such_table/);
  await t.rejects(clickhouseQuery(client, 'SELECT sleep(3) AS value', 300), /ClickHouse query failed: no answer within 300 ms/);
});

t.test('PromQL: vectors without __name__, scalars, non-finite values', async (t) => {
  const now = Date.now();
  t.strictSame(await promqlInstantQuery(prom.url, 'label_replace(vector(3), "instance", "h1", "", "")', now, 5_000), [{ labels: { instance: 'h1' }, value: 3 }]);
  // `up` of Prometheus scraping nothing is empty; a metric name is dropped from the labels.
  t.strictSame(await promqlInstantQuery(prom.url, 'up', now, 5_000), []);
  t.strictSame(await promqlInstantQuery(prom.url, 'label_replace(vector(2), "__name__", "m", "", "")', now, 5_000), [{ labels: {}, value: 2 }]);
  t.strictSame(await promqlInstantQuery(prom.url, 'scalar(vector(4.5))', now, 5_000), [{ labels: {}, value: 4.5 }], 'a scalar is one series without labels');
  t.strictSame((await promqlInstantQuery(prom.url, 'vector(1) / 0', now, 5_000)).map((s) => s.value), [Infinity]);
  t.strictSame((await promqlInstantQuery(prom.url, '-vector(1) / 0', now, 5_000)).map((s) => s.value), [-Infinity]);
  t.ok(Number.isNaN((await promqlInstantQuery(prom.url, 'vector(0) / 0', now, 5_000))[0].value));
  t.strictSame(await promqlInstantQuery(prom.url, 'time()', 1_700_000_000_000, 5_000), [{ labels: {}, value: 1_700_000_000 }], 'evaluated at the given time');
});

t.test('PromQL results an alert cannot use, and failures, are clear errors', async (t) => {
  const now = Date.now();
  await t.rejects(promqlInstantQuery(prom.url, 'vector(1)[1m:]', now, 5_000), /returns a range vector \(matrix\); an alert rule needs an instant vector/);
  await t.rejects(promqlInstantQuery(prom.url, '"text"', now, 5_000), /returns a string; an alert rule needs an instant vector or a scalar/);
  await t.rejects(promqlInstantQuery(prom.url, 'sum(', now, 5_000), /Prometheus rejected the query \(400, bad_data\): .*parse error/);
  const closed = await freePort();
  await t.rejects(promqlInstantQuery(`http://127.0.0.1:${closed}`, 'vector(1)', now, 5_000), new RegExp(`Prometheus at http://127.0.0.1:${closed} did not answer: fetch failed: .*ECONNREFUSED`));
  // A server that accepts the request and never answers.
  const silent = createServer(() => {});
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { silent.closeAllConnections(); silent.close(() => resolve()); }));
  const port = (silent.address() as { port: number }).port;
  await t.rejects(promqlInstantQuery(`http://127.0.0.1:${port}`, 'vector(1)', now, 200), /did not answer: no answer within 200 ms/);
});

t.test('ruleQuery picks the source by kind and names what is not configured', async (t) => {
  const rule = (kind: AlertRule['kind'], expr: string): AlertRule => ({
    name: 'R', kind, expr, threshold: { op: '>', value: 0 }, forMs: 0, labels: {}, annotations: {}, group: 'g', file: 'g.yaml',
  });
  const both = ruleQuery({ prometheusUrl: prom.url, clickhouse: client }, () => Date.now());
  t.strictSame(await both(rule('promql', 'vector(1)')), [{ labels: {}, value: 1 }]);
  t.strictSame(await both(rule('clickhouse', 'SELECT 2 AS value')), [{ labels: {}, value: 2 }]);
  const none = ruleQuery({}, () => Date.now());
  await t.rejects(none(rule('promql', 'vector(1)')), /no Prometheus is configured for PromQL rules \(set prometheusUrl\)/);
  await t.rejects(none(rule('clickhouse', 'SELECT 1 AS value')), /no ClickHouse is configured for ClickHouse rules \(set clickhouseUrl\)/);
});
