import t from 'tap';
import fc from 'fast-check';
import { Reader, Writer, ProtocolDecodeError, ZERO_UUID } from '../../../broker/protocol/primitives.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function roundTrip<T>(write: (w: Writer, v: T) => void, read: (r: Reader) => T, values: readonly T[]): T[] {
  const w = new Writer(4);
  for (const v of values) write(w, v);
  const r = new Reader(w.finishSingle());
  const out = values.map(() => read(r));
  if (r.remaining() !== 0) throw new Error('bytes left over');
  return out;
}

function bytesOf(write: (w: Writer) => void): Buffer {
  const w = new Writer();
  write(w);
  return w.finishSingle();
}

t.test('fixed-width integers and floats at their edges', async (t) => {
  const i8 = [0, 1, -1, 127, -128];
  t.same(roundTrip((w, v) => w.int8(v), (r) => r.int8(), i8), i8);
  const i16 = [0, -1, 32767, -32768];
  t.same(roundTrip((w, v) => w.int16(v), (r) => r.int16(), i16), i16);
  const u16 = [0, 1, 65535];
  t.same(roundTrip((w, v) => w.uint16(v), (r) => r.uint16(), u16), u16);
  const i32 = [0, 1, -1, 2147483647, -2147483648];
  t.same(roundTrip((w, v) => w.int32(v), (r) => r.int32(), i32), i32);
  const u32 = [0, 1, 4294967295];
  t.same(roundTrip((w, v) => w.uint32(v), (r) => r.uint32(), u32), u32);
  const f64 = [0, -0.5, 1e300, Number.MIN_VALUE, Infinity];
  t.same(roundTrip((w, v) => w.float64(v), (r) => r.float64(), f64), f64);
  t.same(roundTrip((w, v) => w.bool(v), (r) => r.bool(), [true, false]), [true, false]);
  t.equal(new Reader(hex('02')).bool(), true, 'any non-zero byte is true');
  t.same(bytesOf((w) => w.int32(-2)), hex('fffffffe'), 'big-endian');
});

t.test('int64 as numbers, clamped to the int64 range', async (t) => {
  const longs = [0, 1, -1, 2 ** 32, -(2 ** 32) - 1, 2 ** 40 + 7, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER];
  t.same(roundTrip((w, v) => w.int64(v), (r) => r.int64(), longs), longs);
  // Long.MAX_VALUE arrives as 2^63 (the nearest double); it must go back out as Long.MAX_VALUE, not wrap.
  const b = bytesOf((w) => {
    w.int64(2 ** 63);
    w.int64(-(2 ** 63));
    w.int64(1e30);
    w.int64(-Infinity);
  });
  t.equal(b.readBigInt64BE(0), 9223372036854775807n);
  t.equal(b.readBigInt64BE(8), -9223372036854775808n);
  t.equal(b.readBigInt64BE(16), 9223372036854775807n);
  t.equal(b.readBigInt64BE(24), -9223372036854775808n);
  const r = new Reader(b);
  t.equal(r.int64(), 2 ** 63, 'Long.MAX_VALUE reads as 2^63 and so round-trips');
  t.equal(r.int64(), -(2 ** 63));
  t.throws(() => new Writer().int64(NaN), /NaN/);
  fc.assert(
    fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (x) => {
      const buf = Buffer.alloc(8);
      buf.writeBigInt64BE(x);
      return new Reader(buf).int64() === Number(x);
    }),
  );
});

t.test('varints: zigzag int32, unsigned, varlong', async (t) => {
  const ints = [0, 1, -1, 63, -64, 64, 300, -300, 2147483647, -2147483648];
  t.same(roundTrip((w, v) => w.varint(v), (r) => r.varint(), ints), ints);
  t.same(bytesOf((w) => w.varint(-1)), hex('01'));
  t.same(bytesOf((w) => w.varint(150)), hex('ac02'));
  t.same(bytesOf((w) => w.varint(-2147483648)), hex('ffffffff0f'));
  const uv = [0, 1, 127, 128, 16383, 16384, 2 ** 31 - 1, 2 ** 32 - 1];
  t.same(roundTrip((w, v) => w.uvarint(v), (r) => r.uvarint(), uv), uv);
  t.same(bytesOf((w) => w.uvarint(300)), hex('ac02'));
  const longs = [0, -1, 2 ** 48 - 1, 2 ** 48, -(2 ** 48), 2 ** 52, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 62, -(2 ** 63)];
  t.same(roundTrip((w, v) => w.varlong(v), (r) => r.varlong(), longs), longs);
  t.same(bytesOf((w) => w.varlong(-(2 ** 63))), hex('ffffffffffffffffff01'), 'Long.MIN_VALUE takes 10 bytes');
  t.same(bytesOf((w) => w.varlong(2 ** 63)), hex('feffffffffffffffff01'), 'beyond Long.MAX_VALUE clamps');
  fc.assert(
    fc.property(fc.integer({ min: -2147483648, max: 2147483647 }), (v) => roundTrip((w, x: number) => w.varint(x), (r) => r.varint(), [v])[0] === v),
  );
  fc.assert(
    fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (x) => {
      const v = Number(x);
      return roundTrip((w, y: number) => w.varlong(y), (r) => r.varlong(), [v])[0] === Math.min(Math.max(v, -(2 ** 63)), 2 ** 63);
    }),
  );
  t.throws(() => new Reader(hex('ffffffffff01')).uvarint(), ProtocolDecodeError, 'more than 5 bytes');
  t.throws(() => new Reader(hex('ffffffff7f')).varint(), ProtocolDecodeError, 'beyond int32');
  t.throws(() => new Reader(hex('8080')).uvarint(), ProtocolDecodeError, 'truncated');
  t.throws(() => new Reader(hex('ffffffffffffffffffff01')).varlong(), ProtocolDecodeError, 'more than 10 bytes');
});

t.test('uuids', async (t) => {
  const id = '0123abcd-4567-89ef-0123-456789abcdef';
  t.same(roundTrip((w, v) => w.uuid(v), (r) => r.uuid(), [id, ZERO_UUID]), [id, ZERO_UUID]);
  t.equal(roundTrip((w, v) => w.uuid(v), (r) => r.uuid(), [id.toUpperCase()])[0], id, 'read back in canonical lower case');
  t.same(bytesOf((w) => w.uuid(id)), hex('0123abcd456789ef0123456789abcdef'));
  for (const bad of ['', 'not-a-uuid', '0123abcd-4567-89ef-0123-456789abcdeg', '0123abcd04567-89ef-0123-456789abcdef']) {
    t.throws(() => new Writer().uuid(bad), /invalid uuid/, bad);
  }
});

t.test('strings and bytes, plain and compact, null and empty', async (t) => {
  const strs = ['', 'a', 'ünïcødé ✓ 𝄞', 'x'.repeat(41), 'é'.repeat(41), 'y'.repeat(42), 'ü'.repeat(200), 'x'.repeat(1000)];
  t.same(roundTrip((w, v) => w.string(v), (r) => r.string(), strs), strs);
  t.same(roundTrip((w, v) => w.compactString(v), (r) => r.compactString(), strs), strs);
  const nullable = [null, '', 'z'];
  t.same(roundTrip((w, v) => w.nullableString(v), (r) => r.nullableString(), nullable), nullable);
  t.same(roundTrip((w, v) => w.compactNullableString(v), (r) => r.compactNullableString(), nullable), nullable);
  t.same(bytesOf((w) => w.string('')), hex('0000'));
  t.same(bytesOf((w) => w.nullableString(null)), hex('ffff'));
  t.same(bytesOf((w) => w.compactString('')), hex('01'));
  t.same(bytesOf((w) => w.compactNullableString(null)), hex('00'));
  t.same(bytesOf((w) => w.compactString('ü'.repeat(100))).subarray(0, 2), hex('c901'), '200 bytes: length+1 = 201 as a 2-byte uvarint');
  t.throws(() => new Writer().string('x'.repeat(32768)), /int16/);

  const bytes: (Buffer | null)[] = [null, Buffer.alloc(0), Buffer.from([1, 2, 3]), Buffer.alloc(300, 7)];
  t.same(roundTrip((w, v) => w.nullableBytes(v), (r) => r.nullableBytes(), bytes), bytes);
  t.same(roundTrip((w, v) => w.compactNullableBytes(v), (r) => r.compactNullableBytes(), bytes), bytes);
  const nonNull = bytes.filter((b): b is Buffer => b !== null);
  t.same(roundTrip((w, v) => w.bytes(v), (r) => r.bytes(), nonNull), nonNull);
  t.same(roundTrip((w, v) => w.compactBytes(v), (r) => r.compactBytes(), nonNull), nonNull);
  t.same(bytesOf((w) => w.nullableBytes(null)), hex('ffffffff'));

  // Decoded bytes share memory with the frame.
  const frame = hex('00000003 010203');
  const b = new Reader(frame).bytes();
  t.equal(b.buffer, frame.buffer);
  t.equal(b.byteOffset, frame.byteOffset + 4);

  t.throws(() => new Reader(hex('ffff')).string(), ProtocolDecodeError, 'null for a non-nullable string');
  t.throws(() => new Reader(hex('00')).compactString(), ProtocolDecodeError, 'null for a non-nullable compact string');
  t.throws(() => new Reader(hex('fffe')).nullableString(), ProtocolDecodeError, 'length -2');
  t.throws(() => new Reader(hex('0005 61')).string(), ProtocolDecodeError, 'longer than the input');
  t.throws(() => new Reader(hex('7fffffff 00')).bytes(), ProtocolDecodeError, 'huge bytes length');
  t.throws(() => new Reader(hex('ffffffff0f')).compactBytes(), ProtocolDecodeError, 'huge compact length');
});

t.test('array lengths are checked before anything is allocated', async (t) => {
  t.same(bytesOf((w) => w.arrayLength(null)), hex('ffffffff'));
  t.same(bytesOf((w) => w.compactArrayLength(null)), hex('00'));
  t.same(bytesOf((w) => w.compactArrayLength(0)), hex('01'));
  t.equal(new Reader(hex('ffffffff')).arrayLength(true), -1);
  t.equal(new Reader(hex('00')).compactArrayLength(true), -1);
  t.throws(() => new Reader(hex('ffffffff')).arrayLength(false), ProtocolDecodeError);
  t.throws(() => new Reader(hex('00')).compactArrayLength(false), ProtocolDecodeError);
  t.throws(() => new Reader(hex('fffffffe')).arrayLength(true), ProtocolDecodeError);
  t.equal(new Reader(hex('00000002 0000')).arrayLength(false), 2, 'two 1-byte elements fit');
  t.throws(() => new Reader(hex('00000002 0000')).arrayLength(false, 4), ProtocolDecodeError, 'two 4-byte elements do not');
  t.throws(() => new Reader(hex('77359400')).arrayLength(false), ProtocolDecodeError, '2e9 elements in 0 bytes');
});

t.test('records are appended zero-copy and the frame size can be patched afterwards', async (t) => {
  const big = Buffer.alloc(10_000, 1);
  const small = Buffer.from([5, 6]);
  const w = new Writer(8);
  const at = w.reserveInt32();
  w.int16(7);
  w.records([big, small], true);
  w.int8(9);
  w.records(small, false);
  w.records(null, false);
  w.records(null, true);
  w.records(Buffer.alloc(0), true);
  w.patchInt32(at, w.size - 4);
  const size = w.size;
  const chunks = w.finish();
  t.equal(chunks.filter((c) => c === big).length, 1, 'the big record buffer is a chunk as it is');
  t.equal(chunks.filter((c) => c === small).length, 2, 'so is the small one, each time');
  const all = Buffer.concat(chunks);
  t.equal(all.length, size);
  t.equal(all.readInt32BE(0), all.length - 4);
  const r = new Reader(all, 4);
  t.equal(r.int16(), 7);
  t.same(r.compactNullableBytes(), Buffer.concat([big, small]));
  t.equal(r.int8(), 9);
  t.same(r.nullableBytes(), small);
  t.equal(r.nullableBytes(), null);
  t.equal(r.compactNullableBytes(), null);
  t.same(r.compactNullableBytes(), Buffer.alloc(0));
  t.equal(r.remaining(), 0);
});

t.test('patching a size reserved before record chunks, in a later chunk, and finishSingle', async (t) => {
  const rec = Buffer.alloc(100, 3);
  const w = new Writer(16);
  const first = w.reserveInt32();
  w.records(rec, false);
  const second = w.reserveInt32();
  w.records(rec, false);
  w.patchInt32(first, 11);
  w.patchInt32(second, 22);
  const one = w.finishSingle();
  t.equal(one.readInt32BE(0), 11);
  t.equal(one.readInt32BE(8 + 100), 22);
  t.equal(one.length, 4 + 4 + 100 + 4 + 4 + 100);
  t.same(new Writer().finishSingle(), Buffer.alloc(0));
});

t.test('tagged fields: sizes, ordering, unknown tags skipped, reads bounded by the field', async (t) => {
  const w = new Writer(8);
  w.uvarint(2);
  let at = w.beginTaggedField(0);
  w.int32(42);
  w.endTaggedField(at);
  at = w.beginTaggedField(300);
  w.raw(Buffer.alloc(200, 0xab));
  w.endTaggedField(at);
  const bytes = w.finishSingle();
  t.same(bytes.subarray(0, 7), hex('02 00 04 0000002a'));
  t.same(bytes.subarray(7, 11), hex('ac02 c801'), 'tag 300 and size 200 as two-byte uvarints');
  t.equal(bytes.length, 11 + 200);

  const seen: [number, number][] = [];
  const r = new Reader(bytes);
  r.taggedFields((tag, fr, size) => {
    seen.push([tag, size]);
    if (tag === 0) t.equal(fr.int32(), 42);
    // Reading past the field's own bytes is refused even though the buffer goes on.
    if (tag === 0) t.throws(() => fr.int8(), ProtocolDecodeError);
  });
  t.same(seen, [[0, 4], [300, 200]]);
  t.equal(r.remaining(), 0);
  const skip = new Reader(bytes);
  skip.skipTaggedFields();
  t.equal(skip.remaining(), 0);

  t.same(bytesOf((w) => w.taggedFields([[5, (x) => x.int8(1)], [1, (x) => x.int8(2)]])), hex('02 01 01 02 05 01 01'), 'sorted by tag');
  t.same(bytesOf((w) => w.emptyTaggedFields()), hex('00'));
  t.throws(() => new Reader(hex('05 00 00')).skipTaggedFields(), ProtocolDecodeError, 'count beyond the bytes');
  t.throws(() => new Reader(hex('01 00 05 00')).skipTaggedFields(), ProtocolDecodeError, 'size beyond the bytes');
  const inside = new Writer();
  const tag = inside.beginTaggedField(0);
  inside.records(Buffer.alloc(10), true);
  t.throws(() => inside.endTaggedField(tag), /records cannot be written inside a tagged field/);
});

t.test('random bytes into every reader method: a value or ProtocolDecodeError, nothing else', async (t) => {
  const methods = [
    'int8', 'int16', 'int32', 'uint16', 'uint32', 'int64', 'float64', 'bool', 'uvarint', 'varint', 'varlong', 'uuid',
    'string', 'nullableString', 'compactString', 'compactNullableString', 'bytes', 'nullableBytes', 'compactBytes',
    'compactNullableBytes', 'skipTaggedFields',
  ] as const;
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 24 }), fc.constantFrom(...methods), (bytes, m) => {
      const r = new Reader(Buffer.from(bytes));
      try {
        (r[m] as () => unknown)();
        return r.offset <= bytes.length;
      } catch (err) {
        return err instanceof ProtocolDecodeError;
      }
    }),
    { numRuns: 3000 },
  );
});
