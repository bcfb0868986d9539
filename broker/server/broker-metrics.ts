import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PartitionLeadership } from '../replication/partition-leadership.ts';
import type { LogManager, TopicInfo } from '../storage/log-manager.ts';

/** The broker's own health, scraped by Prometheus at /metrics like every other Tributary component. */
export interface BrokerMetrics {
  registry: Registry;
  requests: Counter<'api'>;
  requestErrors: Counter<'api' | 'reason'>;
  requestSeconds: Histogram<'api'>;
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
    // Kafka's TotalTimeMs: from the request's arrival to its response being written, so it holds the wait
    // behind earlier requests on the connection, a fetch's wait for data and acks=all's wait for replication.
    // Broker-side time next to a client's own latency tells the broker's share from the network's and the client's.
    requestSeconds: new Histogram({
      name: 'tributary_broker_request_duration_seconds',
      help: 'Time from a request arriving to its response being written, by API',
      labelNames: ['api'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    bytesIn: new Counter({ name: 'tributary_broker_bytes_in_total', help: 'Record bytes appended, by topic', labelNames: ['topic'], registers: [registry] }),
    bytesOut: new Counter({ name: 'tributary_broker_bytes_out_total', help: 'Record bytes fetched, by topic', labelNames: ['topic'], registers: [registry] }),
    recordsIn: new Counter({ name: 'tributary_broker_records_in_total', help: 'Records appended, by topic', labelNames: ['topic'], registers: [registry] }),
    connections: new Gauge({ name: 'tributary_broker_connections', help: 'Open client connections', registers: [registry] }),
  };
}

/**
 * Partitions this broker hosts and leads, and their size, read from the log manager at scrape time.
 * A single broker leads every partition it hosts; with replication the two counts differ, which is what
 * the pipeline-health dashboard shows.
 */
export function registerLogMetrics(registry: Registry, logs: LogManager, leadership: PartitionLeadership): void {
  const count = (t: TopicInfo, include: (p: number) => boolean) => {
    let n = 0;
    for (let p = 0; p < t.partitions; p++) if (include(p)) n++;
    return n;
  };
  const perTopic = (name: string, help: string, value: (t: TopicInfo) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['topic'],
      registers: [registry],
      collect() {
        this.reset();
        for (const t of logs.topics()) this.set({ topic: t.name }, value(t));
      },
    });
  perTopic('tributary_broker_partitions', 'Partitions hosted on this broker, by topic', (t) => count(t, (p) => logs.getLog(t.name, p) !== undefined));
  perTopic('tributary_broker_partition_leaders', 'Partitions this broker is the leader of, by topic', (t) => count(t, (p) => typeof leadership.leader(t.name, p) !== 'number'));
  perTopic('tributary_broker_log_size_bytes', 'Bytes on disk of every partition of a topic', (t) => {
    let bytes = 0;
    for (let p = 0; p < t.partitions; p++) bytes += logs.getLog(t.name, p)?.sizeInBytes ?? 0;
    return bytes;
  });
}
