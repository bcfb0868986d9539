import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface MetricsEndpoint {
  server: Server;
  port: number;
  close(): Promise<void>;
}

/**
 * A minimal HTTP server for the components that have no web server of their own (agent, stages,
 * sinks): GET /metrics for Prometheus, GET /healthz with what `health()` reports.
 */
export function serveMetrics(
  registry: Registry,
  listen: { host: string; port: number },
  health: () => unknown = () => ({ status: 'ok' }),
  /** Refreshes gauges that mirror live state, so one scrape is consistent with itself. */
  beforeScrape: () => void = () => {},
): Promise<MetricsEndpoint> {
  const server = createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      beforeScrape();
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(err.message),
      );
      return;
    }
    if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(health()));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: this component serves /metrics and /healthz\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      const address = server.address();
      const port = address && typeof address === 'object' ? address.port : listen.port;
      resolve({ server, port, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}
