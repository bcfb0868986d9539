// The alert scheduler end to end on real servers: a ClickHouse rule over a table the test fills goes pending →
// firing → resolved, the test's webhook receiver gets both notifications in Alertmanager's webhook format (v4),
// a failing receiver is retried until it accepts, a restart mid-firing restores the alert without re-sending it,
// a rule without a configured source is unhealthy with a clear reason; and a PromQL rule on a real Prometheus
// scraping a gauge the test serves fires and resolves.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gauge, Registry } from 'prom-client';
import type { Logger } from '../../../broker/server/logger.ts';
import { startAlerting, type Alerting, type AlertingOptions } from '../../../dashboards/alerts/alerting.ts';
import type { RuleView } from '../../../dashboards/alerts/alerts-view.ts';
import { startClickHouse } from '../../helpers/clickhouse.ts';
import { startPrometheus } from '../../helpers/prometheus.ts';
import { until } from '../../helpers/collect.ts';
import { startWebhookReceiver } from './webhook-receiver.ts';

const EXTERNAL_URL = 'http://tributary.test:8080';

function recordingLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`INFO ${m}`), warn: (m) => lines.push(`WARN ${m}`), error: (m) => lines.push(`ERROR ${m}`) };
}

function rulesDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-alert-rules-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, want]) => String(x.labels[k]) === want));
  return v?.value ?? 0;
}

function rule(alerting: Alerting, name: string): RuleView {
  const r = alerting.view().rules.find((x) => x.name === name);
  if (!r) throw new Error(`no rule ${name}`);
  return r;
}

t.test('a ClickHouse rule: pending, firing, webhook with retries, restart mid-firing, resolved', async (t) => {
  const ch = await startClickHouse();
  t.teardown(() => ch.stop());
  await ch.query('CREATE TABLE app_errors (service String, errors Int64) ENGINE = MergeTree() ORDER BY service');
  const receiver = await startWebhookReceiver();
  t.teardown(() => receiver.close());
  const dir = rulesDir({
    // `errors` rows add up; the burst "ends" when the test inserts the negative of what it added.
    'app.yaml': `interval: 1s
rules:
  - name: ErrorBurst
    kind: clickhouse
    expr: SELECT service, sum(errors) AS value FROM app_errors GROUP BY service
    threshold: { op: '>', value: 5 }
    for: 2s
    labels: { severity: critical }
    annotations:
      summary: '{{ $labels.service }} logged {{ $value }} errors'
`,
    'hosts.yaml': `interval: 1s
rules:
  - name: NeedsPrometheus
    kind: promql
    expr: up == 0
    threshold: { op: '>', value: 0 }
`,
  });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  const log = recordingLog();
  const options = (registry: Registry): AlertingOptions => ({
    rulesDir: dir, clickhouseUrl: ch.url, webhooks: [receiver.url], externalUrl: EXTERNAL_URL,
    retry: { initialDelayMs: 50, maxDelayMs: 200 }, stateScope: 'scheduler-test', registry, log,
  });
  const registry1 = new Registry();
  let alerting = await startAlerting(options(registry1));
  t.teardown(() => alerting.stop());

  await until('the first evaluation', () => rule(alerting, 'ErrorBurst').health === 'ok', 30_000);
  t.equal(rule(alerting, 'ErrorBurst').state, 'inactive', 'no rows, no alert');
  const unconfigured = rule(alerting, 'NeedsPrometheus');
  t.equal(unconfigured.health, 'err', 'a PromQL rule without Prometheus is unhealthy');
  t.match(unconfigured.lastError, /no Prometheus is configured.*prometheusUrl/);

  // The receiver refuses the first two deliveries: the firing notification must still arrive, once.
  receiver.failNext(2);
  await ch.query("INSERT INTO app_errors VALUES ('api', 4), ('api', 4), ('web', 1)");
  await until('pending', () => rule(alerting, 'ErrorBurst').state === 'pending', 30_000);
  const pending = rule(alerting, 'ErrorBurst').alerts;
  t.strictSame(pending.map((a) => [a.status, a.labels, a.value]), [['pending', { alertname: 'ErrorBurst', service: 'api', severity: 'critical' }, 8]]);
  t.equal(receiver.requests.length, 0, 'nothing is sent for a pending alert');

  await until('firing', () => rule(alerting, 'ErrorBurst').state === 'firing', 30_000);
  const firing = rule(alerting, 'ErrorBurst').alerts[0];
  t.ok(firing.firedAt! - firing.activeAt >= 2000, 'fired only after holding for `for`');
  await until('the firing notification accepted', () => receiver.accepted().length === 1, 30_000, () => JSON.stringify(receiver.requests));
  t.strictSame(receiver.requests.map((r) => r.status), [500, 500, 200], 'retried until accepted');
  t.strictSame(receiver.requests[0].body, receiver.requests[2].body, 'the same payload each time');
  const fired = receiver.accepted()[0];
  t.strictSame(fired, {
    version: '4',
    groupKey: '{}:{alertname="ErrorBurst"}',
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'tributary',
    groupLabels: { alertname: 'ErrorBurst' },
    commonLabels: { alertname: 'ErrorBurst', service: 'api', severity: 'critical' },
    commonAnnotations: { summary: 'api logged 8 errors' },
    externalURL: EXTERNAL_URL,
    alerts: [{
      status: 'firing',
      labels: { alertname: 'ErrorBurst', service: 'api', severity: 'critical' },
      annotations: { summary: 'api logged 8 errors' },
      startsAt: new Date(firing.firedAt!).toISOString(),
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: `${EXTERNAL_URL}/alerts?rule=ErrorBurst`,
      fingerprint: firing.fingerprint,
    }],
  });
  await alerting.notificationsIdle();
  t.equal(await metric(registry1, 'tributary_alert_notifications_sent_total', { target: `webhook-1 ${new URL(receiver.url).host}` }), 1);
  t.equal(await metric(registry1, 'tributary_alert_notifications_failed_total', { target: `webhook-1 ${new URL(receiver.url).host}` }), 2);
  t.ok(await metric(registry1, 'tributary_alert_group_evaluations_total', { group: 'app' }) >= 3);
  t.ok(await metric(registry1, 'tributary_alert_rule_evaluation_failures_total', { group: 'hosts' }) >= 1);
  t.equal(await metric(registry1, 'tributary_alerts', { state: 'firing' }), 1);

  // Restart mid-firing: the new scheduler restores the alert as firing with its original times and does not
  // notify again (only the 4 h repeat interval would).
  await alerting.stop();
  const sentBeforeRestart = receiver.requests.length;
  const registry2 = new Registry();
  alerting = await startAlerting(options(registry2));
  const restored = rule(alerting, 'ErrorBurst').alerts;
  t.strictSame(restored.map((a) => [a.status, a.fingerprint, a.activeAt, a.firedAt]), [['firing', firing.fingerprint, firing.activeAt, firing.firedAt]],
    'restored before the first evaluation');
  // Four evaluations: more than `for` (2 s) takes, so a fresh pending alert would have fired and been sent by now.
  await until('four evaluations after the restart', async () => (await metric(registry2, 'tributary_alert_group_evaluations_total', { group: 'app' })) >= 4, 30_000);
  await alerting.notificationsIdle();
  t.equal(rule(alerting, 'ErrorBurst').state, 'firing');
  t.equal(rule(alerting, 'ErrorBurst').alerts[0].firedAt, firing.firedAt, 'still the original start');
  t.equal(receiver.requests.length, sentBeforeRestart, 'no new firing notification after the restart');

  // The burst ends.
  await ch.query("INSERT INTO app_errors VALUES ('api', -8)");
  await until('the resolved notification', () => receiver.accepted().length === 2, 30_000, () => JSON.stringify(receiver.requests));
  const resolvedAlert = rule(alerting, 'ErrorBurst').alerts[0];
  t.equal(resolvedAlert.status, 'resolved');
  const resolved = receiver.accepted()[1];
  t.equal(resolved.version, '4');
  t.equal(resolved.status, 'resolved');
  t.strictSame(resolved.alerts.map((a: any) => [a.status, a.fingerprint, a.startsAt, a.endsAt]),
    [['resolved', firing.fingerprint, new Date(firing.firedAt!).toISOString(), new Date(resolvedAlert.resolvedAt!).toISOString()]]);
  t.equal(rule(alerting, 'ErrorBurst').state, 'inactive', 'a resolved alert leaves the rule inactive');

  // History: every change, newest first, in memory and in ClickHouse, across the restart.
  const history = alerting.view().history.filter((h) => h.rule === 'ErrorBurst');
  t.strictSame(history.map((h) => `${h.from}->${h.to}`), ['firing->resolved', 'pending->firing', 'inactive->pending']);
  t.strictSame(history.map((h) => h.labels.service), ['api', 'api', 'api']);

  // History rows are written after each evaluation, behind the in-memory view; stop() flushes them.
  await alerting.stop();
  const rows = (await ch.query("SELECT from_state, to_state FROM alert_history WHERE scope = 'scheduler-test' AND rule = 'ErrorBurst' ORDER BY at FORMAT TSV")).trim();
  t.equal(rows, 'inactive\tpending\npending\tfiring\nfiring\tresolved');
  // The state saved at stop is the resolved one: a further restart stays quiet.
  const saved = JSON.parse((await ch.query("SELECT snapshot FROM alert_state WHERE scope = 'scheduler-test' ORDER BY saved_at DESC LIMIT 1 FORMAT JSONEachRow")).trim()).snapshot;
  t.strictSame(JSON.parse(saved).alerts.map((a: any) => a.status), ['resolved']);
  t.notOk(log.lines.some((l) => l.startsWith('ERROR')), 'nothing logged as an error');
});

t.test('a PromQL rule on a real Prometheus scraping a gauge fires and resolves', async (t) => {
  const appRegistry = new Registry();
  const depth = new Gauge({ name: 'test_queue_depth', help: 'Items waiting.', labelNames: ['queue'], registers: [appRegistry] });
  depth.set({ queue: 'orders' }, 1);
  const app = createServer((_req, res) => {
    void appRegistry.metrics().then((text) => res.writeHead(200, { 'content-type': appRegistry.contentType }).end(text));
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { app.closeAllConnections(); app.close(() => resolve()); }));
  const appPort = (app.address() as { port: number }).port;
  const prom = await startPrometheus({ scrapeConfigs: [{ job_name: 'app', static_configs: [{ targets: [`127.0.0.1:${appPort}`] }] }] });
  t.teardown(() => prom.stop());
  const receiver = await startWebhookReceiver();
  t.teardown(() => receiver.close());
  const dir = rulesDir({
    'queues.yaml': `interval: 1s
rules:
  - name: QueueBacklog
    kind: promql
    expr: max by (queue, job) (test_queue_depth)
    threshold: { op: '>', value: 10 }
    for: 1s
    annotations: { summary: '{{ $labels.queue }} has {{ $value }} waiting' }
`,
  });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await until('the first scrape', async () => (await prom.query('test_queue_depth')).result.length === 1, 30_000);

  const log = recordingLog();
  const alerting = await startAlerting({ rulesDir: dir, prometheusUrl: prom.url, webhooks: [receiver.url], externalUrl: EXTERNAL_URL, registry: new Registry(), log });
  t.teardown(() => alerting.stop());
  await until('the first evaluation', () => rule(alerting, 'QueueBacklog').health === 'ok', 30_000, () => log.lines.join('\n'));
  t.equal(rule(alerting, 'QueueBacklog').state, 'inactive');

  depth.set({ queue: 'orders' }, 50);
  await until('the firing notification', () => receiver.accepted().length === 1, 60_000, () => JSON.stringify(alerting.view()));
  const fired = receiver.accepted()[0];
  t.equal(fired.status, 'firing');
  t.strictSame(fired.alerts[0].labels, { alertname: 'QueueBacklog', job: 'app', queue: 'orders' }, 'the series labels, without __name__');
  t.equal(fired.alerts[0].annotations.summary, 'orders has 50 waiting');

  depth.set({ queue: 'orders' }, 0);
  await until('the resolved notification', () => receiver.accepted().length === 2, 60_000, () => JSON.stringify(alerting.view()));
  t.equal(receiver.accepted()[1].status, 'resolved');
  t.equal(receiver.accepted()[1].alerts[0].fingerprint, fired.alerts[0].fingerprint);
  t.equal(alerting.view().rules[0].state, 'inactive');
  t.strictSame(log.lines.filter((l) => l.startsWith('ERROR') || l.startsWith('WARN')),
    ['WARN no ClickHouse configured: alert state is kept in memory only and lost on restart'], 'no other errors or warnings');
});
