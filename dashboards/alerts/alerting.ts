import { createClient, ClickHouseLogLevel, type ClickHouseClient } from '@clickhouse/client';
import type { Registry } from 'prom-client';
import type { Logger } from '../../broker/server/logger.ts';
import { loadRuleDirectory } from './alert-rule.ts';
import { AlertScheduler } from './alert-scheduler.ts';
import type { Alert } from './alert-state.ts';
import { AlertStore } from './alert-store.ts';
import type { AlertsProvider, AlertsView } from './alerts-view.ts';
import { Notifier, type RetryOptions } from './notifier.ts';
import { DEFAULT_QUERY_TIMEOUT_MS, ruleQuery } from './rule-queries.ts';

/**
 * Alerting as one component: the rules of a folder evaluated on ClickHouse and Prometheus, state kept in
 * ClickHouse, notifications to webhooks and optionally an Alertmanager. The dashboards server serves
 * `view()` at /api/alerts and the registry at /metrics.
 */
export interface AlertingOptions {
  /** Folder of rule files (*.yaml); a bad file fails the start with a message naming it. */
  rulesDir: string;
  /** ClickHouse for ClickHouse rules and for the alert state; without it the state lives in memory only. */
  clickhouseUrl?: string;
  /** Prometheus for PromQL rules. */
  prometheusUrl?: string;
  webhooks?: readonly string[];
  alertmanagerUrl?: string;
  /** Where the dashboards are reachable, for the links in notifications. */
  externalUrl: string;
  repeatIntervalMs?: number;
  queryTimeoutMs?: number;
  retry?: Partial<RetryOptions>;
  /** Separates the saved state of several Tributary stacks sharing one ClickHouse; default 'default'. */
  stateScope?: string;
  /** How long to keep trying to reach ClickHouse for the saved state at start; default 30 s. */
  startTimeoutMs?: number;
  registry: Registry;
  log: Logger;
}

export interface Alerting extends AlertsProvider {
  view(): AlertsView;
  /** Every current alert. */
  alerts(): Alert[];
  /** Waits for the evaluations in flight, saves the state, gives queued notifications a few seconds. */
  stop(): Promise<void>;
  /** Resolves once no notification is queued (for tests and orderly shutdowns). */
  notificationsIdle(): Promise<void>;
}

export async function startAlerting(options: AlertingOptions): Promise<Alerting> {
  const groups = loadRuleDirectory(options.rulesDir);
  const timeoutMs = options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  let client: ClickHouseClient | undefined;
  let store: AlertStore | undefined;
  if (options.clickhouseUrl) {
    client = createClient({ url: options.clickhouseUrl, request_timeout: timeoutMs + 5_000, log: { level: ClickHouseLogLevel.OFF } });
    store = new AlertStore(client, { scope: options.stateScope });
  } else {
    options.log.warn('no ClickHouse configured: alert state is kept in memory only and lost on restart');
  }
  const notifier = new Notifier({
    webhooks: options.webhooks ?? [],
    alertmanagerUrl: options.alertmanagerUrl,
    externalUrl: options.externalUrl,
    repeatIntervalMs: options.repeatIntervalMs,
    retry: options.retry,
    registry: options.registry,
    log: options.log,
  });
  const scheduler = new AlertScheduler({
    groups,
    query: (now) => ruleQuery({ prometheusUrl: options.prometheusUrl, clickhouse: client, timeoutMs }, () => now),
    store,
    notifier,
    registry: options.registry,
    log: options.log,
  });
  try {
    if (store) await retryUntil(() => store.migrate(), options.startTimeoutMs ?? 30_000, options.log);
    // Evaluating without the saved state would re-fire every firing alert and lose pending durations: a
    // start that cannot read it fails instead.
    await retryUntil(() => scheduler.start(), options.startTimeoutMs ?? 30_000, options.log);
  } catch (err) {
    await notifier.close(0);
    await client?.close();
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    view: () => scheduler.view(),
    alerts: () => scheduler.alerts(),
    notificationsIdle: () => notifier.idle(),
    stop: () => (stopping ??= (async () => {
      await scheduler.stop();
      await notifier.close();
      await client?.close();
    })()),
  };
}

async function retryUntil(action: () => Promise<unknown>, timeoutMs: number, log: Logger): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
    try {
      await action();
      return;
    } catch (err) {
      if (Date.now() + delay > deadline) throw new Error(`alerting could not start: ${(err as Error).message}`, { cause: err });
      log.warn(`alerting: ${(err as Error).message.trim()}; retrying`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
