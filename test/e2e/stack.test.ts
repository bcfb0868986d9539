// Acceptance (#6), the whole stack from one command: `tributary up --demo` starts ClickHouse, Prometheus, the
// broker, collector, agent, pipelines and dashboards. Within 90 s headless Chromium sees non-empty panels on
// every view whose numbers equal direct ClickHouse and Prometheus queries; a log search and the live tail
// work; injection attempts in every search field find nothing and change nothing; an alert rule fires on the
// generator's error burst and resolves after it, and a webhook receives both in Alertmanager's format.
// Screenshots of every view go to test/artifacts/e2e/.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Page } from 'playwright-core';
import { repoRoot, tempDir, removeDir } from '../helpers/broker-process.ts';
import { reapOnExit } from '../helpers/server-processes.ts';
import { until } from '../helpers/collect.ts';
import { startWebhookReceiver } from '../dashboards/alerts/webhook-receiver.ts';
import { HLL_STANDARD_ERROR } from '../../pipelines/sketches/hyperloglog.ts';
import { panelsSettled, panelStates, readPanel } from './dashboard-page.ts';

const ARTIFACTS = join(repoRoot, 'test', 'artifacts', 'e2e');
const STACK_START_MS = 240_000;
/** The acceptance's budget: every view shows data this long after the stack reported ready. */
const VIEWS_WITHIN_MS = 90_000;
const BURST_AFTER_S = 75;
const BURST_FOR_S = 30;

interface StackEndpoints {
  clickhouse: { url: string };
  prometheus: { url: string };
  broker: { bootstrap: string };
  dashboards: { url: string };
}

// The demo's checkout service logs an ERROR now and then (about one a minute); the burst logs twenty a second.
const RULES = `interval: 2s
rules:
  - name: DemoErrorBurst
    kind: clickhouse
    expr: |
      SELECT service, count() AS value
      FROM logs_enriched
      WHERE severity = 'ERROR' AND service = 'checkout' AND time >= now() - 15
      GROUP BY service
    threshold: { op: '>', value: 100 }
    for: 4s
    labels:
      severity: page
    annotations:
      summary: 'checkout logs {{ $value }} errors in 15 s'
`;

const INJECTIONS = [
  "' OR '1'='1",
  "x'; DROP TABLE logs_enriched; --",
  "\\' OR 1=1 --",
  '") or vector(1) or count({__name__=~".+"}) #',
  '.*',
];

t.test('tributary up --demo: every view, log search, live tail, injections, and an alert that fires and resolves', async (t) => {
  const state = tempDir('e2e-stack');
  const rulesDir = join(state, 'test-rules');
  mkdirSync(rulesDir, { recursive: true });
  writeFileSync(join(rulesDir, 'burst.yaml'), RULES);
  mkdirSync(ARTIFACTS, { recursive: true });
  const webhook = await startWebhookReceiver();

  const up = spawn(
    process.execPath,
    ['bin/tributary.js', 'up', '--ports', 'auto', '--state-dir', join(state, 'data'), '--demo', '--demo-error-burst', `${BURST_AFTER_S}s:${BURST_FOR_S}s`, '--rules', rulesDir, '--webhook', webhook.url],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  reapOnExit(up);
  let output = '';
  up.stdout.on('data', (c: Buffer) => (output += c.toString()));
  up.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => up.once('exit', (code) => resolve(code)));
  let browser: Awaited<ReturnType<typeof chromium.launch>> | null = null;
  let watching = true;
  t.teardown(async () => {
    watching = false;
    await browser?.close();
    if (up.exitCode === null) {
      up.kill('SIGTERM');
      await Promise.race([exited, sleep(60_000)]);
      up.kill('SIGKILL');
    }
    await webhook.close();
    removeDir(state);
  });

  await until('the stack to be up', () => /^stack: /m.test(output) || up.exitCode !== null, STACK_START_MS, () => output);
  t.equal(up.exitCode, null, 'tributary up is running');
  const readyAt = Date.now();
  const stack = JSON.parse(/^stack: (.*)$/m.exec(output)![1]) as StackEndpoints;
  t.match(output, /dashboards/, 'a progress line per component');

  const clickhouse = async (sql: string): Promise<Record<string, string>[]> => {
    const res = await fetch(stack.clickhouse.url, { method: 'POST', body: `${sql} FORMAT JSON` });
    const text = await res.text();
    if (!res.ok) throw new Error(`ClickHouse ${res.status}: ${text}`);
    return JSON.parse(text).data;
  };
  const prometheus = async (promql: string, timeMs: number): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
    const res = await fetch(`${stack.prometheus.url}/api/v1/query?${new URLSearchParams({ query: promql, time: String(timeMs / 1000) })}`);
    const body = (await res.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    if (body.status !== 'success') throw new Error(`Prometheus: ${JSON.stringify(body)}`);
    return body.data.result;
  };
  const tableFingerprint = async () => (await clickhouse('SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name')).map((r) => r.name).join(',');

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));

  /** Opens a view on a fixed range (so the app and the direct queries ask the same question) and waits until it settles. */
  const open = async (view: string, fromMs: number, toMs: number, vars: Record<string, string> = {}) => {
    const q = new URLSearchParams({ view, range: 'custom', from: String(fromMs), to: String(toMs), refresh: 'off' });
    for (const [k, v] of Object.entries(vars)) q.set(`var-${k}`, v);
    await page.goto(`${stack.dashboards.url}?${q}`);
    await page.waitForSelector(`[data-view-root="${view}"]`);
    await until(`the ${view} view to settle`, () => panelsSettled(page), 30_000, () => '');
  };
  /**
   * Opens the view on [ten minutes before the stack started, now) and checks it. Data keeps arriving, so a
   * mismatch is retried with a fresh range until the app and the direct query agree (at most `budgetMs`).
   */
  const checkView = async (view: string, what: string, check: (fromMs: number, toMs: number) => Promise<string | null>, budgetMs = 60_000) => {
    const fromMs = readyAt - 10 * 60_000;
    const until = Date.now() + budgetMs;
    let problem: string | null = 'not checked';
    while (problem !== null && Date.now() < until) {
      const toMs = Math.floor(Date.now() / 1000) * 1000;
      await open(view, fromMs, toMs);
      problem = await check(fromMs, toMs);
      if (problem !== null) await sleep(2_000);
    }
    t.equal(problem, null, `${view}: ${what}${problem ? ` (${await panelStates(page)})` : ''}`);
    await page.screenshot({ path: join(ARTIFACTS, `${view}.png`), fullPage: true });
  };
  /** Panels that must show data on each view. */
  const KEY_PANELS: Record<string, string[]> = {
    'web-analytics': ['views', 'total-views', 'total-visitors', 'top-pages', 'sources', 'browsers', 'devices', 'countries'],
    logs: ['volume', 'matches-over-time', 'by-service', 'lines'],
    // Rates (disk and network I/O) need two per-minute samples: they fill in the second minute.
    hosts: ['cpu', 'memory', 'memory-bytes', 'filesystems'],
    'pipeline-health': ['ingest-rate', 'consumer-lag', 'stage-throughput', 'agents-up', 'broker-partitions'],
  };
  const hasData = (p: Awaited<ReturnType<typeof readPanel>>) => p.state === 'ready' && (p.rows.length > 0 || (p.points ?? 0) > 0 || (p.value !== null && p.value > 0));
  const sec = (ms: number) => Math.floor(ms / 1000);
  const sameNumbers = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => Math.abs(x - b[i]) <= 1e-9 * Math.max(1, Math.abs(b[i])));

  // The Alerts view, watched from a second tab for the whole run: the burst comes and goes while the other
  // views are checked.
  /** The rule's states as the Alerts view showed them, in order, without repeats. */
  const alertStates: string[] = [];
  const alertsTab = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  alertsTab.on('pageerror', (err) => errors.push(err.message));
  const watchAlerts = (async () => {
    while (watching) {
      await alertsTab.goto(`${stack.dashboards.url}?view=alerts`).catch(() => {});
      const row = await alertsTab.waitForSelector('tr[data-rule="DemoErrorBurst"]', { timeout: 10_000 }).catch(() => null);
      const state = (await row?.getAttribute('data-state')) ?? 'absent';
      if (alertStates.at(-1) !== state) {
        alertStates.push(state);
        await alertsTab.screenshot({ path: join(ARTIFACTS, `alerts-${alertStates.length}-${state}.png`), fullPage: true });
      }
      await sleep(1_500);
    }
  })();

  // ---- Within 90 s, every view's key panels show data ---------------------------------------------
  {
    const pending = new Set(Object.keys(KEY_PANELS));
    const empty = new Map<string, string[]>();
    while (pending.size > 0 && Date.now() < readyAt + VIEWS_WITHIN_MS) {
      for (const view of [...pending]) {
        await open(view, readyAt - 10 * 60_000, Math.floor(Date.now() / 1000) * 1000);
        const missing: string[] = [];
        for (const panel of KEY_PANELS[view]) if (!hasData(await readPanel(page, panel))) missing.push(panel);
        empty.set(view, missing);
        if (missing.length === 0) {
          pending.delete(view);
          t.pass(`${view}: every key panel shows data ${Math.round((Date.now() - readyAt) / 1000)} s after the stack was up`);
        }
      }
      if (pending.size > 0) await sleep(3_000);
    }
    for (const view of pending) t.fail(`${view}: no data within ${VIEWS_WITHIN_MS / 1000} s in ${empty.get(view)!.join(', ')} (${await panelStates(page)})`);
  }

  // ---- Web analytics: ClickHouse rollups and sketches --------------------------------------------
  await checkView('web-analytics', 'views, visitors and top pages equal ClickHouse', async (fromMs, toMs) => {
    const views = await readPanel(page, 'total-views');
    const [direct] = await clickhouse(`SELECT sum(views) AS views FROM pageviews_rollup_1m WHERE minute >= toDateTime(${sec(fromMs)}) AND minute < toDateTime(${sec(toMs)})`);
    if (views.state !== 'ready' || !views.value) return `total-views shows ${views.value} (${views.state})`;
    if (views.value !== Number(direct.views)) return `total-views ${views.value} ≠ ClickHouse ${direct.views}`;
    const chart = await readPanel(page, 'views');
    if (chart.total !== views.value || !chart.points) return `views chart totals ${chart.total} over ${chart.points} points`;
    const top = await readPanel(page, 'top-pages');
    const directTop = await clickhouse(`SELECT path, sum(views) AS views FROM pageviews_rollup_1m WHERE minute >= toDateTime(${sec(fromMs)}) AND minute < toDateTime(${sec(toMs)}) GROUP BY path ORDER BY views DESC, path LIMIT 20`);
    if (JSON.stringify(top.rows) !== JSON.stringify(directTop.map((r) => [r.path, String(r.views)]))) return `top pages ${JSON.stringify(top.rows)} ≠ ${JSON.stringify(directTop)}`;
    // Unique visitors come from merged HyperLogLog sketches: within the sketch's error of the exact count.
    const visitors = await readPanel(page, 'total-visitors');
    // Over the minutes the rollups hold: the current minute is still open in the pipeline.
    const [exact] = await clickhouse(
      `SELECT uniqExact(visitor_id) AS n FROM pageviews_enriched WHERE is_bot = 0 AND visitor_id != '' AND toStartOfMinute(time) IN (SELECT DISTINCT minute FROM pageviews_rollup_1m WHERE minute >= toDateTime(${sec(fromMs)}) AND minute < toDateTime(${sec(toMs)}))`,
    );
    const n = Number(exact.n);
    if (visitors.value === null || Math.abs(visitors.value - n) > Math.max(2, 3 * HLL_STANDARD_ERROR * n)) return `visitors ${visitors.value} vs exact ${n}`;
    return null;
  });

  // ---- Logs: rollups, enriched lines, live tail ---------------------------------------------------
  await checkView('logs', 'volume, errors and lines equal ClickHouse', async (fromMs, toMs) => {
    const range = `time >= toDateTime(${sec(fromMs)}) AND time < toDateTime(${sec(toMs)})`;
    const volume = await readPanel(page, 'volume');
    const [rolled] = await clickhouse(`SELECT sum(count) AS n FROM logs_rollup_1m WHERE minute >= toDateTime(${sec(fromMs)}) AND minute < toDateTime(${sec(toMs)})`);
    if (volume.state !== 'ready' || volume.total !== Number(rolled.n)) return `volume chart totals ${volume.total} (${volume.state}), ClickHouse ${rolled.n}`;
    const matches = await readPanel(page, 'matches-over-time');
    const [lines] = await clickhouse(`SELECT count() AS n FROM logs_enriched WHERE ${range}`);
    if (matches.total !== Number(lines.n)) return `matching lines ${matches.total}, ClickHouse ${lines.n}`;
    const table = await readPanel(page, 'lines');
    if (table.rows.length !== Math.min(500, Number(lines.n))) return `lines table has ${table.rows.length} rows of ${lines.n}`;
    return null;
  });

  // A search: service and text; every line shown matches, and the count equals ClickHouse's.
  {
    await page.fill('[name="var-service"]', 'checkout');
    await page.fill('[name="var-text"]', 'payment');
    await page.click('button[name="apply"]');
    await until('the search to apply', async () => page.url().includes('var-text=payment') && (await panelsSettled(page)), 30_000);
    const url = new URL(page.url());
    const fromMs = Number(url.searchParams.get('from'));
    const toMs = Number(url.searchParams.get('to'));
    const table = await readPanel(page, 'lines');
    const bodyColumn = table.columns.indexOf('body');
    const serviceColumn = table.columns.indexOf('service');
    t.ok(table.rows.length > 0, `the search finds lines (${table.rows.length})`);
    t.ok(table.rows.every((r) => r[serviceColumn] === 'checkout' && /payment/i.test(r[bodyColumn])), 'every line shown matches the search');
    const [direct] = await clickhouse(
      `SELECT count() AS n FROM logs_enriched WHERE time >= toDateTime(${sec(fromMs)}) AND time < toDateTime(${sec(toMs)}) AND service = 'checkout' AND positionCaseInsensitiveUTF8(body, 'payment') > 0`,
    );
    t.equal((await readPanel(page, 'matches-over-time')).total, Number(direct.n), 'the search count equals ClickHouse');
    await page.reload();
    await until('the reloaded search to settle', () => panelsSettled(page), 30_000);
    t.equal(await page.inputValue('[name="var-text"]'), 'payment', 'the search survives a reload (URL state)');
    await page.screenshot({ path: join(ARTIFACTS, 'logs-search.png'), fullPage: true });
  }

  // The live tail follows new records of logs.enriched as they are produced.
  {
    await page.goto(`${stack.dashboards.url}?view=logs&range=5m&refresh=off`);
    await page.waitForSelector('section.panel[data-panel="live-tail"]');
    const tailed = () => page.$$eval('section.panel[data-panel="live-tail"] li[data-offset]', (els) => els.map((el) => el.getAttribute('data-offset')));
    await until('the live tail to show records', async () => (await tailed()).length >= 3, 30_000);
    const first = await tailed();
    await until('the live tail to update', async () => (await tailed()).join() !== first.join(), 30_000);
    t.pass(`the live tail updates (${(await tailed()).length} lines)`);
    await page.screenshot({ path: join(ARTIFACTS, 'logs-live-tail.png'), fullPage: true });
  }

  // ---- Hosts: PromQL over the agent's host metrics ------------------------------------------------
  await checkView('hosts', 'filesystems equal Prometheus', async (_fromMs, toMs) => {
    const fs = await readPanel(page, 'filesystems');
    const direct = await prometheus('max by (instance, mountpoint) (system_filesystem_utilization)', toMs);
    if (fs.state !== 'ready' || direct.length === 0) return `filesystems ${fs.state}, Prometheus has ${direct.length} series`;
    const shown = fs.rows.map((r) => Number(r[r.length - 1])).sort((a, b) => a - b);
    const expected = direct.map((s) => Number(s.value[1])).sort((a, b) => a - b);
    return sameNumbers(shown, expected) ? null : `filesystems ${JSON.stringify(shown)} ≠ Prometheus ${JSON.stringify(expected)}`;
  });

  // ---- Pipeline health: the components' own /metrics via Prometheus -------------------------------
  await checkView('pipeline-health', 'partitions and agents equal Prometheus', async (_fromMs, toMs) => {
    const partitions = await readPanel(page, 'broker-partitions');
    const direct = await prometheus('sum by (node_id, kind) (label_replace(tributary_broker_partitions, "kind", "hosted", "", "") or label_replace(tributary_broker_partition_leaders, "kind", "leader", "", ""))', toMs);
    const shown = partitions.rows.map((r) => Number(r[r.length - 1])).sort((a, b) => a - b);
    const expected = direct.map((s) => Number(s.value[1])).sort((a, b) => a - b);
    if (partitions.state !== 'ready' || !sameNumbers(shown, expected)) return `broker partitions ${JSON.stringify(shown)} ≠ Prometheus ${JSON.stringify(expected)}`;
    const agents = await readPanel(page, 'agents-up');
    if (agents.rows.length === 0 || agents.rows.some((r) => r[r.length - 1] !== '1')) return `agents ${JSON.stringify(agents.rows)}`;
    return null;
  });

  // ---- Injection attempts in every search field ---------------------------------------------------
  {
    const tablesBefore = await tableFingerprint();
    const [rowsBefore] = await clickhouse('SELECT count() AS n FROM logs_enriched');
    const fields: [string, string][] = [
      ['logs', 'service'], ['logs', 'host'], ['logs', 'text'],
      ['web-analytics', 'site'], ['web-analytics', 'path'],
      ['hosts', 'host'], ['pipeline-health', 'topic'],
    ];
    const toMs = Math.floor(Date.now() / 1000) * 1000;
    const panelsFilteredBy = async (view: string, field: string) => {
      const definition = (await (await fetch(new URL(`/api/dashboards/${view}`, stack.dashboards.url))).json()) as { panels: { id: string; query: string }[] };
      return new Set(definition.panels.filter((p) => p.query.includes(`\${${field}}`)).map((p) => p.id));
    };
    for (const [view, field] of fields) {
      const filtered = await panelsFilteredBy(view, field);
      t.ok(filtered.size > 0, `${view}: ${field} filters ${[...filtered].join(', ')}`);
      for (const attempt of INJECTIONS) {
        await open(view, readyAt - 10 * 60_000, toMs, { [field]: attempt });
        const states = await page.$$eval('section.panel[data-panel]:not([data-panel="live-tail"])', (els) =>
          els.map((el) => ({ id: el.getAttribute('data-panel'), state: el.getAttribute('data-state'), value: el.querySelector('[data-value]')?.getAttribute('data-value') ?? null, rows: el.querySelectorAll('tbody tr').length, total: el.getAttribute('data-total') })),
        );
        // Every filter is one literal: nothing can match these values, so every panel the field filters is
        // empty or zero (the others keep their data), and none fails.
        const leaks = states.filter((s) => s.state === 'error' || (filtered.has(s.id!) && (s.rows > 0 || (s.value !== null && Number(s.value) !== 0) || (s.total !== null && Number(s.total) !== 0))));
        t.same(leaks, [], `${view} ${field} = ${JSON.stringify(attempt)}: nothing found, no error`);
      }
    }
    t.equal(await tableFingerprint(), tablesBefore, 'no table created or dropped');
    const [rowsAfter] = await clickhouse('SELECT count() AS n FROM logs_enriched');
    t.ok(Number(rowsAfter.n) >= Number(rowsBefore.n), 'logs_enriched lost no rows');
  }

  // ---- The alert: fires on the error burst, resolves after it -------------------------------------
  const payloads = () => webhook.accepted().filter((b) => b?.alerts?.some((a: any) => a.labels?.alertname === 'DemoErrorBurst'));
  await until('the burst alert to fire', () => payloads().some((p) => p.status === 'firing'), (BURST_AFTER_S + BURST_FOR_S) * 1000 + 120_000, () => output.slice(-3000));
  const firing = payloads().find((p) => p.status === 'firing');
  t.equal(firing.version, '4', "Alertmanager's webhook payload, version 4");
  t.match(firing.alerts[0], { status: 'firing', labels: { alertname: 'DemoErrorBurst', service: 'checkout', severity: 'page' }, endsAt: '0001-01-01T00:00:00Z' });
  t.ok(Date.parse(firing.alerts[0].startsAt) > readyAt, 'startsAt is when the burst was seen');
  await until('the burst alert to resolve', () => payloads().some((p) => p.status === 'resolved'), BURST_FOR_S * 1000 + 120_000, () => output.slice(-3000));
  const resolved = payloads().find((p) => p.status === 'resolved');
  t.match(resolved.alerts[0], { status: 'resolved', labels: { alertname: 'DemoErrorBurst' }, fingerprint: firing.alerts[0].fingerprint });
  t.ok(Date.parse(resolved.alerts[0].endsAt) > Date.parse(firing.alerts[0].startsAt), 'endsAt after startsAt');
  const firedThenCleared = () => alertStates.includes('firing') && alertStates.lastIndexOf('inactive') > alertStates.indexOf('firing');
  await until('the Alerts view to show the rule inactive again', firedThenCleared, 30_000, () => alertStates.join(' → '));
  watching = false;
  await watchAlerts;
  t.ok(firedThenCleared(), `the Alerts view showed the rule ${alertStates.join(' → ')}`);
  t.same(errors, [], 'no script errors in the page');
  t.comment(`screenshots in ${ARTIFACTS}`);

  up.kill('SIGTERM');
  const code = await Promise.race([exited, sleep(90_000).then(() => 'timeout')]);
  t.equal(code, 0, 'Ctrl-C (SIGTERM) stops the whole stack cleanly');
});
