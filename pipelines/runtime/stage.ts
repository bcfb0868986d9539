/**
 * The contract between the stream runtime (pipelines/runtime/stage-worker.ts) and the stages
 * (pipelines/stages/*). A stage is pure, deterministic processing per input partition: given the same
 * records in the same order from the same restored state, it emits the same outputs. That is what lets
 * the runtime restart or move a partition and produce exactly what an uninterrupted run would have.
 */

/** One record of an input topic, as the runtime hands it to a stage (offset order within a partition). */
export interface InputRecord {
  topic: string;
  partition: number;
  offset: number;
  /** The record's Kafka timestamp (ms). Stages use the event time inside the value instead. */
  timestamp: number;
  key: string | null;
  value: Buffer;
}

/** Where a stage sends results. Outputs go to the same partition number as the input record. */
export interface Emitter {
  /** A derived record: `value` is JSON-encoded by the runtime. */
  emit(topic: string, key: string, value: unknown): void;
  /** A record that cannot be processed (unparseable, fails the schema): to the dead-letter topic with the reason, counted. */
  deadLetter(record: InputRecord, reason: string): void;
  /** A record whose window already closed beyond the allowed lateness: to the dead-letter topic, counted as late. */
  late(record: InputRecord, eventTime: number): void;
}

/** A stage's state and logic for one input partition. */
export interface PartitionProcessor {
  /**
   * Processes one record; returns its event time (ms) so the runtime can advance the partition's
   * watermark, or undefined if the record was dead-lettered.
   */
  process(record: InputRecord, watermark: number, out: Emitter): number | undefined;
  /** The watermark moved (max event time seen − allowed lateness): close and emit every window ending at or before it. */
  advance(watermark: number, out: Emitter): void;
  /** JSON-serialisable state, checkpointed to the stage's compacted changelog topic. */
  snapshot(): unknown;
}

export interface StageDefinition {
  /** Names the consumer group (`tributary-stage-<name>`), the changelog (`<name>.changelog`) and the dead-letter topic (`<name>.dlq`). */
  name: string;
  inputs: string[];
  outputs: string[];
  /** How long after a window's end records for it are still accepted. */
  allowedLatenessMs: number;
  /** A fresh processor, or one restored from a snapshot taken by `snapshot()`. */
  createProcessor(restored: unknown | undefined): PartitionProcessor;
}
