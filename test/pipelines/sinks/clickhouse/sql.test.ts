// The SQL escaping helper: unit tests of the text it renders, then injection tests against a real
// ClickHouse (18.16 here): nasty values stored and read back byte-exact, and WHERE clauses built from
// them matching exactly the rows they should.
import t from 'tap';
import fc from 'fast-check';
import { identifier, list, literal, quoteIdentifier, quoteString, sql } from '../../../../pipelines/sinks/clickhouse/sql.ts';
import { startClickHouse } from '../../../helpers/clickhouse.ts';

t.test('quoteString', async (t) => {
  t.equal(quoteString(''), "''");
  t.equal(quoteString('plain text'), "'plain text'");
  t.equal(quoteString("it's"), "'it\\'s'");
  t.equal(quoteString('back\\slash'), "'back\\\\slash'");
  t.equal(quoteString('ends with \\'), "'ends with \\\\'");
  t.equal(quoteString('\n\r\t\0\b\f'), "'\\n\\r\\t\\0\\b\\f'");
  t.equal(quoteString('\x01\x07\x0b\x1b\x1f\x7f'), "'\\x01\\x07\\x0b\\x1b\\x1f\\x7f'", 'other controls (18.16 has no \\a or \\v) as \\xHH');
  t.equal(quoteString('é 中文 😀 %s `x` "y" -- /* */ ;'), "'é 中文 😀 %s `x` \"y\" -- /* */ ;'", 'everything else passes through');
  t.throws(() => quoteString('a\ud800b'), /lone UTF-16 surrogate at index 1/);
  t.throws(() => quoteString('\udc00'), /surrogate/);
  t.throws(() => quoteString(5 as unknown as string), /expected a string/);
});

t.test('quoteIdentifier', async (t) => {
  t.equal(quoteIdentifier('logs_enriched'), '`logs_enriched`');
  t.equal(quoteIdentifier('a`b'), '`a\\`b`');
  t.equal(quoteIdentifier('a\\b'), '`a\\\\b`');
  t.equal(quoteIdentifier("it's a table; DROP"), "`it's a table; DROP`");
  t.throws(() => quoteIdentifier(''), /empty identifier/);
  t.throws(() => quoteIdentifier('a\0b'), /NUL/);
  t.throws(() => identifier(''), /empty identifier/, 'identifier() validates when made');
});

t.test('literal', async (t) => {
  t.equal(literal(null), 'NULL');
  t.equal(literal(true), '1');
  t.equal(literal(false), '0');
  t.equal(literal(42), '42');
  t.equal(literal(-42), ' -42', 'a negative number cannot merge with a preceding minus into a comment');
  t.equal(literal(-0), '0');
  t.equal(literal(0.1), '0.1');
  t.equal(literal(1e21), '1e+21');
  t.equal(literal(5e-324), '(1 * 2.2250738585072014e-308 * 2.220446049250313e-16)', 'subnormals, which 18.16 cannot parse, as an exact product');
  t.equal(literal(-1e-310), '(-20240225330731 * 2.2250738585072014e-308 * 2.220446049250313e-16)');
  t.equal(literal(Number.MAX_VALUE), '1.7976931348623157e+308');
  for (const bad of [NaN, Infinity, -Infinity]) t.throws(() => literal(bad), { message: `literal: ${bad} is not a finite number; ClickHouse has no literal for it` });
  t.equal(literal(18446744073709551615n), '18446744073709551615');
  t.equal(literal(-9223372036854775808n), ' -9223372036854775808');
  t.throws(() => literal(18446744073709551616n), /outside Int64\/UInt64/);
  t.throws(() => literal(-9223372036854775809n), /outside Int64\/UInt64/);
  t.equal(literal(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678))), "toDateTime('2024-01-02 03:04:05', 'UTC')", 'whole seconds, UTC');
  t.throws(() => literal(new Date(NaN)), /invalid Date/);
  t.throws(() => literal(new Date(-1000)), /outside DateTime's range/);
  t.equal(literal([]), '[]');
  t.equal(literal([1, -2, 'x\'', [null, true]]), "[1,  -2, 'x\\'', [NULL, 1]]");
  t.throws(() => literal(undefined as unknown as null), /cannot render undefined/);
  t.throws(() => literal({} as unknown as null), /cannot render an object/);
  t.throws(() => literal((() => 1) as unknown as null), /cannot render a function/);
});

t.test('the sql template', async (t) => {
  t.equal(sql`SELECT 1`, 'SELECT 1');
  t.equal(sql`SELECT * FROM ${identifier('t')} WHERE x = ${"' OR 1=1 --"} AND y = ${-1}`, "SELECT * FROM `t` WHERE x = '\\' OR 1=1 --' AND y =  -1");
  t.equal(sql`SELECT a-${-1}`, 'SELECT a- -1');
  t.equal(sql`x IN ${list(['a', 'b'])}`, "x IN ('a', 'b')");
  t.equal(sql`x IN ${list([7])}`, 'x IN (7)');
  t.throws(() => list([]), /at least one value/);
  t.equal(sql`${'a'}${'b'}`, "'a''b'", 'adjacent values stay separate literals');
  t.throws(() => sql`SELECT ${undefined as unknown as null}`, /cannot render undefined/);
});

const ch = await startClickHouse();
t.teardown(() => ch.stop());

/** The bytes of a string the way ClickHouse holds it: its UTF-8 encoding, as upper-case hex. */
const hexOf = (s: string) => Buffer.from(s, 'utf8').toString('hex').toUpperCase();

const big = Array.from({ length: 100_000 / 10 }, (_, i) => `ab'c\\${i % 10}\n%\`\0`).join('');
const nasty = [
  "' OR 1=1 --",
  "\\' OR 1=1",
  "'; DROP TABLE t; --",
  'ends with a backslash \\',
  '\\',
  "\\'",
  "''",
  "'",
  '',
  'NUL \0 in the middle',
  '\0',
  'é, 中文, 😀, \u200b, \ufeff, \u{10ffff}',
  'line one\nline two\r\n\ttabbed',
  '100% of %s and %d and %%',
  '`backticks` and "double quotes"',
  '/* comment */ -- comment',
  '\x01\x02\x07\x0b\x1b\x7f',
  '\\x41 is not an escape here',
  big,
];

t.test('nasty strings are stored and matched exactly (real ClickHouse)', async (t) => {
  t.equal(big.length, 100_000);
  await ch.query(sql`CREATE TABLE ${identifier('t')} (id UInt32, name String) ENGINE = MergeTree() ORDER BY id`);
  // Each nasty string once, two of them twice, and an unrelated row.
  const rows = [...nasty, nasty[0], nasty[8], 'unrelated'];
  await ch.query(sql`INSERT INTO ${identifier('t')} (id, name) VALUES ` + rows.map((s, i) => sql`(${i}, ${s})`).join(', '));

  const stored = (await ch.query('SELECT id, hex(name) FROM t ORDER BY id FORMAT TabSeparated')).split('\n').filter(Boolean).map((line) => line.split('\t'));
  t.equal(stored.length, rows.length);
  t.ok(stored.every(([id, hex]) => hex === hexOf(rows[Number(id)])), 'every value reads back byte-exact');

  for (const input of [...nasty, 'not stored', "' OR '1'='1", nasty[0] + ' ']) {
    const expected = rows.filter((r) => r === input).length;
    const got = Number(await ch.query(sql`SELECT count() FROM t WHERE name = ${input}`));
    t.equal(got, expected, `count for ${JSON.stringify(input.slice(0, 40))}${input.length > 40 ? '…' : ''}`);
  }
  t.equal((await ch.query('EXISTS TABLE t')).trim(), '1', 'the table still exists');
  t.equal(Number(await ch.query('SELECT count() FROM t')), rows.length, 'with the same row count');
});

t.test('nasty identifiers name exactly one table (real ClickHouse)', async (t) => {
  const names = ['a`b', 'x\\', "t'; DROP TABLE t; --", 'мир 😀', 'with space'];
  for (const [i, name] of names.entries()) {
    await ch.query(sql`CREATE TABLE ${identifier(name)} (v UInt8) ENGINE = Memory`);
    await ch.query(sql`INSERT INTO ${identifier(name)} (v) VALUES (${i})`);
    t.equal(Number(await ch.query(sql`SELECT v FROM ${identifier(name)}`)), i, `reads back from ${JSON.stringify(name)}`);
  }
  const tables = (await ch.query("SELECT hex(name) FROM system.tables WHERE database = 'default' ORDER BY name FORMAT TabSeparated")).split('\n').filter(Boolean);
  t.same(tables.sort(), [...names, 't'].map(hexOf).sort(), 'exactly these tables, with exactly these names');
  for (const name of names) await ch.query(sql`DROP TABLE ${identifier(name)}`);
});

t.test('literals mean the values they render (real ClickHouse)', async (t) => {
  const select = async (expr: string) => (await ch.query(`SELECT ${expr} FORMAT TabSeparated`)).trim();
  t.equal(await select(sql`${-1}`), '-1');
  t.equal(await select(sql`1-${-1}`), '2', 'a minus before a negative number is not a comment');
  t.equal(await select(sql`${18446744073709551615n}, toTypeName(${18446744073709551615n})`), '18446744073709551615\tUInt64');
  t.equal(await select(sql`${-9223372036854775808n}, toTypeName(${-9223372036854775808n})`), '-9223372036854775808\tInt64');
  for (const n of [0.1, 1e21, -1e-7, 2 ** 53 + 2, Number.MAX_VALUE, 2.2250738585072014e-308, 1e-310, -5e-324, 2.225073858507201e-308]) {
    t.equal(Number(await select(sql`toString(${n})`)), n, `${n} round-trips`);
  }
  t.equal(await select(sql`toUnixTimestamp(${new Date(Date.UTC(2024, 0, 2, 3, 4, 5))})`), String(Date.UTC(2024, 0, 2, 3, 4, 5) / 1000));
  t.equal(await select(sql`${true}, ${false}, isNull(${null})`), '1\t0\t1');
  t.equal(await select(sql`${['a\'', '\\']}`), "['a\\'','\\\\']");
  t.equal(await select(sql`${[[1, 2], [3]]}`), '[[1,2],[3]]');
  t.equal(await select(sql`${'x'} IN ${list(['x', 'y'])}, ${3} IN ${list([1, 2])}`), '1\t0');
});

// Strings mixing the dangerous characters with arbitrary code points, and plain arbitrary strings.
const dangerous = fc.constantFrom("'", '\\', '\0', '\n', '\r', '\t', '\b', '\f', '`', '%', '-', '/', '*', ';', '"', '\x7f', 'x');
const mixed = fc.string({ unit: fc.oneof(dangerous, fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 40 });

t.test('generated strings are stored and matched exactly (real ClickHouse)', async (t) => {
  await ch.query('CREATE TABLE fuzz (id UInt32, name String) ENGINE = Memory');
  const counts = new Map<string, number>();
  let nextId = 0;
  const property = fc.asyncProperty(
    fc.array(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'binary-ascii' }), mixed), { minLength: 1, maxLength: 8 }),
    async (strings) => {
      const first = nextId;
      await ch.query('INSERT INTO fuzz (id, name) VALUES ' + strings.map((s) => sql`(${nextId++}, ${s})`).join(', '));
      for (const s of strings) counts.set(s, (counts.get(s) ?? 0) + 1);
      const stored = (await ch.query(sql`SELECT id, hex(name) FROM fuzz WHERE id >= ${first} ORDER BY id FORMAT TabSeparated`)).split('\n').filter(Boolean);
      if (stored.length !== strings.length) return false;
      if (!stored.every((line, i) => line === `${first + i}\t${hexOf(strings[i])}`)) return false;
      for (const s of strings) {
        if (Number(await ch.query(sql`SELECT count() FROM fuzz WHERE name = ${s}`)) !== counts.get(s)) return false;
      }
      return true;
    },
  );
  await fc.assert(property, { numRuns: 60 });
  t.equal(Number(await ch.query('SELECT count() FROM fuzz')), nextId, 'no row lost or added');
  t.equal(Number(await ch.query('SELECT count() FROM t')), nasty.length + 3, 'the other table is untouched');
});

t.test('generated numbers and bigints read back as the same values (real ClickHouse)', async (t) => {
  const property = fc.asyncProperty(
    fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 50 }),
    fc.array(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }), { minLength: 1, maxLength: 20 }),
    async (doubles, bigints) => {
      const exprs = [...doubles.map((n) => sql`toString(${n})`), ...bigints.map((n) => sql`toString(${n})`)];
      const got = (await ch.query(`SELECT ${exprs.join(', ')} FORMAT TabSeparated`)).trim().split('\t');
      return doubles.every((n, i) => Number(got[i]) === n) && bigints.every((n, i) => BigInt(got[doubles.length + i]) === n);
    },
  );
  await fc.assert(property, { numRuns: 40 });
  t.pass('all round-trip');
});
