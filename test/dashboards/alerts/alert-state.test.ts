// The Prometheus alert lifecycle per (rule, label set): pending → firing after `for`, flapping, resolved and
// kept 15 minutes, snapshot/restore across restarts.
import t from 'tap';
import type { AlertRule } from '../../../dashboards/alerts/alert-rule.ts';
import { AlertStates, labelsFingerprint, RESOLVED_RETENTION_MS, type ActiveSeries } from '../../../dashboards/alerts/alert-state.ts';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

function rule(over: Partial<AlertRule> = {}): AlertRule {
  return {
    name: 'HighErrors', kind: 'promql', expr: 'x', threshold: { op: '>', value: 5 }, forMs: 5 * MIN,
    labels: { severity: 'page' }, annotations: { summary: '{{ $labels.job }} at {{ $value }}' }, group: 'g', file: 'g.yaml', ...over,
  };
}
const api = (value: number): ActiveSeries => ({ labels: { job: 'api' }, value });

t.test('pending, then firing once the condition held for `for`, then resolved', async (t) => {
  const s = new AlertStates();
  const r = rule();
  t.strictSame(s.observe(r, [api(7)], T0), [], 'pending sends nothing');
  t.strictSame(s.alerts().map((a) => [a.status, a.activeAt, a.value]), [['pending', T0, 7]]);
  t.strictSame(s.observe(r, [api(8)], T0 + 4 * MIN), []);
  const fired = s.observe(r, [api(9)], T0 + 5 * MIN);
  t.equal(fired.length, 1);
  t.strictSame(fired[0], {
    status: 'firing',
    alert: {
      rule: 'HighErrors', labels: { alertname: 'HighErrors', job: 'api', severity: 'page' }, annotations: { summary: 'api at 9' },
      status: 'firing', fingerprint: labelsFingerprint({ alertname: 'HighErrors', job: 'api', severity: 'page' }),
      activeAt: T0, value: 9, lastEvaluatedAt: T0 + 5 * MIN, firedAt: T0 + 5 * MIN,
    },
  });
  t.strictSame(s.observe(r, [api(10)], T0 + 6 * MIN), [], 'still firing sends nothing new');
  t.equal(s.alerts()[0].value, 10, 'last value kept');
  t.equal(s.alerts()[0].annotations.summary, 'api at 10', 'annotations follow the value');
  const resolved = s.observe(r, [], T0 + 7 * MIN);
  t.strictSame(resolved.map((n) => [n.status, n.alert.status, n.alert.activeAt, n.alert.firedAt, n.alert.resolvedAt, n.alert.value]),
    [['resolved', 'resolved', T0, T0 + 5 * MIN, T0 + 7 * MIN, 10]]);
  t.strictSame(s.observe(r, [], T0 + 8 * MIN), []);
  t.equal(s.alerts()[0].status, 'resolved', 'resolved alerts are kept');
  s.observe(r, [], T0 + 7 * MIN + RESOLVED_RETENTION_MS - 1);
  t.equal(s.alerts().length, 1, 'kept until 15 minutes after resolution');
  s.observe(r, [], T0 + 7 * MIN + RESOLVED_RETENTION_MS);
  t.strictSame(s.alerts(), [], 'then forgotten');
});

t.test('for: 0 fires on the first evaluation', async (t) => {
  const s = new AlertStates();
  t.strictSame(s.observe(rule({ forMs: 0 }), [api(6)], T0).map((n) => [n.status, n.alert.activeAt, n.alert.firedAt]), [['firing', T0, T0]]);
});

t.test('flapping: a pending alert that clears starts over; a resolved one that returns is a new alert', async (t) => {
  const s = new AlertStates();
  const r = rule();
  s.observe(r, [api(6)], T0);
  s.observe(r, [api(6)], T0 + 4 * MIN);
  t.strictSame(s.observe(r, [], T0 + 5 * MIN), [], 'a pending alert clearing sends nothing');
  t.strictSame(s.alerts(), [], 'and is gone (inactive)');
  s.observe(r, [api(6)], T0 + 6 * MIN);
  t.strictSame(s.observe(r, [api(6)], T0 + 10 * MIN), [], 'the `for` clock restarted');
  t.equal(s.observe(r, [api(6)], T0 + 11 * MIN)[0]?.status, 'firing');
  t.equal(s.observe(r, [], T0 + 12 * MIN)[0]?.status, 'resolved');
  t.strictSame(s.observe(r, [api(7)], T0 + 13 * MIN), [], 'back: pending again, nothing sent');
  t.strictSame(s.alerts().map((a) => [a.status, a.activeAt, a.firedAt, a.resolvedAt]), [['pending', T0 + 13 * MIN, undefined, undefined]]);
  t.equal(s.observe(r, [api(7)], T0 + 18 * MIN)[0]?.alert.firedAt, T0 + 18 * MIN);
});

t.test('each label set has its own alert', async (t) => {
  const s = new AlertStates();
  const r = rule({ forMs: MIN });
  const web = { labels: { job: 'web' }, value: 6 };
  s.observe(r, [api(6)], T0);
  t.strictSame(s.observe(r, [api(6), web], T0 + MIN).map((n) => [n.status, n.alert.labels.job]), [['firing', 'api']]);
  t.strictSame(s.observe(r, [web], T0 + 2 * MIN).map((n) => [n.status, n.alert.labels.job]), [['firing', 'web'], ['resolved', 'api']]);
  t.strictSame(s.alerts().map((a) => [a.labels.job, a.status]), [['api', 'resolved'], ['web', 'firing']]);
  t.strictSame(s.observe(rule({ name: 'Other' }), [], T0 + 2 * MIN), [], 'other rules leave these alone');
  t.equal(s.alerts('HighErrors').length, 2);
});

t.test('rule labels override series labels; alertname is the rule name', async (t) => {
  const s = new AlertStates();
  s.observe(rule({ forMs: 0 }), [{ labels: { job: 'api', severity: 'low', alertname: 'spoof' }, value: 6 }], T0);
  t.strictSame(s.alerts()[0].labels, { alertname: 'HighErrors', job: 'api', severity: 'page' });
});

t.test('errors keep alerts as they were; snapshot and restore round-trip through JSON', async (t) => {
  const s = new AlertStates();
  const r = rule();
  s.observe(r, [api(6)], T0);
  s.markError('HighErrors', 'connection refused', T0 + MIN);
  t.strictSame(s.ruleHealth('HighErrors'), { health: 'err', lastError: 'connection refused', lastEvaluatedAt: T0 + MIN });
  t.equal(s.alerts()[0].status, 'pending');
  const restored = AlertStates.restore(JSON.stringify(s));
  t.strictSame(restored.snapshot(), s.snapshot());
  t.equal(restored.observe(r, [api(6)], T0 + 5 * MIN)[0]?.status, 'firing', 'the `for` clock survives a restart');
  t.strictSame(restored.ruleHealth('HighErrors'), { health: 'ok', lastEvaluatedAt: T0 + 5 * MIN });
  restored.retainRules(['Other']);
  t.strictSame(restored.alerts(), []);
  t.equal(restored.ruleHealth('HighErrors'), undefined);
  t.throws(() => AlertStates.restore('{"version":2}'), /not an alert state snapshot/);
  t.throws(() => AlertStates.restore({ version: 1, alerts: [{ rule: 'x' }], rules: {} } as never), /malformed alert/);
});

t.test('fingerprints match Prometheus (prometheus/common signature test vectors)', async (t) => {
  t.equal(BigInt(`0x${labelsFingerprint({ name: 'garland, briggs', fear: 'love is not enough' })}`), 5799056148416392346n);
  t.equal(BigInt(`0x${labelsFingerprint({})}`), 14695981039346656037n);
  t.match(labelsFingerprint({ a: 'b' }), /^[0-9a-f]{16}$/);
});
