// Exactly-once loading on a real ClickHouse (18.16 here): resume positions come from the stored rows,
// rows already stored are dropped on replay, and a sink killed in the middle of an insert leaves a
// per-partition prefix that the resume position accounts for.
import t from 'tap';
import { connect } from 'node:net';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { insertRows, resumePositions, rowsAfter, type SourcePosition } from '../../../../pipelines/sinks/clickhouse/exactly-once.ts';
import { startClickHouse } from '../../../helpers/clickhouse.ts';

interface Row extends SourcePosition {
  minute: number;
  service: string;
  count: number;
}

const row = (partition: number, offset: bigint | number | string, topic = 'logs.rollup.1m'): Row => ({
  _topic: topic,
  _partition: partition,
  _offset: offset,
  minute: 1700000000 + 60 * (Number(BigInt(offset) % 100n)),
  service: `svc-${partition}`,
  count: 1,
});
const rowsOf = (partition: number, from: number, to: number) => Array.from({ length: to - from }, (_, i) => row(partition, from + i));

t.test('rowsAfter drops what is stored and keeps order', async (t) => {
  const positions = new Map([
    [0, 10n],
    [1, 2n ** 60n],
  ]);
  const rows = [row(0, 8), row(1, 2n ** 60n - 1n), row(0, 9), row(0, 10), row(2, 0), row(1, (2n ** 60n).toString()), row(0, 11n)];
  t.same(rowsAfter(positions, rows).map((r) => [r._partition, String(r._offset)]), [
    [0, '10'],
    [2, '0'],
    [1, String(2n ** 60n)],
    [0, '11'],
  ]);
  t.same(rowsAfter(new Map(), rows), rows, 'nothing stored: everything');
  t.not(rowsAfter(new Map(), rows), rows, 'a new array');
  t.same(rowsAfter(positions, []), []);
});

const ch = await startClickHouse();
const client = createClient({ url: ch.url, log: { level: ClickHouseLogLevel.OFF } });
t.teardown(async () => {
  await client.close();
  await ch.stop();
});
await ch.query(`CREATE TABLE rollup (_topic String, _partition UInt32, _offset UInt64, minute DateTime('UTC'), service String, count UInt64)
  ENGINE = MergeTree() PARTITION BY toYYYYMM(minute) ORDER BY (service, minute)`);

const stored = async () =>
  (await ch.query("SELECT _partition, _offset FROM rollup WHERE _topic = 'logs.rollup.1m' ORDER BY _partition, _offset FORMAT TabSeparated"))
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t').join('/'));

t.test('resumePositions is max(_offset) + 1 per partition of the topic', async (t) => {
  t.same(await resumePositions(client, 'rollup', 'logs.rollup.1m'), new Map(), 'empty table: no positions');
  await insertRows(client, 'rollup', [...rowsOf(0, 0, 10), row(1, 100n), row(1, 101n), row(3, '9007199254740993'), row(0, 500, 'other.topic')]);
  t.same(await resumePositions(client, 'rollup', 'logs.rollup.1m'), new Map([[0, 10n], [1, 102n], [3, 9007199254740994n]]));
  t.same(await resumePositions(client, 'rollup', 'other.topic'), new Map([[0, 501n]]), 'per topic');
  t.same(await resumePositions(client, 'rollup', "' OR 1=1 --"), new Map(), 'the topic is a value, not SQL');
});

t.test('a replay after a crash stores every record exactly once', async (t) => {
  // The sink had inserted up to offset 9 (partition 0) and 101 (partition 1) but not committed: the
  // consumer re-delivers from older committed offsets, plus new records.
  const replay = [...rowsOf(0, 5, 15), ...rowsOf(1, 98, 104), ...rowsOf(2, 0, 3)];
  const fresh = rowsAfter(await resumePositions(client, 'rollup', 'logs.rollup.1m'), replay);
  t.same(fresh.map((r) => `${r._partition}/${r._offset}`), ['0/10', '0/11', '0/12', '0/13', '0/14', '1/102', '1/103', '2/0', '2/1', '2/2']);
  await insertRows(client, 'rollup', fresh);
  const all = await stored();
  t.equal(new Set(all).size, all.length, 'no duplicates');
  t.same(all.filter((p) => p.startsWith('0/')).length, 15, 'partition 0: offsets 0…14 once each');
});

t.test('large batches are split into ordered inserts', async (t) => {
  const before = (await stored()).length;
  await insertRows(client, 'rollup', rowsOf(4, 0, 25), { maxRowsPerInsert: 7 });
  t.equal((await stored()).length, before + 25);
  t.same(await resumePositions(client, 'rollup', 'logs.rollup.1m').then((p) => p.get(4)), 25n);
  await t.rejects(insertRows(client, 'rollup', [row(4, 30)], { maxRowsPerInsert: 0 }), /maxRowsPerInsert must be a positive integer/);
});

t.test('rows out of consumption order are refused before anything is sent', async (t) => {
  const before = (await stored()).length;
  await t.rejects(insertRows(client, 'rollup', [row(5, 1), row(6, 0), row(5, 1)]), /row 2 has offset 1 of logs.rollup.1m\/5 after offset 1/);
  await t.rejects(insertRows(client, 'rollup', [row(5, 2), row(5, 1)]), /rows must be in consumption order/);
  t.equal((await stored()).length, before, 'nothing inserted');
  await insertRows(client, 'rollup', [row(5, 0), row(5, 0, 'other.topic')]);
  t.pass('the same offset in two topics is fine');
});

t.test('insert errors carry the server message', async (t) => {
  await t.rejects(insertRows(client, 'no_such_table', [row(0, 0)]), /no_such_table.*doesn't exist/);
  await t.rejects(insertRows(client, 'rollup', [{ ...row(0, 99), unknown_column: 1 }]), /unknown_column/);
});

t.test('a sink killed mid-insert leaves a per-partition prefix, and resuming completes it exactly once', async (t) => {
  await ch.query('CREATE TABLE crash (_topic String, _partition UInt32, _offset UInt64) ENGINE = MergeTree() ORDER BY (_partition, _offset)');
  // Two partitions interleaved, in consumption order per partition.
  const batch: SourcePosition[] = [];
  for (let i = 0; i < 2000; i++) batch.push({ _topic: 'x', _partition: i % 2, _offset: 1000 + Math.floor(i / 2) });
  const body = batch.map((r) => JSON.stringify(r) + '\n').join('');
  // What a killed sink leaves behind: the request's body stops after some rows (here at a row
  // boundary, the case in which 18.16 still inserts what it got) and the connection is gone.
  const cut = body.indexOf('\n', body.length / 3) + 1;
  await sendAndDrop(ch.httpPort, 'INSERT INTO crash FORMAT JSONEachRow', body.slice(0, cut));
  const landed = Number(await ch.query('SELECT count() FROM crash'));
  t.ok(landed < batch.length, `the insert did not complete (${landed} of ${batch.length} rows landed)`);
  const prefix = await ch.query('SELECT _partition, count(), min(_offset), max(_offset) FROM crash GROUP BY _partition ORDER BY _partition FORMAT TabSeparated');
  for (const line of prefix.split('\n').filter(Boolean)) {
    const [, count, min, max] = line.split('\t').map(Number);
    t.equal(max - min + 1, count, `partition holds a contiguous prefix: ${line.replaceAll('\t', ' ')}`);
    t.equal(min, 1000);
  }
  // Restart: resume and re-insert the whole batch as the consumer re-delivers it.
  const positions = await resumePositions(client, 'crash', 'x');
  await insertRows(client, 'crash', rowsAfter(positions, batch));
  t.equal((await ch.query("SELECT count(), uniqExact(_partition, _offset), min(_offset), max(_offset) FROM crash FORMAT TabSeparated")).trim(), '2000\t2000\t1000\t1999');
});

/** Opens an HTTP request, sends part of a chunked body, then destroys the socket without finishing. */
async function sendAndDrop(port: number, query: string, partialBody: string): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(`POST /?query=${encodeURIComponent(query)} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n`);
  socket.write(`${Buffer.byteLength(partialBody).toString(16)}\r\n${partialBody}\r\n`);
  await new Promise((resolve) => setTimeout(resolve, 200));
  socket.destroy();
  // The server notices the closed connection and ends (or fails) the insert; wait until it settles.
  await new Promise((resolve) => setTimeout(resolve, 300));
}
