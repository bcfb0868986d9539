import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../../broker/server/logger.ts';
import type { Alert, Notification } from './alert-state.ts';
import { alertmanagerAlerts, webhookPayloads } from './alertmanager-payload.ts';

/**
 * Sends notifications without ever blocking an evaluation: `notify()` only queues. Each target (a webhook
 * URL, an Alertmanager) has its own queue, delivered in order, one request at a time, retried with
 * exponential backoff, so one slow or broken receiver delays nobody else.
 *
 * Webhooks get Alertmanager's webhook payload (v4): a firing alert when it starts firing and again every
 * `repeatIntervalMs` while it fires (Alertmanager's repeat_interval), a resolved alert once. An Alertmanager
 * gets every firing and recently resolved alert on every evaluation, as Prometheus sends them: Alertmanager
 * treats an alert it stops hearing about as resolved once its endsAt passes, and does its own grouping,
 * deduplication and repeating. A queued Alertmanager post is replaced by a newer one for the same group,
 * since the newer one carries the current state of the same alerts.
 */
export const DEFAULT_REPEAT_INTERVAL_MS = 4 * 3_600_000;
/** Prometheus' default resend delay to Alertmanager: the floor for how long a posted alert stays valid. */
const ALERTMANAGER_RESEND_MS = 60_000;

export interface RetryOptions {
  /** First retry after this long, then doubling. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** A notification not delivered by then is dropped (counted and logged). */
  giveUpAfterMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { initialDelayMs: 500, maxDelayMs: 30_000, giveUpAfterMs: 3_600_000 };

export interface NotifierOptions {
  webhooks: readonly string[];
  /** Base URL of an Alertmanager; alerts are posted to `<url>/api/v2/alerts`. */
  alertmanagerUrl?: string;
  /** Tributary's dashboard URL: the payloads' externalURL and generatorURL. */
  externalUrl: string;
  /** The `receiver` named in webhook payloads. */
  receiver?: string;
  repeatIntervalMs?: number;
  retry?: Partial<RetryOptions>;
  /** Per request. */
  timeoutMs?: number;
  /** Queued deliveries per target beyond which the oldest is dropped. */
  maxQueued?: number;
  registry: Registry;
  log: Logger;
}

interface Delivery {
  body: unknown;
  /** Wall-clock ms when queued: the retry period counts from here. */
  queuedAt: number;
  /** Deliveries with the same key replace each other while queued. */
  coalesceKey?: string;
}

/** A target's name in metrics and logs: never the full URL, whose path or query often is the secret (Slack, chat webhooks). */
export function targetName(kind: 'webhook' | 'alertmanager', url: string, index: number): string {
  let host: string;
  try {
    host = new URL(url).host;
  } catch {
    throw new Error(`not a valid ${kind} URL: ${JSON.stringify(url)}`);
  }
  return kind === 'webhook' ? `webhook-${index + 1} ${host}` : `alertmanager ${host}`;
}

interface NotifierMetrics {
  sent: Counter<'target'>;
  failed: Counter<'target'>;
  dropped: Counter<'target'>;
  queued: Gauge<'target'>;
}

function notifierMetrics(registry: Registry): NotifierMetrics {
  return {
    sent: new Counter({ name: 'tributary_alert_notifications_sent_total', help: 'Notification requests a target accepted (2xx).', labelNames: ['target'], registers: [registry] }),
    failed: new Counter({ name: 'tributary_alert_notifications_failed_total', help: 'Notification requests that failed (network error, timeout or non-2xx); most are retried.', labelNames: ['target'], registers: [registry] }),
    dropped: new Counter({ name: 'tributary_alert_notifications_dropped_total', help: 'Notifications given up on: rejected with a 4xx, undelivered after the retry period, or pushed out of a full queue.', labelNames: ['target'], registers: [registry] }),
    queued: new Gauge({ name: 'tributary_alert_notifications_queued', help: 'Notifications waiting for delivery, per target.', labelNames: ['target'], registers: [registry] }),
  };
}

/** One receiver: an ordered queue delivered by one loop, with retries. */
class DeliveryQueue {
  readonly name: string;
  readonly #url: string;
  readonly #queue: Delivery[] = [];
  readonly #retry: RetryOptions;
  readonly #timeoutMs: number;
  readonly #maxQueued: number;
  readonly #metrics: NotifierMetrics;
  readonly #log: Logger;
  /** Aborts the request or backoff sleep in progress when the notifier closes. */
  readonly #closing = new AbortController();
  #running: Promise<void> | undefined;
  #idle: (() => void)[] = [];

  constructor(name: string, url: string, opts: { retry: RetryOptions; timeoutMs: number; maxQueued: number; metrics: NotifierMetrics; log: Logger }) {
    this.name = name;
    this.#url = url;
    this.#retry = opts.retry;
    this.#timeoutMs = opts.timeoutMs;
    this.#maxQueued = opts.maxQueued;
    this.#metrics = opts.metrics;
    this.#log = opts.log;
    this.#metrics.queued.set({ target: name }, 0);
  }

  get pending(): number {
    return this.#queue.length;
  }

  push(delivery: Delivery): void {
    if (this.#closing.signal.aborted) return;
    // Index 0 may be in flight; only deliveries still waiting behind it are replaced.
    const same = delivery.coalesceKey === undefined ? -1 : this.#queue.findIndex((d, i) => i > 0 && d.coalesceKey === delivery.coalesceKey);
    if (same !== -1) this.#queue[same] = delivery;
    else this.#queue.push(delivery);
    if (this.#queue.length > this.#maxQueued) {
      this.#queue.splice(1, 1);
      this.#metrics.dropped.inc({ target: this.name });
      this.#log.warn(`alert notifications to ${this.name}: queue full (${this.#maxQueued}), dropped the oldest waiting one`);
    }
    this.#metrics.queued.set({ target: this.name }, this.#queue.length);
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined;
      for (const resolve of this.#idle.splice(0)) resolve();
    });
  }

  /** Resolves once the queue is empty (immediately if it is). */
  idle(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  close(): void {
    this.#closing.abort();
  }

  async #run(): Promise<void> {
    while (this.#queue.length > 0 && !this.#closing.signal.aborted) {
      await this.#deliver(this.#queue[0]);
      this.#queue.shift();
      this.#metrics.queued.set({ target: this.name }, this.#queue.length);
    }
    if (this.#closing.signal.aborted && this.#queue.length > 0) {
      this.#log.warn(`alert notifications to ${this.name}: ${this.#queue.length} undelivered at shutdown`);
      this.#metrics.dropped.inc({ target: this.name }, this.#queue.length);
      this.#queue.length = 0;
      this.#metrics.queued.set({ target: this.name }, 0);
    }
  }

  async #deliver(d: Delivery): Promise<void> {
    let delay = this.#retry.initialDelayMs;
    for (let attempt = 1; ; attempt++) {
      if (this.#closing.signal.aborted) {
        this.#metrics.dropped.inc({ target: this.name });
        return;
      }
      const outcome = await this.#post(d.body);
      if (outcome === 'ok') {
        this.#metrics.sent.inc({ target: this.name });
        if (attempt > 1) this.#log.info(`alert notification to ${this.name} delivered after ${attempt} attempts`);
        return;
      }
      this.#metrics.failed.inc({ target: this.name });
      if (outcome.permanent) {
        this.#metrics.dropped.inc({ target: this.name });
        this.#log.error(`alert notification to ${this.name} rejected, not retried: ${outcome.reason}`);
        return;
      }
      if (Date.now() + delay - d.queuedAt > this.#retry.giveUpAfterMs) {
        this.#metrics.dropped.inc({ target: this.name });
        this.#log.error(`alert notification to ${this.name} dropped after ${attempt} attempts: ${outcome.reason}`);
        return;
      }
      if (attempt === 1) this.#log.warn(`alert notification to ${this.name} failed, retrying: ${outcome.reason}`);
      await sleep(delay, this.#closing.signal);
      delay = Math.min(delay * 2, this.#retry.maxDelayMs);
    }
  }

  async #post(body: unknown): Promise<'ok' | { permanent: boolean; reason: string }> {
    try {
      const res = await fetch(this.#url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.any([AbortSignal.timeout(this.#timeoutMs), this.#closing.signal]),
      });
      const text = await res.text().catch(() => '');
      if (res.ok) return 'ok';
      // A 4xx other than 408/429 says the payload itself is unacceptable: sending it again cannot help.
      const permanent = res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429;
      return { permanent, reason: `HTTP ${res.status}${text ? `: ${text.trim().slice(0, 200)}` : ''}` };
    } catch (err) {
      const e = err as Error;
      const reason = e.name === 'TimeoutError' ? `no answer within ${this.#timeoutMs} ms` : `${e.message}${e.cause instanceof Error ? `: ${e.cause.message}` : ''}`;
      return { permanent: false, reason };
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export class Notifier {
  readonly #webhooks: DeliveryQueue[];
  readonly #alertmanager: DeliveryQueue | undefined;
  readonly #externalUrl: string;
  readonly #receiver: string;
  readonly #repeatIntervalMs: number;
  /** fingerprint → when the firing alert was last queued for the webhooks. */
  readonly #notified = new Map<string, number>();

  constructor(opts: NotifierOptions) {
    const retry = { ...DEFAULT_RETRY, ...opts.retry };
    const metrics = notifierMetrics(opts.registry);
    const common = { retry, timeoutMs: opts.timeoutMs ?? 10_000, maxQueued: opts.maxQueued ?? 1_000, metrics, log: opts.log };
    this.#webhooks = opts.webhooks.map((url, i) => new DeliveryQueue(targetName('webhook', url, i), url, common));
    this.#alertmanager = opts.alertmanagerUrl === undefined ? undefined
      : new DeliveryQueue(targetName('alertmanager', opts.alertmanagerUrl, 0), `${opts.alertmanagerUrl.replace(/\/+$/, '')}/api/v2/alerts`, common);
    this.#externalUrl = opts.externalUrl;
    this.#receiver = opts.receiver ?? 'tributary';
    this.#repeatIntervalMs = opts.repeatIntervalMs ?? DEFAULT_REPEAT_INTERVAL_MS;
  }

  /**
   * Queues what one evaluation of a group calls for. `notifications` are the evaluation's transitions;
   * `alerts` every current alert of the group's rules (for repeats and for Alertmanager).
   */
  notify(group: { name: string; intervalMs: number }, notifications: readonly Notification[], alerts: readonly Alert[], now: number): void {
    const toSend: Notification[] = [...notifications];
    const fresh = new Set(notifications.map((n) => n.alert.fingerprint));
    for (const a of alerts) {
      if (a.status !== 'firing' || fresh.has(a.fingerprint)) continue;
      const last = this.#notified.get(a.fingerprint);
      // Unknown (e.g. a state saved before this was tracked): count from now rather than re-send at once.
      if (last === undefined) this.#notified.set(a.fingerprint, now);
      else if (now - last >= this.#repeatIntervalMs) toSend.push({ status: 'firing', alert: a });
    }
    for (const n of toSend) {
      if (n.status === 'firing') this.#notified.set(n.alert.fingerprint, now);
      else this.#notified.delete(n.alert.fingerprint);
    }
    if (toSend.length > 0 && this.#webhooks.length > 0) {
      const payloads = webhookPayloads(toSend, { receiver: this.#receiver, externalURL: this.#externalUrl });
      for (const q of this.#webhooks) for (const body of payloads) q.push({ body, queuedAt: Date.now() });
    }
    if (this.#alertmanager) {
      const validForMs = 4 * Math.max(ALERTMANAGER_RESEND_MS, group.intervalMs);
      const body = alertmanagerAlerts([...alerts], { externalURL: this.#externalUrl, validForMs, now });
      if (body.length > 0) this.#alertmanager.push({ body, coalesceKey: group.name, queuedAt: Date.now() });
    }
  }

  /** Drops repeat bookkeeping for alerts no longer known (resolved long ago, rules removed). */
  retain(fingerprints: Iterable<string>): void {
    const keep = new Set(fingerprints);
    for (const fp of [...this.#notified.keys()]) if (!keep.has(fp)) this.#notified.delete(fp);
  }

  /** For persistence: when each firing alert was last sent to the webhooks. */
  notified(): Record<string, number> {
    return Object.fromEntries(this.#notified);
  }

  restoreNotified(notified: Record<string, number>): void {
    for (const [fp, at] of Object.entries(notified)) if (typeof at === 'number') this.#notified.set(fp, at);
  }

  /** Queued or in-flight deliveries over all targets. */
  pending(): number {
    return this.#targets().reduce((n, q) => n + q.pending, 0);
  }

  /** Resolves once every queue is empty. */
  async idle(): Promise<void> {
    await Promise.all(this.#targets().map((q) => q.idle()));
  }

  /** Gives queued deliveries up to `drainMs` to go out, then abandons the rest (counted as dropped). */
  async close(drainMs = 5_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs)))]);
    clearTimeout(timer);
    for (const q of this.#targets()) q.close();
    await this.idle();
  }

  #targets(): DeliveryQueue[] {
    return this.#alertmanager ? [...this.#webhooks, this.#alertmanager] : [...this.#webhooks];
  }
}
