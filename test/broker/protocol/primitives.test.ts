import t from 'tap';
import { Reader, Writer } from '../../../broker/protocol/primitives.ts';

function roundTrip<T>(write: (w: Writer, v: T) => void, read: (r: Reader) => T, values: T[]): T[] {
  const w = new Writer(4);
  for (const v of values) write(w, v);
  const r = new Reader(w.finishSingle());
  const out = values.map(() => read(r));
  if (r.remaining() !== 0) throw new Error('bytes left over');
  return out;
}

t.test('integers, varints and their edges', async (t) => {
  const ints = [0, 1, -1, 127, -128, 300, -300, 2147483647, -2147483648];
  t.same(roundTrip((w, v) => w.varint(v), (r) => r.varint(), ints), ints);
  t.same(roundTrip((w, v) => w.int32(v), (r) => r.int32(), ints), ints);
  const uv = [0, 1, 127, 128, 16383, 16384, 2 ** 31 - 1, 2 ** 32 - 1];
  t.same(roundTrip((w, v) => w.uvarint(v), (r) => r.uvarint(), uv), uv);
  const longs = [0, 1, -1, 2 ** 40, -(2 ** 40), Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER];
  t.same(roundTrip((w, v) => w.int64(v), (r) => r.int64(), longs), longs);
  t.same(roundTrip((w, v) => w.varlong(v), (r) => r.varlong(), longs), longs);
});

t.test('int64 beyond 2^53 clamps instead of throwing (Long.MAX_VALUE sentinels)', async (t) => {
  const w = new Writer();
  w.int64(9223372036854775807);
  w.int64(-9223372036854775808);
  const b = w.finishSingle();
  t.equal(b.readBigInt64BE(0), 9223372036854775807n);
  t.equal(b.readBigInt64BE(8), -9223372036854775808n);
});

t.test('strings and bytes, plain and compact, null and empty', async (t) => {
  const strs = ['', 'a', 'ünïcødé', 'x'.repeat(1000)];
  t.same(roundTrip((w, v) => w.string(v), (r) => r.string(), strs), strs);
  t.same(roundTrip((w, v) => w.compactString(v), (r) => r.compactString(), strs), strs);
  const nullable = [null, '', 'z'];
  t.same(roundTrip((w, v) => w.nullableString(v), (r) => r.nullableString(), nullable), nullable);
  t.same(roundTrip((w, v) => w.compactNullableString(v), (r) => r.compactNullableString(), nullable), nullable);
  const bytes: (Buffer | null)[] = [null, Buffer.alloc(0), Buffer.from([1, 2, 3])];
  t.same(roundTrip((w, v) => w.compactNullableBytes(v), (r) => r.compactNullableBytes(), bytes), bytes);
  t.same(roundTrip((w, v) => w.nullableBytes(v), (r) => r.nullableBytes(), bytes), bytes);
  const id = '0123abcd-4567-89ef-0123-456789abcdef';
  t.same(roundTrip((w, v) => w.uuid(v), (r) => r.uuid(), [id]), [id]);
});

t.test('records are appended zero-copy and the frame size can be patched afterwards', async (t) => {
  const big = Buffer.alloc(10_000, 1);
  const w = new Writer();
  const at = w.reserveInt32();
  w.int16(7);
  w.records([big, big], true);
  w.int8(9);
  w.patchInt32(at, w.size - 4);
  const chunks = w.finish();
  t.equal(chunks.filter((c) => c === big).length, 2, 'both record buffers are chunks as they are');
  const all = Buffer.concat(chunks);
  t.equal(all.readInt32BE(0), all.length - 4);
  const r = new Reader(all, 4);
  t.equal(r.int16(), 7);
  t.equal(r.compactNullableBytes()!.length, 20_000);
  t.equal(r.int8(), 9);
});

t.test('reads past the end throw ProtocolDecodeError', async (t) => {
  t.throws(() => new Reader(Buffer.from([0, 5, 97])).string(), { name: 'ProtocolDecodeError' });
  t.throws(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01])).uvarint(), { name: 'ProtocolDecodeError' });
  t.throws(() => new Reader(Buffer.alloc(3)).int32(), { name: 'ProtocolDecodeError' });
});
