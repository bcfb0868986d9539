// The sink's schema on a real ClickHouse (18.16 here): the migration applies, is idempotent statement by
// statement, every table is plain MergeTree with the source-position columns and portable types only,
// and a row of every table loads through JSONEachRow and reads back unchanged.
import t from 'tap';
import { createClient } from '@clickhouse/client';
import { migrate } from '../../../../pipelines/sinks/clickhouse/migrations.ts';
import { MIGRATIONS, TOPIC_TABLES } from '../../../../pipelines/sinks/clickhouse/schema.ts';
import { insertRows } from '../../../../pipelines/sinks/clickhouse/exactly-once.ts';
import { identifier, sql } from '../../../../pipelines/sinks/clickhouse/sql.ts';
import { startClickHouse } from '../../../helpers/clickhouse.ts';

const ch = await startClickHouse();
const client = createClient({ url: ch.url });
t.teardown(async () => {
  await client.close();
  await ch.stop();
});

const tables = Object.values(TOPIC_TABLES);

t.test('the migrations apply once, and every statement is idempotent', async (t) => {
  t.same(await migrate(client, MIGRATIONS), { applied: MIGRATIONS.map((m) => m.version), skipped: [] });
  t.same(await migrate(client, MIGRATIONS), { applied: [], skipped: MIGRATIONS.map((m) => m.version) });
  // ADD COLUMN cannot be idempotent on 18.16: such migrations say how to tell they are in place instead.
  for (const m of MIGRATIONS) {
    if (m.alreadyApplied) t.equal((await ch.query(m.alreadyApplied)).trim(), '1', `migration ${m.version} knows it is in place`);
    else for (const statement of m.up) await ch.query(statement);
  }
  t.pass('running every statement again is harmless');
});

t.test('one plain MergeTree table per topic, with source positions and portable types', async (t) => {
  for (const table of tables) {
    const engine = (await ch.query(sql`SELECT engine FROM system.tables WHERE database = 'default' AND name = ${table}`)).trim();
    t.equal(engine, 'MergeTree', `${table} is MergeTree`);
    const columns = await columnsOf(table);
    t.same(columns.slice(0, 3), [
      { name: '_topic', type: 'String' },
      { name: '_partition', type: 'UInt32' },
      { name: '_offset', type: 'UInt64' },
    ], `${table} starts with the source position`);
    const unportable = columns.filter((c) => /LowCardinality|Map|DateTime64|JSON|Object|Nullable|Nested|AggregateFunction|Enum/.test(c.type));
    t.same(unportable, [], `${table} uses only types 18.16 and current releases share`);
  }
});

t.test('a row of every table loads with JSONEachRow and reads back unchanged', async (t) => {
  for (const [topic, table] of Object.entries(TOPIC_TABLES)) {
    const columns = await columnsOf(table);
    const row: Record<string, unknown> = {};
    const expected: Record<string, unknown> = {};
    for (const c of columns) [row[c.name], expected[c.name]] = sample(c.type);
    Object.assign(row, { _topic: topic, _partition: 3, _offset: 12345678901234567n });
    Object.assign(expected, { _topic: topic, _partition: 3, _offset: '12345678901234567' });
    await insertRows(client, table, [row as { _topic: string; _partition: number; _offset: bigint }]);
    const back = await (await client.query({ query: sql`SELECT * FROM ${identifier(table)}`, format: 'JSONEachRow' })).json<Record<string, unknown>>();
    t.same(back, [expected], `${table} round-trips`);
  }
});

async function columnsOf(table: string): Promise<{ name: string; type: string }[]> {
  const rs = await client.query({ query: sql`SELECT name, type FROM system.columns WHERE database = 'default' AND table = ${table}`, format: 'JSONEachRow' });
  return rs.json();
}

/** A value to insert for a column type, and how ClickHouse's JSONEachRow gives it back. */
function sample(type: string): [unknown, unknown] {
  switch (type) {
    case 'String':
      return ["it's \\ é 😀\n", "it's \\ é 😀\n"];
    case 'UInt8':
      return [1, 1];
    case 'UInt32':
      return [4000000000, 4000000000];
    case 'UInt64':
      return ['18446744073709551615', '18446744073709551615'];
    case 'Float64':
      return [-1.25, -1.25];
    case "DateTime('UTC')":
      return [1700000000, '2023-11-14 22:13:20'];
    case 'Array(String)':
      return [['k', "'v'"], ['k', "'v'"]];
    default:
      throw new Error(`no sample for type ${type}`);
  }
}
