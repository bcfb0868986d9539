// The fault runs' clients: two idempotent acks=all producers on different client libraries sending unique
// values at a steady rate, a kafkajs group consumer that records what it sees and what it commits, and the
// reads taken after healing (kcat through the leaders, OffsetFetch, each replica's stored log).
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Producer, ProduceAcks } from '@platformatic/kafka';
import { Kafka, logLevel, type Consumer as KafkajsConsumer, type Producer as KafkajsProducer } from 'kafkajs';
import { Log } from '../../../broker/storage/log.ts';
import { resolveLogConfig } from '../../../broker/storage/log-config.ts';
import { forEachRecord } from '../../../broker/protocol/record-batch/records.ts';
import { HEADER_SIZE, batchSize, isControlBatch, lastOffsetOf, readBatchHeader } from '../../../broker/protocol/record-batch/batch-header.ts';
import { kcat } from '../kcat.ts';
import type { Cluster } from '../cluster.ts';
import type { FinalReads, HistoryEvent, ReplicaLog, StoredRecord } from './history.ts';
import { withTimeout } from '../with-timeout.ts';

export const WORKLOAD_PARTITIONS = 3;

function kafkajs(bootstrap: string, clientId: string): Kafka {
  return new Kafka({
    clientId,
    brokers: bootstrap.split(','),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 10_000,
    retry: { initialRetryTime: 200, maxRetryTime: 2000, retries: 10 },
  });
}

/**
 * Retries an admin read a few times: after a fault leaderships and coordinators keep moving for a while
 * (preferred-leader rebalancing), and kafkajs' admin does not retry NOT_LEADER on every call.
 */
async function retrying<T>(what: string, fn: () => Promise<T>, attempts = 10): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts) throw new Error(`${what} failed ${attempts} times, last: ${(err as Error).message}`);
      await sleep(500);
    }
  }
}

/** The workload's topic: replicated to every node, and acks=all needs two of them in sync. */
export async function createWorkloadTopic(bootstrap: string, topic: string): Promise<void> {
  const admin = kafkajs(bootstrap, 'jepsen-admin').admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions: WORKLOAD_PARTITIONS, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}

interface Outgoing {
  value: string;
  partition: number;
}

/** One client library's produce call: resolves with each partition's base offset, in the order sent. */
interface ProduceAdapter {
  connect(): Promise<void>;
  send(batch: Outgoing[]): Promise<Map<number, number>>;
  close(): Promise<void>;
}

function platformaticAdapter(bootstrap: string, topic: string): ProduceAdapter {
  const producer = new Producer({
    clientId: 'jepsen-platformatic',
    bootstrapBrokers: bootstrap.split(','),
    idempotent: true,
    acks: ProduceAcks.ALL,
    autocreateTopics: false,
    timeout: 5000,
    retries: 10,
    retryDelay: 250,
  });
  return {
    async connect() {},
    async send(batch) {
      const res = await producer.send({ messages: batch.map((m) => ({ topic, partition: m.partition, value: Buffer.from(m.value) })) });
      return new Map((res.offsets ?? []).map((o) => [o.partition, Number(o.offset)]));
    },
    close: () => producer.close(),
  };
}

function kafkajsAdapter(bootstrap: string, topic: string): ProduceAdapter {
  const producer: KafkajsProducer = kafkajs(bootstrap, 'jepsen-kafkajs').producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  return {
    connect: () => producer.connect(),
    // One send per partition, one after another. A kafkajs send that spans several leaders keeps one result
    // per broker, not per partition: when one broker's request fails and another's succeeds (or is still in
    // flight), its retry regroups the partitions by their current leaders and sends an already-stored batch
    // again to a new leader with the next sequence number, which no broker can tell from new data. Seen here
    // as one value stored at sequence 531 and again at 532 (fault seed 462506953). Sending each partition
    // on its own keeps every kafkajs request to one leader, where a failed request rolls its sequence back.
    async send(batch) {
      const offsets = new Map<number, number>();
      for (const [partition, outgoing] of Map.groupBy(batch, (m) => m.partition)) {
        const res = await producer.send({ topic, acks: -1, timeout: 5000, messages: outgoing.map((m) => ({ value: m.value, partition })) });
        for (const r of res) offsets.set(r.partition, Number(r.baseOffset ?? r.offset));
      }
      return offsets;
    },
    close: () => producer.disconnect(),
  };
}

/**
 * Sends `<client>-<n>` values round-robin over the partitions, one produce call at a time, batching what
 * fell due meanwhile. After a stall it does not try to catch up, so a fault does not turn into a flood.
 */
class ProducerLoop {
  private stopping = false;
  private running: Promise<void> = Promise.resolve();
  /** The batch whose outcome is not known yet: recorded as unknown if stop() gives up on it. */
  private pending: { batch: Outgoing[]; settled: boolean } | null = null;
  private readonly client: string;
  private readonly adapter: ProduceAdapter;
  private readonly rate: number;
  private readonly events: HistoryEvent[];

  constructor(client: string, adapter: ProduceAdapter, rate: number, events: HistoryEvent[]) {
    this.client = client;
    this.adapter = adapter;
    this.rate = rate;
    this.events = events;
  }

  async start(): Promise<void> {
    await this.adapter.connect();
    this.running = this.run();
  }

  private async run(): Promise<void> {
    const started = Date.now();
    let scheduled = 0;
    let seq = 0;
    while (!this.stopping) {
      const target = Math.floor(((Date.now() - started) / 1000) * this.rate);
      if (target - scheduled > this.rate) scheduled = target - Math.ceil(this.rate / 10);
      const due = Math.min(target - scheduled, 50);
      if (due <= 0) {
        await sleep(5);
        continue;
      }
      scheduled += due;
      const batch: Outgoing[] = [];
      for (let i = 0; i < due; i++, seq++) batch.push({ value: `${this.client}-${seq}`, partition: seq % WORKLOAD_PARTITIONS });
      const now = Date.now();
      for (const m of batch) this.events.push({ type: 'send', client: this.client, value: m.value, partition: m.partition, atMs: now });
      const pending = { batch, settled: false };
      this.pending = pending;
      try {
        const bases = await this.adapter.send(batch);
        if (pending.settled) continue;
        const next = new Map(bases);
        const at = Date.now();
        for (const m of batch) {
          const offset = next.get(m.partition);
          if (offset === undefined || !(offset >= 0)) {
            this.events.push({ type: 'fail', client: this.client, value: m.value, error: 'NoOffsetInResponse', atMs: at });
            continue;
          }
          next.set(m.partition, offset + 1);
          this.events.push({ type: 'ack', client: this.client, value: m.value, partition: m.partition, offset, atMs: at });
        }
      } catch (err) {
        if (pending.settled) continue;
        const e = err as Error & { code?: string };
        const at = Date.now();
        for (const m of batch) this.events.push({ type: 'fail', client: this.client, value: m.value, error: e.code ?? e.name ?? 'Error', atMs: at });
        // A failing client (no leader, no quorum) would otherwise spin; the rate limiter skips what is missed.
        await sleep(100);
      } finally {
        pending.settled = true;
        this.pending = null;
      }
    }
  }

  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    try {
      await withTimeout(this.running, timeoutMs, `${this.client} producer stop`);
    } catch {
      const pending = this.pending;
      if (pending && !pending.settled) {
        pending.settled = true;
        const at = Date.now();
        for (const m of pending.batch) this.events.push({ type: 'unknown', client: this.client, value: m.value, atMs: at });
      }
    }
    await withTimeout(this.adapter.close(), 10_000, `${this.client} producer close`).catch(() => {});
  }
}

/** A kafkajs group member that records every record it is handed and every commit the coordinator acknowledged. */
class ConsumerLoop {
  private readonly consumer: KafkajsConsumer;
  private readonly next = new Map<number, number>();
  private lastCommitMs = 0;
  private committing: Promise<void> = Promise.resolve();
  private readonly topic: string;
  private readonly group: string;
  private readonly events: HistoryEvent[];

  constructor(bootstrap: string, topic: string, group: string, events: HistoryEvent[]) {
    this.topic = topic;
    this.group = group;
    this.events = events;
    this.consumer = kafkajs(bootstrap, 'jepsen-consumer').consumer({ groupId: group, sessionTimeout: 10_000, heartbeatInterval: 1000, allowAutoTopicCreation: false });
  }

  /** Offsets the consumer will read next, per partition. */
  positions(): Map<number, number> {
    return new Map(this.next);
  }

  async start(): Promise<void> {
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => {
      this.events.push({ type: 'join', consumer: 'kafkajs', group: this.group, atMs: Date.now() });
      // Commit only what this generation read: it resumes from the committed offsets, and committing the
      // previous generation's positions could race with that and make an honest consumer look like a bug.
      this.next.clear();
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const offset = Number(message.offset);
        this.events.push({ type: 'observe', consumer: 'kafkajs', partition, offset, value: message.value?.toString() ?? '', atMs: Date.now() });
        this.next.set(partition, offset + 1);
        if (Date.now() - this.lastCommitMs >= 500) await this.commit();
      },
    });
  }

  commit(): Promise<void> {
    this.committing = this.committing.then(async () => {
      this.lastCommitMs = Date.now();
      const offsets = [...this.next];
      if (offsets.length === 0) return;
      try {
        await this.consumer.commitOffsets(offsets.map(([partition, offset]) => ({ topic: this.topic, partition, offset: String(offset) })));
        const at = Date.now();
        for (const [partition, offset] of offsets) this.events.push({ type: 'commit', group: this.group, partition, offset, atMs: at });
      } catch {
        // Not acknowledged: promises nothing, so nothing to record.
      }
    });
    return this.committing;
  }

  async stop(): Promise<void> {
    await withTimeout(this.commit(), 15_000, 'final commit').catch(() => {});
    await withTimeout(this.consumer.disconnect(), 15_000, 'consumer disconnect').catch(() => {});
  }
}

export interface WorkloadOptions {
  bootstrap: string;
  topic: string;
  group: string;
  /** Values per second per producer. */
  rate?: number;
}

export class Workload {
  readonly events: HistoryEvent[] = [];
  private readonly producers: ProducerLoop[];
  private readonly consumer: ConsumerLoop;
  private producersStopped = false;
  private consumerStopped = false;

  constructor(opts: WorkloadOptions) {
    const rate = opts.rate ?? 200;
    this.producers = [
      new ProducerLoop('platformatic', platformaticAdapter(opts.bootstrap, opts.topic), rate, this.events),
      new ProducerLoop('kafkajs', kafkajsAdapter(opts.bootstrap, opts.topic), rate, this.events),
    ];
    this.consumer = new ConsumerLoop(opts.bootstrap, opts.topic, opts.group, this.events);
  }

  async start(): Promise<void> {
    await this.consumer.start();
    await Promise.all(this.producers.map((p) => p.start()));
  }

  /** Acknowledged values so far. */
  acked(): number {
    return this.events.filter((e) => e.type === 'ack').length;
  }

  async stopProducers(timeoutMs = 30_000): Promise<void> {
    if (this.producersStopped) return;
    this.producersStopped = true;
    await Promise.all(this.producers.map((p) => p.stop(timeoutMs)));
  }

  /** Gives the consumer up to timeoutMs to reach the given end offsets, then commits and leaves the group. */
  async stopConsumer(ends: Record<number, number>, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const caughtUp = () => Object.entries(ends).every(([p, end]) => (this.consumer.positions().get(Number(p)) ?? 0) >= end);
    while (!caughtUp() && Date.now() < deadline) await sleep(100);
    if (this.consumerStopped) return;
    this.consumerStopped = true;
    await this.consumer.stop();
  }

  /** Stops every client quickly, for a run that failed part-way: retrying clients would keep the test alive. */
  async abort(): Promise<void> {
    await this.stopProducers(5000);
    await this.stopConsumer({}, 0);
  }
}

/** Each partition's high watermark, from ListOffsets(latest) through the leaders. */
export function highWatermarks(bootstrap: string, topic: string): Promise<Record<number, number>> {
  return retrying('ListOffsets', () => highWatermarksOnce(bootstrap, topic));
}

async function highWatermarksOnce(bootstrap: string, topic: string): Promise<Record<number, number>> {
  const admin = kafkajs(bootstrap, 'jepsen-admin').admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return Object.fromEntries(offsets.map((o) => [o.partition, Number(o.high)]));
  } finally {
    await admin.disconnect();
  }
}

function committedOffsets(bootstrap: string, topic: string, group: string): Promise<FinalReads['committed']> {
  return retrying('OffsetFetch', () => committedOffsetsOnce(bootstrap, topic, group));
}

async function committedOffsetsOnce(bootstrap: string, topic: string, group: string): Promise<FinalReads['committed']> {
  const admin = kafkajs(bootstrap, 'jepsen-admin').admin();
  await admin.connect();
  try {
    const res = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return res.flatMap((t) => t.partitions.map((p) => ({ group, partition: p.partition, offset: Number(p.offset) })));
  } finally {
    await admin.disconnect();
  }
}

/** A full read of one partition with librdkafka, from the partition's leader. */
async function readPartition(address: string, topic: string, partition: number): Promise<StoredRecord[]> {
  const res = await kcat(['-C', '-b', address, '-t', topic, '-p', String(partition), '-o', 'beginning', '-e', '-q', '-f', '%o|%s\\n'], undefined, 60_000);
  if (res.code !== 0) throw new Error(`kcat read of ${topic}/${partition} from ${address} failed (${res.code}): ${res.stderr}`);
  return res.stdout
    .toString()
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const bar = l.indexOf('|');
      return { partition, offset: Number(l.slice(0, bar)), value: l.slice(bar + 1) };
    });
}

/** Where a node keeps a partition's log. */
function partitionDir(dataDir: string, topic: string, partition: number): string {
  return join(dataDir, 'topics', topic, String(partition));
}

/**
 * Reads a replica's stored log through the project's own Log, opened on a copy because opening runs
 * recovery and rewrites checkpoint files. Everything stored is read; the checker compares below the HW.
 */
export function readReplicaLog(nodeId: number, dataDir: string, topic: string, partition: number): ReplicaLog {
  const dir = partitionDir(dataDir, topic, partition);
  if (!existsSync(dir)) return { nodeId, partition, logStartOffset: 0, logEndOffset: 0, records: [] };
  const copy = mkdtempSync(join(tmpdir(), 'tributary-replica-'));
  try {
    cpSync(dir, copy, { recursive: true });
    const { log } = Log.open(copy, resolveLogConfig({}));
    try {
      const records: StoredRecord[] = [];
      const end = log.logEndOffset;
      // The replicated Log takes an upper bound as a fourth argument; the single-node one ignores it and
      // reads to its high watermark, which opening sets to the log end.
      const read = log.read as (offset: number, maxBytes: number, minOneBatch: boolean, maxOffset: number) => ReturnType<Log['read']>;
      let offset = log.logStartOffset;
      while (offset < end) {
        const chunk = read.call(log, offset, 1 << 20, true, end);
        let advanced = false;
        for (const buf of chunk.records) {
          for (let pos = 0; pos + HEADER_SIZE <= buf.length; pos += batchSize(buf, pos)) {
            const size = batchSize(buf, pos);
            const last = lastOffsetOf(buf, pos);
            if (last >= offset && !isControlBatch(readBatchHeader(buf, pos).attributes)) {
              forEachRecord(buf.subarray(pos, pos + size), (r) => {
                if (r.offset >= offset) records.push({ partition, offset: r.offset, value: r.value?.toString() ?? '' });
              });
            }
            if (last + 1 > offset) {
              offset = last + 1;
              advanced = true;
            }
          }
        }
        if (!advanced) break;
      }
      return { nodeId, partition, logStartOffset: log.logStartOffset, logEndOffset: end, records };
    } finally {
      log.close();
    }
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

/**
 * The reads after healing, with every node up and the clients stopped: each partition through its leader,
 * the group's committed offsets, then every replica's stored log after a clean stop of all nodes.
 */
export async function collectFinalReads(cluster: Cluster, topic: string, group: string): Promise<FinalReads> {
  const meta = await cluster.metadata({ topics: [topic] });
  const hw = await highWatermarks(cluster.bootstrap, topic);
  const records: StoredRecord[] = [];
  for (let p = 0; p < WORKLOAD_PARTITIONS; p++) {
    const leader = meta.partitions.find((x) => x.topic === topic && x.partition === p)?.leader;
    if (leader === undefined || leader < 0) throw new Error(`partition ${p} has no leader for the final read`);
    records.push(...(await retrying(`kcat read of partition ${p}`, () => readPartition(cluster.kafkaAddress(leader), topic, p), 3)));
  }
  const committed = await committedOffsets(cluster.bootstrap, topic, group);
  await cluster.stopNodes();
  const replicas: ReplicaLog[] = [];
  for (const id of cluster.nodeIds) {
    for (let p = 0; p < WORKLOAD_PARTITIONS; p++) replicas.push(readReplicaLog(id, cluster.dataDir(id), topic, p));
  }
  return { records, highWatermarks: hw, committed, replicas };
}
