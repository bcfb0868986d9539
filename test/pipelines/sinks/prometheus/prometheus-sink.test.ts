// The Prometheus sink against a real broker and a real Prometheus: metrics.rollup.1m rows become the
// series seriesFromRollup describes; a late row Prometheus rejects is dropped and counted, and the rest of
// its batch is still stored; an invalid row is skipped.
import t from 'tap';
import { Producer, ProduceAcks } from '@platformatic/kafka';
import { rollupFromRecord, startPrometheusSink } from '../../../../pipelines/sinks/prometheus/prometheus-sink.ts';
import { rollupTimestamp } from '../../../../pipelines/sinks/prometheus/series-from-rollup.ts';
import { startBroker, removeDir } from '../../../helpers/broker-process.ts';
import { startPrometheus, type PrometheusServer } from '../../../helpers/prometheus.ts';
import { createTopics } from '../../../helpers/admin.ts';
import { until } from '../../../helpers/collect.ts';
import { createLogger } from '../../../../broker/server/logger.ts';

const TOPIC = 'metrics.rollup.1m';

function rollup(o: { minute: number; name: string; type: string; labels?: Record<string, string>; last?: number; count?: number; sum?: number; min?: number; max?: number }) {
  const labels = o.labels ?? {};
  const keys = Object.keys(labels).sort();
  return {
    minute: o.minute, name: o.name, type: o.type, unit: '', service: 'api', host: 'host-a',
    label_keys: keys, label_values: keys.map((k) => labels[k]),
    count: o.count ?? 1, sum: o.sum ?? o.last ?? 0, min: o.min ?? o.last ?? 0, max: o.max ?? o.last ?? 0, last: o.last ?? 0,
    last_timestamp: o.minute + 30_000, sketch: '',
  };
}

async function values(prom: PrometheusServer, promql: string, start: number, end: number): Promise<Record<string, [number, string][]>> {
  const data = await prom.queryRange(promql, start, end, 60_000);
  const out: Record<string, [number, string][]> = {};
  for (const r of data.result) out[JSON.stringify(r.metric)] = r.values;
  return out;
}

t.test('rollups are remote-written; late samples are dropped and counted, the rest of the batch stored', async (t) => {
  const [broker, prom] = await Promise.all([startBroker({ args: ['--group-initial-rebalance-delay-ms', '0'] }), startPrometheus()]);
  t.teardown(async () => {
    await broker.stop();
    removeDir(broker.dataDir);
    await prom.stop();
  });
  const brokers = [`127.0.0.1:${broker.port}`];
  await createTopics(broker.port, [{ topic: TOPIC, numPartitions: 2 }]);
  const producer = new Producer({ clientId: 'prom-sink-test', bootstrapBrokers: brokers, acks: ProduceAcks.ALL });
  t.teardown(() => producer.close());
  const send = (rows: { partition: number; value: unknown }[]) =>
    producer.send({ messages: rows.map((r) => ({ topic: TOPIC, partition: r.partition, value: Buffer.from(typeof r.value === 'string' ? r.value : JSON.stringify(r.value)) })) });

  const base = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000;
  const cpu = (minute: number, last: number) => rollup({ minute, name: 'system.cpu.utilization', type: 'gauge', labels: { state: 'user' }, last, count: 4, sum: last * 4, min: last / 2, max: last * 2 });
  await send([
    { partition: 0, value: cpu(base, 0.5) },
    { partition: 0, value: cpu(base + 60_000, 0.75) },
    { partition: 0, value: cpu(base + 120_000, 0.25) },
    { partition: 1, value: rollup({ minute: base + 60_000, name: 'http.server.duration', type: 'histogram', labels: { 'http.method': 'GET' }, count: 3, sum: 1.5, min: 0.25, max: 1, last: 0.25 }) },
    { partition: 1, value: '{"minute": "not a rollup"}' },
  ]);

  const sink = await startPrometheusSink({ brokers, remoteWriteUrl: prom.remoteWriteUrl, flushIntervalMs: 100, sessionTimeoutMs: 6_000, log: createLogger('sink-prometheus', true) });
  t.teardown(() => sink.stop());

  const start = rollupTimestamp(base);
  const end = rollupTimestamp(base + 120_000);
  await until('the rollups are queryable', async () => (await prom.query('count({__name__=~"system_cpu_utilization.*|http_server_duration.*"})', end)).result[0]?.value[1] === '9', 30_000);

  const cpuLabels = { instance: 'host-a', job: 'api', state: 'user' }; // in Prometheus' (sorted) order
  const key = (name: string, labels: Record<string, string>) => JSON.stringify({ __name__: name, ...labels });
  const s = (ms: number) => ms / 1000;
  t.strictSame(await values(prom, 'system_cpu_utilization', start, end), {
    [key('system_cpu_utilization', cpuLabels)]: [[s(start), '0.5'], [s(start + 60_000), '0.75'], [s(end), '0.25']],
  }, 'a gauge: the last value of each minute, stamped at the minute\'s last millisecond');
  t.strictSame(await values(prom, 'system_cpu_utilization_max', start, end), {
    [key('system_cpu_utilization_max', cpuLabels)]: [[s(start), '1'], [s(start + 60_000), '1.5'], [s(end), '0.5']],
  });
  const h = rollupTimestamp(base + 60_000);
  const histogram = await prom.query('{__name__=~"http_server_duration.*"}', h);
  t.strictSame(
    histogram.result.map((r: any) => [r.metric.__name__, r.metric.http_method, r.metric.job, r.value[0], r.value[1]]).sort(),
    [
      ['http_server_duration_count', 'GET', 'api', s(h), '3'],
      ['http_server_duration_max', 'GET', 'api', s(h), '1'],
      ['http_server_duration_min', 'GET', 'api', s(h), '0.25'],
      ['http_server_duration_sum', 'GET', 'api', s(h), '1.5'],
    ],
    'a histogram: count, sum, min and max, no bare series',
  );

  // A row older than the series' newest sample, together with a new series, in one batch.
  await send([
    { partition: 0, value: cpu(base - 60_000, 9) },
    { partition: 0, value: rollup({ minute: base, name: 'queue.depth', type: 'gauge', last: 42 }) },
  ]);
  await until('the new series is queryable', async () => (await prom.query('queue_depth', rollupTimestamp(base))).result.length === 1, 30_000);
  t.strictSame((await prom.query('queue_depth', rollupTimestamp(base))).result[0].value, [s(rollupTimestamp(base)), '42'], 'the rest of the rejected batch is stored');
  t.strictSame(Object.values(await values(prom, 'system_cpu_utilization', rollupTimestamp(base - 60_000), end))[0][0], [s(start), '0.5'], 'the late sample is not stored');

  const metrics = await sink.registry.getMetricsAsJSON();
  const dropped = metrics.find((m) => m.name === 'tributary_sink_prometheus_samples_dropped_total')!;
  const droppedTotal = dropped.values.reduce((n, v) => n + v.value, 0);
  t.equal(droppedTotal, 5, 'the late rollup\'s five samples (value, count, sum, min, max) counted as dropped');
  t.ok(dropped.values.every((v) => v.labels.reason !== 'other'), `as out-of-order rejections (${dropped.values.map((v) => v.labels.reason)})`);
  const invalid = metrics.find((m) => m.name === 'tributary_sink_prometheus_invalid_records_total')!;
  t.equal(invalid.values[0].value, 1, 'the invalid row is counted');
  const rollups = metrics.find((m) => m.name === 'tributary_sink_prometheus_rollups_total')!;
  t.equal(rollups.values[0].value, 6, 'every valid rollup went out');
});

t.test('a row with a sketch gets quantiles 0.5, 0.9 and 0.99 from it; an unreadable sketch makes the row invalid', async (t) => {
  // Stands in for pipelines/sketches/quantile-sketch.ts: the sink only needs fromBase64 and quantile.
  const Sketch = {
    fromBase64(s: string) {
      if (s !== 'c2tldGNo') throw new Error('bad sketch');
      return { quantile: (q: number) => q * 100 };
    },
  };
  const row = { ...rollup({ minute: 60_000, name: 'rpc.duration', type: 'histogram', labels: { b: '2', a: '1' }, count: 2, sum: 3, min: 1, max: 2, last: 2 }), sketch: 'c2tldGNo' };
  t.strictSame(rollupFromRecord(row, Sketch), {
    name: 'rpc.duration', type: 'histogram', attributes: { a: '1', b: '2' }, resource: { 'service.name': 'api', 'host.name': 'host-a' },
    windowStart: 60_000, count: 2, sum: 3, min: 1, max: 2, last: 2,
    quantiles: [{ quantile: 0.5, value: 50 }, { quantile: 0.9, value: 90 }, { quantile: 0.99, value: 99 }],
  });
  t.match(rollupFromRecord({ ...row, sketch: 'eA==' }, Sketch), /^unreadable sketch: bad sketch/);
  t.equal(rollupFromRecord({ ...row, label_values: ['1'] }, Sketch), 'label_keys and label_values must be string arrays of the same length');
});
