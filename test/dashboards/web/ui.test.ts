// The dashboards UI in headless Chromium (Debian's package, driven by playwright-core) against the real server,
// with real ClickHouse, Prometheus and broker data: every view renders non-empty panels whose numbers equal
// direct queries; range and variables live in the URL (reload and back restore them); the live tail shows a
// record produced while watching; the Alerts view shows the rules. Screenshots go to test/artifacts/dashboards/
// (ignored by git), printed as a comment.
import t from 'tap';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import { ProduceAcks, Producer } from '@platformatic/kafka';
import { chromium, type Page } from 'playwright-core';
import type { AlertsView } from '../../../dashboards/alerts/alerts-view.ts';
import { startDashboards } from '../../../dashboards/server.ts';
import { HyperLogLog } from '../../../pipelines/sketches/hyperloglog.ts';
import { createTopics } from '../../helpers/admin.ts';
import { removeDir, repoRoot, startBroker } from '../../helpers/broker-process.ts';
import { startClickHouse } from '../../helpers/clickhouse.ts';
import { startPrometheus } from '../../helpers/prometheus.ts';
import { baseMinute, seedClickHouse, seedPrometheus } from '../dashboard-data.ts';

const artifacts = join(repoRoot, 'test/artifacts/dashboards');
mkdirSync(artifacts, { recursive: true });

const [ch, prom, broker] = await Promise.all([startClickHouse(), startPrometheus(), startBroker()]);
t.teardown(async () => {
  await Promise.all([ch.stop(), prom.stop(), broker.stop()]);
  removeDir(broker.dataDir);
});
const brokers = [`127.0.0.1:${broker.port}`];
await createTopics(broker.port, [{ topic: 'logs.enriched', numPartitions: 1 }]);
const client = createClient({ url: ch.url });
const now = Date.now();
// Every seeded row lies in the last 30 minutes, so "last hour" covers all of it: the direct queries below
// need no time filter.
const seeded = await seedClickHouse(ch, client, baseMinute(now));
await client.close();
await seedPrometheus(prom, now);

const alerts: AlertsView = {
  rules: [
    { name: 'HighErrorRate', group: 'logs', kind: 'clickhouse', expr: 'SELECT count() AS value FROM logs_enriched', threshold: { op: '>', value: 10 }, forMs: 60_000, labels: {}, annotations: {}, health: 'ok', lastError: null, lastEvaluatedAt: now, state: 'firing', alerts: [{ rule: 'HighErrorRate', labels: { alertname: 'HighErrorRate', service: 'api' }, annotations: {}, status: 'firing', fingerprint: 'f1', activeAt: now - 120_000, firedAt: now - 60_000, value: 42, lastEvaluatedAt: now }] },
    { name: 'DiskFull', group: 'hosts', kind: 'promql', expr: 'max(system_filesystem_utilization)', threshold: { op: '>', value: 0.9 }, forMs: 300_000, labels: {}, annotations: {}, health: 'err', lastError: 'prometheus: timeout', lastEvaluatedAt: now, state: 'inactive', alerts: [] },
  ],
  history: [{ at: now - 60_000, rule: 'HighErrorRate', labels: { service: 'api' }, fingerprint: 'f1', from: 'pending', to: 'firing', value: 42 }],
};
const dash = await startDashboards({ port: 0, clickhouseUrl: ch.url, prometheusUrl: prom.url, brokers, alerts: { view: () => alerts } });
t.teardown(() => dash.close());

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
t.teardown(() => browser.close());
const page = await browser.newPage({ viewport: { width: 1440, height: 1000 }, timezoneId: 'UTC' });
const pageErrors: string[] = [];
page.on('pageerror', (err) => pageErrors.push(err.message));
t.comment(`screenshots in ${artifacts}`);

async function sql(query: string): Promise<any[]> {
  const text = await ch.query(`${query} FORMAT JSONEachRow`);
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** Waits until the view is `id` and none of its panels is loading. Strings: they run in the page. */
async function settled(p: Page, id: string): Promise<void> {
  await p.waitForSelector(`[data-view-root="${id}"]`);
  await p.waitForFunction(`document.querySelectorAll('section.panel').length > 0 && [...document.querySelectorAll('section.panel:not([data-panel="live-tail"])')].every((s) => s.dataset.state !== 'loading')`, undefined, { timeout: 30_000 });
}
const attr = (p: Page, selector: string, name: string) => p.getAttribute(selector, name);
const states = (p: Page) => p.evaluate(`Object.fromEntries([...document.querySelectorAll('section.panel')].map((s) => [s.dataset.panel, s.dataset.state]))`) as Promise<Record<string, string>>;
const cells = (p: Page, panel: string) => p.evaluate(`[...document.querySelectorAll('[data-panel="${panel}"] tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent))`) as Promise<string[][]>;
const headers = (p: Page, panel: string) => p.evaluate(`[...document.querySelectorAll('[data-panel="${panel}"] th')].map((th) => th.textContent)`) as Promise<string[]>;

t.test('logs view: panels equal direct ClickHouse queries', async (t) => {
  await page.goto(`${dash.url}?view=logs&range=1h`);
  await settled(page, 'logs');
  const s = await states(page);
  t.same(Object.keys(s).sort(), ['by-service', 'errors', 'lines', 'live-tail', 'matches-over-time', 'volume']);
  for (const [panel, state] of Object.entries(s)) if (panel !== 'live-tail') t.equal(state, 'ready', `${panel} is ready`);

  const [{ errors }] = await sql("SELECT toUInt64(sum(count)) AS errors FROM logs_rollup_1m WHERE severity IN ('ERROR', 'FATAL')");
  t.equal(await attr(page, '[data-panel="errors"] [data-value]', 'data-value'), String(errors));
  t.equal(await page.textContent('[data-panel="errors"] [data-value]'), String(errors), 'formatted (small numbers as they are)');

  const [volume] = await sql('SELECT toUInt64(sum(count)) AS total, count(DISTINCT minute) AS minutes FROM logs_rollup_1m');
  t.equal(await attr(page, '[data-panel="volume"]', 'data-total'), String(volume.total));
  t.equal(await attr(page, '[data-panel="volume"]', 'data-points'), String(volume.minutes));
  t.ok(await page.$('[data-panel="volume"] .uplot canvas'), 'a uPlot chart is drawn');

  const [matches] = await sql('SELECT count() AS n FROM logs_enriched');
  t.equal(await attr(page, '[data-panel="matches-over-time"]', 'data-total'), String(matches.n));

  t.same(await headers(page, 'lines'), ['time', 'service', 'host', 'severity', 'body', 'trace_id']);
  const rows = await cells(page, 'lines');
  const direct = await sql('SELECT toString(time) AS time, service, host, severity, body, trace_id FROM logs_enriched ORDER BY time DESC, timestamp DESC LIMIT 500');
  t.same(rows, direct.map((r) => [r.time, r.service, r.host, r.severity, r.body, r.trace_id]), 'every cell as ClickHouse returns it');
  await page.screenshot({ path: join(artifacts, 'logs.png'), fullPage: true });
});

t.test('variables and range live in the URL; reload and back restore them', async (t) => {
  await page.fill('[name="var-service"]', 'worker');
  await page.press('[name="var-service"]', 'Enter');
  await page.waitForURL(/var-service=worker/);
  await settled(page, 'logs');
  const [worker] = await sql("SELECT count() AS n FROM logs_enriched WHERE service = 'worker'");
  const rows = await cells(page, 'lines');
  t.equal(rows.length, Number(worker.n));
  t.ok(rows.every((r) => r[1] === 'worker'), 'only worker lines');

  await page.selectOption('[name="var-severity"]', 'ERROR');
  await page.waitForURL(/var-severity=ERROR/);
  await page.selectOption('select[name="range"]', '6h');
  await page.waitForURL(/range=6h/);
  await settled(page, 'logs');
  const [we] = await sql("SELECT count() AS n FROM logs_enriched WHERE service = 'worker' AND severity = 'ERROR'");
  t.equal((await cells(page, 'lines')).length, Number(we.n));

  await page.reload();
  await settled(page, 'logs');
  t.equal(await page.inputValue('select[name="range"]'), '6h');
  t.equal(await page.inputValue('[name="var-service"]'), 'worker');
  t.equal(await page.inputValue('[name="var-severity"]'), 'ERROR');
  t.equal((await cells(page, 'lines')).length, Number(we.n), 'the same rows after reload');

  await page.goBack();
  await page.waitForURL((u) => !u.search.includes('range=6h'));
  await settled(page, 'logs');
  t.equal(await page.inputValue('select[name="range"]'), '1h', 'back: the previous range');

  // An injection attempt in a search field: the page shows no rows, not an error and not everything.
  await page.fill('[name="var-service"]', "' OR 1=1 --");
  await page.click('button[name="apply"]');
  await page.waitForURL(/var-service=/);
  await settled(page, 'logs');
  t.equal(await attr(page, '[data-panel="lines"]', 'data-state'), 'empty');
  t.equal(await attr(page, '[data-panel="errors"] [data-value]', 'data-value'), '0');

  await page.selectOption('select[name="refresh"]', '5s');
  await page.waitForURL(/refresh=5s/);
  t.pass('auto refresh is part of the URL');
});

t.test('live tail shows a record produced while watching', async (t) => {
  await page.goto(`${dash.url}?view=logs&range=1h`);
  await page.waitForSelector('[data-panel="live-tail"][data-state="ready"]', { timeout: 30_000 });
  const producer = new Producer({ clientId: 'ui-test', bootstrapBrokers: brokers, acks: ProduceAcks.ALL });
  t.teardown(() => producer.close());
  const body = `checkout failed for order ${now}`;
  await producer.send({ messages: [{ topic: 'logs.enriched', partition: 0, value: Buffer.from(JSON.stringify({ time: Date.now(), timestamp: Date.now(), service: 'checkout', host: 'web-9', severity: 'ERROR', severity_number: 17, body })) }] });
  await page.waitForSelector('[data-panel="live-tail"] ol li[data-offset]', { timeout: 20_000 });
  t.match(await page.textContent('[data-panel="live-tail"] ol li:first-child'), body);
  t.equal(await attr(page, '[data-panel="live-tail"] ol li:first-child', 'data-offset'), '0');
  await page.click('button[name="tail"]');
  t.equal(await page.textContent('button[name="tail"]'), 'Resume');
  await page.screenshot({ path: join(artifacts, 'logs-live-tail.png'), fullPage: true });
});

t.test('web analytics: totals, merged visitors and tables equal direct queries', async (t) => {
  await page.click('a[data-view="web-analytics"]');
  await page.waitForURL(/view=web-analytics/);
  await settled(page, 'web-analytics');
  const s = await states(page);
  for (const [panel, state] of Object.entries(s)) t.equal(state, 'ready', `${panel} is ready`);
  const [{ views }] = await sql('SELECT toUInt64(sum(views)) AS views FROM pageviews_rollup_1m');
  t.equal(await attr(page, '[data-panel="total-views"] [data-value]', 'data-value'), String(views));
  t.equal(await attr(page, '[data-panel="views"]', 'data-total'), String(views));
  const all = new HyperLogLog();
  for (const v of seeded.visitors) for (const id of v.ids) all.add(id);
  t.equal(await attr(page, '[data-panel="total-visitors"] [data-value]', 'data-value'), String(Math.round(all.estimate())));
  const pages = await sql('SELECT path, toUInt64(sum(views)) AS views FROM pageviews_rollup_1m GROUP BY path ORDER BY views DESC, path');
  t.same(await cells(page, 'top-pages'), pages.map((r) => [r.path, String(r.views)]));
  const browsers = await sql('SELECT count() AS n FROM pageviews_enriched WHERE is_bot = 0');
  t.equal(await attr(page, '[data-panel="browsers"]', 'data-total'), String(browsers[0].n));
  const [b] = await sql('SELECT sum(bounce) / count() AS rate FROM pageviews_sessions');
  t.equal(Number(await attr(page, '[data-panel="bounce-rate"] [data-value]', 'data-value')), b.rate);
  await page.screenshot({ path: join(artifacts, 'web-analytics.png'), fullPage: true });
});

t.test('hosts and pipeline health: charts equal direct PromQL queries of the same range', async (t) => {
  const cpuResponse = page.waitForResponse((r) => r.url().includes('/panels/cpu?'));
  await page.click('a[data-view="hosts"]');
  await settled(page, 'hosts');
  const res = await cpuResponse;
  const body = await res.json();
  const { from, to, step } = body.range;
  const direct = await prom.queryRange('1 - avg by (instance) (system_cpu_utilization{state="idle", instance=~".*.*"})', Math.floor(from / 1000) * 1000, Math.ceil(to / 1000) * 1000, step * 1000);
  let total = 0;
  const xs = new Set<number>();
  for (const s of direct.result) for (const [ts, v] of s.values) {
    total += Number(v);
    xs.add(ts);
  }
  t.ok(xs.size > 0, 'Prometheus has data for the range');
  t.equal(Number(await attr(page, '[data-panel="cpu"]', 'data-total')), total);
  t.equal(await attr(page, '[data-panel="cpu"]', 'data-points'), String(xs.size));
  const fs = await cells(page, 'filesystems');
  t.equal(fs.length, 4, 'two hosts, two mount points');
  t.ok(fs.some((r) => r[0] === 'web-2' && r[1] === '/' && r[2] === '0.75'));
  await page.screenshot({ path: join(artifacts, 'hosts.png'), fullPage: true });

  await page.click('a[data-view="pipeline-health"]');
  await settled(page, 'pipeline-health');
  t.equal(await attr(page, '[data-panel="agent-backpressure"] [data-value]', 'data-value'), '1');
  t.equal(await attr(page, '[data-panel="agent-backpressure"]', 'data-state'), 'ready');
  t.equal(await attr(page, '[data-panel="ingest-rate"]', 'data-state'), 'ready');
  t.equal(await attr(page, '[data-panel="consumer-lag"]', 'data-state'), 'empty', 'no lag series: the empty state, visible');
  t.match(await page.textContent('[data-panel="consumer-lag"]'), /No data/);
  await page.screenshot({ path: join(artifacts, 'pipeline-health.png'), fullPage: true });
});

t.test('alerts view', async (t) => {
  await page.click('a[data-view="alerts"]');
  await page.waitForSelector('[data-view-root="alerts"] table[data-alert-rules]');
  t.ok(await page.$('tr[data-rule="HighErrorRate"][data-state="firing"]'));
  t.ok(await page.$('tr[data-rule="DiskFull"][data-state="inactive"]'));
  t.match(await page.textContent('tr[data-rule="DiskFull"]'), /prometheus: timeout/, 'the last error is shown');
  t.match(await page.textContent('[data-panel="alerts-current"]'), /service="api"/);
  t.match(await page.textContent('[data-panel="alerts-history"]'), /pending.*firing/);
  await page.screenshot({ path: join(artifacts, 'alerts.png'), fullPage: true });
});

t.test('errors are visible', async (t) => {
  await page.goto(`${dash.url}?view=no-such-dashboard`);
  await page.waitForSelector('[data-view-root="no-such-dashboard"] .panel-error');
  t.match(await page.textContent('.panel-error'), /UNKNOWN_DASHBOARD/);
  t.same(pageErrors, [], 'no uncaught errors in the page');
});
