// Injection attempts against a real ClickHouse (18.16 here): every shipped ClickHouse panel, with every text
// variable set to a hostile value, runs, returns what a plain non-matching value returns (no rows, or
// zeros), and leaves every table as it was; and a hostile value stored in a row matches exactly that row,
// so the value reached the server as one literal, unchanged.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { createClient } from '@clickhouse/client';
import { loadDashboards, type DashboardDefinition } from '../../dashboards/definitions-loader.ts';
import { buildQuery, QueryBuildError, type TimeRange } from '../../dashboards/query-builder.ts';
import { migrate } from '../../pipelines/sinks/clickhouse/migrations.ts';
import { MIGRATIONS } from '../../pipelines/sinks/clickhouse/schema.ts';
import { startClickHouse } from '../helpers/clickhouse.ts';

const ch = await startClickHouse();
const client = createClient({ url: ch.url });
t.teardown(async () => {
  await client.close();
  await ch.stop();
});
await migrate(client, MIGRATIONS);

const definitions = fileURLToPath(new URL('../../dashboards/definitions', import.meta.url));
const dashboards = loadDashboards(definitions).filter((d) => d.panels.some((p) => p.source === 'clickhouse'));
const RANGE: TimeRange = { fromMs: Date.UTC(2026, 0, 1, 11), toMs: Date.UTC(2026, 0, 1, 13), stepSeconds: 60 };
const AT = '2026-01-01 12:00:00';

const PAYLOADS = [
  "' OR 1=1 --",
  "' OR '1'='1",
  "') OR ('1'='1",
  '\\',
  "\\'",
  "\\' OR 1=1 --",
  "\\\\' OR 1=1 --",
  "'; DROP TABLE logs_enriched; --",
  "' UNION ALL SELECT name FROM system.tables --",
  "1' AND sleep(3) AND '1'='1",
  '"} or vector(1) #',
  '/* */ OR 1=1',
  '`',
  'a\nb',
  "x\n' OR 1=1\n--",
  "\r\n' OR '1'='1",
  '\0',
  "nul\0' OR 1=1 --",
  '\x07\x0b\x1b[31m\x7f',
  'ünïcödé 日本語 🎉 \u2028\u2029',
  "\u02bc OR 1=1 -- \uff07 OR 1=1",
  '${service}',
  '%_*',
  'x'.repeat(10 * 1024),
  "'".repeat(10 * 1024),
  '\\'.repeat(10 * 1024 + 1),
];

/** A test name for a payload: ASCII only, as TAP's parser splits lines on U+2028 and friends. */
const label = (payload: string) => JSON.stringify(payload.slice(0, 40)).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

async function rows(query: string): Promise<unknown[]> {
  const text = await ch.query(`${query}\nFORMAT JSONEachRow`);
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
}

async function insert(table: string, values: object[]): Promise<void> {
  await ch.query(`INSERT INTO ${table} FORMAT JSONEachRow\n${values.map((v) => JSON.stringify(v)).join('\n')}`);
}

/** Every table's full content, and the list of tables and databases: what an injection could change. */
async function snapshot(): Promise<string> {
  const tables = (await rows("SELECT database, name FROM system.tables WHERE database NOT IN ('system') ORDER BY database, name")) as { database: string; name: string }[];
  const databases = await rows('SELECT name FROM system.databases ORDER BY name');
  const parts: unknown[] = [tables, databases];
  for (const { database, name } of tables) parts.push((await rows(`SELECT * FROM \`${database}\`.\`${name}\``)).map((r) => JSON.stringify(r)).sort());
  return JSON.stringify(parts);
}

const position = (topic: string, offset: number) => ({ _topic: topic, _partition: 0, _offset: offset });
await insert('logs_enriched', [
  { ...position('logs.enriched', 0), time: AT, timestamp: RANGE.fromMs + 3_600_000, service: 'api', host: 'web-1', severity: 'INFO', severity_number: 9, body: 'request served' },
  { ...position('logs.enriched', 1), time: AT, timestamp: RANGE.fromMs + 3_600_001, service: 'api', host: 'web-2', severity: 'ERROR', severity_number: 17, body: 'disk full' },
  { ...position('logs.enriched', 2), time: AT, timestamp: RANGE.fromMs + 3_600_002, service: 'worker', host: 'web-1', severity: 'WARN', severity_number: 13, body: 'slow job' },
]);
await insert('logs_rollup_1m', [
  { ...position('logs.rollup.1m', 0), minute: AT, service: 'api', severity: 'INFO', count: 1 },
  { ...position('logs.rollup.1m', 1), minute: AT, service: 'api', severity: 'ERROR', count: 1 },
  { ...position('logs.rollup.1m', 2), minute: AT, service: 'worker', severity: 'WARN', count: 1 },
]);
await insert('pageviews_rollup_1m', [
  { ...position('pageviews.rollup.1m', 0), minute: AT, site: 'example.com', path: '/', views: 3, visitors_hll: 'AAAA' },
  { ...position('pageviews.rollup.1m', 1), minute: AT, site: 'example.com', path: '/about', views: 1, visitors_hll: 'AAAB' },
]);
await insert('pageviews_enriched', [
  { ...position('pageviews.enriched', 0), time: AT, site: 'example.com', path: '/', url: 'https://example.com/', browser: 'Firefox', device: 'desktop', language: 'en', referrer_source: 'Google', visitor_id: 'v1' },
  { ...position('pageviews.enriched', 1), time: AT, site: 'example.com', path: '/about', url: 'https://example.com/about', browser: 'Chrome', device: 'mobile', language: 'de', visitor_id: 'v2' },
]);
await insert('pageviews_sessions', [
  { ...position('pageviews.sessions', 0), start: AT, site: 'example.com', visitor_id: 'v1', session_id: 's1', page_count: 2, entry_path: '/', exit_path: '/about', bounce: 0, duration_ms: 30_000 },
  { ...position('pageviews.sessions', 1), start: AT, site: 'example.com', visitor_id: 'v2', session_id: 's2', page_count: 1, entry_path: '/about', exit_path: '/about', bounce: 1, duration_ms: 0 },
]);

const clickhousePanels = (d: DashboardDefinition) => d.panels.filter((p) => p.source === 'clickhouse');
const textVariables = (d: DashboardDefinition) => d.variables.filter((v) => v.kind === 'text').map((v) => v.name);

/** Every panel's rows for these values. */
async function results(d: DashboardDefinition, values: Record<string, string>): Promise<Map<string, unknown[]>> {
  const out = new Map<string, unknown[]>();
  for (const p of clickhousePanels(d)) out.set(p.id, await rows(buildQuery(p, d.variables, values, RANGE).query));
  return out;
}

/** The variable combinations to try a value in: each text variable alone, then all at once. */
function combinations(d: DashboardDefinition, value: string): Record<string, string>[] {
  const names = textVariables(d);
  return [...names.map((n) => ({ [n]: value })), Object.fromEntries(names.map((n) => [n, value]))];
}

const before = await snapshot();

t.test('every shipped ClickHouse panel runs, and finds the sample data', async (t) => {
  const logs = dashboards.find((d) => d.id === 'logs')!;
  const all = await results(logs, {});
  t.equal(all.get('lines')!.length, 3);
  t.same(await rows(buildQuery(logs.panels.find((p) => p.id === 'lines')!, logs.variables, { service: 'api', text: 'DISK' }, RANGE).query).then((r) => r.length), 1, 'filters apply');
  t.same(all.get('errors'), [{ count: '1' }]);
  const web = dashboards.find((d) => d.id === 'web-analytics')!;
  const site = await results(web, { site: 'example.com' });
  t.same(site.get('total-views'), [{ views: '4' }]);
  t.equal(site.get('total-visitors')!.length, 2, 'one sketch per rollup row, for our code to merge');
  t.same(site.get('bounce-rate'), [{ bounce_rate: 0.5, avg_duration_seconds: 15 }]);
  for (const d of dashboards) for (const [id, r] of await results(d, {})) t.type(r, Array, `${d.id}/${id} ran`);
});

for (const d of dashboards) {
  t.test(`${d.id}: injection attempts match nothing and change nothing`, async (t) => {
    const baselines = new Map<string, Map<string, unknown[]>>();
    for (const values of combinations(d, 'no-such-value')) baselines.set(Object.keys(values).join(), await results(d, values));
    for (const [key, baseline] of baselines) {
      for (const p of clickhousePanels(d)) {
        const filtered = key.split(',').some((name) => p.query.includes(`\${${name}}`));
        if (p.visualisation !== 'stat' && filtered) t.same(baseline.get(p.id), [], `${d.id}/${p.id} [${key}]: a non-matching value gives no rows`);
      }
    }
    for (const payload of PAYLOADS) {
      for (const values of combinations(d, payload)) {
        const key = Object.keys(values).join();
        const got = await results(d, values);
        t.same(got, baselines.get(key), `${label(payload)} in [${key}]`);
      }
    }
    t.equal(await snapshot(), before, 'every table unchanged');
  });
}

t.test('a select variable refuses values it does not offer', async (t) => {
  const logs = dashboards.find((d) => d.id === 'logs')!;
  for (const payload of PAYLOADS) {
    t.throws(() => buildQuery(logs.panels[0], logs.variables, { severity: payload }, RANGE), QueryBuildError);
  }
});

t.test('a hostile value stored in a row matches exactly that row', async (t) => {
  const logs = dashboards.find((d) => d.id === 'logs')!;
  const lines = logs.panels.find((p) => p.id === 'lines')!;
  await insert('logs_enriched', PAYLOADS.map((payload, i) => ({
    ...position('logs.enriched', 100 + i), time: AT, service: payload, host: payload, severity: 'INFO', body: `before ${payload} after`,
  })));
  for (const payload of PAYLOADS) {
    for (const values of [{ service: payload }, { host: payload }, { service: payload, host: payload, text: payload }]) {
      const got = (await rows(buildQuery(lines, logs.variables, values, RANGE).query)) as { service: string }[];
      // Payloads that are substrings of one another ('\\' in '\\'', …) may match several rows by text; by
      // service or host, only the one row.
      t.same(got.map((r) => r.service), [payload], `${label(payload)} as ${Object.keys(values).join()}`);
    }
  }
});
