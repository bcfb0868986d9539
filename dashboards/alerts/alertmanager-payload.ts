import type { Alert, Notification } from './alert-state.ts';

/**
 * Notifications in the two shapes receivers already understand:
 * - the webhook payload Alertmanager POSTs to a `webhook_config` receiver (version "4"), so any webhook
 *   receiver written for Alertmanager works with Tributary directly;
 * - the body of Alertmanager's POST /api/v2/alerts, for forwarding to a real Alertmanager (which then does
 *   grouping, silencing and routing itself), as Prometheus does.
 */

/** Go's zero time, which Alertmanager writes as endsAt while an alert is firing. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

export interface WebhookAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
}

export interface WebhookPayload {
  version: '4';
  groupKey: string;
  truncatedAlerts: number;
  status: 'firing' | 'resolved';
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: WebhookAlert[];
}

/** One element of the POST /api/v2/alerts body (Alertmanager's postableAlert). */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
}

export interface WebhookOptions {
  receiver: string;
  /** Tributary's dashboard URL, used for externalURL and the default generatorURL. */
  externalURL: string;
  /** Labels notifications are grouped by, one payload per group (Alertmanager's default route groups by alertname). */
  groupBy?: string[];
  /** Where a human sees the rule; default `<externalURL>/alerts?rule=<name>`. */
  generatorURL?: (alert: Alert) => string;
}

export function defaultGeneratorURL(externalURL: string, alert: Alert): string {
  return `${externalURL.replace(/\/+$/, '')}/alerts?rule=${encodeURIComponent(alert.rule)}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Go's `%q` for label values is close enough to JSON string quoting for the ASCII values groupKeys carry. */
function formatLabelSet(labels: Record<string, string>): string {
  return `{${Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(', ')}}`;
}

function common(maps: Record<string, string>[]): Record<string, string> {
  if (maps.length === 0) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(maps[0]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (maps.every((m) => m[k] === v)) out[k] = v;
  }
  return out;
}

export function webhookAlert(alert: Alert, generatorURL: string): WebhookAlert {
  const resolved = alert.status === 'resolved';
  return {
    status: resolved ? 'resolved' : 'firing',
    labels: { ...alert.labels },
    annotations: { ...alert.annotations },
    startsAt: iso(alert.firedAt ?? alert.activeAt),
    endsAt: resolved && alert.resolvedAt !== undefined ? iso(alert.resolvedAt) : ZERO_TIME,
    generatorURL,
    fingerprint: alert.fingerprint,
  };
}

/** One webhook payload for alerts that share a group (the caller has grouped them). */
export function webhookPayload(alerts: Alert[], options: WebhookOptions): WebhookPayload {
  const groupBy = options.groupBy ?? ['alertname'];
  const generatorURL = options.generatorURL ?? ((a: Alert) => defaultGeneratorURL(options.externalURL, a));
  const items = alerts.map((a) => webhookAlert(a, generatorURL(a)));
  const groupLabels: Record<string, string> = {};
  for (const name of [...groupBy].sort()) {
    const v = alerts[0]?.labels[name];
    if (v !== undefined) groupLabels[name] = v;
  }
  return {
    version: '4',
    groupKey: `{}:${formatLabelSet(groupLabels)}`,
    truncatedAlerts: 0,
    status: items.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    receiver: options.receiver,
    groupLabels,
    commonLabels: common(items.map((a) => a.labels)),
    commonAnnotations: common(items.map((a) => a.annotations)),
    externalURL: options.externalURL,
    alerts: items,
  };
}

/** Groups an evaluation's notifications by the `groupBy` labels: one payload per group, in first-seen order. */
export function webhookPayloads(notifications: Notification[], options: WebhookOptions): WebhookPayload[] {
  const groupBy = options.groupBy ?? ['alertname'];
  const groups = new Map<string, Alert[]>();
  for (const n of notifications) {
    const key = JSON.stringify(groupBy.map((name) => n.alert.labels[name] ?? null));
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(n.alert);
  }
  return [...groups.values()].map((alerts) => webhookPayload(alerts, options));
}

export interface AlertmanagerOptions {
  externalURL: string;
  generatorURL?: (alert: Alert) => string;
  /**
   * How long Alertmanager should consider a firing alert active without hearing from us again; Prometheus
   * sends 4 × max(resend delay, evaluation interval) so one or two lost sends do not resolve it.
   */
  validForMs: number;
  now: number;
}

/** The POST /api/v2/alerts body: firing alerts end in the future (validForMs), resolved ones at resolvedAt. */
export function alertmanagerAlerts(alerts: Alert[], options: AlertmanagerOptions): PostableAlert[] {
  const generatorURL = options.generatorURL ?? ((a: Alert) => defaultGeneratorURL(options.externalURL, a));
  return alerts
    .filter((a) => a.status !== 'pending')
    .map((a) => ({
      labels: { ...a.labels },
      annotations: { ...a.annotations },
      startsAt: iso(a.firedAt ?? a.activeAt),
      endsAt: iso(a.status === 'resolved' && a.resolvedAt !== undefined ? a.resolvedAt : options.now + options.validForMs),
      generatorURL: generatorURL(a),
    }));
}
