import type { MessageToProduce } from '@platformatic/kafka';
import type { Emitter, InputRecord, PartitionProcessor, StageDefinition } from './stage.ts';
import type { PartitionSnapshot } from './changelog.ts';
import type { FetchedRecord } from './partition-fetcher.ts';
import type { OutputDedupe } from './output-dedupe.ts';
import type { StageMetrics } from './stage-metrics.ts';
import { sourceHeaders, sourceId } from './source-headers.ts';

export type OutputMessage = MessageToProduce<Buffer, Buffer, Buffer, Buffer>;

export interface RestoredPartition {
  processor: PartitionProcessor;
  /** The next input offset to process. */
  position: number;
  /** The last input offset already in the processor's state (position - 1 unless nothing is). */
  lastOffset: number;
  watermark: number;
  maxEventTime: number;
  outputsEnd: Record<string, number>;
  dedupe: OutputDedupe;
}

/**
 * One input partition owned by this worker: the stage's processor for it, its watermark and position,
 * and the records fetched for it but not processed yet. Every output goes to the same partition number.
 */
export class PartitionTask implements Emitter {
  readonly topic: string;
  readonly partition: number;
  /** `<topic>/<partition>`: the changelog key and the `tributary.src` header value. */
  readonly source: string;
  readonly sourceBytes: Buffer;
  pending: FetchedRecord[] = [];
  highWatermark = -1;
  private restored: RestoredPartition | null = null;
  private readonly stage: StageDefinition;
  private readonly declared: Set<string>;
  private readonly dlqTopic: string;
  private readonly metrics: StageMetrics;
  /** Where emitted records go during `process`; the worker sends them as one batch. */
  private sink: OutputMessage[] = [];
  private current: FetchedRecord | null = null;

  constructor(stage: StageDefinition, topic: string, partition: number, dlqTopic: string, metrics: StageMetrics) {
    this.stage = stage;
    this.topic = topic;
    this.partition = partition;
    this.source = sourceId(topic, partition);
    this.sourceBytes = Buffer.from(this.source);
    this.declared = new Set(stage.outputs);
    this.dlqTopic = dlqTopic;
    this.metrics = metrics;
  }

  get ready(): boolean {
    return this.restored !== null;
  }

  get position(): number {
    return this.restored?.position ?? -1;
  }

  get watermark(): number {
    return this.restored?.watermark ?? -Infinity;
  }

  restore(restored: RestoredPartition): void {
    this.restored = restored;
    this.pending = [];
  }

  /** Input below `offset` is gone (retention): continue there with the state as it is. */
  skipTo(offset: number): void {
    this.restored!.position = offset;
    this.pending = [];
  }

  /** Forget everything in memory: the next use restores from the changelog (after a failed send). */
  reset(): void {
    this.restored = null;
    this.pending = [];
  }

  /**
   * Runs up to `max` pending records through the processor, appending their outputs to `sink`. The
   * watermark advances after every record, not once per batch: batch boundaries depend on fetch sizes
   * and timing, and a restarted run must close windows at exactly the same records as an uninterrupted one.
   */
  process(max: number, sink: OutputMessage[]): number {
    const r = this.restored!;
    const batch = this.pending.length <= max ? this.pending : this.pending.slice(0, max);
    this.pending = batch === this.pending ? [] : this.pending.slice(max);
    this.sink = sink;
    let processed = 0;
    for (const record of batch) {
      // Records the restored state already includes (a fetch can start before the requested offset).
      if (record.offset <= r.lastOffset) continue;
      this.current = record;
      const input: InputRecord = {
        topic: this.topic,
        partition: this.partition,
        offset: record.offset,
        timestamp: record.timestamp,
        key: record.key === null ? null : record.key.toString(),
        value: record.value ?? Buffer.alloc(0),
      };
      const eventTime = r.processor.process(input, r.watermark, this);
      if (eventTime !== undefined && eventTime > r.maxEventTime) {
        r.maxEventTime = eventTime;
        const watermark = eventTime - this.stage.allowedLatenessMs;
        if (watermark > r.watermark) {
          r.watermark = watermark;
          r.processor.advance(watermark, this);
        }
      }
      r.lastOffset = record.offset;
      r.position = record.offset + 1;
      processed++;
    }
    this.current = null;
    if (processed > 0) this.metrics.in(this.topic, processed);
    return processed;
  }

  /** The checkpoint after `process`, with where the outputs just acknowledged end. */
  snapshot(outputsEnd: Record<string, number>): PartitionSnapshot {
    const r = this.restored!;
    Object.assign(r.outputsEnd, outputsEnd);
    return { offset: r.lastOffset, watermark: r.watermark, maxEventTime: r.maxEventTime, outputsEnd: { ...r.outputsEnd }, state: r.processor.snapshot() };
  }

  emit(topic: string, key: string, value: unknown): void {
    if (!this.declared.has(topic)) throw new Error(`stage ${this.stage.name} emitted to ${topic}, which is not one of its outputs (${this.stage.outputs.join(', ')})`);
    this.write(topic, Buffer.from(key), Buffer.from(JSON.stringify(value)));
  }

  deadLetter(record: InputRecord, reason: string): void {
    if (this.write(this.dlqTopic, record.key === null ? undefined : Buffer.from(record.key), record.value, reason)) this.metrics.deadLetter(this.topic);
  }

  late(record: InputRecord, eventTime: number): void {
    const reason = `late: event time ${new Date(eventTime).toISOString()} is behind the watermark ${new Date(this.watermark).toISOString()} by more than the allowed lateness`;
    if (this.write(this.dlqTopic, record.key === null ? undefined : Buffer.from(record.key), record.value, reason)) this.metrics.lateRecord(this.topic);
  }

  private write(topic: string, key: Buffer | undefined, value: Buffer, error?: string): boolean {
    const from = this.current;
    if (!from) throw new Error(`stage ${this.stage.name} emitted outside process/advance`);
    if (this.restored!.dedupe.isWritten(topic, from.offset)) {
      this.metrics.skipped(topic, 1);
      return false;
    }
    this.sink.push({
      topic,
      partition: this.partition,
      key,
      value,
      timestamp: BigInt(from.timestamp),
      headers: sourceHeaders(this.sourceBytes, from.offset, error),
    });
    return true;
  }
}
