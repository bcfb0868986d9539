// The alert state in a real ClickHouse (18.16 here): migrations that coexist with the sink's and are idempotent,
// save/restore round-trips with the latest save winning, history rows (non-finite values and hostile label
// text included), and the transition diff that feeds the history.
import t from 'tap';
import { createClient } from '@clickhouse/client';
import { appliedMigrations, migrate } from '../../../pipelines/sinks/clickhouse/migrations.ts';
import { MIGRATIONS } from '../../../pipelines/sinks/clickhouse/schema.ts';
import { AlertStates, type Alert } from '../../../dashboards/alerts/alert-state.ts';
import type { AlertRule } from '../../../dashboards/alerts/alert-rule.ts';
import { ALERT_MIGRATIONS, AlertStore, alertTransitions } from '../../../dashboards/alerts/alert-store.ts';
import { startClickHouse } from '../../helpers/clickhouse.ts';

const ch = await startClickHouse();
const client = createClient({ url: ch.url });
t.teardown(async () => {
  await client.close();
  await ch.stop();
});

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const rule: AlertRule = {
  name: 'HighErrors', kind: 'clickhouse', expr: 'SELECT 1 AS value', threshold: { op: '>', value: 5 }, forMs: 60_000,
  labels: { severity: 'page' }, annotations: { summary: '{{ $labels.service }} at {{ $value }}' }, group: 'g', file: 'g.yaml',
};

t.test('alert migrations apply next to the sink migrations, in either order, and again as no-ops', async (t) => {
  const first = await new AlertStore(client).migrate();
  t.strictSame(first.applied, ALERT_MIGRATIONS.map((m) => m.version));
  const sink = await migrate(client, MIGRATIONS);
  t.strictSame(sink.applied, MIGRATIONS.map((m) => m.version), 'the sink list is not confused by the alert versions');
  const again = await new AlertStore(client).migrate();
  t.strictSame(again, { applied: [], skipped: ALERT_MIGRATIONS.map((m) => m.version) });
  t.strictSame((await migrate(client, MIGRATIONS)).applied, []);
  const recorded = await appliedMigrations(client);
  t.strictSame([...recorded.keys()].sort((a, b) => a - b), [...MIGRATIONS, ...ALERT_MIGRATIONS].map((m) => m.version));
  t.ok(ALERT_MIGRATIONS.every((a) => MIGRATIONS.every((s) => s.version < a.version)), 'version ranges do not overlap');
  const tables = (await ch.query("SELECT name FROM system.tables WHERE database = 'default' AND name LIKE 'alert%' ORDER BY name FORMAT TSV")).trim().split('\n');
  t.strictSame(tables, ['alert_history', 'alert_state']);
});

t.test('save and load round-trip; the latest save wins; scopes are separate', async (t) => {
  const store = new AlertStore(client, { scope: 'roundtrip' });
  t.equal(await store.load(), null, 'nothing saved yet');

  const states = new AlertStates();
  states.observe(rule, [{ labels: { service: "api'; DROP TABLE alert_state; --" }, value: 7 }], T0);
  states.observe(rule, [{ labels: { service: "api'; DROP TABLE alert_state; --" }, value: 8 }], T0 + 60_000);
  t.equal(states.alerts()[0].status, 'firing');
  const firstSavedAt = await store.save(states.snapshot(), { [states.alerts()[0].fingerprint]: T0 + 60_000 }, T0 + 60_000);

  states.observe(rule, [], T0 + 120_000);
  states.markError('Other', 'ClickHouse query failed: \\ "quoted" \n newline', T0 + 120_000);
  // The clock going backwards (another host, NTP) must not make an older save win.
  const secondSavedAt = await store.save(states.snapshot(), {}, T0 + 30_000);
  t.ok(secondSavedAt > firstSavedAt, 'savedAt increases even when the clock does not');

  const loaded = await new AlertStore(client, { scope: 'roundtrip' }).load();
  t.ok(loaded);
  t.strictSame(loaded!.snapshot, JSON.parse(JSON.stringify(states.snapshot())), 'exactly the last snapshot');
  t.strictSame(loaded!.notified, {});
  t.equal(loaded!.savedAt, secondSavedAt);
  const restored = AlertStates.restore(loaded!.snapshot);
  t.strictSame(restored.alerts().map((a) => [a.status, a.activeAt, a.firedAt, a.resolvedAt, a.labels.service]),
    [['resolved', T0, T0 + 60_000, T0 + 120_000, "api'; DROP TABLE alert_state; --"]]);
  t.equal(restored.ruleHealth('Other')?.lastError, 'ClickHouse query failed: \\ "quoted" \n newline');

  t.equal(await new AlertStore(client, { scope: 'elsewhere' }).load(), null, 'another scope sees nothing');
  // Merges fold the table down to the newest row per scope; the answer is the same after them.
  await ch.query('OPTIMIZE TABLE alert_state FINAL');
  t.equal(Number((await ch.query("SELECT count() FROM alert_state WHERE scope = 'roundtrip'")).trim()), 1, 'one row left after a merge');
  t.equal((await new AlertStore(client, { scope: 'roundtrip' }).load())!.savedAt, secondSavedAt);
});

t.test('a large state (thousands of alerts, beyond max_query_size) saves and loads', async (t) => {
  const store = new AlertStore(client, { scope: 'large' });
  const states = new AlertStates();
  const series = Array.from({ length: 3000 }, (_, i) => ({ labels: { service: `service-${i}`, path: `/${'x'.repeat(100)}/${i}` }, value: i + 6 }));
  states.observe(rule, series, T0);
  const snapshot = states.snapshot();
  t.ok(JSON.stringify(snapshot).length > 256 * 1024, 'larger than ClickHouse\'s default max_query_size');
  await store.save(snapshot, {}, T0);
  t.strictSame((await store.load())!.snapshot, JSON.parse(JSON.stringify(snapshot)));
});

t.test('history rows: appended, read newest first, exact values including infinities', async (t) => {
  const store = new AlertStore(client, { scope: 'history' });
  const labels = { alertname: 'HighErrors', service: "x\\' OR 1=1 --", severity: 'page' };
  await store.appendHistory([
    { at: T0, rule: 'HighErrors', labels, fingerprint: 'aaaa', from: 'inactive', to: 'pending', value: 7.25 },
    { at: T0 + 1000, rule: 'HighErrors', labels, fingerprint: 'aaaa', from: 'pending', to: 'firing', value: Infinity },
  ]);
  await store.appendHistory([{ at: T0 + 2000, rule: 'HighErrors', labels, fingerprint: 'aaaa', from: 'firing', to: 'resolved', value: -Infinity }]);
  await store.appendHistory([]);
  const rows = await store.history(10);
  t.strictSame(rows, [
    { at: T0 + 2000, rule: 'HighErrors', fingerprint: 'aaaa', labels, from: 'firing', to: 'resolved', value: -Infinity },
    { at: T0 + 1000, rule: 'HighErrors', fingerprint: 'aaaa', labels, from: 'pending', to: 'firing', value: Infinity },
    { at: T0, rule: 'HighErrors', fingerprint: 'aaaa', labels, from: 'inactive', to: 'pending', value: 7.25 },
  ]);
  t.strictSame((await store.history(1)).map((r) => r.to), ['resolved'], 'limit keeps the newest');
  t.strictSame(await new AlertStore(client, { scope: 'other' }).history(10), []);
});

t.test('transitions between two evaluations', async (t) => {
  const a = (fingerprint: string, status: Alert['status'], value = 1): Alert => ({
    rule: 'R', labels: { alertname: 'R', k: fingerprint }, annotations: {}, status, fingerprint, activeAt: T0, value, lastEvaluatedAt: T0,
  });
  const moves = (before: Alert[], after: Alert[]) => alertTransitions(before, after, T0).map((x) => `${x.fingerprint}:${x.from}->${x.to}`).sort();
  t.strictSame(moves([], [a('1', 'pending')]), ['1:inactive->pending']);
  t.strictSame(moves([], [a('1', 'firing')]), ['1:inactive->firing'], 'for: 0 fires at once');
  t.strictSame(moves([a('1', 'pending')], [a('1', 'pending', 2)]), [], 'a new value is not a transition');
  t.strictSame(moves([a('1', 'pending')], [a('1', 'firing')]), ['1:pending->firing']);
  t.strictSame(moves([a('1', 'pending')], []), ['1:pending->inactive']);
  t.strictSame(moves([a('1', 'firing')], [a('1', 'resolved')]), ['1:firing->resolved']);
  t.strictSame(moves([a('1', 'resolved')], []), [], 'forgetting a resolved alert is no change');
  t.strictSame(moves([a('1', 'resolved')], [a('1', 'pending')]), ['1:resolved->pending']);
  t.strictSame(moves([a('1', 'firing'), a('2', 'pending')], [a('1', 'firing'), a('3', 'pending')]), ['2:pending->inactive', '3:inactive->pending']);
  const [x] = alertTransitions([a('1', 'pending', 3)], [], T0 + 5);
  t.strictSame(x, { at: T0 + 5, rule: 'R', labels: { alertname: 'R', k: '1' }, fingerprint: '1', from: 'pending', to: 'inactive', value: 3 });
});
