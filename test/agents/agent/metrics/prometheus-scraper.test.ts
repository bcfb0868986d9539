// Scraping a real prom-client registry over HTTP: names, types and values exactly; and the ways a scrape fails.
import t from 'tap';
import { createServer, type RequestListener, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import { Value } from '@sinclair/typebox/value';
import { MetricPoint, checkMetricPoint } from '../../../../agents/events/metric-point.ts';
import { ScrapeError, instanceOf, scrapePrometheus, scrapePrometheusTarget } from '../../../../agents/agent/metrics/prometheus-scraper.ts';

const NOW = 1_700_000_000_000;

async function serve(t: { teardown(fn: () => unknown): void }, handler: RequestListener): Promise<{ url: string; port: number; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/metrics`, port, server };
}

t.test('a prom-client registry, scraped', async (t) => {
  const registry = new Registry();
  const orders = new Counter({ name: 'shop_orders_total', help: 'Orders placed', labelNames: ['country'], registers: [registry] });
  const queue = new Gauge({ name: 'shop_queue_depth', help: 'Jobs waiting', registers: [registry] });
  const latency = new Histogram({ name: 'shop_request_seconds', help: 'Request latency', labelNames: ['route'], buckets: [0.5, 1, 5], registers: [registry] });
  const size = new Summary({ name: 'shop_payload_bytes', help: 'Payload size', percentiles: [0.5, 0.9], registers: [registry] });
  const odd = new Gauge({ name: 'shop_odd', help: 'Label values that need escaping', labelNames: ['path'], registers: [registry] });
  orders.inc({ country: 'fr' }, 3);
  orders.inc({ country: 'de' }, 5);
  queue.set(17);
  latency.observe({ route: '/cart' }, 0.3);
  latency.observe({ route: '/cart' }, 2);
  latency.observe({ route: '/pay' }, 0.7);
  for (const v of [100, 200, 300, 400]) size.observe(v);
  odd.set({ path: 'C:\\temp\n"quoted"' }, 1);

  let accept: string | undefined;
  const target = await serve(t, async (req, res) => {
    accept = req.headers.accept;
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(await registry.metrics());
  });
  const points = await scrapePrometheus({ url: target.url, job: 'shop', timeoutMs: 2000, hostName: 'agent-host' }, NOW);

  t.equal(accept, 'text/plain;version=0.0.4', 'asks for the classic text format');
  t.same(points.filter((p) => !Value.Check(MetricPoint, p) || checkMetricPoint(p) !== null), [], 'every point matches the MetricPoint schema');
  const resource = { 'host.name': 'agent-host', 'service.name': 'shop', 'service.instance.id': `127.0.0.1:${target.port}` };
  t.ok(points.every((p) => JSON.stringify(p.resource) === JSON.stringify(resource) && p.timestamp === NOW), 'resource names the job and instance');

  t.same(points.map((p) => [p.name, p.type, p.attributes]), [
    ['shop_orders_total', 'sum', { country: 'fr' }],
    ['shop_orders_total', 'sum', { country: 'de' }],
    ['shop_queue_depth', 'gauge', undefined],
    ['shop_request_seconds', 'histogram', { route: '/cart' }],
    ['shop_request_seconds', 'histogram', { route: '/pay' }],
    ['shop_payload_bytes', 'summary', undefined],
    ['shop_odd', 'gauge', { path: 'C:\\temp\n"quoted"' }],
  ]);
  const [fr, de, depth, cart, pay, payload] = points;
  t.same([fr.value, fr.monotonic, fr.temporality, fr.description], [3, true, 'cumulative', 'Orders placed']);
  t.equal(de.value, 5);
  t.equal(depth.value, 17);
  t.same(cart.histogram, { count: 2, sum: 2.3, bounds: [0.5, 1, 5], counts: [1, 0, 1, 0] }, 'per-bucket counts');
  t.same(pay.histogram, { count: 1, sum: 0.7, bounds: [0.5, 1, 5], counts: [0, 1, 0, 0] });
  t.equal(payload.value, 1000, 'a summary carries its sum');
  t.equal(payload.count, 4);
  t.same(payload.quantiles?.map((q) => q.quantile), [0.5, 0.9]);
  t.ok(payload.quantiles!.every((q) => q.value >= 100 && q.value <= 400), 'quantile values within the observations');
});

t.test('NaN samples are counted, not emitted', async (t) => {
  const target = await serve(t, (_req, res) => res.end('# TYPE up gauge\nup 1\nbroken NaN\n'));
  const result = await scrapePrometheusTarget({ url: target.url, job: 'j', timeoutMs: 2000, hostName: 'h' }, NOW);
  t.same(result.points.map((p) => p.name), ['up']);
  t.equal(result.skippedSamples, 1);
});

t.test('failed scrapes say why', async (t) => {
  const notFound = await serve(t, (_req, res) => {
    res.writeHead(503, 'Service Unavailable');
    res.end('overloaded');
  });
  await t.rejects(scrapePrometheus({ url: notFound.url, job: 'j', timeoutMs: 2000, hostName: 'h' }, NOW), { name: 'ScrapeError', kind: 'http_status', message: `scrape of ${notFound.url} failed: HTTP 503 Service Unavailable` });

  const slow = await serve(t, (_req, res) => {
    res.writeHead(200);
    res.write('up 1\n'); // headers and part of the body, then nothing: the timeout must cover the body too
  });
  const started = Date.now();
  await t.rejects(scrapePrometheus({ url: slow.url, job: 'j', timeoutMs: 200, hostName: 'h' }, NOW), { kind: 'timeout', message: /no complete answer within 200 ms/ });
  t.ok(Date.now() - started < 2000, 'gives up on time');

  const garbage = await serve(t, (_req, res) => res.end('up 1\n{not prometheus}\n'));
  const error = await scrapePrometheus({ url: garbage.url, job: 'j', timeoutMs: 2000, hostName: 'h' }, NOW).catch((e: unknown) => e);
  t.ok(error instanceof ScrapeError);
  t.match(error, { kind: 'parse', message: /failed: line 2: expected a metric name/ });

  const closed = await serve(t, () => {});
  const closedUrl = closed.url;
  await new Promise((resolve) => closed.server.close(resolve));
  await t.rejects(scrapePrometheus({ url: closedUrl, job: 'j', timeoutMs: 2000, hostName: 'h' }, NOW), { kind: 'network', message: /ECONNREFUSED/ });
});

t.test('the instance is host:port, the port made explicit', async (t) => {
  t.equal(instanceOf(new URL('http://node-1:9100/metrics')), 'node-1:9100');
  t.equal(instanceOf(new URL('http://example.com/metrics')), 'example.com:80');
  t.equal(instanceOf(new URL('https://example.com/metrics')), 'example.com:443');
  t.equal(instanceOf(new URL('http://[::1]:9100/metrics')), '[::1]:9100');
});
