// The scheduler forwarding to a real Alertmanager (Debian's prometheus-alertmanager, 0.25 here): the firing
// alert is listed by Alertmanager's own API with our labels, times and fingerprint, Alertmanager routes it to
// the test's webhook receiver, and after the condition ends it is resolved there and gone from the active list.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { Logger } from '../../../broker/server/logger.ts';
import { startAlerting } from '../../../dashboards/alerts/alerting.ts';
import { startClickHouse } from '../../helpers/clickhouse.ts';
import { until } from '../../helpers/collect.ts';
import { findExecutable, freePort, releaseDir, removeOnExit, spawnBoundToParent } from '../../helpers/server-processes.ts';
import { startWebhookReceiver } from './webhook-receiver.ts';

const STOP_GRACE_MS = 10_000;
const READY_TIMEOUT_MS = 30_000;

interface Alertmanager {
  url: string;
  logs(): string;
  stop(): Promise<void>;
}

/** Alertmanager on a free port, clustering off, with a throw-away storage directory and this config. */
async function startAlertmanager(config: object): Promise<Alertmanager> {
  const binary = findExecutable('prometheus-alertmanager', 'alertmanager');
  if (!binary) throw new Error("Alertmanager not found (install Debian's prometheus-alertmanager package)");
  const dir = mkdtempSync(join(tmpdir(), 'tributary-alertmanager-'));
  removeOnExit(dir);
  // JSON is YAML.
  writeFileSync(join(dir, 'alertmanager.yml'), JSON.stringify(config, null, 2));
  const port = await freePort();
  const args = [
    `--config.file=${join(dir, 'alertmanager.yml')}`,
    `--storage.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--cluster.listen-address=',
    '--log.level=warn',
  ];
  const child = spawnBoundToParent([binary, ...args], dir);
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    releaseDir(dir);
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`alertmanager exited with ${child.exitCode ?? child.signalCode}:\n${output}`);
    }
    try {
      if ((await fetch(`${url}/-/ready`)).status === 200) break;
    } catch {}
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`alertmanager was not ready within ${READY_TIMEOUT_MS} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url, logs: () => output, stop };
}

function recordingLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`INFO ${m}`), warn: (m) => lines.push(`WARN ${m}`), error: (m) => lines.push(`ERROR ${m}`) };
}

t.test('firing and resolved alerts go through a real Alertmanager', async (t) => {
  const receiver = await startWebhookReceiver();
  t.teardown(() => receiver.close());
  const [ch, am] = await Promise.all([
    startClickHouse(),
    startAlertmanager({
      route: { receiver: 'team', group_by: ['alertname'], group_wait: '0s', group_interval: '1s', repeat_interval: '1h' },
      receivers: [{ name: 'team', webhook_configs: [{ url: receiver.url, send_resolved: true }] }],
    }),
  ]);
  t.teardown(() => Promise.all([ch.stop(), am.stop()]));
  await ch.query('CREATE TABLE queue (service String, depth Int64) ENGINE = MergeTree() ORDER BY service');
  const dir = mkdtempSync(join(tmpdir(), 'tributary-alert-rules-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'queues.yaml'), `interval: 1s
rules:
  - name: QueueTooDeep
    kind: clickhouse
    expr: SELECT service, sum(depth) AS value FROM queue GROUP BY service
    threshold: { op: '>', value: 100 }
    labels: { severity: warning }
    annotations: { summary: '{{ $labels.service }} queue at {{ $value }}' }
`);
  const log = recordingLog();
  const alerting = await startAlerting({
    rulesDir: dir, clickhouseUrl: ch.url, alertmanagerUrl: am.url, externalUrl: 'http://tributary.test:8080', registry: new Registry(), log,
  });
  t.teardown(() => alerting.stop());
  const amAlerts = async (): Promise<any[]> => ((await (await fetch(`${am.url}/api/v2/alerts`)).json()) as any[]).filter((a) => a.labels.alertname === 'QueueTooDeep');

  await ch.query("INSERT INTO queue VALUES ('orders', 250)");
  await until('the alert listed by Alertmanager', async () => (await amAlerts()).length === 1, 30_000, () => `${am.logs()}\n${log.lines.join('\n')}`);
  const ours = alerting.alerts()[0];
  t.equal(ours.status, 'firing');
  const [listed] = await amAlerts();
  t.strictSame(listed.labels, { alertname: 'QueueTooDeep', service: 'orders', severity: 'warning' });
  t.strictSame(listed.annotations, { summary: 'orders queue at 250' });
  t.equal(listed.status.state, 'active');
  t.equal(Date.parse(listed.startsAt), ours.firedAt, 'Alertmanager keeps our start time');
  t.ok(Date.parse(listed.endsAt) > Date.now(), 'valid into the future while firing');
  t.equal(listed.generatorURL, 'http://tributary.test:8080/alerts?rule=QueueTooDeep');
  t.equal(listed.fingerprint, ours.fingerprint, 'our fingerprint is the one Alertmanager computes');

  await until('Alertmanager notifying the webhook', () => receiver.accepted().some((p) => p.status === 'firing'), 30_000, () => am.logs());
  const fired = receiver.accepted().find((p) => p.status === 'firing');
  t.equal(fired.version, '4');
  t.equal(fired.receiver, 'team');
  t.strictSame(fired.groupLabels, { alertname: 'QueueTooDeep' });
  t.strictSame(fired.alerts.map((a: any) => [a.status, a.fingerprint, a.labels.service]), [['firing', ours.fingerprint, 'orders']]);

  await ch.query("INSERT INTO queue VALUES ('orders', -250)");
  await until('Alertmanager sending the resolution', () => receiver.accepted().some((p) => p.status === 'resolved'), 30_000, () => am.logs());
  const resolved = receiver.accepted().find((p) => p.status === 'resolved');
  const ended = alerting.alerts()[0];
  t.equal(ended.status, 'resolved');
  t.strictSame(resolved.alerts.map((a: any) => [a.status, a.fingerprint, Date.parse(a.endsAt)]), [['resolved', ours.fingerprint, ended.resolvedAt]],
    'resolved at the time we resolved it');
  await until('the alert gone from the active list', async () => (await amAlerts()).length === 0, 30_000);
  t.notOk(log.lines.some((l) => l.startsWith('ERROR')), 'nothing logged as an error');
});
