// The dashboards HTTP API against a real ClickHouse (18.16 here) and a real Prometheus fed by remote write:
// every panel answer equals what a direct query of the same data returns; bad input is a 4xx with its
// reason; injection attempts in every text variable change neither results nor the database; a failing
// upstream is a 502 with its message; the UI bundle, /metrics, /health and /api/alerts are served.
import t from 'tap';
import { createClient } from '@clickhouse/client';
import type { AlertsView } from '../../dashboards/alerts/alerts-view.ts';
import { startDashboards, type RunningDashboards } from '../../dashboards/server.ts';
import { HyperLogLog } from '../../pipelines/sketches/hyperloglog.ts';
import { startClickHouse } from '../helpers/clickhouse.ts';
import { startPrometheus } from '../helpers/prometheus.ts';
import { freePort } from '../helpers/server-processes.ts';
import { baseMinute, databaseFingerprint, MINUTES, seedClickHouse, seedPrometheus } from './dashboard-data.ts';

const [ch, prom] = await Promise.all([startClickHouse(), startPrometheus()]);
const client = createClient({ url: ch.url });
const now = Date.now();
const base = baseMinute(now);
const seeded = await seedClickHouse(ch, client, base);
await seedPrometheus(prom, now);
await client.close();

const dash = await startDashboards({ port: 0, clickhouseUrl: ch.url, prometheusUrl: prom.url, brokers: [] });
t.teardown(async () => {
  await dash.close();
  await Promise.all([ch.stop(), prom.stop()]);
});

// The seeded minutes, whole: [base - 29 min, base + 1 min).
const FROM = base - (MINUTES - 1) * 60_000;
const TO = base + 60_000;

async function api(server: RunningDashboards, path: string): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(new URL(path, server.url));
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body, headers: res.headers };
}

const panel = (d: string, p: string, params: Record<string, string | number> = {}) =>
  api(dash, `/api/dashboards/${d}/panels/${p}?${new URLSearchParams(Object.entries({ from: FROM, to: TO, step: 60, ...params }).map(([k, v]): [string, string] => [k, String(v)]))}`);

async function sql(query: string): Promise<any[]> {
  const text = await ch.query(`${query} FORMAT JSONEachRow`);
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}
const range = `toDateTime(${FROM / 1000}) AND toDateTime(${TO / 1000 - 1})`;

t.test('definitions', async (t) => {
  const list = await api(dash, '/api/dashboards');
  t.same(list.body.map((d: { id: string }) => d.id), ['hosts', 'logs', 'pipeline-health', 'web-analytics']);
  const logs = await api(dash, '/api/dashboards/logs');
  t.equal(logs.status, 200);
  t.same(logs.body.variables.map((v: { name: string }) => v.name), ['service', 'severity', 'host', 'text']);
  const missing = await api(dash, '/api/dashboards/nope');
  t.equal(missing.status, 404);
  t.equal(missing.body.code, 'UNKNOWN_DASHBOARD');
  t.match(missing.body.message, /no dashboard "nope"/);
});

t.test('logs panels equal direct ClickHouse queries', async (t) => {
  const errors = await panel('logs', 'errors');
  t.equal(errors.status, 200, JSON.stringify(errors.body));
  const [{ n }] = await sql(`SELECT toUInt64(sum(count)) AS n FROM logs_rollup_1m WHERE severity IN ('ERROR', 'FATAL') AND minute BETWEEN ${range}`);
  t.equal(errors.body.data.kind, 'stat');
  t.equal(errors.body.data.value, Number(n));
  t.ok(Number(n) > 0, 'the stat is not trivially zero');

  const volume = (await panel('logs', 'volume')).body.data;
  t.equal(volume.kind, 'series');
  t.equal(volume.axis, 'time');
  const perSeverity = await sql(`SELECT severity, toUInt64(sum(count)) AS n, count(DISTINCT minute) AS points FROM logs_rollup_1m WHERE minute BETWEEN ${range} GROUP BY severity ORDER BY severity`);
  t.same(volume.series.map((s: { name: string }) => s.name).sort(), perSeverity.map((r) => r.severity), 'one series per severity');
  for (const row of perSeverity) {
    const s = volume.series.find((x: { name: string }) => x.name === row.severity);
    t.equal(s.values.reduce((a: number, v: number | null) => a + (v ?? 0), 0), Number(row.n), `${row.severity} total`);
    t.equal(s.values.filter((v: number | null) => v !== null).length, Number(row.points), `${row.severity} points`);
  }
  t.equal(volume.x.length, MINUTES, 'one x per seeded minute');
  t.same(volume.x, [...volume.x].sort((a: number, b: number) => a - b), 'x ascending');
  t.equal(volume.x[volume.x.length - 1], base / 1000, 'x in unix seconds, UTC');

  const lines = (await panel('logs', 'lines', { 'var.service': 'api', 'var.text': 'DISK' })).body.data;
  const direct = await sql(`SELECT service, host, body FROM logs_enriched WHERE time BETWEEN ${range} AND service = 'api' AND positionCaseInsensitiveUTF8(body, 'disk') > 0 ORDER BY time DESC, timestamp DESC`);
  t.equal(lines.kind, 'table');
  t.same(lines.columns, ['time', 'service', 'host', 'severity', 'body', 'trace_id']);
  t.ok(direct.length > 0);
  t.same(lines.rows.map((r: unknown[]) => [r[1], r[2], r[4]]), direct.map((r) => [r.service, r.host, r.body]));

  const byService = (await panel('logs', 'by-service')).body.data;
  const counts = await sql(`SELECT service, count() AS n FROM logs_enriched WHERE time BETWEEN ${range} GROUP BY service ORDER BY n DESC, service`);
  t.equal(byService.axis, 'category');
  t.same(byService.x, counts.map((r) => r.service));
  t.same(byService.series[0].values, counts.map((r) => Number(r.n)));

  const severity = (await panel('logs', 'volume', { 'var.severity': 'ERROR' })).body.data;
  t.same(severity.series.map((s: { name: string }) => s.name), ['ERROR'], 'a select variable filters');
});

t.test('web analytics: views, and visitors merged from real HyperLogLog sketches', async (t) => {
  const total = (await panel('web-analytics', 'total-views', { 'var.site': 'shop.example' })).body.data;
  const [{ views }] = await sql(`SELECT toUInt64(sum(views)) AS views FROM pageviews_rollup_1m WHERE minute BETWEEN ${range}`);
  t.equal(total.value, Number(views));

  const all = new HyperLogLog();
  for (const v of seeded.visitors) for (const id of v.ids) all.add(id);
  const distinct = new Set(seeded.visitors.flatMap((v) => v.ids)).size;
  const visitors = (await panel('web-analytics', 'total-visitors')).body.data;
  t.equal(visitors.kind, 'stat');
  t.equal(visitors.value, Math.round(all.estimate()), 'the sketches of every row merged');
  t.ok(Math.abs(visitors.value - distinct) <= 1, `close to the ${distinct} distinct ids (got ${visitors.value})`);

  // Hourly buckets: each is the union of its minutes' sketches, not their sum.
  const hourly = (await panel('web-analytics', 'visitors', { step: 3600 })).body.data;
  const expected = new Map<number, HyperLogLog>();
  for (const v of seeded.visitors) {
    const bucket = Math.floor(v.minute / 3_600_000) * 3600;
    const h = expected.get(bucket) ?? new HyperLogLog();
    for (const id of v.ids) h.add(id);
    expected.set(bucket, h);
  }
  t.same(hourly.x, [...expected.keys()].sort((a, b) => a - b));
  t.same(hourly.series[0].values, hourly.x.map((x: number) => Math.round(expected.get(x)!.estimate())));
  t.equal(hourly.series[0].name, 'visitors');

  const bounce = (await panel('web-analytics', 'bounce-rate')).body.data;
  const [b] = await sql(`SELECT sum(bounce) / count() AS rate, avg(duration_ms) / 1000 AS secs FROM pageviews_sessions WHERE start BETWEEN ${range}`);
  t.equal(bounce.value, b.rate);
  t.same(bounce.fields.map((f: { name: string }) => f.name), ['bounce_rate', 'avg_duration_seconds']);
  t.equal(bounce.fields[1].value, b.secs);

  const top = (await panel('web-analytics', 'top-pages')).body.data;
  const pages = await sql(`SELECT path, toUInt64(sum(views)) AS views FROM pageviews_rollup_1m WHERE minute BETWEEN ${range} GROUP BY path ORDER BY views DESC, path`);
  t.same(top.rows, pages.map((r) => [r.path, Number(r.views)]));

  const empty = (await panel('web-analytics', 'views', { 'var.site': 'no-such-site' })).body.data;
  t.same(empty, { kind: 'series', axis: 'time', x: [], series: [] }, 'no rows: an empty series');
});

t.test('Prometheus panels equal direct queries', async (t) => {
  const from = now - 10 * 60_000;
  const to = now;
  const args = { from, to, step: 30 };
  const cpu = await panel('hosts', 'cpu', args);
  t.equal(cpu.status, 200, JSON.stringify(cpu.body));
  const q = '1 - avg by (instance) (system_cpu_utilization{state="idle", instance=~".*.*"})';
  const direct = await prom.queryRange(q, Math.floor(from / 1000) * 1000, Math.ceil(to / 1000) * 1000, 30_000);
  t.equal(cpu.body.data.series.length, 2);
  t.same(cpu.body.data.series.map((s: { name: string }) => s.name), ['web-1', 'web-2']);
  for (const s of direct.result) {
    const got = cpu.body.data.series.find((x: { name: string }) => x.name === s.metric.instance);
    t.same(got.values.filter((v: number | null) => v !== null), s.values.map(([, v]: [number, string]) => Number(v)), `${s.metric.instance} values`);
  }
  t.same(cpu.body.data.x, direct.result[0].values.map(([ts]: [number]) => ts));

  const web1 = (await panel('hosts', 'cpu', { ...args, 'var.host': 'web-1' })).body.data;
  t.same(web1.series.map((s: { name: string }) => s.name), ['web-1'], 'the host variable filters');

  const fs = (await panel('hosts', 'filesystems', args)).body.data;
  const instant = await prom.query('max by (instance, mountpoint) (system_filesystem_utilization{instance=~".*.*"})', Math.ceil(to / 1000) * 1000);
  t.equal(fs.kind, 'table');
  t.same(fs.columns, ['instance', 'mountpoint', 'value']);
  t.equal(fs.rows.length, instant.result.length);
  for (const r of instant.result) t.ok(fs.rows.some((row: unknown[]) => row[0] === r.metric.instance && row[1] === r.metric.mountpoint && row[2] === Number(r.value[1])), `${r.metric.instance} ${r.metric.mountpoint}`);

  const backpressure = (await panel('pipeline-health', 'agent-backpressure', args)).body.data;
  const sum = await prom.query('sum(tributary_agent_backpressure)', Math.ceil(to / 1000) * 1000);
  t.equal(backpressure.value, Number(sum.result[0].value[1]));
  t.equal(backpressure.value, 1);
});

t.test('bad input is a 4xx with the reason', async (t) => {
  const cases: [string, number, string | RegExp][] = [
    ['/api/dashboards/nope/panels/x?from=0&to=1', 404, 'UNKNOWN_DASHBOARD'],
    ['/api/dashboards/logs/panels/nope?from=0&to=1000', 404, 'UNKNOWN_PANEL'],
    [`/api/dashboards/logs/panels/errors?from=${TO}&to=${FROM}`, 400, 'INVALID_TIME_RANGE'],
    [`/api/dashboards/logs/panels/errors?from=0&to=${TO}`, 400, 'INVALID_TIME_RANGE'],
    [`/api/dashboards/logs/panels/errors?from=${FROM}&to=${TO}&step=0`, 400, 'INVALID_TIME_RANGE'],
    [`/api/dashboards/logs/panels/errors?from=${FROM}&to=${TO}&step=1`, 200, ''],
    [`/api/dashboards/logs/panels/errors?from=yesterday&to=${TO}`, 400, 'INVALID_REQUEST'],
    [`/api/dashboards/logs/panels/errors?from=${FROM}`, 400, 'INVALID_REQUEST'],
    [`/api/dashboards/logs/panels/errors?from=1.5&to=${TO}`, 400, 'INVALID_REQUEST'],
    [`/api/dashboards/logs/panels/errors?from=${FROM}&to=${TO}&var.nope=1`, 400, 'UNKNOWN_VARIABLE'],
    [`/api/dashboards/logs/panels/errors?from=${FROM}&to=${TO}&service=api`, 400, 'UNKNOWN_PARAMETER'],
    [`/api/dashboards/logs/panels/errors?from=${FROM}&to=${TO}&var.severity=LOUD`, 400, 'INVALID_VALUE'],
    [`/api/dashboards/logs/panels/errors?from=${FROM}&to=${TO}&var.service=a&var.service=b`, 400, 'INVALID_VALUE'],
  ];
  for (const [path, status, code] of cases) {
    const res = await api(dash, path);
    const what = path.slice(0, 120);
    t.equal(res.status, status, `${what}: ${JSON.stringify(res.body).slice(0, 200)}`);
    if (status !== 200) {
      t.equal(res.body.code, code, what);
      t.ok(typeof res.body.message === 'string' && res.body.message.length > 5, `${what}: a reason (${res.body.message})`);
    }
  }
  // Node refuses a URL longer than its 16 KiB header limit before any route runs; still a 4xx with a reason.
  const huge = await api(dash, `/api/dashboards/logs/panels/errors?from=${FROM}&to=${TO}&var.service=${'x'.repeat(70_000)}`);
  t.equal(huge.status, 431);
  t.match(huge.body.message, /header size/);
});

const PAYLOADS = [
  "' OR 1=1 --",
  "') OR ('1'='1",
  "\\' OR 1=1 --",
  "'; DROP TABLE logs_enriched; --",
  "' UNION ALL SELECT name FROM system.tables --",
  '"} or vector(1) #',
  '.*',
  "x\n' OR 1=1\n--",
  '\0',
  '${service}',
];

t.test('injection attempts in every text variable: same answers as a non-matching value, database unchanged', async (t) => {
  const before = await databaseFingerprint(ch);
  for (const id of ['logs', 'web-analytics', 'hosts', 'pipeline-health']) {
    const d = (await api(dash, `/api/dashboards/${id}`)).body as { variables: { name: string; kind: string }[]; panels: { id: string; source: string }[] };
    const range: Record<string, number> = d.panels.some((p) => p.source === 'prometheus') ? { from: now - 10 * 60_000, to: now, step: 30 } : {};
    for (const v of d.variables.filter((x) => x.kind === 'text')) {
      const baseline = new Map<string, unknown>();
      for (const p of d.panels) baseline.set(p.id, (await panel(id, p.id, { ...range, [`var.${v.name}`]: 'no-such-value' })).body.data);
      for (const payload of PAYLOADS) {
        for (const p of d.panels) {
          const res = await panel(id, p.id, { ...range, [`var.${v.name}`]: payload });
          t.equal(res.status, 200, `${id}/${p.id} ${v.name}=${JSON.stringify(payload)}: ${JSON.stringify(res.body).slice(0, 200)}`);
          // PromQL regex matchers escape the value: '.*' must match nothing, like any other absent text.
          t.same(res.body.data, baseline.get(p.id), `${id}/${p.id} ${v.name}=${JSON.stringify(payload)}`);
        }
      }
    }
  }
  t.equal(await databaseFingerprint(ch), before, 'tables and row counts unchanged');
});

t.test('a failing upstream is a 502 with its message', async (t) => {
  const down = await startDashboards({ port: 0, clickhouseUrl: `http://127.0.0.1:${await freePort()}`, prometheusUrl: `http://127.0.0.1:${await freePort()}` });
  t.teardown(() => down.close());
  for (const [d, p, params] of [['logs', 'errors', {}], ['hosts', 'cpu', { from: now - 600_000, to: now }]] as const) {
    const res = await api(down, `/api/dashboards/${d}/panels/${p}?${new URLSearchParams({ from: String(FROM), to: String(TO), ...Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])) })}`);
    t.equal(res.status, 502, JSON.stringify(res.body));
    t.equal(res.body.code, 'UPSTREAM_ERROR');
    t.match(res.body.message, /^(clickhouse|prometheus): .*(ECONNREFUSED|fetch failed|connect)/i);
  }
  const metrics = await (await fetch(new URL('/metrics', down.url))).text();
  t.match(metrics, /tributary_dashboards_panel_query_errors_total\{dashboard="logs",panel="errors",source="clickhouse",reason="upstream"\} 1/);
});

t.test('alerts: 404 without a scheduler, its view with one', async (t) => {
  const none = await api(dash, '/api/alerts');
  t.equal(none.status, 404);
  t.equal(none.body.code, 'ALERTS_NOT_CONFIGURED');
  const view: AlertsView = {
    rules: [{ name: 'HighErrorRate', group: 'logs', kind: 'clickhouse', expr: 'SELECT 1 AS value', threshold: { op: '>', value: 0 }, forMs: 60_000, labels: { severity: 'page' }, annotations: {}, health: 'ok', lastError: null, lastEvaluatedAt: now, state: 'inactive', alerts: [] }],
    history: [],
  };
  const withAlerts = await startDashboards({ port: 0, alerts: { view: async () => view } });
  t.teardown(() => withAlerts.close());
  const res = await api(withAlerts, '/api/alerts');
  t.equal(res.status, 200);
  t.same(res.body, view);
});

t.test('the UI, its bundle, /health and /metrics', async (t) => {
  const page = await api(dash, '/');
  t.equal(page.status, 200);
  t.match(page.headers.get('content-type'), /text\/html/);
  const js = /src="(\/assets\/app\.[0-9a-f]{12}\.js)"/.exec(page.body)?.[1];
  const css = /href="(\/assets\/app\.[0-9a-f]{12}\.css)"/.exec(page.body)?.[1];
  t.ok(js && css, 'hashed asset names in the page');
  const script = await api(dash, js!);
  t.equal(script.status, 200);
  t.match(script.headers.get('cache-control'), /immutable/);
  t.match(script.headers.get('content-type'), /javascript/);
  const style = await api(dash, css!);
  t.match(style.body, /\.uplot/, "uPlot's CSS is in the bundle");
  t.match(style.body, /data-state/, 'and ours');
  t.equal((await api(dash, '/assets/app.000000000000.js')).status, 404);

  const health = await api(dash, '/health');
  t.same(health.body, { status: 'ok', dashboards: 4, clickhouse: 'configured', prometheus: 'configured', brokers: 'absent', alerts: 'absent' });
  const metrics = await api(dash, '/metrics');
  t.match(metrics.body, /tributary_dashboards_requests_total\{route="\/api\/dashboards\/:id\/panels\/:panel",status="200"\} \d+/);
  t.match(metrics.body, /tributary_dashboards_requests_total\{route="\/api\/dashboards\/:id\/panels\/:panel",status="400"\} \d+/);
  t.match(metrics.body, /tributary_dashboards_panel_query_seconds_count\{dashboard="logs",panel="errors",source="clickhouse"\} \d+/);
  t.match(metrics.body, /tributary_dashboards_active_tails 0/);
  t.equal((await api(dash, '/api/logs/tail')).status, 503, 'no broker: the tail says so');
});

t.test('panel queries cannot write, even from a bad definition file', async (t) => {
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'tributary-defs-'));
  writeFileSync(
    join(dir, 'writes.yaml'),
    [
      'title: Writes',
      'description: a definition that tries to change the database',
      'panels:',
      '  - { id: drop, title: Drop, source: clickhouse, visualisation: table, query: "DROP TABLE logs_enriched" }',
      '  - { id: insert, title: Insert, source: clickhouse, visualisation: table, query: "INSERT INTO logs_rollup_1m (service) VALUES (\'x\')" }',
      '  - { id: create, title: Create, source: clickhouse, visualisation: table, query: "CREATE TABLE intruder (x String) ENGINE = Memory" }',
    ].join('\n'),
  );
  const writes = await startDashboards({ port: 0, clickhouseUrl: ch.url, definitionsDir: dir, brokers: [] });
  t.teardown(async () => {
    await writes.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const before = await databaseFingerprint(ch);
  for (const id of ['drop', 'insert', 'create']) {
    const res = await api(writes, `/api/dashboards/writes/panels/${id}?from=${FROM}&to=${TO}`);
    t.equal(res.status, 502, `${id} is refused by ClickHouse`);
    t.match(JSON.stringify(res.body), /readonly/i, `${id}: ClickHouse says why`);
  }
  t.same(await databaseFingerprint(ch), before, 'no table or row changed');
});
