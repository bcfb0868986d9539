// The shipped ClickHouse example rules run on a real ClickHouse (18.16 here) against the sink's schema and
// return one row per label set with a numeric `value`, as the evaluator expects.
import t from 'tap';
import { createClient } from '@clickhouse/client';
import { migrate } from '../../../pipelines/sinks/clickhouse/migrations.ts';
import { MIGRATIONS } from '../../../pipelines/sinks/clickhouse/schema.ts';
import { loadRuleDirectory, breaches } from '../../../dashboards/alerts/alert-rule.ts';
import { startClickHouse } from '../../helpers/clickhouse.ts';

const EXAMPLES = new URL('../../../dashboards/alerts/examples/', import.meta.url).pathname;
const rules = new Map(loadRuleDirectory(EXAMPLES).flatMap((g) => g.rules).map((r) => [r.name, r]));

const ch = await startClickHouse();
const client = createClient({ url: ch.url });
await migrate(client, MIGRATIONS);
await client.close();
t.teardown(() => ch.stop());

async function rows(expr: string): Promise<Record<string, unknown>[]> {
  const text = await ch.query(`${expr} FORMAT JSONEachRow`);
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

const POSITION = "'t', 0, 0";

/** The rows are placed relative to the current minute: start a case well inside one so it cannot roll over mid-case. */
async function awayFromMinuteEdge(): Promise<void> {
  const into = Date.now() % 60_000;
  if (into > 50_000) await new Promise((resolve) => setTimeout(resolve, 60_000 - into + 500));
}

t.test('HighErrorLogRate: errors a minute per service over the last five whole minutes', async (t) => {
  await awayFromMinuteEdge();
  // Two rows for one (service, severity, minute) as the rollup may write; the current minute and INFO are ignored.
  await ch.query(`INSERT INTO logs_rollup_1m (_topic, _partition, _offset, minute, service, severity, count)
    SELECT ${POSITION}, toStartOfMinute(now()) - 120, 'api', 'ERROR', 40 UNION ALL
    SELECT ${POSITION}, toStartOfMinute(now()) - 120, 'api', 'ERROR', 20 UNION ALL
    SELECT ${POSITION}, toStartOfMinute(now()) - 60, 'api', 'FATAL', 15 UNION ALL
    SELECT ${POSITION}, toStartOfMinute(now()), 'api', 'ERROR', 1000 UNION ALL
    SELECT ${POSITION}, toStartOfMinute(now()) - 60, 'web', 'INFO', 1000 UNION ALL
    SELECT ${POSITION}, toStartOfMinute(now()) - 60, 'web', 'ERROR', 5 UNION ALL
    SELECT ${POSITION}, toStartOfMinute(now()) - 3600, 'old', 'ERROR', 1000`);
  const rule = rules.get('HighErrorLogRate')!;
  const result = (await rows(rule.expr)).map((r) => [r.service, Number(r.value)]).sort();
  t.strictSame(result, [['api', 15], ['web', 1]]);
  t.strictSame(result.map(([, v]) => breaches(rule, v as number)), [true, false]);
});

t.test('PageViewsDroppedToZero: sites seen in the last day with their views in the last 15 minutes', async (t) => {
  await awayFromMinuteEdge();
  await ch.query(`INSERT INTO pageviews_rollup_1m (_topic, _partition, _offset, minute, site, path, views, visitors_hll)
    SELECT ${POSITION}, toStartOfMinute(now()) - 120, 'live.example', '/', 3, '' UNION ALL
    SELECT ${POSITION}, toStartOfMinute(now()) - 120, 'live.example', '/about', 2, '' UNION ALL
    SELECT ${POSITION}, toStartOfMinute(now()) - 7200, 'quiet.example', '/', 9, '' UNION ALL
    SELECT ${POSITION}, toStartOfMinute(now()) - 3 * 86400, 'gone.example', '/', 9, ''`);
  const rule = rules.get('PageViewsDroppedToZero')!;
  const result = (await rows(rule.expr)).map((r) => [r.site, Number(r.value)]).sort();
  t.strictSame(result, [['live.example', 5], ['quiet.example', 0]]);
  t.strictSame(result.map(([, v]) => breaches(rule, v as number)), [false, true]);
});
