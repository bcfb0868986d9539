/**
 * What the dashboards show on the Alerts view and serve at /api/alerts: every rule with its health and
 * current alerts, and the recent state changes. The alert scheduler produces it; the web app only reads it.
 */
import type { Alert, AlertStatus } from './alert-state.ts';
import type { AlertRule } from './alert-rule.ts';

export interface RuleView {
  name: string;
  group: string;
  kind: AlertRule['kind'];
  expr: string;
  threshold: AlertRule['threshold'];
  forMs: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** 'unknown' until the rule was evaluated once. */
  health: 'ok' | 'err' | 'unknown';
  lastError: string | null;
  /** ms since the epoch. */
  lastEvaluatedAt: number | null;
  /** The most severe state among the rule's alerts: firing over pending; 'inactive' when it has none. */
  state: 'inactive' | 'pending' | 'firing';
  /** Pending and firing alerts, and resolved ones still kept for their notification. */
  alerts: Alert[];
}

/** One state change of one alert. */
export interface AlertTransition {
  /** ms since the epoch. */
  at: number;
  rule: string;
  labels: Record<string, string>;
  fingerprint: string;
  from: AlertStatus | 'inactive';
  to: AlertStatus | 'inactive';
  value: number;
}

export interface AlertsView {
  rules: RuleView[];
  /** Newest first. */
  history: AlertTransition[];
}

/** Implemented by the alert scheduler; the dashboards server asks it on every /api/alerts request. */
export interface AlertsProvider {
  view(): AlertsView | Promise<AlertsView>;
}
