// HyperLogLog: accuracy against the stated standard error, merges as unions, compact serialisation.
import t from 'tap';
import fc from 'fast-check';
import { hash64Hex, HLL_STANDARD_ERROR, hllStandardError, HyperLogLog } from '../../../pipelines/sketches/hyperloglog.ts';

const id = (i: number): string => `visitor-${i}`;

function sketchOf(ids: Iterable<string>, precision?: number): HyperLogLog {
  const h = new HyperLogLog(precision);
  for (const x of ids) h.add(x);
  return h;
}

t.test('the stated standard error is 1.04/sqrt(m)', async (t) => {
  t.equal(HLL_STANDARD_ERROR, 1.04 / 128);
  t.equal(hllStandardError(12), 1.04 / 64);
});

for (const n of [10_000, 100_000, 1_000_000]) {
  t.test(`estimate of ${n} distinct ids is within 3 standard errors`, async (t) => {
    const h = new HyperLogLog();
    for (let i = 0; i < n; i++) h.add(id(i));
    // Duplicates change nothing.
    for (let i = 0; i < Math.min(n, 10_000); i++) h.add(id(i));
    const e = h.estimate();
    t.ok(Math.abs(e - n) / n <= 3 * HLL_STANDARD_ERROR, `estimate ${e.toFixed(0)} for ${n}`);
  });
}

t.test('small cardinalities are near exact (linear counting)', async (t) => {
  t.equal(new HyperLogLog().estimate(), 0);
  const e = sketchOf(Array.from({ length: 100 }, (_, i) => id(i))).estimate();
  t.ok(Math.abs(e - 100) <= 2, `estimate ${e}`);
});

t.test('merge of two sketches equals the sketch of the union', async (t) => {
  const a = Array.from({ length: 30_000 }, (_, i) => id(i));
  const b = Array.from({ length: 30_000 }, (_, i) => id(i + 20_000));
  const merged = sketchOf(a).merge(sketchOf(b));
  t.equal(merged.toBase64(), sketchOf([...a, ...b]).toBase64());
  const e = merged.estimate();
  t.ok(Math.abs(e - 50_000) / 50_000 <= 3 * HLL_STANDARD_ERROR, `union estimate ${e}`);
  // A sparse sketch merged into a dense one and the other way round.
  const small = sketchOf(['x', 'y', 'z']);
  t.equal(sketchOf(a).merge(small).toBase64(), sketchOf([...a, 'x', 'y', 'z']).toBase64());
  t.equal(small.clone().merge(sketchOf(a)).toBase64(), sketchOf([...a, 'x', 'y', 'z']).toBase64());
});

t.test('serialisation round-trips, sparse when mostly empty', async (t) => {
  const few = sketchOf(['a', 'b', 'c', 'd', 'e']);
  const text = few.toBase64();
  t.ok(text.length < 40, `5 ids take ${text.length} base64 characters`);
  t.equal(HyperLogLog.fromBase64(text).toBase64(), text);
  t.equal(HyperLogLog.fromBase64(text).estimate(), few.estimate());
  const many = sketchOf(Array.from({ length: 200_000 }, (_, i) => id(i)));
  const dense = many.toBase64();
  t.ok(dense.length <= Math.ceil(((3 + 16384) * 4) / 3) + 4, 'dense is one byte per register');
  t.equal(HyperLogLog.fromBase64(dense).toBase64(), dense);
  t.equal(HyperLogLog.fromBase64(dense).estimate(), many.estimate());
  t.equal(HyperLogLog.fromBase64(new HyperLogLog().toBase64()).estimate(), 0);
  const p10 = sketchOf(['a', 'b'], 10);
  t.equal(HyperLogLog.fromBase64(p10.toBase64()).precision, 10);
});

t.test('the encoding depends only on the registers, not on the sketch history', async (t) => {
  // ~4000 registers: past the sparse limit once, then serialised from the dense form.
  const ids = Array.from({ length: 4500 }, (_, i) => id(i));
  const one = sketchOf(ids);
  const merged = sketchOf(ids.slice(0, 10)).merge(sketchOf(ids.slice(10)));
  t.equal(one.toBase64(), merged.toBase64());
});

t.test('bad input is refused', async (t) => {
  t.throws(() => new HyperLogLog(3), RangeError);
  t.throws(() => new HyperLogLog(14).merge(new HyperLogLog(12)), RangeError);
  t.throws(() => HyperLogLog.fromBase64(''), RangeError);
  t.throws(() => HyperLogLog.fromBase64(Buffer.from([1, 14, 0, 1, 2]).toString('base64')), RangeError);
  t.throws(() => HyperLogLog.fromBase64(Buffer.from([1, 14, 1, 1, 0]).toString('base64')), RangeError, 'rank 0');
  t.throws(() => HyperLogLog.fromBase64(Buffer.from([1, 14, 1, 2, 5, 3, 0, 3]).toString('base64')), RangeError, 'repeated index');
});

t.test('hash64Hex is stable (MurmurHash3 x86_32 test vectors in the high half)', async (t) => {
  t.equal(hash64Hex('a').slice(0, 8), '7fa09ea6');
  t.equal(hash64Hex('abcd').slice(0, 8), 'f0478627');
  t.match(hash64Hex('héllo'), /^[0-9a-f]{16}$/);
  t.not(hash64Hex('héllo'), hash64Hex('hello'));
});

t.test('merge is commutative and idempotent', async (t) => {
  const ids = fc.array(fc.string({ maxLength: 12 }), { maxLength: 300 });
  fc.assert(
    fc.property(ids, ids, (a, b) => {
      const ab = sketchOf(a).merge(sketchOf(b)).toBase64();
      const ba = sketchOf(b).merge(sketchOf(a)).toBase64();
      const aa = sketchOf(a).merge(sketchOf(a)).toBase64();
      return ab === ba && aa === sketchOf(a).toBase64() && sketchOf(a).merge(sketchOf(b)).merge(sketchOf(b)).toBase64() === ab;
    }),
  );
  // Large enough to be dense on both sides.
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e6 }), (offset) => {
      const a = Array.from({ length: 5000 }, (_, i) => id(i + offset));
      const b = Array.from({ length: 5000 }, (_, i) => id(i * 7 + offset));
      return sketchOf(a).merge(sketchOf(b)).toBase64() === sketchOf(b).merge(sketchOf(a)).toBase64();
    }),
    { numRuns: 5 },
  );
  t.pass();
});
