// Tributary driven by the suite's own load generator: the broker's capacity, with a client that costs next to
// nothing. Produce v9 frames are built once per (partition, batch) and re-sent with only the correlation id
// patched (as bench/broker/load-generator.ts does); reading is raw Fetch over all partitions, walking batch
// headers only.
import { KafkaWireClient } from '../../../broker/client/kafka-wire-client.ts';
import type { FetchResponse, ProduceResponse } from '../../../broker/protocol/messages/index.ts';
import { BASE_OFFSET, BATCH_LENGTH, COMPRESSION_MASK, ATTRIBUTES, HEADER_SIZE, LAST_OFFSET_DELTA, LOG_OVERHEAD, RECORD_COUNT, readInt64 } from '../../../broker/protocol/record-batch/batch-header.ts';
import { buildRecordBatch } from '../../../broker/protocol/record-batch/records.ts';
import { readVarint } from '../../../broker/protocol/record-batch/varint.ts';
import { RawKafkaClient } from '../../lib/raw-kafka-client.ts';
import { consumptionOf, plainValue, sentAtOf, stampedValue, type Consumption, type OnRecords, type StreamDriver } from './stream-driver.ts';

const PRODUCE = 0;
const FETCH = 1;
const CREATE_TOPICS = 19;
const DELETE_TOPICS = 20;
const PRODUCE_VERSION = 9;
const FETCH_VERSION = 12;
/** Size prefix, API key and version come first in a request frame; the correlation id follows. */
const CORRELATION_ID_AT = 8;
const FETCH_MAX_BYTES = 8 << 20;
const FETCH_MAX_WAIT_MS = 500;

/** Tributary's durability with its defaults, as the notes state it. */
export const TRIBUTARY_DURABILITY =
  'acks=1: acknowledged once the single node appended the batch to its segment file (write(2), page cache); ' +
  'fsync in the background at most flush.ms=1000 after an append (a process crash loses nothing acknowledged, a machine crash up to ~1 s)';

interface FramePool {
  /** The encoded frame; copies of it are handed out, one per request in flight. */
  template: Buffer;
  free: Buffer[];
}

/** Creates and deletes topics with typed requests on a connection of its own. */
export class TributaryAdmin {
  private readonly client: RawKafkaClient;

  private constructor(client: RawKafkaClient) {
    this.client = client;
  }

  static async connect(port: number): Promise<TributaryAdmin> {
    return new TributaryAdmin(await RawKafkaClient.connect(port));
  }

  async createTopic(name: string, partitions: number): Promise<void> {
    const res = await this.client.request(CREATE_TOPICS, 7, { topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false });
    if (res.topics[0].errorCode !== 0) throw new Error(`create topic ${name}: error ${res.topics[0].errorCode} ${res.topics[0].errorMessage ?? ''}`);
  }

  async deleteTopic(name: string): Promise<void> {
    const res = await this.client.request(DELETE_TOPICS, 5, { topicNames: [name], timeoutMs: 10_000 });
    if (res.responses[0].errorCode !== 0) throw new Error(`delete topic ${name}: error ${res.responses[0].errorCode}`);
  }

  close(): void {
    this.client.close();
  }
}

function checkProduced(frame: Buffer, topic: string, partition: number): void {
  if (frame.length === 0) throw new Error('the broker closed the producer connection');
  const res = KafkaWireClient.decodeResponse<ProduceResponse>(PRODUCE, PRODUCE_VERSION, frame);
  const p = res.responses[0]?.partitionResponses[0];
  if (!p || p.errorCode !== 0) throw new Error(`produce to ${topic}/${partition}: error ${p?.errorCode ?? 'missing'} ${p?.errorMessage ?? ''}`);
}

/** The first record's value of the (uncompressed) batch at `pos`, or undefined when compressed. */
function firstValueAt(records: Buffer, pos: number): number | undefined {
  if ((records.readInt16BE(pos + ATTRIBUTES) & COMPRESSION_MASK) !== 0) return undefined;
  let at = pos + HEADER_SIZE;
  [, at] = readVarint(records, at); // record length
  at += 1; // attributes
  [, at] = readVarint(records, at); // timestamp delta
  [, at] = readVarint(records, at); // offset delta
  let keyLength: number;
  [keyLength, at] = readVarint(records, at);
  at += Math.max(0, keyLength);
  let valueLength: number;
  [valueLength, at] = readVarint(records, at);
  return valueLength < 8 ? undefined : sentAtOf(records, at);
}

export class TributaryPrebuiltDriver implements StreamDriver {
  readonly name = 'Tributary (pre-built batches)';
  readonly client = 'raw Kafka frames (Produce v9 built once per batch, Fetch v12)';
  readonly durability = TRIBUTARY_DURABILITY;
  private readonly port: number;
  private readonly admin: TributaryAdmin;
  private readonly producer: RawKafkaClient;
  private readonly pools = new Map<string, FramePool>();
  private correlationId = 0;

  private constructor(port: number, admin: TributaryAdmin, producer: RawKafkaClient) {
    this.port = port;
    this.admin = admin;
    this.producer = producer;
  }

  static async connect(port: number): Promise<TributaryPrebuiltDriver> {
    return new TributaryPrebuiltDriver(port, await TributaryAdmin.connect(port), await RawKafkaClient.connect(port));
  }

  createStreams(stream: string, partitions: number): Promise<void> {
    return this.admin.createTopic(stream, partitions);
  }

  async deleteStreams(stream: string): Promise<void> {
    for (const key of this.pools.keys()) if (key.startsWith(`${stream}\0`)) this.pools.delete(key);
    await this.admin.deleteTopic(stream);
  }

  async produceBatch(stream: string, partition: number, count: number, recordBytes: number, sentAtMs?: number): Promise<void> {
    const id = this.nextCorrelationId();
    if (sentAtMs !== undefined) {
      // The send time travels in the values, so this batch cannot be a re-sent one.
      const frame = this.encodeProduce(stream, partition, count, stampedValue(recordBytes, sentAtMs), id);
      return checkProduced(await this.producer.sendFrame(frame, id), stream, partition);
    }
    const key = `${stream}\0${partition}\0${count}\0${recordBytes}`;
    let pool = this.pools.get(key);
    if (!pool) this.pools.set(key, (pool = { template: this.encodeProduce(stream, partition, count, plainValue(recordBytes), 0), free: [] }));
    // A frame handed to the socket may not be written yet, so each request in flight has its own copy.
    const frame = pool.free.pop() ?? Buffer.from(pool.template);
    frame.writeInt32BE(id, CORRELATION_ID_AT);
    const res = await this.producer.sendFrame(frame, id);
    pool.free.push(frame);
    checkProduced(res, stream, partition);
  }

  async consume(stream: string, partitions: number, onRecords: OnRecords): Promise<Consumption> {
    const client = await RawKafkaClient.connect(this.port);
    const offsets = new Array<number>(partitions).fill(0);
    const partitionMaxBytes = Math.max(1 << 20, Math.floor(FETCH_MAX_BYTES / partitions));
    let correlationId = 0;
    const readLoop = async (stopped: () => boolean) => {
      while (!stopped()) {
        const id = ++correlationId;
        const frame = RawKafkaClient.encodeRequest(FETCH, FETCH_VERSION, {
          replicaId: -1, maxWaitMs: FETCH_MAX_WAIT_MS, minBytes: 1, maxBytes: FETCH_MAX_BYTES, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
          topics: [{ topic: stream, partitions: offsets.map((fetchOffset, partition) => ({ partition, currentLeaderEpoch: -1, fetchOffset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes })) }],
          forgottenTopicsData: [], rackId: '',
        }, id);
        const res = await client.sendFrame(frame, id);
        if (stopped()) return;
        if (res.length === 0) throw new Error('the broker closed the consumer connection');
        const decoded = KafkaWireClient.decodeResponse<FetchResponse>(FETCH, FETCH_VERSION, res);
        for (const p of decoded.responses[0]?.partitions ?? []) {
          if (p.errorCode !== 0) throw new Error(`fetch ${stream}/${p.partitionIndex} at ${offsets[p.partitionIndex]}: error ${p.errorCode}`);
          const records = p.records as Buffer | null;
          if (!records) continue;
          // Walk batch headers only; a partial batch at the end (cut by max bytes) is fetched again next time.
          let pos = 0;
          while (pos + HEADER_SIZE <= records.length) {
            const end = pos + LOG_OVERHEAD + records.readInt32BE(pos + BATCH_LENGTH);
            if (end > records.length) break;
            offsets[p.partitionIndex] = readInt64(records, pos + BASE_OFFSET) + records.readInt32BE(pos + LAST_OFFSET_DELTA) + 1;
            onRecords(p.partitionIndex, records.readInt32BE(pos + RECORD_COUNT), firstValueAt(records, pos));
            pos = end;
          }
        }
      }
    };
    return consumptionOf(readLoop, () => client.close());
  }

  async close(): Promise<void> {
    this.producer.close();
    this.admin.close();
  }

  private nextCorrelationId(): number {
    this.correlationId = this.correlationId === 0x7fffffff ? 1 : this.correlationId + 1;
    return this.correlationId;
  }

  private encodeProduce(topic: string, partition: number, count: number, value: Buffer, correlationId: number): Buffer {
    const batch = buildRecordBatch({ records: Array.from({ length: count }, () => ({ key: null, value })) });
    return RawKafkaClient.encodeRequest(PRODUCE, PRODUCE_VERSION, {
      transactionalId: null,
      acks: 1,
      timeoutMs: 30_000,
      topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }],
    }, correlationId);
  }
}
