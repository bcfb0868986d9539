// Versioned migrations against a real ClickHouse: applied in order and recorded, a second run is a
// no-op, a failure names its version and statement and keeps what came before, racing runs are harmless.
import t from 'tap';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { appliedMigrations, checkMigrations, migrate, MigrationError, type Migration } from '../../../../pipelines/sinks/clickhouse/migrations.ts';
import { startClickHouse } from '../../../helpers/clickhouse.ts';

t.test('checkMigrations rejects malformed lists', async (t) => {
  const m = (version: number, up = ['SELECT 1']): Migration => ({ version, name: `m${version}`, up });
  t.doesNotThrow(() => checkMigrations([m(1), m(2), m(10)]));
  t.doesNotThrow(() => checkMigrations([]));
  t.throws(() => checkMigrations([m(0)]), /not an integer in 1/);
  t.throws(() => checkMigrations([m(1.5)]), /not an integer in 1/);
  t.throws(() => checkMigrations([m(2 ** 32)]), /not an integer in 1/);
  t.throws(() => checkMigrations([m(2), m(1)]), /strictly increasing: 1 follows 2/);
  t.throws(() => checkMigrations([m(1), m(1)]), /strictly increasing/);
  t.throws(() => checkMigrations([m(1, [])]), /migration 1 \(m1\) has no statements/);
  t.throws(() => checkMigrations([{ version: 1, name: '', up: ['SELECT 1'] }]), /has no name/);
});

const ch = await startClickHouse();
// The failing migration is expected: keep the client from logging it.
const quiet = { level: ClickHouseLogLevel.OFF };
const client = createClient({ url: ch.url, log: quiet });
t.teardown(async () => {
  await client.close();
  await ch.stop();
});

const tables = async () => (await ch.query("SELECT name FROM system.tables WHERE database = 'default' ORDER BY name FORMAT TabSeparated")).split('\n').filter(Boolean);

const list: Migration[] = [
  { version: 1, name: 'create a', up: ['CREATE TABLE IF NOT EXISTS a (x String) ENGINE = MergeTree() ORDER BY x'] },
  {
    version: 2,
    name: 'create b and c',
    up: ['CREATE TABLE IF NOT EXISTS b (x String) ENGINE = MergeTree() ORDER BY x', 'CREATE TABLE IF NOT EXISTS c (x String) ENGINE = Memory'],
  },
  { version: 5, name: 'drop c', up: ['DROP TABLE IF EXISTS c'] },
];

t.test('applies in order, records each version, and a second run is a no-op', async (t) => {
  t.same(await migrate(client, list), { applied: [1, 2, 5], skipped: [] });
  t.same(await tables(), ['a', 'b', 'tributary_migrations']);
  t.same([...(await appliedMigrations(client))], [[1, 'create a'], [2, 'create b and c'], [5, 'drop c']]);
  t.equal((await ch.query("SELECT toTypeName(version), toTypeName(name), toTypeName(applied_at) FROM tributary_migrations LIMIT 1 FORMAT TabSeparated")).trim(), 'UInt32\tString\tDateTime');
  t.equal((await ch.query("SELECT engine FROM system.tables WHERE name = 'tributary_migrations'")).trim(), 'MergeTree');
  const appliedAt = Number(await ch.query('SELECT toUnixTimestamp(min(applied_at)) FROM tributary_migrations'));
  t.ok(Math.abs(appliedAt - Date.now() / 1000) < 120, 'applied_at is the time of applying');

  t.same(await migrate(client, list), { applied: [], skipped: [1, 2, 5] });
  t.equal(Number(await ch.query('SELECT count() FROM tributary_migrations')), 3, 'nothing recorded twice');
  t.same(await tables(), ['a', 'b', 'tributary_migrations']);
});

t.test('a failing migration names version and statement; earlier ones stay recorded', async (t) => {
  const failing: Migration[] = [
    ...list,
    { version: 6, name: 'create d', up: ['CREATE TABLE IF NOT EXISTS d (x String) ENGINE = Memory'] },
    {
      version: 7,
      name: 'broken',
      up: ['CREATE TABLE IF NOT EXISTS e (x String) ENGINE = Memory', 'CREATE TABLE IF NOT EXISTS f (x NoSuchType) ENGINE = Memory', 'CREATE TABLE IF NOT EXISTS g (x String) ENGINE = Memory'],
    },
    { version: 8, name: 'after', up: ['CREATE TABLE IF NOT EXISTS h (x String) ENGINE = Memory'] },
  ];
  const err = await migrate(client, failing).then(
    () => null,
    (e: unknown) => e,
  );
  t.type(err, MigrationError);
  const me = err as MigrationError;
  t.match(me, { version: 7, migration: 'broken', statementIndex: 1, statement: failing[4].up[1] });
  t.match(me.message, /^migration 7 \(broken\) failed at statement 2 of 3: .*NoSuchType/);
  t.match(me.message, /statement: CREATE TABLE IF NOT EXISTS f \(x NoSuchType\)/);
  t.same([...(await appliedMigrations(client)).keys()], [1, 2, 5, 6], '6 recorded, 7 not, 8 not attempted');
  t.same(await tables(), ['a', 'b', 'd', 'e', 'tributary_migrations'], 'statement 1 of 7 ran, nothing after the failure');

  // Fixed, the next run retries 7 from its first statement (idempotent) and goes on.
  failing[4] = { ...failing[4], up: failing[4].up.map((s) => s.replace('NoSuchType', 'String')) };
  t.same(await migrate(client, failing), { applied: [7, 8], skipped: [1, 2, 5, 6] });
  t.same(await tables(), ['a', 'b', 'd', 'e', 'f', 'g', 'h', 'tributary_migrations']);
});

t.test('a version recorded under another name is refused', async (t) => {
  await t.rejects(migrate(client, [{ version: 1, name: 'something else', up: ['SELECT 1'] }]), /migration 1 is recorded as 'create a' but the list names it 'something else'/);
});

t.test('two sinks migrating at once both succeed and the schema is applied once', async (t) => {
  await ch.query('CREATE DATABASE race');
  const a = createClient({ url: ch.url, database: 'race', log: quiet });
  const b = createClient({ url: ch.url, database: 'race', log: quiet });
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  const raced: Migration[] = Array.from({ length: 5 }, (_, i) => ({
    version: i + 1,
    name: `table ${i}`,
    up: [`CREATE TABLE IF NOT EXISTS r${i} (x String, d DateTime) ENGINE = MergeTree() PARTITION BY toYYYYMM(d) ORDER BY x`],
  }));
  const [ra, rb] = await Promise.all([migrate(a, raced), migrate(b, raced)]);
  t.same([...ra.applied, ...ra.skipped].sort(), [1, 2, 3, 4, 5]);
  t.same([...rb.applied, ...rb.skipped].sort(), [1, 2, 3, 4, 5]);
  t.same([...(await appliedMigrations(a)).keys()], [1, 2, 3, 4, 5], 'each version counts once even if both recorded it');
  t.equal(Number(await ch.query("SELECT count() FROM system.tables WHERE database = 'race' AND name LIKE 'r%'")), 5);
  t.same(await migrate(a, raced), { applied: [], skipped: [1, 2, 3, 4, 5] });
});

t.test('a change 18.16 cannot make idempotent (ADD COLUMN) is recorded, not repeated, when already in place', async (t) => {
  await ch.query('CREATE DATABASE columns');
  const a = createClient({ url: ch.url, database: 'columns', log: quiet });
  const b = createClient({ url: ch.url, database: 'columns', log: quiet });
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  const addColumn = (version: number, table: string): Migration => ({
    version,
    name: `add ${table}.extra`,
    up: [`ALTER TABLE ${table} ADD COLUMN extra String DEFAULT ''`],
    alreadyApplied: `SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = '${table}' AND name = 'extra'`,
  });
  const create = (version: number, table: string): Migration => ({ version, name: `create ${table}`, up: [`CREATE TABLE IF NOT EXISTS ${table} (x String) ENGINE = MergeTree() ORDER BY x`] });

  // A crash between the ALTER and the version record: the column is there, the version is not.
  await migrate(a, [create(1, 'crashed')]);
  await ch.query("ALTER TABLE columns.crashed ADD COLUMN extra String DEFAULT ''");
  t.same(await migrate(a, [create(1, 'crashed'), addColumn(2, 'crashed')]), { applied: [2], skipped: [1] });
  t.same([...(await appliedMigrations(a)).keys()], [1, 2]);

  // Two sinks at once: one ALTER fails on the duplicate column, and that sink sees the change in place.
  const raced = [create(1, 'crashed'), addColumn(2, 'crashed'), create(3, 'raced'), addColumn(4, 'raced')];
  const [ra, rb] = await Promise.all([migrate(a, raced), migrate(b, raced)]);
  t.same([...ra.applied, ...ra.skipped].sort(), [1, 2, 3, 4]);
  t.same([...rb.applied, ...rb.skipped].sort(), [1, 2, 3, 4]);
  t.equal((await ch.query("SELECT count() FROM system.columns WHERE database = 'columns' AND table = 'raced' AND name = 'extra'")).trim(), '1');

  // Without `alreadyApplied` the failure is reported as before.
  await t.rejects(migrate(a, [...raced, { ...addColumn(5, 'raced'), alreadyApplied: undefined }]), /migration 5 \(add raced.extra\) failed at statement 1 of 1/);
});
