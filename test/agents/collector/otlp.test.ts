// Acceptance: the official OpenTelemetry JS OTLP exporters send logs and metrics to the collector in JSON
// and in protobuf; records appear in logs.raw and metrics.raw with attributes intact. Bad OTLP gets 4xx.
import t from 'tap';
import { gzipSync } from 'node:zlib';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter as JsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter as JsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import type { BrokerProcess } from '../../helpers/broker-process.ts';
import { startCollectorWithBroker, type CollectorUnderTest } from '../../helpers/collector.ts';
import { kcat } from '../../helpers/kcat.ts';

let broker: BrokerProcess;
let url: string;
let stack: CollectorUnderTest;
t.before(async () => {
  stack = await startCollectorWithBroker(1 << 20);
  ({ broker, url } = stack);
});
t.teardown(() => stack.stop());

async function readJson(topic: string): Promise<{ key: string; value: any }[]> {
  const res = await kcat(['-C', '-b', `127.0.0.1:${broker.port}`, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%k\\t%s\\n']);
  return res.stdout.toString().trim().split('\n').filter(Boolean).map((l) => {
    const [key, value] = l.split('\t');
    return { key, value: JSON.parse(value) };
  });
}

for (const [encoding, Exporter] of [['json', JsonLogExporter], ['protobuf', ProtoLogExporter]] as const) {
  t.test(`logs from the official OTLP ${encoding} exporter`, async (t) => {
    const provider = new LoggerProvider({
      resource: resourceFromAttributes({ 'service.name': `checkout-${encoding}`, 'host.name': 'shop-1', 'deployment.environment': 'test' }),
      processors: [new SimpleLogRecordProcessor({ exporter: new Exporter({ url: `${url}/v1/logs` }) })],
    });
    const logger = provider.getLogger('payments', '1.2.3');
    logger.emit({ severityNumber: SeverityNumber.WARN, severityText: 'WARN', body: `payment failed (${encoding})`, attributes: { 'order.id': 42, retry: true, tags: ['a', 'b'], ratio: 0.5 } });
    logger.emit({ severityNumber: SeverityNumber.INFO, body: { structured: 'body', n: 1 } });
    await provider.forceFlush();
    await provider.shutdown();
    const logs = (await readJson('logs.raw')).filter((r) => r.value.resource['service.name'] === `checkout-${encoding}`);
    t.equal(logs.length, 2);
    const warn = logs.find((r) => r.value.severityText === 'WARN')!;
    t.equal(warn.key, 'shop-1', 'keyed by host');
    t.equal(warn.value.body, `payment failed (${encoding})`);
    t.equal(warn.value.severityNumber, SeverityNumber.WARN);
    t.same(warn.value.attributes, { 'otel.scope.name': 'payments', 'order.id': 42, retry: true, tags: ['a', 'b'], ratio: 0.5 }, 'attributes intact');
    t.equal(warn.value.resource['deployment.environment'], 'test');
    t.ok(Math.abs(warn.value.timestamp - Date.now()) < 60_000, 'timestamp in milliseconds');
    t.same(logs.find((r) => r.value.severityNumber === SeverityNumber.INFO)!.value.body, { structured: 'body', n: 1 }, 'structured body');
  });
}

for (const [encoding, Exporter] of [['json', JsonMetricExporter], ['protobuf', ProtoMetricExporter]] as const) {
  t.test(`metrics from the official OTLP ${encoding} exporter`, async (t) => {
    const reader = new PeriodicExportingMetricReader({ exporter: new Exporter({ url: `${url}/v1/metrics` }), exportIntervalMillis: 60_000 });
    const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': `api-${encoding}` }), readers: [reader] });
    const meter = provider.getMeter('http');
    meter.createCounter('http.requests', { description: 'requests served' }).add(5, { route: '/pay', method: 'POST' });
    meter.createHistogram('http.duration', { unit: 'ms' }).record(120, { route: '/pay' });
    meter.createGauge('queue.depth').record(17, { queue: 'mail' });
    await provider.forceFlush();
    await provider.shutdown();
    const points = (await readJson('metrics.raw')).map((r) => r.value).filter((p) => p.resource['service.name'] === `api-${encoding}`);
    const counter = points.find((p) => p.name === 'http.requests');
    t.match(counter, { type: 'sum', value: 5, monotonic: true, temporality: 'cumulative', attributes: { route: '/pay', method: 'POST' }, description: 'requests served' });
    const hist = points.find((p) => p.name === 'http.duration');
    t.match(hist, { type: 'histogram', unit: 'ms', histogram: { count: 1, sum: 120, min: 120, max: 120 } });
    t.equal(hist.histogram.counts.length, hist.histogram.bounds.length + 1, 'explicit buckets kept');
    t.match(points.find((p) => p.name === 'queue.depth'), { type: 'gauge', value: 17, attributes: { queue: 'mail' } });
  });
}

t.test('bad OTLP input: 4xx and nothing written', async (t) => {
  const before = (await readJson('logs.raw')).length;
  const post = (path: string, body: Buffer | string, headers: Record<string, string>) => fetch(`${url}${path}`, { method: 'POST', headers, body });
  const cases: [string, Promise<Response>, number][] = [
    ['broken protobuf', post('/v1/logs', Buffer.from([0x0a, 0xff, 0xff, 0xff]), { 'content-type': 'application/x-protobuf' }), 400],
    ['broken JSON', post('/v1/logs', '{"resourceLogs": [', { 'content-type': 'application/json' }), 400],
    ['wrong shape', post('/v1/logs', JSON.stringify({ resourceLogs: 'nope' }), { 'content-type': 'application/json' }), 400],
    ['bad severity', post('/v1/logs', JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'x' }, severityNumber: 99 }] }] }] }), { 'content-type': 'application/json' }), 400],
    ['wrong content type', post('/v1/logs', 'hello', { 'content-type': 'text/plain' }), 415],
    ['bad gzip', post('/v1/logs', 'not gzip', { 'content-type': 'application/json', 'content-encoding': 'gzip' }), 400],
    ['huge body', post('/v1/metrics', 'x'.repeat(2 << 20), { 'content-type': 'application/json' }), 413],
  ];
  for (const [name, res, status] of cases) t.equal((await res).status, status, name);
  const ok = await post('/v1/logs', gzipSync(JSON.stringify({ resourceLogs: [{ resource: { attributes: [{ key: 'host.name', value: { stringValue: 'gz' } }] }, scopeLogs: [{ logRecords: [{ body: { stringValue: 'zipped' } }] }] }] })), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
  t.equal(ok.status, 200, 'gzip JSON accepted');
  t.equal((await readJson('logs.raw')).length, before + 1, 'only the valid request wrote');
});
