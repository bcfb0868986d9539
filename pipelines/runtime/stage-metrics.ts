import { Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';

/**
 * A stage worker's /metrics. Several stages may share one registry (one /metrics for `tributary
 * pipelines`), so metrics are looked up before being created and every series carries the stage name.
 */
export class StageMetrics {
  readonly registry: Registry;
  readonly recordsIn: Counter<'stage' | 'topic'>;
  readonly recordsOut: Counter<'stage' | 'topic'>;
  readonly deadLettered: Counter<'stage' | 'topic'>;
  readonly late: Counter<'stage' | 'topic'>;
  readonly duplicatesSkipped: Counter<'stage' | 'topic'>;
  readonly restores: Counter<'stage'>;
  readonly errors: Counter<'stage' | 'kind'>;
  readonly lag: Gauge<'stage' | 'topic' | 'partition'>;
  readonly watermarkDelay: Gauge<'stage' | 'topic' | 'partition'>;
  readonly assignedPartitions: Gauge<'stage'>;
  readonly processingSeconds: Histogram<'stage'>;
  private readonly stage: string;

  constructor(stage: string, registry: Registry = new Registry()) {
    this.stage = stage;
    this.registry = registry;
    const labels = ['stage', 'topic'] as const;
    const partitionLabels = ['stage', 'topic', 'partition'] as const;
    this.recordsIn = this.metric('tributary_stage_records_in_total', () => new Counter({ name: 'tributary_stage_records_in_total', help: 'Input records processed, by input topic', labelNames: labels, registers: [registry] }));
    this.recordsOut = this.metric('tributary_stage_records_out_total', () => new Counter({ name: 'tributary_stage_records_out_total', help: 'Records written and acknowledged, by output topic (dead letters included)', labelNames: labels, registers: [registry] }));
    this.deadLettered = this.metric('tributary_stage_dead_lettered_total', () => new Counter({ name: 'tributary_stage_dead_lettered_total', help: 'Input records sent to the dead-letter topic because they could not be processed, by input topic', labelNames: labels, registers: [registry] }));
    this.late = this.metric('tributary_stage_late_total', () => new Counter({ name: 'tributary_stage_late_total', help: 'Input records later than the allowed lateness, sent to the dead-letter topic, by input topic', labelNames: labels, registers: [registry] }));
    this.duplicatesSkipped = this.metric('tributary_stage_duplicates_skipped_total', () => new Counter({ name: 'tributary_stage_duplicates_skipped_total', help: 'Outputs not written again while replaying input whose outputs a previous run already wrote, by output topic', labelNames: labels, registers: [registry] }));
    this.restores = this.metric('tributary_stage_partition_restores_total', () => new Counter({ name: 'tributary_stage_partition_restores_total', help: 'Input partitions restored from the changelog (assignment, rebalance or recovery)', labelNames: ['stage'], registers: [registry] }));
    this.errors = this.metric('tributary_stage_errors_total', () => new Counter({ name: 'tributary_stage_errors_total', help: 'Errors, by kind', labelNames: ['stage', 'kind'], registers: [registry] }));
    this.lag = this.metric('tributary_stage_consumer_lag', () => new Gauge({ name: 'tributary_stage_consumer_lag', help: 'Records in an input partition not processed yet (high watermark - position)', labelNames: partitionLabels, registers: [registry] }));
    this.watermarkDelay = this.metric('tributary_stage_watermark_delay_seconds', () => new Gauge({ name: 'tributary_stage_watermark_delay_seconds', help: 'Wall-clock time minus the watermark of an input partition', labelNames: partitionLabels, registers: [registry] }));
    this.assignedPartitions = this.metric('tributary_stage_assigned_partitions', () => new Gauge({ name: 'tributary_stage_assigned_partitions', help: 'Input partitions this worker owns', labelNames: ['stage'], registers: [registry] }));
    this.processingSeconds = this.metric('tributary_stage_processing_seconds', () => new Histogram({ name: 'tributary_stage_processing_seconds', help: 'Time per batch cycle: processing, writing outputs and the checkpoint', labelNames: ['stage'], buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] }));
  }

  private metric<M extends Metric>(name: string, create: () => M): M {
    return (this.registry.getSingleMetric(name) as M | undefined) ?? create();
  }

  in(topic: string, n: number): void {
    this.recordsIn.inc({ stage: this.stage, topic }, n);
  }

  out(topic: string, n: number): void {
    this.recordsOut.inc({ stage: this.stage, topic }, n);
  }

  deadLetter(topic: string): void {
    this.deadLettered.inc({ stage: this.stage, topic });
  }

  lateRecord(topic: string): void {
    this.late.inc({ stage: this.stage, topic });
  }

  skipped(topic: string, n: number): void {
    this.duplicatesSkipped.inc({ stage: this.stage, topic }, n);
  }

  restored(): void {
    this.restores.inc({ stage: this.stage });
  }

  error(kind: string): void {
    this.errors.inc({ stage: this.stage, kind });
  }

  assigned(n: number): void {
    this.assignedPartitions.set({ stage: this.stage }, n);
  }

  cycle(seconds: number): void {
    this.processingSeconds.observe({ stage: this.stage }, seconds);
  }

  partition(topic: string, partition: number, lag: number, watermark: number): void {
    const labels = { stage: this.stage, topic, partition: String(partition) };
    this.lag.set(labels, lag);
    if (Number.isFinite(watermark)) this.watermarkDelay.set(labels, (Date.now() - watermark) / 1000);
  }

  /** A partition moved away: its series would otherwise report a stale lag forever. */
  forgetPartition(topic: string, partition: number): void {
    const labels = { stage: this.stage, topic, partition: String(partition) };
    this.lag.remove(labels);
    this.watermarkDelay.remove(labels);
  }
}
