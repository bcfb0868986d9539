// Notifications in Alertmanager's webhook payload (version 4) and POST /api/v2/alerts shapes, field for field.
import t from 'tap';
import type { AlertRule } from '../../../dashboards/alerts/alert-rule.ts';
import { AlertStates } from '../../../dashboards/alerts/alert-state.ts';
import { alertmanagerAlerts, webhookPayloads } from '../../../dashboards/alerts/alertmanager-payload.ts';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const rule: AlertRule = {
  name: 'HighErrorLogRate', kind: 'clickhouse', expr: 'SELECT …', threshold: { op: '>', value: 10 }, forMs: 2 * MIN,
  labels: { severity: 'warning' }, annotations: { summary: '{{ $labels.service }}: {{ $value }}/min', description: 'errors' }, group: 'logs', file: 'logs.yaml',
};
const options = { receiver: 'tributary', externalURL: 'http://localhost:3000' };

t.test('firing and resolved webhook payloads', async (t) => {
  const s = new AlertStates();
  const series = [{ labels: { service: 'api' }, value: 12 }, { labels: { service: 'web' }, value: 20 }];
  s.observe(rule, series, T0);
  const firing = webhookPayloads(s.observe(rule, series, T0 + 2 * MIN), options);
  t.strictSame(firing, [{
    version: '4',
    groupKey: '{}:{alertname="HighErrorLogRate"}',
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'tributary',
    groupLabels: { alertname: 'HighErrorLogRate' },
    commonLabels: { alertname: 'HighErrorLogRate', severity: 'warning' },
    commonAnnotations: { description: 'errors' },
    externalURL: 'http://localhost:3000',
    alerts: [
      {
        status: 'firing',
        labels: { alertname: 'HighErrorLogRate', service: 'api', severity: 'warning' },
        annotations: { summary: 'api: 12/min', description: 'errors' },
        startsAt: '2026-01-01T12:02:00.000Z',
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://localhost:3000/alerts?rule=HighErrorLogRate',
        fingerprint: firing[0].alerts[0].fingerprint,
      },
      {
        status: 'firing',
        labels: { alertname: 'HighErrorLogRate', service: 'web', severity: 'warning' },
        annotations: { summary: 'web: 20/min', description: 'errors' },
        startsAt: '2026-01-01T12:02:00.000Z',
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://localhost:3000/alerts?rule=HighErrorLogRate',
        fingerprint: firing[0].alerts[1].fingerprint,
      },
    ],
  }]);
  t.match(firing[0].alerts[0].fingerprint, /^[0-9a-f]{16}$/);
  t.not(firing[0].alerts[0].fingerprint, firing[0].alerts[1].fingerprint);
  t.strictSame(Object.keys(firing[0]), ['version', 'groupKey', 'truncatedAlerts', 'status', 'receiver', 'groupLabels', 'commonLabels', 'commonAnnotations', 'externalURL', 'alerts']);
  t.strictSame(Object.keys(firing[0].alerts[0]), ['status', 'labels', 'annotations', 'startsAt', 'endsAt', 'generatorURL', 'fingerprint']);

  const resolved = webhookPayloads(s.observe(rule, [series[1]], T0 + 5 * MIN), options);
  t.equal(resolved.length, 1);
  t.equal(resolved[0].status, 'resolved');
  t.strictSame(resolved[0].commonLabels, { alertname: 'HighErrorLogRate', service: 'api', severity: 'warning' });
  t.strictSame(resolved[0].alerts.map((a) => [a.status, a.startsAt, a.endsAt, a.fingerprint]), [
    ['resolved', '2026-01-01T12:02:00.000Z', '2026-01-01T12:05:00.000Z', firing[0].alerts[0].fingerprint],
  ]);
  t.strictSame(webhookPayloads([], options), []);
});

t.test('grouping by other labels: one payload per group', async (t) => {
  const s = new AlertStates();
  const r = { ...rule, forMs: 0 };
  const sent = webhookPayloads(s.observe(r, [{ labels: { service: 'api' }, value: 12 }, { labels: { service: 'web' }, value: 20 }], T0), { ...options, groupBy: ['service', 'alertname'] });
  t.strictSame(sent.map((p) => [p.groupKey, p.groupLabels, p.alerts.length]), [
    ['{}:{alertname="HighErrorLogRate", service="api"}', { alertname: 'HighErrorLogRate', service: 'api' }, 1],
    ['{}:{alertname="HighErrorLogRate", service="web"}', { alertname: 'HighErrorLogRate', service: 'web' }, 1],
  ]);
  t.strictSame(sent[0].commonAnnotations, { summary: 'api: 12/min', description: 'errors' });
});

t.test('Alertmanager v2 POST /api/v2/alerts body', async (t) => {
  const s = new AlertStates();
  const r = { ...rule, forMs: 0 };
  s.observe(r, [{ labels: { service: 'api' }, value: 12 }], T0);
  s.observe({ ...r, name: 'Pending', forMs: 10 * MIN }, [{ labels: {}, value: 12 }], T0);
  const body = alertmanagerAlerts(s.alerts(), { ...options, now: T0 + MIN, validForMs: 4 * MIN, generatorURL: (a) => `http://x/${a.rule}` });
  t.strictSame(body, [{
    labels: { alertname: 'HighErrorLogRate', service: 'api', severity: 'warning' },
    annotations: { summary: 'api: 12/min', description: 'errors' },
    startsAt: '2026-01-01T12:00:00.000Z',
    endsAt: '2026-01-01T12:05:00.000Z',
    generatorURL: 'http://x/HighErrorLogRate',
  }], 'pending alerts are not sent; a firing one ends validFor after now');
  s.observe(r, [], T0 + 2 * MIN);
  t.strictSame(alertmanagerAlerts(s.alerts('HighErrorLogRate'), { ...options, now: T0 + 2 * MIN, validForMs: 4 * MIN }).map((a) => [a.startsAt, a.endsAt, a.generatorURL]), [
    ['2026-01-01T12:00:00.000Z', '2026-01-01T12:02:00.000Z', 'http://localhost:3000/alerts?rule=HighErrorLogRate'],
  ]);
});
