// The metrics stage driven directly: per-series, per-minute rollups of gauges, sums, histograms and
// summaries; merging minutes equals aggregating the period; restarts from a snapshot change nothing.
import t from 'tap';
import fc from 'fast-check';
import { metricsStage } from '../../../pipelines/stages/index.ts';
import { histogramObservations } from '../../../pipelines/stages/metrics-stage.ts';
import { DDSketch } from '../../../pipelines/sketches/quantile-sketch.ts';
import { allRowProblems, CollectingEmitter, Driver, record, runAll } from './fixtures/harness.ts';

const T0 = Date.UTC(2024, 0, 1, 12, 0);
const S = 1000;
const agent = { 'service.name': 'agent', 'host.name': 'h1' };

function point(offset: number, ms: number, fields: Record<string, unknown>) {
  return record('metrics.raw', offset, { timestamp: T0 + ms, name: 'system.cpu.utilization', type: 'gauge', resource: agent, ...fields });
}

const cpu = { cpu: 0, state: 'user' };
const FIXED = [
  point(0, 10 * S, { value: 5, attributes: cpu, unit: '1' }),
  point(1, 40 * S, { value: 3, attributes: { state: 'user', cpu: 0 } }), // same series, other attribute order
  point(2, 20 * S, { value: 9, attributes: cpu }), // out of order
  point(3, 40 * S, { value: 4, attributes: cpu }), // same time as offset 1: the later offset is last
  point(4, 15 * S, { value: 7, attributes: { cpu: 1, state: 'user' } }), // another series
  point(5, 30 * S, {
    name: 'http.server.duration',
    type: 'histogram',
    unit: 'ms',
    histogram: { count: 10, sum: 100, min: 0.5, max: 20, bounds: [1, 5, 10], counts: [1, 2, 3, 4] },
  }),
  point(6, 30 * S, { name: 'rpc.latency', type: 'summary', value: 50, count: 5, quantiles: [{ quantile: 0.5, value: 8 }, { quantile: 0, value: 1 }, { quantile: 1, value: 20 }] }),
  point(7, 50 * S, { name: 'requests', type: 'sum', monotonic: true, temporality: 'cumulative', value: 1000 }),
  point(8, 125 * S, { value: 1, attributes: cpu }), // watermark T0 + 65 s: minute 0 closes
  point(9, 59 * S, { value: 100, attributes: cpu }), // late
  point(10, 61 * S, { type: 'gauge' }), // a gauge without a value
  record('metrics.raw', 11, '[]'),
];

t.test('histogram observations at representative values', async (t) => {
  t.strictSame(histogramObservations({ count: 10, sum: 100, min: 0.5, max: 20, bounds: [1, 5, 10], counts: [1, 2, 3, 4] }), [
    [0.75, 1],
    [3, 2],
    [7.5, 3],
    [15, 4],
  ]);
  t.strictSame(histogramObservations({ count: 3, bounds: [1, 5], counts: [1, 0, 2] }), [
    [1, 1],
    [5, 2],
  ]);
  t.strictSame(histogramObservations({ count: 4, sum: 10, bounds: [], counts: [4] }), [[2.5, 4]]);
});

t.test('fixed input: one row per series and minute', async (t) => {
  const out = new CollectingEmitter();
  const d = new Driver(metricsStage());
  d.feed(FIXED, out);
  d.finish(out);
  t.strictSame(allRowProblems(out.outputs), []);
  t.strictSame(out.of('late'), [{ kind: 'late', offset: 9, eventTime: T0 + 59 * S }]);
  t.strictSame(
    out.of('dead').map((o) => (o as { offset: number }).offset),
    [10, 11],
  );
  const rows = out.rows('metrics.rollup.1m');
  t.strictSame(
    rows.map((r) => [r.minute - T0, r.name, r.label_values.join(',')]),
    [
      [0, 'http.server.duration', ''],
      [0, 'requests', ''],
      [0, 'rpc.latency', ''],
      [0, 'system.cpu.utilization', '0,user'],
      [0, 'system.cpu.utilization', '1,user'],
      [120_000, 'system.cpu.utilization', '0,user'],
    ],
  );
  const [histogram, counter, summary, gauge] = rows;
  const { sketch, ...gaugeRest } = gauge;
  t.strictSame(gaugeRest, {
    minute: T0,
    name: 'system.cpu.utilization',
    type: 'gauge',
    unit: '1',
    service: 'agent',
    host: 'h1',
    label_keys: ['cpu', 'state'],
    label_values: ['0', 'user'],
    count: 4,
    sum: 21,
    min: 3,
    max: 9,
    last: 4,
    last_timestamp: T0 + 40 * S,
  });
  const gs = DDSketch.fromBase64(sketch);
  t.equal(gs.count, 4);
  t.equal(gs.quantile(1), 9);
  t.equal(out.keys('metrics.rollup.1m')[3], 'h1');

  t.match(histogram, { type: 'histogram', unit: 'ms', count: 10, sum: 100, min: 0.5, max: 20, last: 100, last_timestamp: T0 + 30 * S });
  const hs = DDSketch.fromBase64(histogram.sketch);
  t.equal(hs.count, 10);
  t.ok(Math.abs(hs.quantile(0.5) - 7.5) / 7.5 <= 0.01, 'median from the bucket midpoints');
  t.match(summary, { type: 'summary', count: 5, sum: 50, min: 1, max: 20, last: 50, sketch: '' });
  t.match(counter, { type: 'sum', count: 1, sum: 1000, min: 1000, max: 1000, last: 1000 });
});

/** Integer values so sums are exact whatever order they are added in. */
function generated(n: number, seed: number) {
  let s = seed;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const records = [];
  for (let i = 0; i < n; i++) {
    const base = (i / n) * 600 * S;
    const jitter = rnd() < 0.1 ? -rnd() * 120 * S : -rnd() * 20 * S;
    const series = Math.floor(rnd() * 4);
    const fields: Record<string, unknown> =
      series === 3
        ? { name: 'lat', type: 'histogram', histogram: { count: 6, sum: 30, bounds: [1, 10], counts: [1, 2, 3] } }
        : { value: Math.floor(rnd() * 2000) - 500, attributes: { cpu: series } };
    records.push(point(i, Math.max(0, Math.round(base + jitter)), fields));
  }
  return records;
}

t.test('merging two 1-minute rollups equals the 2-minute aggregate', async (t) => {
  const records = generated(3000, 5);
  const out = new CollectingEmitter();
  const d = new Driver(metricsStage());
  d.feed(records, out);
  d.finish(out);
  t.strictSame(allRowProblems(out.outputs), []);
  const late = new Set(out.of('late').map((o) => (o as { offset: number }).offset));
  t.ok(late.size > 0);

  type Agg = { count: number; sum: number; min: number; max: number; last: number; lastTs: number; sketch: DDSketch };
  const empty = (): Agg => ({ count: 0, sum: 0, min: Infinity, max: -Infinity, last: 0, lastTs: -1, sketch: new DDSketch() });
  const direct = new Map<string, Agg>();
  records.forEach((r, i) => {
    if (late.has(i)) return;
    const p = JSON.parse(r.value.toString());
    if (p.type !== 'gauge') return;
    const k = `${p.attributes.cpu}|${Math.floor((p.timestamp - T0) / 120_000)}`;
    const a = direct.get(k) ?? empty();
    direct.set(k, a);
    a.count++;
    a.sum += p.value;
    a.min = Math.min(a.min, p.value);
    a.max = Math.max(a.max, p.value);
    if (p.timestamp >= a.lastTs) [a.last, a.lastTs] = [p.value, p.timestamp];
    a.sketch.add(p.value);
  });
  const merged = new Map<string, Agg>();
  for (const r of out.rows('metrics.rollup.1m')) {
    if (r.type !== 'gauge') continue;
    const k = `${r.label_values[0]}|${Math.floor((r.minute - T0) / 120_000)}`;
    const a = merged.get(k) ?? empty();
    merged.set(k, a);
    a.count += r.count;
    a.sum += r.sum;
    a.min = Math.min(a.min, r.min);
    a.max = Math.max(a.max, r.max);
    if (r.last_timestamp >= a.lastTs) [a.last, a.lastTs] = [r.last, r.last_timestamp];
    a.sketch.merge(DDSketch.fromBase64(r.sketch));
  }
  const view = (m: Map<string, Agg>) =>
    Object.fromEntries([...m].sort().map(([k, a]) => [k, { ...a, sketch: a.sketch.toBase64() }]));
  t.strictSame(view(merged), view(direct));
  // Histogram rows: counts and sums add up exactly too.
  const histogramRows = out.rows('metrics.rollup.1m').filter((r) => r.type === 'histogram');
  const histogramPoints = records.filter((r, i) => !late.has(i) && JSON.parse(r.value.toString()).type === 'histogram').length;
  t.equal(histogramRows.reduce((n, r) => n + r.count, 0), 6 * histogramPoints);
  t.equal(histogramRows.reduce((n, r) => n + r.sum, 0), 30 * histogramPoints);
});

t.test('a restart from a snapshot at any record gives the same outputs', async (t) => {
  const records = generated(400, 3);
  const whole = runAll(metricsStage(), records);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: records.length }), (k) => {
      t.strictSame(runAll(metricsStage(), records, k), whole);
      return true;
    }),
    { numRuns: 25 },
  );
  for (const k of [0, 1, 200, 400]) t.strictSame(runAll(metricsStage(), records, k), whole, `restart at ${k}`);
});
