import { expandTemplate, type AlertRule } from './alert-rule.ts';

/**
 * Prometheus' alert lifecycle, per (rule, label set): absent (inactive) → pending when the condition first
 * holds → firing once it has held for the rule's `for` → resolved when it stops holding. A pending alert
 * whose condition stops holding simply disappears (nothing was ever sent for it). A resolved alert is kept
 * for RESOLVED_RETENTION_MS so its resolution can still be (re)sent, then forgotten; if the condition
 * holds again meanwhile it starts over as a new pending alert.
 */
export const RESOLVED_RETENTION_MS = 15 * 60_000;

export type AlertStatus = 'pending' | 'firing' | 'resolved';

export interface Alert {
  rule: string;
  /** Series labels, overridden by the rule's labels, plus alertname. */
  labels: Record<string, string>;
  /** The rule's annotations expanded with this series' labels and latest value. */
  annotations: Record<string, string>;
  status: AlertStatus;
  fingerprint: string;
  /** ms since the epoch. */
  activeAt: number;
  firedAt?: number;
  resolvedAt?: number;
  value: number;
  lastEvaluatedAt: number;
}

export interface RuleHealth {
  health: 'ok' | 'err';
  lastError?: string;
  lastEvaluatedAt: number;
}

/** What must be sent after an evaluation: an alert that started firing or was resolved. */
export interface Notification {
  status: 'firing' | 'resolved';
  alert: Alert;
}

/** A series whose value breaches the rule's threshold. */
export interface ActiveSeries {
  labels: Record<string, string>;
  value: number;
}

export interface AlertStateSnapshot {
  version: 1;
  alerts: Alert[];
  rules: Record<string, RuleHealth>;
}

export function alertLabels(rule: Pick<AlertRule, 'name' | 'labels'>, series: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = { ...series, ...rule.labels, alertname: rule.name };
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export class AlertStates {
  /** rule name → fingerprint → alert. */
  private readonly byRule = new Map<string, Map<string, Alert>>();
  private readonly health = new Map<string, RuleHealth>();

  /**
   * Applies one successful evaluation of `rule`: `active` are the series breaching the threshold at `now`.
   * Returns the notifications the transitions call for.
   */
  observe(rule: AlertRule, active: ActiveSeries[], now: number): Notification[] {
    this.health.set(rule.name, { health: 'ok', lastEvaluatedAt: now });
    const alerts = this.alertsOf(rule.name);
    const out: Notification[] = [];
    const seen = new Set<string>();
    for (const series of active) {
      const labels = alertLabels(rule, series.labels);
      const fingerprint = labelsFingerprint(labels);
      seen.add(fingerprint);
      let alert = alerts.get(fingerprint);
      if (!alert || alert.status === 'resolved') {
        alert = { rule: rule.name, labels, annotations: {}, status: 'pending', fingerprint, activeAt: now, value: series.value, lastEvaluatedAt: now };
        alerts.set(fingerprint, alert);
      }
      alert.value = series.value;
      alert.lastEvaluatedAt = now;
      alert.annotations = expandAnnotations(rule, series.labels, labels, series.value);
      if (alert.status === 'pending' && now - alert.activeAt >= rule.forMs) {
        alert.status = 'firing';
        alert.firedAt = now;
        out.push({ status: 'firing', alert: { ...alert } });
      }
    }
    for (const [fingerprint, alert] of alerts) {
      if (seen.has(fingerprint)) continue;
      if (alert.status === 'pending') {
        alerts.delete(fingerprint);
      } else if (alert.status === 'firing') {
        alert.status = 'resolved';
        alert.resolvedAt = now;
        alert.lastEvaluatedAt = now;
        out.push({ status: 'resolved', alert: { ...alert } });
      } else if (now - (alert.resolvedAt ?? now) >= RESOLVED_RETENTION_MS) {
        alerts.delete(fingerprint);
      }
    }
    if (alerts.size === 0) this.byRule.delete(rule.name);
    return out;
  }

  /** The rule's query failed: it is marked errored and its alerts keep their state until it next succeeds. */
  markError(ruleName: string, error: string, now: number): void {
    this.health.set(ruleName, { health: 'err', lastError: error, lastEvaluatedAt: now });
  }

  /** Forgets rules no longer loaded (a rule file was edited or removed). */
  retainRules(names: Iterable<string>): void {
    const keep = new Set(names);
    for (const name of [...this.byRule.keys()]) if (!keep.has(name)) this.byRule.delete(name);
    for (const name of [...this.health.keys()]) if (!keep.has(name)) this.health.delete(name);
  }

  ruleHealth(ruleName: string): RuleHealth | undefined {
    const h = this.health.get(ruleName);
    return h && { ...h };
  }

  /** Every known alert (pending, firing and recently resolved), by rule then activeAt. */
  alerts(ruleName?: string): Alert[] {
    const rules = ruleName === undefined ? [...this.byRule.keys()].sort() : [ruleName];
    return rules.flatMap((r) => [...(this.byRule.get(r)?.values() ?? [])].sort((a, b) => a.activeAt - b.activeAt || (a.fingerprint < b.fingerprint ? -1 : 1)).map((a) => ({ ...a })));
  }

  snapshot(): AlertStateSnapshot {
    return { version: 1, alerts: this.alerts(), rules: Object.fromEntries([...this.health].map(([k, v]) => [k, { ...v }])) };
  }

  toJSON(): AlertStateSnapshot {
    return this.snapshot();
  }

  /** Rebuilds the states from a snapshot (or its JSON text); a malformed snapshot throws. */
  static restore(snapshot: AlertStateSnapshot | string): AlertStates {
    const s = (typeof snapshot === 'string' ? JSON.parse(snapshot) : snapshot) as AlertStateSnapshot;
    if (!s || s.version !== 1 || !Array.isArray(s.alerts)) throw new Error('not an alert state snapshot (version 1)');
    const states = new AlertStates();
    for (const a of s.alerts) {
      if (typeof a.rule !== 'string' || typeof a.fingerprint !== 'string' || !['pending', 'firing', 'resolved'].includes(a.status)) {
        throw new Error(`malformed alert in snapshot: ${JSON.stringify(a)}`);
      }
      states.alertsOf(a.rule).set(a.fingerprint, { ...a, labels: { ...a.labels }, annotations: { ...a.annotations } });
    }
    for (const [name, h] of Object.entries(s.rules ?? {})) states.health.set(name, { ...h });
    return states;
  }

  private alertsOf(ruleName: string): Map<string, Alert> {
    let m = this.byRule.get(ruleName);
    if (!m) this.byRule.set(ruleName, (m = new Map()));
    return m;
  }
}

function expandAnnotations(rule: AlertRule, seriesLabels: Record<string, string>, labels: Record<string, string>, value: number): Record<string, string> {
  // $labels are the series' labels as in Prometheus (the rule's own labels are visible too, series win).
  const visible = { ...labels, ...seriesLabels };
  return Object.fromEntries(Object.entries(rule.annotations).map(([k, v]) => [k, expandTemplate(v, visible, value)]));
}

const FNV_OFFSET = 14695981039346656037n;
const FNV_PRIME = 1099511628211n;
const MASK = (1n << 64n) - 1n;
const encoder = new TextEncoder();

/**
 * Alertmanager's fingerprint of a label set (prometheus/common model.LabelSet.Fingerprint): FNV-1a 64 over the
 * label names and values sorted by name, each followed by the 0xff separator, as 16 hex digits.
 */
export function labelsFingerprint(labels: Record<string, string>): string {
  let h = FNV_OFFSET;
  const add = (b: number): void => { h = ((h ^ BigInt(b)) * FNV_PRIME) & MASK; };
  for (const name of Object.keys(labels).sort()) {
    for (const b of encoder.encode(name)) add(b);
    add(0xff);
    for (const b of encoder.encode(labels[name])) add(b);
    add(0xff);
  }
  return h.toString(16).padStart(16, '0');
}
