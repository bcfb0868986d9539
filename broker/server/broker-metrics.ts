import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** The broker's own health, scraped by Prometheus at /metrics like every other Tributary component. */
export interface BrokerMetrics {
  registry: Registry;
  requests: Counter<'api'>;
  requestErrors: Counter<'api' | 'reason'>;
  bytesIn: Counter<'topic'>;
  bytesOut: Counter<'topic'>;
  recordsIn: Counter<'topic'>;
  connections: Gauge;
}

export function createBrokerMetrics(nodeId: number): BrokerMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node_id: String(nodeId) });
  collectDefaultMetrics({ register: registry, prefix: 'tributary_broker_process_' });
  return {
    registry,
    requests: new Counter({ name: 'tributary_broker_requests_total', help: 'Requests handled, by API', labelNames: ['api'], registers: [registry] }),
    requestErrors: new Counter({
      name: 'tributary_broker_request_errors_total',
      help: 'Requests refused (unsupported version, malformed), by API and reason',
      labelNames: ['api', 'reason'],
      registers: [registry],
    }),
    bytesIn: new Counter({ name: 'tributary_broker_bytes_in_total', help: 'Record bytes appended, by topic', labelNames: ['topic'], registers: [registry] }),
    bytesOut: new Counter({ name: 'tributary_broker_bytes_out_total', help: 'Record bytes fetched, by topic', labelNames: ['topic'], registers: [registry] }),
    recordsIn: new Counter({ name: 'tributary_broker_records_in_total', help: 'Records appended, by topic', labelNames: ['topic'], registers: [registry] }),
    connections: new Gauge({ name: 'tributary_broker_connections', help: 'Open client connections', registers: [registry] }),
  };
}
