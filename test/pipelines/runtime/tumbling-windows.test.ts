// Keyed tumbling windows: alignment, closing by watermark, deterministic order, JSON snapshots.
import t from 'tap';
import fc from 'fast-check';
import { TumblingWindows, type AccumulatorCodec } from '../../../pipelines/runtime/tumbling-windows.ts';

const M = 60_000;
const T0 = Date.UTC(2024, 0, 1, 12, 0);

t.test('windows are epoch-aligned and close when their end reaches the watermark', async (t) => {
  const w = new TumblingWindows<number>(M);
  t.equal(w.windowStart(T0 + 59_999), T0);
  t.equal(w.windowStart(T0 + 60_000), T0 + M);
  t.equal(w.windowStart(-1), -M);
  t.notOk(w.isClosed(T0, T0 + M - 1));
  t.ok(w.isClosed(T0 + 59_999, T0 + M));
  t.throws(() => new TumblingWindows(0));
});

t.test('update creates, folds in place or replaces', async (t) => {
  const w = new TumblingWindows<{ n: number }>(M);
  w.update('a', T0, () => ({ n: 0 }), (acc) => {
    acc.n++;
  });
  w.update('a', T0 + 5, () => ({ n: 0 }), (acc) => ({ n: acc.n + 10 }));
  w.update('a', T0 + M, () => ({ n: 100 }), () => undefined);
  t.equal(w.size, 2);
  t.equal(w.accumulators, 2);
  t.same(w.closeUpTo(T0 + M), [{ windowStart: T0, key: 'a', acc: { n: 11 } }]);
  t.same(w.closeUpTo(T0 + M), []);
  t.same(w.closeUpTo(T0 + 3 * M), [{ windowStart: T0 + M, key: 'a', acc: { n: 100 } }]);
  t.equal(w.size, 0);
});

t.test('closed windows come out by start, then key, whatever the insertion order', async (t) => {
  const w = new TumblingWindows<number>(M);
  for (const [key, time] of [['b', T0 + M], ['a', T0 + M], ['c', T0], ['a', T0], ['é', T0], ['B', T0]] as const) w.update(key, time, () => 0, (n) => n + 1);
  t.same(
    w.closeUpTo(T0 + 2 * M).map((c) => [c.windowStart - T0, c.key]),
    [[0, 'B'], [0, 'a'], [0, 'c'], [0, 'é'], [M, 'a'], [M, 'b']],
  );
});

t.test('snapshot and restore through JSON, with a codec for non-JSON accumulators', async (t) => {
  const codec: AccumulatorCodec<Set<string>> = { serialize: (s) => [...s], deserialize: (j) => new Set(j as string[]) };
  const w = new TumblingWindows<Set<string>>(M, codec);
  w.update('k', T0, () => new Set(), (s) => void s.add('x'));
  w.update('k', T0 + M, () => new Set(), (s) => void s.add('y'));
  const restored = TumblingWindows.restore(JSON.parse(JSON.stringify(w.snapshot())), codec);
  restored.update('k', T0, () => new Set(), (s) => void s.add('z'));
  t.same(
    restored.closeUpTo(Infinity).map((c) => [c.windowStart, [...c.acc]]),
    [[T0, ['x', 'z']], [T0 + M, ['y']]],
  );
});

t.test('folding all records equals folding a prefix, snapshotting, restoring and folding the rest', async (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 0, max: 5 * M })), { maxLength: 60 }),
      fc.nat(),
      (events, cut) => {
        const k = events.length === 0 ? 0 : cut % (events.length + 1);
        const run = (w: TumblingWindows<number[]>, from: number, to: number) => {
          for (let i = from; i < to; i++) w.update(events[i][0], T0 + events[i][1], () => [], (acc) => void acc.push(i));
        };
        const whole = new TumblingWindows<number[]>(M);
        run(whole, 0, events.length);
        let split = new TumblingWindows<number[]>(M);
        run(split, 0, k);
        split = TumblingWindows.restore(JSON.parse(JSON.stringify(split.snapshot())));
        run(split, k, events.length);
        return JSON.stringify(whole.closeUpTo(Infinity)) === JSON.stringify(split.closeUpTo(Infinity));
      },
    ),
  );
  t.pass();
});
