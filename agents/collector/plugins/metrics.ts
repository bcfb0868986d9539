import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The collector's own health at /metrics: requests and records by route and outcome, write latency. */
export async function metricsPlugin(app: FastifyInstance, opts: { registry: Registry }): Promise<void> {
  const { registry } = opts;
  collectDefaultMetrics({ register: registry, prefix: 'tributary_collector_process_' });
  const requests = new Counter({ name: 'tributary_collector_requests_total', help: 'HTTP requests by route and status code', labelNames: ['route', 'status'], registers: [registry] });
  const latency = new Histogram({ name: 'tributary_collector_request_seconds', help: 'HTTP request duration by route', labelNames: ['route'], registers: [registry], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5] });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    requests.inc({ route, status: String(reply.statusCode) });
    latency.observe({ route }, reply.elapsedTime / 1000);
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
}

// Hooks must see every route, not only this plugin's: opt out of encapsulation (as fastify-plugin does).
(metricsPlugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
