// The notifier against a real HTTP receiver: repeats of still-firing alerts only after the repeat interval,
// resolved sent once, retries on 5xx but not on a 4xx, per-target ordering, Alertmanager posts on every
// evaluation with queued ones coalesced, targets named without their secret path, undelivered ones given up.
import t from 'tap';
import { Registry } from 'prom-client';
import type { Logger } from '../../../broker/server/logger.ts';
import type { Alert, Notification } from '../../../dashboards/alerts/alert-state.ts';
import { Notifier, targetName } from '../../../dashboards/alerts/notifier.ts';
import { startWebhookReceiver } from './webhook-receiver.ts';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const HOUR = 3_600_000;
const group = { name: 'g', intervalMs: 1000 };

function recordingLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`INFO ${m}`), warn: (m) => lines.push(`WARN ${m}`), error: (m) => lines.push(`ERROR ${m}`) };
}

function alert(fingerprint: string, status: Alert['status'], over: Partial<Alert> = {}): Alert {
  return {
    rule: 'R', labels: { alertname: 'R', instance: fingerprint }, annotations: {}, status, fingerprint,
    activeAt: T0 - 60_000, firedAt: T0, value: 1, lastEvaluatedAt: T0, ...(status === 'resolved' ? { resolvedAt: T0 + HOUR } : {}), ...over,
  };
}
const firing = (a: Alert): Notification => ({ status: 'firing', alert: a });

async function metric(registry: Registry, name: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).reduce((n, v) => n + v.value, 0);
}

t.test('still-firing alerts are repeated after the repeat interval; resolved once', async (t) => {
  const receiver = await startWebhookReceiver();
  t.teardown(() => receiver.close());
  const notifier = new Notifier({ webhooks: [receiver.url], externalUrl: 'http://x', repeatIntervalMs: 4 * HOUR, registry: new Registry(), log: recordingLog() });
  t.teardown(() => notifier.close(0));
  const a = alert('a', 'firing');
  const sent = async () => { await notifier.idle(); return receiver.accepted().map((p) => `${p.status}:${p.alerts.map((x: any) => x.fingerprint).join(',')}`); };

  notifier.notify(group, [firing(a)], [a], T0);
  t.strictSame(await sent(), ['firing:a']);
  notifier.notify(group, [], [a], T0 + 4 * HOUR - 1);
  t.strictSame(await sent(), ['firing:a'], 'nothing new before the repeat interval');
  t.strictSame(notifier.notified(), { a: T0 });
  notifier.notify(group, [], [a], T0 + 4 * HOUR);
  t.strictSame(await sent(), ['firing:a', 'firing:a'], 'repeated at the interval');
  t.strictSame(notifier.notified(), { a: T0 + 4 * HOUR });

  // A second alert starting to fire goes out alone; the first is not due.
  const b = alert('b', 'firing');
  notifier.notify(group, [firing(b)], [a, b], T0 + 5 * HOUR);
  t.strictSame((await sent()).at(-1), 'firing:b');

  const resolvedA = alert('a', 'resolved', { resolvedAt: T0 + 6 * HOUR });
  notifier.notify(group, [{ status: 'resolved', alert: resolvedA }], [resolvedA, b], T0 + 6 * HOUR);
  t.strictSame((await sent()).at(-1), 'resolved:a');
  t.notOk('a' in notifier.notified(), 'a resolved alert is no longer repeated');
  notifier.notify(group, [], [resolvedA, b], T0 + 7 * HOUR);
  t.strictSame(await sent(), ['firing:a', 'firing:a', 'firing:b', 'resolved:a'], 'resolved is not sent again');

  // Restored repeat bookkeeping (after a restart) holds back the repeat; an alert without any counts from now.
  const restarted = new Notifier({ webhooks: [receiver.url], externalUrl: 'http://x', repeatIntervalMs: 4 * HOUR, registry: new Registry(), log: recordingLog() });
  t.teardown(() => restarted.close(0));
  restarted.restoreNotified({ b: T0 + 5 * HOUR });
  const c = alert('c', 'firing');
  restarted.notify(group, [], [b, c], T0 + 8 * HOUR);
  await restarted.idle();
  t.strictSame((await sent()).length, 4, 'no re-send right after a restart');
  restarted.notify(group, [], [b, c], T0 + 9 * HOUR);
  await restarted.idle();
  t.strictSame((await sent()).at(-1), 'firing:b', 'b repeats on its own schedule');
  restarted.notify(group, [], [b, c], T0 + 12 * HOUR);
  await restarted.idle();
  t.strictSame((await sent()).at(-1), 'firing:c', 'c repeats 4 h after it was first seen');
});

t.test('5xx and network errors are retried in order; a 4xx is dropped', async (t) => {
  const receiver = await startWebhookReceiver();
  t.teardown(() => receiver.close());
  const registry = new Registry();
  const log = recordingLog();
  const notifier = new Notifier({ webhooks: [receiver.url], externalUrl: 'http://x', retry: { initialDelayMs: 20, maxDelayMs: 50 }, registry, log });
  t.teardown(() => notifier.close(0));
  receiver.failNext(3, 503);
  notifier.notify(group, [firing(alert('1', 'firing'))], [], T0);
  notifier.notify(group, [firing(alert('2', 'firing'))], [], T0);
  await notifier.idle();
  t.strictSame(receiver.requests.map((r) => `${r.status}:${r.body.alerts[0].fingerprint}`), ['503:1', '503:1', '503:1', '200:1', '200:2'], 'the second waits behind the first');
  t.equal(await metric(registry, 'tributary_alert_notifications_sent_total'), 2);
  t.equal(await metric(registry, 'tributary_alert_notifications_failed_total'), 3);

  receiver.failNext(1, 400);
  notifier.notify(group, [firing(alert('3', 'firing'))], [], T0);
  await notifier.idle();
  t.strictSame(receiver.requests.slice(5).map((r) => r.status), [400], 'a rejected payload is not sent again');
  t.equal(await metric(registry, 'tributary_alert_notifications_dropped_total'), 1);
  t.match(log.lines.at(-1), /ERROR alert notification to webhook-1 127\.0\.0\.1:\d+ rejected, not retried: HTTP 400/);
});

t.test('an unreachable target is given up after the retry period without blocking the others', async (t) => {
  const receiver = await startWebhookReceiver();
  t.teardown(() => receiver.close());
  const dead = await startWebhookReceiver();
  const deadUrl = dead.url;
  await dead.close(); // nothing listens there any more: connection refused
  const registry = new Registry();
  const log = recordingLog();
  const notifier = new Notifier({ webhooks: [deadUrl, receiver.url], externalUrl: 'http://x', retry: { initialDelayMs: 10, maxDelayMs: 20, giveUpAfterMs: 100 }, registry, log });
  t.teardown(() => notifier.close(0));
  const now = Date.now();
  notifier.notify(group, [firing(alert('1', 'firing'))], [], now);
  await notifier.idle();
  t.equal(receiver.accepted().length, 1, 'the live receiver got it');
  t.equal(await metric(registry, 'tributary_alert_notifications_dropped_total'), 1, 'the dead one was given up');
  t.ok(await metric(registry, 'tributary_alert_notifications_failed_total') >= 1);
  t.ok(log.lines.some((l) => /ERROR alert notification to webhook-1 .* dropped after \d+ attempts/.test(l)));
});

t.test('Alertmanager gets every firing and resolved alert on each evaluation; queued posts are coalesced', async (t) => {
  const am = await startWebhookReceiver();
  t.teardown(() => am.close());
  const base = am.url.replace(/\/hook$/, '');
  const notifier = new Notifier({ webhooks: [], alertmanagerUrl: base, externalUrl: 'http://dash', retry: { initialDelayMs: 20, maxDelayMs: 20 }, registry: new Registry(), log: recordingLog() });
  t.teardown(() => notifier.close(0));
  const a = alert('a', 'firing');
  const p = alert('p', 'pending', { firedAt: undefined });
  notifier.notify(group, [], [a, p], T0);
  await notifier.idle();
  t.equal(am.requests[0].path, '/api/v2/alerts');
  t.strictSame(am.requests[0].body, [{
    labels: { alertname: 'R', instance: 'a' }, annotations: {}, startsAt: new Date(T0).toISOString(),
    endsAt: new Date(T0 + 4 * 60_000).toISOString(), generatorURL: 'http://dash/alerts?rule=R',
  }], 'firing only (not pending), valid for 4 × max(1 m, interval)');

  // While the first post is being retried, three evaluations queue posts: only the newest of them is kept.
  am.failNext(2);
  notifier.notify(group, [], [a], T0 + 1000);
  notifier.notify(group, [], [a], T0 + 2000);
  notifier.notify(group, [], [a], T0 + 3000);
  const r = alert('a', 'resolved', { resolvedAt: T0 + 4000 });
  notifier.notify(group, [{ status: 'resolved', alert: r }], [r], T0 + 4000);
  await notifier.idle();
  const ends = am.requests.slice(1).filter((x) => x.status === 200).map((x) => x.body[0].endsAt);
  t.strictSame(ends, [new Date(T0 + 1000 + 4 * 60_000).toISOString(), new Date(T0 + 4000).toISOString()], 'the in-flight post, then the newest (resolved)');
});

t.test('targets are named by host only: webhook paths often carry secrets', async (t) => {
  t.equal(targetName('webhook', 'https://hooks.example.com/services/T0/B0/SECRET?token=x', 1), 'webhook-2 hooks.example.com');
  t.equal(targetName('alertmanager', 'http://am:9093', 0), 'alertmanager am:9093');
  t.throws(() => targetName('webhook', 'not a url', 0), /not a valid webhook URL/);
});

t.test('close() gives up on what cannot be delivered', async (t) => {
  const receiver = await startWebhookReceiver();
  t.teardown(() => receiver.close());
  const registry = new Registry();
  const notifier = new Notifier({ webhooks: [receiver.url], externalUrl: 'http://x', retry: { initialDelayMs: 60_000 }, registry, log: recordingLog() });
  receiver.failNext(1);
  notifier.notify(group, [firing(alert('1', 'firing'))], [], T0);
  notifier.notify(group, [firing(alert('2', 'firing'))], [], T0);
  await new Promise<void>((resolve) => { const check = () => (receiver.requests.length > 0 ? resolve() : setTimeout(check, 10)); check(); });
  await notifier.close(0); // the first is waiting a minute for its retry
  t.equal(notifier.pending(), 0);
  t.equal(await metric(registry, 'tributary_alert_notifications_dropped_total'), 2, 'the one waiting to retry and the one behind it are counted as dropped');
  notifier.notify(group, [firing(alert('3', 'firing'))], [], T0);
  t.equal(notifier.pending(), 0, 'nothing is queued after close');
});
