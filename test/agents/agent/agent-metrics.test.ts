// Acceptance: host metrics and a scraped Prometheus endpoint appear in metrics.raw with the right names,
// types and values; the agent's own /metrics reports what it did.
import t from 'tap';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import { Value } from '@sinclair/typebox/value';
import { MetricPoint } from '../../../agents/events/metric-point.ts';
import { startBroker, tempDir, removeDir } from '../../helpers/broker-process.ts';
import { startAgent } from '../../helpers/agent-process.ts';
import { readTopicJson } from '../../helpers/topic-reader.ts';
import { until } from '../../helpers/collect.ts';

t.test('host metrics and a scraped endpoint land in metrics.raw', async (t) => {
  const registry = new Registry();
  const orders = new Counter({ name: 'shop_orders_total', help: 'orders', labelNames: ['country'], registers: [registry] });
  const queue = new Gauge({ name: 'shop_queue_depth', help: 'queue', registers: [registry] });
  const latency = new Histogram({ name: 'shop_request_seconds', help: 'latency', buckets: [0.5, 1, 5], registers: [registry] });
  const size = new Summary({ name: 'shop_payload_bytes', help: 'payload', percentiles: [0.5, 0.9], registers: [registry] });
  orders.inc({ country: 'fr' }, 3);
  orders.inc({ country: 'de' }, 5);
  queue.set(17);
  latency.observe(0.3);
  latency.observe(2);
  for (const v of [100, 200, 300, 400]) size.observe(v);
  const target = createServer(async (_req, res) => {
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(await registry.metrics());
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  const targetUrl = `http://127.0.0.1:${(target.address() as { port: number }).port}/metrics`;

  const dir = tempDir('agent-metrics');
  const broker = await startBroker();
  const agent = await startAgent(dir, {
    brokers: [`127.0.0.1:${broker.port}`],
    state_dir: join(dir, 'state'),
    host_name: 'metrics-host',
    host_metrics: { interval: '1s' },
    scrape: [{ job: 'shop', url: targetUrl, interval: '1s' }],
    shipping: { linger: '20ms' },
  });
  t.teardown(async () => {
    await agent.kill();
    await broker.kill();
    target.close();
    removeDir(dir);
    removeDir(broker.dataDir);
  });

  let points: any[] = [];
  const names = () => new Set(points.map((p) => p.name));
  await until('host metrics (two collections) and the scrape', async () => {
    points = (await readTopicJson(broker.port, 'metrics.raw')).map((r) => r.value);
    const cpu = points.filter((p) => p.name === 'system.cpu.time');
    return names().has('shop_orders_total') && names().has('system.filesystem.usage') && new Set(cpu.map((p) => p.timestamp)).size >= 2;
  }, 60_000, () => [...names()].join(', '));

  const invalid = points.filter((p) => !Value.Check(MetricPoint, p));
  t.equal(invalid.length, 0, 'every point matches the metrics.raw schema');
  for (const p of points) t.equal(p.resource['host.name'], 'metrics-host', 'resource carries the host');

  const cpu = points.filter((p) => p.name === 'system.cpu.time');
  t.ok(cpu.every((p) => p.type === 'sum' && p.monotonic === true && p.unit === 's'), 'cpu time is a monotonic sum in seconds');
  t.ok(new Set(cpu.map((p) => p.attributes.state)).has('idle'), 'per mode');
  const mem = points.filter((p) => p.name === 'system.memory.usage');
  t.ok(mem.length > 0 && mem.every((p) => p.type === 'gauge' && p.value >= 0), 'memory usage gauges');
  for (const name of ['system.cpu.load_average.1m', 'system.paging.usage', 'system.network.io', 'system.filesystem.usage', 'system.disk.io']) {
    t.ok(names().has(name), `${name} collected`);
  }
  const root = points.find((p) => p.name === 'system.filesystem.usage' && p.attributes.mountpoint === '/' && p.attributes.state === 'used');
  t.ok(root && root.value > 0, 'the root file system has used bytes');

  const scraped = points.filter((p) => p.resource['service.name'] === 'shop');
  const fr = scraped.find((p) => p.name === 'shop_orders_total' && p.attributes.country === 'fr');
  t.equal(fr?.type, 'sum');
  t.equal(fr?.monotonic, true);
  t.equal(fr?.value, 3);
  t.equal(scraped.find((p) => p.name === 'shop_orders_total' && p.attributes.country === 'de')?.value, 5);
  const depth = scraped.find((p) => p.name === 'shop_queue_depth');
  t.equal(depth?.type, 'gauge');
  t.equal(depth?.value, 17);
  const hist = scraped.find((p) => p.name === 'shop_request_seconds');
  t.equal(hist?.type, 'histogram');
  t.same(hist?.histogram.bounds, [0.5, 1, 5]);
  t.same(hist?.histogram.counts, [1, 0, 1, 0], 'per-bucket counts (not cumulative)');
  t.equal(hist?.histogram.count, 2);
  t.ok(Math.abs(hist?.histogram.sum - 2.3) < 1e-9);
  const summary = scraped.find((p) => p.name === 'shop_payload_bytes');
  t.equal(summary?.type, 'summary');
  t.equal(summary?.count, 4);
  t.equal(summary?.value, 1000, 'a summary carries its sum');
  t.same(summary?.quantiles.map((q: { quantile: number }) => q.quantile), [0.5, 0.9]);

  const own = await agent.metrics();
  t.ok((own.get('tributary_agent_metric_points_total{source="host_metrics"}') ?? 0) > 0, 'the agent counts host metric points');
  t.ok((own.get('tributary_agent_metric_points_total{source="scrape"}') ?? 0) > 0, 'and scraped points');
  t.ok((own.get('tributary_agent_records_shipped_total{topic="metrics.raw"}') ?? 0) > 0, 'and what it shipped');
});
