// Per-minute metric rollups as Prometheus series: naming, labels, timestamps; then PromQL over them in a real
// Prometheus.
import t from 'tap';
import { RemoteWriteClient } from '../../../../pipelines/sinks/prometheus/remote-write.ts';
import {
  rollupLabels,
  rollupTimestamp,
  sanitizeLabelName,
  sanitizeMetricName,
  seriesFromRollup,
  seriesFromRollups,
  type MetricRollup,
} from '../../../../pipelines/sinks/prometheus/series-from-rollup.ts';
import { startPrometheus } from '../../../helpers/prometheus.ts';

const W0 = Date.UTC(2024, 0, 1, 12, 0);

function rollup(over: Partial<MetricRollup> = {}): MetricRollup {
  return {
    name: 'system.cpu.time',
    type: 'sum',
    attributes: { cpu: 0, state: 'user' },
    resource: { 'service.name': 'agent', 'host.name': 'host-1', 'os.type': 'linux' },
    windowStart: W0,
    count: 4,
    sum: 10,
    min: 1,
    max: 4,
    last: 4,
    ...over,
  };
}

t.test('metric names', async (t) => {
  t.equal(sanitizeMetricName('system.cpu.time'), 'system_cpu_time');
  t.equal(sanitizeMetricName('http.server.request-duration/s'), 'http_server_request_duration_s');
  t.equal(sanitizeMetricName('1st.metric'), '_1st_metric');
  t.equal(sanitizeMetricName('job:requests:rate5m'), 'job:requests:rate5m', 'colons are valid in metric names');
  t.equal(sanitizeMetricName('température'), 'temp_rature');
  t.throws(() => sanitizeMetricName(''));
});

t.test('label names', async (t) => {
  t.equal(sanitizeLabelName('http.method'), 'http_method');
  t.equal(sanitizeLabelName('k8s.pod:name'), 'k8s_pod_name', 'no colons in label names');
  t.equal(sanitizeLabelName('0x'), '_0x');
  t.equal(sanitizeLabelName('__name__'), '_name__', 'cannot overwrite a reserved label');
  t.equal(sanitizeLabelName('_private'), '_private');
  for (const n of ['a.b', '9', '__x', 'é', '-']) t.match(sanitizeLabelName(n), /^[a-zA-Z_][a-zA-Z0-9_]*$/, n);
});

t.test('labels from attributes and resource', async (t) => {
  t.strictSame(rollupLabels(rollup()), { cpu: '0', state: 'user', job: 'agent', instance: 'host-1' }, 'values as strings; only job and instance from the resource');
  t.strictSame(rollupLabels({ attributes: { ok: true, ratio: 0.25 }, resource: {} }), { ok: 'true', ratio: '0.25' });
  t.strictSame(
    rollupLabels({ attributes: { job: 'attr-job' }, resource: { 'service.name': 'api', 'service.namespace': 'shop', 'service.instance.id': 'i-1' } }),
    { job: 'shop/api', instance: 'i-1' },
    'job from namespace/name, instance from service.instance.id without host.name; resource wins',
  );
  t.strictSame(rollupLabels({ attributes: { 'http.method': 'GET', http_method: 'POST' }, resource: {} }), { http_method: 'GET;POST' }, 'colliding names keep both values');
});

t.test('timestamp: the window\'s last millisecond', async (t) => {
  t.equal(rollupTimestamp(W0), W0 + 59_999);
  t.equal(rollupTimestamp(W0, 300_000), W0 + 299_999);
});

t.test('a sum rollup', async (t) => {
  const series = seriesFromRollup(rollup());
  const labels = { cpu: '0', state: 'user', job: 'agent', instance: 'host-1' };
  const at = W0 + 59_999;
  t.strictSame(series, [
    { labels: { ...labels, __name__: 'system_cpu_time' }, samples: [{ timestamp: at, value: 4 }] },
    { labels: { ...labels, __name__: 'system_cpu_time_count' }, samples: [{ timestamp: at, value: 4 }] },
    { labels: { ...labels, __name__: 'system_cpu_time_sum' }, samples: [{ timestamp: at, value: 10 }] },
    { labels: { ...labels, __name__: 'system_cpu_time_min' }, samples: [{ timestamp: at, value: 1 }] },
    { labels: { ...labels, __name__: 'system_cpu_time_max' }, samples: [{ timestamp: at, value: 4 }] },
  ]);
});

t.test('a histogram rollup with quantiles', async (t) => {
  const series = seriesFromRollup(rollup({
    name: 'http.server.duration',
    type: 'histogram',
    attributes: { route: '/api' },
    resource: { 'service.name': 'api' },
    quantiles: [{ quantile: 0.5, value: 12 }, { quantile: 0.99, value: 250 }],
  }));
  t.strictSame(series.map((s) => [s.labels.__name__, s.labels.quantile, s.samples[0].value]), [
    ['http_server_duration_count', undefined, 4],
    ['http_server_duration_sum', undefined, 10],
    ['http_server_duration_min', undefined, 1],
    ['http_server_duration_max', undefined, 4],
    ['http_server_duration', '0.5', 12],
    ['http_server_duration', '0.99', 250],
  ], 'no bare <name> series for a histogram: only its quantiles');
  t.strictSame(series[5].labels, { route: '/api', job: 'api', quantile: '0.99', __name__: 'http_server_duration' });
});

t.test('seriesFromRollups gathers the windows of a series', async (t) => {
  const series = seriesFromRollups([rollup({ type: 'gauge', last: 1 }), rollup({ type: 'gauge', last: 2, windowStart: W0 + 60_000 }), rollup({ attributes: { cpu: 1, state: 'user' } })]);
  t.equal(series.length, 10, 'two label sets × five series');
  const main = series.find((s) => s.labels.__name__ === 'system_cpu_time' && s.labels.cpu === '0')!;
  t.strictSame(main.samples, [{ timestamp: W0 + 59_999, value: 1 }, { timestamp: W0 + 119_999, value: 2 }]);
});

t.test('PromQL over remote-written rollups', async (t) => {
  const prom = await startPrometheus();
  t.teardown(() => prom.stop());
  const w0 = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000;
  const windows = [0, 1, 2].map((i) => w0 + i * 60_000);
  const rollups: MetricRollup[] = windows.flatMap((windowStart, i) => [
    rollup({ windowStart, type: 'gauge', name: 'system.memory.usage', attributes: { state: 'used' }, count: 6, sum: 60 + i * 6, min: 9, max: 11 + i, last: 10 + i }),
    rollup({
      windowStart,
      name: 'http.server.duration',
      type: 'histogram',
      attributes: { 'http.route': '/checkout' },
      resource: { 'service.name': 'shop', 'host.name': 'web-1' },
      count: 100 * (i + 1),
      sum: 1000 * (i + 1),
      min: 1,
      max: 500,
      last: 7,
      quantiles: [{ quantile: 0.5, value: 8 + i }, { quantile: 0.99, value: 400 }],
    }),
  ]);
  await new RemoteWriteClient({ url: prom.remoteWriteUrl }).write(seriesFromRollups(rollups));
  const end = w0 + 180_000;

  const usage = await prom.query('system_memory_usage', end);
  t.strictSame(usage.result, [{
    metric: { __name__: 'system_memory_usage', state: 'used', job: 'agent', instance: 'host-1' },
    value: [end / 1000, '12'],
  }], 'the last window\'s last value, with job and instance');

  const range = await prom.queryRange('system_memory_usage_max', w0 + 60_000, end, 60_000);
  t.strictSame(range.result[0].values, [[(w0 + 60_000) / 1000, '11'], [(w0 + 120_000) / 1000, '12'], [(w0 + 180_000) / 1000, '13']],
    'evaluated at a window\'s end, a query sees that window');

  const perMinute = await prom.queryRange('count_over_time(system_memory_usage[1m])', w0 + 60_000, end, 60_000);
  t.strictSame(perMinute.result[0].values.map((v: [number, string]) => v[1]), ['1', '1', '1'], 'a 1m range ending on a minute holds exactly one window');

  const total = await prom.query('sum_over_time(http_server_duration_count{http_route="/checkout"}[3m])', end);
  t.equal(total.result[0].value[1], '600', 'counts over three windows');
  t.strictSame(total.result[0].metric, { http_route: '/checkout', job: 'shop', instance: 'web-1' });

  const mean = await prom.query('sum_over_time(http_server_duration_sum[3m]) / sum_over_time(http_server_duration_count[3m])', end);
  t.equal(mean.result[0].value[1], '10', 'mean duration');

  const p50 = await prom.query('http_server_duration{quantile="0.5"}', end);
  t.equal(p50.result[0].value[1], '10');
  t.equal(p50.result[0].metric.quantile, '0.5');
  const quantiles = await prom.query('count by (quantile) (http_server_duration)', end);
  t.strictSame(quantiles.result.map((r: any) => r.metric.quantile).sort(), ['0.5', '0.99']);
});
