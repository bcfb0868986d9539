import { WakeableSleep } from '../../../lib/wakeable-sleep.ts';
import { Consumer, Producer, ProduceAcks, murmur2, type MessageToProduce } from '@platformatic/kafka';
import type { AgentConfig } from '../config.ts';
import type { AgentMetrics } from '../agent-metrics.ts';
import type { AgentState } from '../agent-state.ts';
import type { DiskBuffer } from '../buffer/disk-buffer.ts';
import type { BufferedRecord } from '../buffer/buffer-frame.ts';
import { AGENT_HEADER, SEQ_HEADER, highestOwnSeq } from './own-records-finder.ts';

export interface ShipperLog {
  info(message: string): void;
  warn(message: string): void;
}

export interface ShipperHooks {
  /** Persist the state (checkpoints): awaited before the acknowledged records leave the buffer. */
  saveState(): Promise<void>;
  /** The broker acknowledged `markFile` up to `position`. */
  acknowledged(markFile: string, position: number): void;
  /** Space was freed in the buffer. */
  drained(): void;
}

const tp = (topic: string, partition: number) => `${topic}/${partition}`;

/**
 * Drains the disk buffer into the broker, in order, one batch at a time: a real Kafka client
 * (@platformatic/kafka) with acks=all, idempotence and compression. On failure it backs off and retries
 * forever (the buffer holds the data). Before re-sending after a failure, or after a restart, it looks
 * on the broker for records of this agent past the last acknowledged offset, so nothing is stored twice
 * even when an acknowledgement was lost.
 */
export class Shipper {
  private producer: Producer<Buffer, Buffer, Buffer, Buffer>;
  private readonly consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  private readonly partitionCounts = new Map<string, number>();
  private readonly agentIdBytes: Buffer;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private readonly pause = new WakeableSleep();
  private mustCheckBroker: boolean;
  private brokerDown = false;
  private readonly config: AgentConfig;
  private readonly buffer: DiskBuffer;
  private readonly state: AgentState;
  private readonly metrics: AgentMetrics;
  private readonly log: ShipperLog;
  private readonly hooks: ShipperHooks;

  constructor(
    config: AgentConfig,
    buffer: DiskBuffer,
    state: AgentState,
    metrics: AgentMetrics,
    log: ShipperLog,
    hooks: ShipperHooks,
  ) {
    this.config = config;
    this.buffer = buffer;
    this.state = state;
    this.metrics = metrics;
    this.log = log;
    this.hooks = hooks;
    this.producer = this.newProducer();
    this.consumer = new Consumer({ ...this.clientOptions(), groupId: `tributary-agent-${state.agentId}` });
    this.agentIdBytes = Buffer.from(state.agentId);
    // Records left in the buffer by a previous run may have reached the broker before it stopped.
    this.mustCheckBroker = buffer.records > 0;
  }

  private clientOptions() {
    return { clientId: `tributary-agent-${this.config.hostName}`, bootstrapBrokers: this.config.brokers, timeout: this.config.shipping.requestTimeoutMs, retries: 2, retryDelay: 100 };
  }

  private newProducer(): Producer<Buffer, Buffer, Buffer, Buffer> {
    return new Producer({ ...this.clientOptions(), idempotent: true, acks: ProduceAcks.ALL, autocreateTopics: true });
  }

  /**
   * After a failed send the client's idempotence sequence may be ahead of what the broker stored; a
   * fresh producer (new producer id) starts clean, and our own check prevents duplicates instead.
   */
  private async replaceProducer(): Promise<void> {
    const old = this.producer;
    this.producer = this.newProducer();
    await old.close(true).catch(() => {});
  }

  start(): void {
    this.loop = this.run();
  }

  /** Wakes the loop: new records are in the buffer. */
  nudge(): void {
    this.pause.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.pause.wake();
    await this.loop;
    await Promise.allSettled([this.producer.close(true), this.consumer.close(true)]);
  }

  private async sleep(ms: number): Promise<void> {
    if (this.stopped) return;
    await this.pause.sleep(ms);
  }

  private async run(): Promise<void> {
    const { batchMaxRecords, batchMaxBytes, lingerMs, minBackoffMs, maxBackoffMs } = this.config.shipping;
    let batch: BufferedRecord[] = [];
    let backoff = minBackoffMs;
    // Per partition, the highest seq of ours the broker held at the last check: records up to it are not
    // sent again, in this batch or any later one (several batches may have landed before a crash).
    let storedUpTo = new Map<string, number>();
    while (!this.stopped) {
      if (batch.length === 0) {
        batch = this.buffer.read(batchMaxRecords, batchMaxBytes);
        if (batch.length === 0) {
          await this.sleep(1000);
          continue;
        }
        // Let a batch that took everything buffered fill up a little: fewer, larger requests. A batch cut
        // by a limit (records, or bytes: 1 MiB is ~2,000 log records) is as full as it gets, and lingering
        // there only slowed a backlog down by one linger per batch.
        if (batch[batch.length - 1].seq === this.buffer.lastSeq && lingerMs > 0) {
          await new Promise((r) => setTimeout(r, lingerMs));
          const bytes = batch.reduce((n, r) => n + r.frameBytes, 0);
          if (batch.length < batchMaxRecords && bytes < batchMaxBytes) batch = batch.concat(this.buffer.read(batchMaxRecords - batch.length, batchMaxBytes - bytes));
        }
      }
      try {
        if (this.mustCheckBroker) {
          // Acknowledgements still being saved must land first: the search starts at their offsets.
          await this.acknowledging;
          storedUpTo = await this.findAlreadyStored();
          this.mustCheckBroker = false;
        }
        const started = performance.now();
        const offsets = await this.send(batch, storedUpTo);
        // Saving the checkpoint (an fsync) overlaps the next send; acknowledgements stay in order.
        const acked = batch;
        this.acknowledging = this.acknowledging.then(() => this.acknowledge(acked, offsets));
        this.metrics.shipLatency.set((performance.now() - started) / 1000);
        batch = [];
        backoff = minBackoffMs;
        if (this.brokerDown) this.log.info('broker reachable again: shipping the buffer');
        this.brokerDown = false;
        this.metrics.brokerUp.set(1);
      } catch (err) {
        this.metrics.errors.inc({ kind: 'ship' });
        this.metrics.brokerUp.set(0);
        if (!this.brokerDown) this.log.warn(`shipping failed, holding ${this.buffer.records} records in the buffer and retrying: ${(err as Error).message}`);
        this.brokerDown = true;
        this.mustCheckBroker = true;
        this.partitionCounts.clear();
        await this.replaceProducer();
        await this.sleep(backoff / 2 + Math.random() * (backoff / 2));
        backoff = Math.min(maxBackoffMs, backoff * 2);
      }
    }
    await this.acknowledging;
  }

  private acknowledging: Promise<void> = Promise.resolve();

  private async partitionCount(topic: string): Promise<number> {
    let count = this.partitionCounts.get(topic);
    if (count === undefined) {
      const metadata = await this.producer.metadata({ topics: [topic], autocreateTopics: true });
      count = metadata.topics.get(topic)?.partitionsCount;
      if (!count) throw new Error(`topic ${topic} has no partitions`);
      this.partitionCounts.set(topic, count);
    }
    return count;
  }

  /** Partition of every record: Kafka's default partitioner (murmur2 of the key), as Kafka's own clients place them. */
  private async partitionsOf(batch: BufferedRecord[]): Promise<Int32Array> {
    const out = new Int32Array(batch.length);
    const byKey = new Map<string, number>();
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i];
      const id = `${r.topic}\u0000${r.key}`;
      let p = byKey.get(id);
      if (p === undefined) {
        p = (murmur2(r.key) & 0x7fffffff) % (await this.partitionCount(r.topic));
        byKey.set(id, p);
      }
      out[i] = p;
    }
    return out;
  }

  /**
   * Sends the records of `batch` the broker does not hold yet (seq above `storedUpTo` for their
   * partition) and returns, per partition, the offset after the records it stored.
   */
  private async send(batch: BufferedRecord[], storedUpTo: Map<string, number>): Promise<Map<string, number>> {
    const partitions = await this.partitionsOf(batch);
    const messages: MessageToProduce<Buffer, Buffer, Buffer, Buffer>[] = [];
    const perPartition = new Map<string, { topic: string; partition: number; count: number }>();
    const agentHeader = Buffer.from(AGENT_HEADER);
    const seqHeader = Buffer.from(SEQ_HEADER);
    let skipped = 0;
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i];
      const partition = partitions[i];
      const id = tp(r.topic, partition);
      if (r.seq <= (storedUpTo.get(id) ?? -1)) {
        skipped++;
        continue;
      }
      const entry = perPartition.get(id);
      if (entry) entry.count++;
      else perPartition.set(id, { topic: r.topic, partition, count: 1 });
      messages.push({
        topic: r.topic,
        partition,
        key: Buffer.from(r.key),
        value: r.value,
        timestamp: BigInt(Math.round(r.timestamp)),
        headers: new Map([
          [agentHeader, this.agentIdBytes],
          [seqHeader, Buffer.from(String(r.seq))],
        ]),
      });
    }
    if (skipped > 0) {
      this.metrics.duplicatesSkipped.inc(skipped);
      this.log.info(`${skipped} buffered records were already on the broker (an acknowledgement was lost): not sending them again`);
    }
    if (messages.length === 0) return new Map();
    await this.rememberStartOffsets([...perPartition.values()]);
    const compression = this.config.shipping.compression;
    const result = await this.producer.send({ messages, ...(compression === 'none' ? {} : { compression }) });
    const offsets = new Map<string, number>();
    for (const o of result.offsets ?? []) {
      const entry = perPartition.get(tp(o.topic, o.partition));
      if (entry) offsets.set(tp(o.topic, o.partition), Number(o.offset) + entry.count);
    }
    return offsets;
  }

  /**
   * Before the first send to a partition, remember its end offset: if that send's acknowledgement is
   * lost, the search for our records starts there instead of at the beginning of the partition.
   */
  private async rememberStartOffsets(partitions: { topic: string; partition: number }[]): Promise<void> {
    const unknown = partitions.filter((p) => this.state.partitions[tp(p.topic, p.partition)] === undefined);
    if (unknown.length === 0) return;
    const topics = [...new Set(unknown.map((p) => p.topic))];
    const offsets = await this.consumer.listOffsets({ topics });
    for (const p of unknown) {
      const end = offsets.get(p.topic)?.[p.partition];
      if (end === undefined) throw new Error(`no end offset for ${tp(p.topic, p.partition)}`);
      this.state.partitions[tp(p.topic, p.partition)] = Number(end);
    }
    await this.hooks.saveState();
  }

  /**
   * Per partition this agent has written to, the highest seq of ours the broker holds past the last
   * acknowledged offset (sent before a lost acknowledgement or a crash). Every such partition is checked,
   * not only those of the next batch: sends are pipelined with checkpoint saves, so several batches, to
   * any partition, may have landed unacknowledged. Ours are a prefix in seq order per partition, so every
   * record up to that seq is stored.
   */
  private async findAlreadyStored(): Promise<Map<string, number>> {
    const storedUpTo = new Map<string, number>();
    for (const [id, from] of Object.entries(this.state.partitions)) {
      const slash = id.lastIndexOf('/');
      const topic = id.slice(0, slash);
      const partition = Number(id.slice(slash + 1));
      const found = await highestOwnSeq(this.consumer, topic, partition, from, this.state.agentId);
      if (found.seq < 0) continue;
      storedUpTo.set(id, found.seq);
      this.state.partitions[id] = found.nextOffset;
    }
    return storedUpTo;
  }

  private async acknowledge(records: BufferedRecord[], offsets: Map<string, number>): Promise<void> {
    const last = records[records.length - 1];
    this.state.ackedSeq = Math.max(this.state.ackedSeq, last.seq);
    // Offsets move with the seq they belong to, never ahead of it: a restart searches from here.
    for (const [id, next] of offsets) this.state.partitions[id] = Math.max(this.state.partitions[id] ?? 0, next);
    const marks = new Map<string, number>();
    let bytes = 0;
    for (const r of records) {
      if (r.mark) marks.set(r.mark.file, r.mark.position);
      bytes += r.value.length;
    }
    for (const [file, position] of marks) this.hooks.acknowledged(file, position);
    // The buffer may free these records only once the checkpoint that covers them is on disk, or a crash
    // would read their lines again: keep trying (a full disk, say) rather than go on without it.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.hooks.saveState();
        break;
      } catch (err) {
        this.metrics.errors.inc({ kind: 'state' });
        if (attempt === 0) this.log.warn(`cannot save the checkpoint, retrying: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** attempt)));
      }
    }
    this.buffer.ack(records);
    const byTopic = new Map<string, number>();
    for (const r of records) byTopic.set(r.topic, (byTopic.get(r.topic) ?? 0) + 1);
    for (const [topic, n] of byTopic) this.metrics.recordsShipped.inc({ topic }, n);
    this.metrics.bytesShipped.inc(bytes);
    this.hooks.drained();
  }
}
