// evaluateRules: thresholds applied per series, notifications collected, a failing query marks the rule
// errored without touching its alerts.
import t from 'tap';
import type { AlertRule } from '../../../dashboards/alerts/alert-rule.ts';
import { AlertStates } from '../../../dashboards/alerts/alert-state.ts';
import { evaluateRules, type Sample } from '../../../dashboards/alerts/evaluator.ts';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1);

function rule(name: string, over: Partial<AlertRule> = {}): AlertRule {
  return { name, kind: 'clickhouse', expr: 'SELECT 1', threshold: { op: '>', value: 10 }, forMs: MIN, labels: {}, annotations: {}, group: 'g', file: 'g.yaml', ...over };
}

t.test('thresholds per series, notifications per transition', async (t) => {
  const rules = [rule('Errors'), rule('NoViews', { threshold: { op: '==', value: 0 }, forMs: 0 })];
  const results: Record<string, Sample[]> = {
    Errors: [{ labels: { service: 'api' }, value: 50 }, { labels: { service: 'web' }, value: 3 }],
    NoViews: [{ labels: { site: 'a' }, value: 0 }, { labels: { site: 'b' }, value: 12 }],
  };
  const states = new AlertStates();
  const first = await evaluateRules(rules, async (r) => results[r.name], states, T0);
  t.strictSame(first.notifications.map((n) => [n.status, n.alert.labels]), [['firing', { alertname: 'NoViews', site: 'a' }]]);
  t.strictSame(first.evaluations, [{ rule: 'Errors', samples: results.Errors }, { rule: 'NoViews', samples: results.NoViews }]);
  t.strictSame(states.alerts('Errors').map((a) => [a.labels.service, a.status]), [['api', 'pending']]);
  const second = await evaluateRules(rules, async (r) => results[r.name], states, T0 + MIN);
  t.strictSame(second.notifications.map((n) => [n.status, n.alert.labels.alertname, n.alert.value]), [['firing', 'Errors', 50]]);
});

t.test('a query error marks the rule errored and changes none of its alerts', async (t) => {
  const states = new AlertStates();
  const rules = [rule('Errors'), rule('Other')];
  let failing = false;
  const query = async (r: AlertRule): Promise<Sample[]> => {
    if (failing && r.name === 'Errors') throw new Error('ClickHouse: connection refused');
    return [{ labels: { service: 'api' }, value: 50 }];
  };
  await evaluateRules(rules, query, states, T0);
  await evaluateRules(rules, query, states, T0 + MIN);
  t.strictSame(states.alerts().map((a) => [a.rule, a.status]), [['Errors', 'firing'], ['Other', 'firing']]);
  failing = true;
  const during = await evaluateRules(rules, query, states, T0 + 2 * MIN);
  t.strictSame(during.notifications, [], 'nothing resolves because a query failed');
  t.strictSame(during.evaluations[0], { rule: 'Errors', samples: [], error: 'ClickHouse: connection refused' });
  t.strictSame(states.ruleHealth('Errors'), { health: 'err', lastError: 'ClickHouse: connection refused', lastEvaluatedAt: T0 + 2 * MIN });
  t.strictSame(states.ruleHealth('Other'), { health: 'ok', lastEvaluatedAt: T0 + 2 * MIN });
  t.strictSame(states.alerts('Errors').map((a) => [a.status, a.lastEvaluatedAt]), [['firing', T0 + MIN]], 'the alert is untouched');
  failing = false;
  const after = await evaluateRules(rules, query, states, T0 + 3 * MIN);
  t.strictSame(after.notifications, []);
  t.equal(states.ruleHealth('Errors')?.health, 'ok');
});

t.test('two series with one label set, or a malformed result, is an error', async (t) => {
  const states = new AlertStates();
  const dup = await evaluateRules([rule('Dup')], async () => [{ labels: { a: '1' }, value: 20 }, { labels: { a: '1' }, value: 30 }], states, T0);
  t.match(dup.evaluations[0].error, /more than one series for the label set/);
  t.strictSame(states.alerts(), []);
  const bad = await evaluateRules([rule('Bad')], async () => [{ labels: {}, value: '12' }] as never, states, T0);
  t.match(bad.evaluations[0].error, /malformed series/);
  t.equal(states.ruleHealth('Bad')?.health, 'err');
});
