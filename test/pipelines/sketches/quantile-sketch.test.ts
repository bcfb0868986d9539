// DDSketch: quantiles within the relative accuracy of the exact ones; merges bucket-for-bucket exact.
import t, { type Test } from 'tap';
import fc from 'fast-check';
import { DDSketch } from '../../../pipelines/sketches/quantile-sketch.ts';

/** A seeded generator: test data the same on every run. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const QS = [0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1];

function checkQuantiles(t: Test, values: number[], alpha = 0.01): void {
  const s = new DDSketch(alpha);
  for (const v of values) s.add(v);
  const sorted = [...values].sort((a, b) => a - b);
  t.equal(s.count, values.length);
  for (const q of QS) {
    const exact = sorted[Math.floor(q * (sorted.length - 1))];
    const got = s.quantile(q);
    const err = exact === 0 ? Math.abs(got) : Math.abs(got - exact) / Math.abs(exact);
    t.ok(err <= alpha + 1e-12, `q=${q}: ${got} vs exact ${exact} (error ${err})`);
  }
}


t.test('positive values spanning decades', async (t) => {
  const r = random(1);
  checkQuantiles(t, Array.from({ length: 50_000 }, () => Math.exp(r() * 20 - 5)));
});

t.test('negative, zero and positive values', async (t) => {
  const r = random(2);
  checkQuantiles(t, Array.from({ length: 20_000 }, (_, i) => (i % 10 === 0 ? 0 : (r() - 0.5) * 1000)));
});

t.test('another accuracy', async (t) => {
  const r = random(3);
  checkQuantiles(t, Array.from({ length: 10_000 }, () => r() * 100), 0.05);
});

t.test('counts, min, max and the empty sketch', async (t) => {
  const s = new DDSketch();
  t.ok(Number.isNaN(s.quantile(0.5)));
  s.add(10, 3);
  s.add(-2);
  s.add(0, 0);
  t.equal(s.count, 4);
  t.equal(s.min, -2);
  t.equal(s.max, 10);
  t.equal(s.quantile(0), -2);
  t.equal(s.quantile(1), 10);
  t.ok(Math.abs(s.quantile(0.5) - 10) / 10 <= 0.01);
  t.throws(() => s.add(NaN));
  t.throws(() => s.add(Infinity));
  t.throws(() => s.add(1, -1));
  t.throws(() => s.quantile(1.5));
  t.throws(() => s.merge(new DDSketch(0.02)));
});

t.test('serialisation round-trips', async (t) => {
  const r = random(4);
  const s = new DDSketch();
  for (let i = 0; i < 1000; i++) s.add((r() - 0.3) * 1e6, 1 + (i % 3));
  s.add(0, 2.5);
  const text = s.toBase64();
  const back = DDSketch.fromBase64(text);
  t.equal(back.toBase64(), text);
  t.equal(back.count, s.count);
  for (const q of QS) t.equal(back.quantile(q), s.quantile(q));
  t.equal(DDSketch.fromBase64(new DDSketch().toBase64()).count, 0);
  t.throws(() => DDSketch.fromBase64('AAAA'));
});

t.test('merge equals the sketch of the concatenated data, bucket for bucket', async (t) => {
  const values = fc.array(fc.oneof(fc.double({ min: -1e9, max: 1e9, noNaN: true }), fc.constant(0), fc.integer({ min: -100, max: 100 })), { maxLength: 200 });
  fc.assert(
    fc.property(values, values, (a, b) => {
      const sa = new DDSketch();
      const sb = new DDSketch();
      const all = new DDSketch();
      for (const v of a) {
        sa.add(v);
        all.add(v);
      }
      for (const v of b) {
        sb.add(v);
        all.add(v);
      }
      const merged = sa.clone().merge(sb).toBase64();
      return merged === all.toBase64() && merged === sb.clone().merge(sa).toBase64();
    }),
  );
  t.pass();
});
