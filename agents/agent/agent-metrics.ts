import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** The agent's own health, served at /metrics for Prometheus. */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly linesRead = new Counter({ name: 'tributary_agent_lines_read_total', help: 'Log lines read, by file', labelNames: ['file'], registers: [this.registry] });
  readonly bytesRead = new Counter({ name: 'tributary_agent_bytes_read_total', help: 'Bytes read from tailed files, by file', labelNames: ['file'], registers: [this.registry] });
  readonly recordsBuffered = new Counter({ name: 'tributary_agent_records_buffered_total', help: 'Records written to the disk buffer, by topic', labelNames: ['topic'], registers: [this.registry] });
  readonly recordsShipped = new Counter({ name: 'tributary_agent_records_shipped_total', help: 'Records the broker acknowledged, by topic', labelNames: ['topic'], registers: [this.registry] });
  readonly bytesShipped = new Counter({ name: 'tributary_agent_bytes_shipped_total', help: 'Record value bytes the broker acknowledged', registers: [this.registry] });
  readonly duplicatesSkipped = new Counter({ name: 'tributary_agent_duplicates_skipped_total', help: 'Buffered records found already stored on the broker after a lost acknowledgement, and not sent again', registers: [this.registry] });
  readonly bufferBytes = new Gauge({ name: 'tributary_agent_buffer_bytes', help: 'Bytes in the disk buffer not yet acknowledged by the broker', registers: [this.registry] });
  readonly bufferRecords = new Gauge({ name: 'tributary_agent_buffer_records', help: 'Records in the disk buffer not yet acknowledged by the broker', registers: [this.registry] });
  readonly bufferMaxBytes = new Gauge({ name: 'tributary_agent_buffer_max_bytes', help: 'The disk buffer bound', registers: [this.registry] });
  readonly backpressure = new Gauge({ name: 'tributary_agent_backpressure', help: '1 while the buffer is full and tailing is paused', registers: [this.registry] });
  readonly dropped = new Counter({ name: 'tributary_agent_dropped_total', help: 'Records dropped by policy (never silently), by source and reason', labelNames: ['source', 'reason'], registers: [this.registry] });
  readonly errors = new Counter({ name: 'tributary_agent_errors_total', help: 'Errors, by kind', labelNames: ['kind'], registers: [this.registry] });
  readonly fileLag = new Gauge({ name: 'tributary_agent_file_lag_bytes', help: 'Bytes written to a file but not read yet', labelNames: ['file'], registers: [this.registry] });
  readonly filesOpen = new Gauge({ name: 'tributary_agent_files_open', help: 'Files being tailed', registers: [this.registry] });
  readonly rotations = new Counter({ name: 'tributary_agent_file_rotations_total', help: 'Rotations noticed, by kind (rename, truncate, delete)', labelNames: ['kind'], registers: [this.registry] });
  readonly linesSplit = new Counter({ name: 'tributary_agent_lines_split_total', help: 'Lines longer than max_line_bytes, shipped in pieces', registers: [this.registry] });
  readonly metricPoints = new Counter({ name: 'tributary_agent_metric_points_total', help: 'Metric points collected, by source', labelNames: ['source'], registers: [this.registry] });
  readonly shipLatency = new Gauge({ name: 'tributary_agent_last_ship_seconds', help: 'How long the last batch took to be acknowledged', registers: [this.registry] });
  readonly brokerUp = new Gauge({ name: 'tributary_agent_broker_up', help: '1 when the last send to the broker succeeded', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'tributary_agent_process_' });
  }
}
