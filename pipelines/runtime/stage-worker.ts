import { WakeableSleep } from '../../lib/wakeable-sleep.ts';
import { Consumer, Producer, ProduceAcks, type ConsumerGroupJoinPayload } from '@platformatic/kafka';
import type { Registry } from 'prom-client';
import type { StageDefinition } from './stage.ts';
import { changelogTopic, readSnapshot, snapshotMessage } from './changelog.ts';
import { OutputDedupe, findProducedOutputs } from './output-dedupe.ts';
import { FETCH_OFFSET_OUT_OF_RANGE, PartitionFetcher } from './partition-fetcher.ts';
import { PartitionTask, type OutputMessage, type RestoredPartition } from './partition-task.ts';
import { StageMetrics } from './stage-metrics.ts';
import { deadLetterTopic, ensureStageTopics } from './stage-topics.ts';

export interface StageWorkerLog {
  info(message: string): void;
  warn(message: string): void;
}

export interface StageWorkerOptions {
  brokers: string[];
  clientId?: string;
  /** Where the stage's metrics go; pass one registry to several stages to serve them on one /metrics. */
  registry?: Registry;
  /** Most records of one input partition processed per batch (default 1000). */
  batchMaxRecords?: number;
  log?: StageWorkerLog;
  /** How long the group waits for a silent worker (a crash) before moving its partitions (default 10 s; the broker's minimum is 6 s). */
  sessionTimeoutMs?: number;
}

export interface StageWorker {
  readonly registry: Registry;
  /** Finishes the batch being written (outputs, checkpoint, commit), leaves the group and closes the clients. */
  stop(): Promise<void>;
  /** The next input offset of every partition this worker owns and has restored, by `<topic>/<partition>`. */
  positions(): Map<string, number>;
}

/**
 * Runs a stage: consumes its inputs in the consumer group `tributary-stage-<name>`, processes batches per
 * input partition, writes derived records to the same partition number of the output topics, then
 * checkpoints the partition's state to the compacted changelog, then commits the input offset.
 *
 * Exactly-once output without transactions: on assignment a partition is restored from its newest
 * checkpoint and the outputs written after it (a crash between outputs and checkpoint) are found by
 * their source headers; replaying the input from the checkpoint rebuilds the state without writing those
 * outputs again. With a deterministic stage the output is the same as that of an uninterrupted run.
 */
export async function runStage(stage: StageDefinition, options: StageWorkerOptions): Promise<StageWorker> {
  const worker = new StageRunner(stage, options);
  await worker.start();
  return worker;
}

const defaultLog = (name: string): StageWorkerLog => ({
  info: (m) => process.stderr.write(`stage ${name}: ${m}\n`),
  warn: (m) => process.stderr.write(`stage ${name}: ${m}\n`),
});

class StageRunner implements StageWorker {
  readonly registry: Registry;
  private readonly stage: StageDefinition;
  private readonly options: StageWorkerOptions;
  private readonly log: StageWorkerLog;
  private readonly metrics: StageMetrics;
  private readonly consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  private readonly fetcher: PartitionFetcher;
  private producer: Producer<Buffer, Buffer, Buffer, Buffer>;
  private readonly clientId: string;
  private readonly changelog: string;
  private readonly dlq: string;
  private readonly batchMaxRecords: number;
  private readonly tasks = new Map<string, PartitionTask>();
  /** Bumped whenever the owned partitions change: work started under an older epoch is thrown away. */
  private epoch = 0;
  /** The outputs and checkpoint being written: a revocation waits for it, so no partition moves mid-write. */
  private flushing: Promise<void> | null = null;
  private stopping = false;
  private loop: Promise<void> = Promise.resolve();
  private readonly pause = new WakeableSleep();

  constructor(stage: StageDefinition, options: StageWorkerOptions) {
    this.stage = stage;
    this.options = options;
    this.log = options.log ?? defaultLog(stage.name);
    this.metrics = new StageMetrics(stage.name, options.registry);
    this.registry = this.metrics.registry;
    this.clientId = options.clientId ?? `tributary-stage-${stage.name}`;
    this.changelog = changelogTopic(stage.name);
    this.dlq = deadLetterTopic(stage.name);
    this.batchMaxRecords = options.batchMaxRecords ?? 1000;
    const sessionTimeout = options.sessionTimeoutMs ?? 10_000;
    this.consumer = new Consumer({
      clientId: this.clientId,
      bootstrapBrokers: options.brokers,
      groupId: `tributary-stage-${stage.name}`,
      autocommit: false,
      sessionTimeout,
      heartbeatInterval: Math.max(500, Math.floor(sessionTimeout / 6)),
      rebalanceTimeout: sessionTimeout * 3,
      // Eager rebalancing: every member gives up everything before rejoining, so a partition never has two owners.
      protocols: [{ name: 'roundrobin', version: 1 }],
      // Called before every JoinGroup: the one moment a member can finish its work before partitions move.
      protocolsMetadata: () => this.beforeJoin(),
      retries: 3,
      retryDelay: 200,
    });
    this.fetcher = new PartitionFetcher(this.consumer);
    this.producer = this.newProducer();
  }

  private newProducer(): Producer<Buffer, Buffer, Buffer, Buffer> {
    return new Producer({ clientId: this.clientId, bootstrapBrokers: this.options.brokers, idempotent: true, acks: ProduceAcks.ALL, autocreateTopics: false, retries: 3, retryDelay: 200 });
  }

  async start(): Promise<void> {
    await ensureStageTopics(this.stage, this.options.brokers, this.clientId, this.log);
    this.consumer.on('consumer:group:join', (payload: ConsumerGroupJoinPayload) => this.assign(payload));
    this.consumer.on('error', (err: Error) => {
      this.metrics.error('group');
      this.log.warn(`consumer group: ${err.message}`);
    });
    this.consumer.topics.trackAll(...this.stage.inputs);
    await this.consumer.joinGroup({});
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.pause.wake();
    await this.loop;
    // Leaving (not just disappearing) lets the others take the partitions without waiting for a session timeout.
    await this.consumer.close().catch((err: Error) => this.log.warn(`leaving the group: ${err.message}`));
    await this.producer.close().catch(() => {});
    this.release();
  }

  positions(): Map<string, number> {
    const out = new Map<string, number>();
    for (const t of this.tasks.values()) if (t.ready) out.set(t.source, t.position);
    return out;
  }

  private async beforeJoin(): Promise<Buffer> {
    this.epoch++;
    while (this.flushing) await this.flushing.catch(() => {});
    this.release();
    return Buffer.alloc(0);
  }

  private release(): void {
    this.epoch++;
    for (const t of this.tasks.values()) this.metrics.forgetPartition(t.topic, t.partition);
    this.tasks.clear();
    this.metrics.assigned(0);
  }

  private assign(payload: ConsumerGroupJoinPayload): void {
    this.release();
    for (const { topic, partitions } of payload.assignments ?? []) {
      for (const p of partitions) {
        const task = new PartitionTask(this.stage, topic, p, this.dlq, this.metrics);
        this.tasks.set(task.source, task);
      }
    }
    this.metrics.assigned(this.tasks.size);
    this.log.info(`generation ${payload.generationId}: assigned ${[...this.tasks.keys()].join(', ') || 'nothing'}`);
    this.pause.wake();
  }

  private async idle(ms: number): Promise<void> {
    if (this.stopping) return;
    await this.pause.sleep(ms);
  }

  private async run(): Promise<void> {
    let backoff = 100;
    while (!this.stopping) {
      const epoch = this.epoch;
      const changed = () => epoch !== this.epoch || this.stopping;
      try {
        if (this.tasks.size === 0) {
          await this.idle(1000);
          continue;
        }
        const tasks = [...this.tasks.values()];
        for (const task of tasks) {
          if (task.ready) continue;
          const restored = await this.restore(task);
          if (changed()) break;
          task.restore(restored);
        }
        if (changed()) continue;
        const hungry = tasks.filter((t) => t.pending.length === 0);
        if (hungry.length > 0) {
          const waitMs = hungry.length === tasks.length ? 200 : 0;
          const data = await this.fetcher.fetch(hungry.map((t) => ({ topic: t.topic, partition: t.partition, offset: t.position })), waitMs);
          if (changed()) continue;
          for (const task of hungry) {
            const d = data.get(task.source);
            if (!d) continue;
            if (d.errorCode === FETCH_OFFSET_OUT_OF_RANGE && task.position < d.logStartOffset) {
              this.log.warn(`${task.source}: offsets ${task.position}..${d.logStartOffset - 1} were deleted before being processed; continuing at ${d.logStartOffset}`);
              this.metrics.error('input_deleted');
              task.skipTo(d.logStartOffset);
              continue;
            }
            if (d.errorCode !== 0) throw new Error(`fetching ${task.source} at ${task.position} failed with error code ${d.errorCode}`);
            task.pending = d.records;
            task.highWatermark = d.highWatermark;
          }
        }
        const started = performance.now();
        const sink: OutputMessage[] = [];
        const processed = tasks.filter((t) => t.pending.length > 0 && t.process(this.batchMaxRecords, sink) > 0);
        for (const t of tasks) this.metrics.partition(t.topic, t.partition, Math.max(0, t.highWatermark - t.position), t.watermark);
        if (processed.length === 0) continue;
        // From here to the checkpoint nothing may move the partitions: beforeJoin waits on `flushing`.
        this.flushing = this.flush(sink, processed);
        try {
          await this.flushing;
        } finally {
          this.flushing = null;
        }
        this.metrics.cycle((performance.now() - started) / 1000);
        await this.commit(processed);
        backoff = 100;
      } catch (err) {
        this.metrics.error('cycle');
        this.log.warn(`batch failed, restoring the partitions from the changelog and retrying: ${(err as Error).message}`);
        // Outputs may be partly written and the processors hold uncheckpointed state: start over from what the broker holds.
        for (const t of this.tasks.values()) t.reset();
        const old = this.producer;
        this.producer = this.newProducer();
        await old.close(true).catch(() => {});
        await this.idle(backoff);
        backoff = Math.min(5000, backoff * 2);
      }
    }
  }

  /** Outputs, then (once they are acknowledged) the checkpoints that cover them. */
  private async flush(sink: OutputMessage[], processed: PartitionTask[]): Promise<void> {
    const outputsEnd = new Map<number, Record<string, number>>();
    if (sink.length > 0) {
      const counts = new Map<string, number>();
      for (const m of sink) counts.set(`${m.topic}\u0000${m.partition}`, (counts.get(`${m.topic}\u0000${m.partition}`) ?? 0) + 1);
      const result = await this.producer.send({ messages: sink });
      const perTopic = new Map<string, number>();
      for (const o of result.offsets ?? []) {
        const n = counts.get(`${o.topic}\u0000${o.partition}`) ?? 0;
        let ends = outputsEnd.get(o.partition);
        if (!ends) outputsEnd.set(o.partition, (ends = {}));
        ends[o.topic] = Number(o.offset) + n;
        perTopic.set(o.topic, (perTopic.get(o.topic) ?? 0) + n);
      }
      for (const [topic, n] of perTopic) this.metrics.out(topic, n);
    }
    const snapshots = processed.map((t) => snapshotMessage(this.changelog, t.partition, t.source, t.snapshot(outputsEnd.get(t.partition) ?? {})));
    await this.producer.send({ messages: snapshots });
  }

  /**
   * The committed offset is for lag tooling and a fallback without a checkpoint; restores trust the
   * checkpoint, so a failed commit (a rebalance started) is only logged.
   */
  private async commit(processed: PartitionTask[]): Promise<void> {
    try {
      await this.consumer.commit({ offsets: processed.map((t) => ({ topic: t.topic, partition: t.partition, offset: BigInt(t.position), leaderEpoch: -1 })) });
    } catch (err) {
      this.metrics.error('commit');
      this.log.warn(`committing offsets failed (the checkpoint holds them): ${(err as Error).message}`);
    }
  }

  private async restore(task: PartitionTask): Promise<RestoredPartition> {
    const snapshot = await readSnapshot(this.fetcher, this.changelog, task.partition, task.source);
    let position: number;
    if (snapshot) position = snapshot.offset + 1;
    else position = await this.startWithoutCheckpoint(task);
    const outputs = [...this.stage.outputs, this.dlq];
    const { marks, ends } = await findProducedOutputs(this.fetcher, outputs, task.partition, task.source, snapshot?.outputsEnd ?? {}, position - 1);
    const dedupe = new OutputDedupe(marks);
    this.metrics.restored();
    const replay = dedupe.replayThrough;
    this.log.info(
      `${task.source}: ${snapshot ? `restored the checkpoint at offset ${snapshot.offset}` : 'no checkpoint'}, resuming at ${position}` +
        (replay >= 0 ? `; outputs up to input offset ${replay} were written after the checkpoint and will not be written again` : ''),
    );
    return {
      processor: this.stage.createProcessor(snapshot?.state),
      position,
      lastOffset: position - 1,
      watermark: snapshot?.watermark ?? -Infinity,
      maxEventTime: snapshot?.maxEventTime ?? -Infinity,
      outputsEnd: ends,
      dedupe,
    };
  }

  /** The group's committed offset, else the earliest offset. */
  private async startWithoutCheckpoint(task: PartitionTask): Promise<number> {
    const committed = await this.consumer.listCommittedOffsets({ topics: [{ topic: task.topic, partitions: [task.partition] }] });
    const c = committed.get(task.topic)?.[task.partition];
    if (c !== undefined && c >= 0n) return Number(c);
    const earliest = await this.consumer.listOffsets({ topics: [task.topic], partitions: { [task.topic]: [task.partition] }, timestamp: -2n });
    return Number(earliest.get(task.topic)?.[task.partition] ?? 0n);
  }
}
