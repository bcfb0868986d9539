import { Reader } from '../../broker/protocol/primitives.ts';
import { decodeProduceResponse } from '../../broker/protocol/messages/index.ts';
import { buildRecordBatch } from '../../broker/protocol/record-batch/records.ts';
import { RawKafkaClient } from '../lib/raw-kafka-client.ts';
import type { ProduceRun } from '../broker/load-generator.ts';

const PRODUCE = 0;
const PRODUCE_VERSION = 9;
const CORRELATION_ID_AT = 8; // after the size prefix, API key and API version

export interface SpreadProduceOptions {
  total: number;
  recordBytes: number;
  batchRecords: number;
  /** Batches go round robin over partitions 0..partitions-1 of the topic. */
  partitions: number;
  /** Connections opened before the clock starts; requests are shared out as each connection becomes free. */
  connections: number;
  /** Pipelined requests per connection. */
  inFlight: number;
  acks?: number;
}

/**
 * producePrebuilt spread over many partitions and many connections: one produce frame (one batch for one
 * partition) is built once; every in-flight slot of every connection owns a copy and patches only the
 * correlation id and the partition index before each send, so the client costs next to nothing and the
 * figure is what the broker takes in at that partition and connection count. Every response is decoded and
 * a partition error fails the run, so a figure never counts records the broker refused.
 */
export async function produceSpread(port: number, topic: string, opts: SpreadProduceOptions): Promise<ProduceRun> {
  const value = Buffer.alloc(opts.recordBytes, 0x61);
  const batch = buildRecordBatch({ records: Array.from({ length: opts.batchRecords }, () => ({ key: null, value })) });
  const frame = produceFrame(topic, 0, batch, opts.acks ?? 1);
  const partitionAt = partitionIndexOffset(topic, batch);
  const clients = await Promise.all(Array.from({ length: opts.connections }, () => RawKafkaClient.connect(port)));
  const requests = Math.ceil(opts.total / opts.batchRecords);
  const latenciesMs: number[] = new Array(requests);
  let sent = 0;
  // One lane is one in-flight slot on one connection: it sends its own copy of the frame, waits for the
  // answer and only then touches that copy again, so no frame is patched while it is still being written.
  const lane = async (client: RawKafkaClient) => {
    const slot = Buffer.from(frame);
    for (let id = ++sent; id <= requests; id = ++sent) {
      slot.writeInt32BE(id, CORRELATION_ID_AT);
      slot.writeInt32BE((id - 1) % opts.partitions, partitionAt);
      const t0 = performance.now();
      const res = await client.sendFrame(slot, id);
      latenciesMs[id - 1] = performance.now() - t0;
      if (res.length === 0) throw new Error('broker closed the connection');
      const errorCode = decodeProduceResponse(new Reader(res, 5), PRODUCE_VERSION).responses[0].partitionResponses[0].errorCode;
      if (errorCode !== 0) throw new Error(`produce to ${topic}-${(id - 1) % opts.partitions} failed with error code ${errorCode}`);
    }
  };
  const started = performance.now();
  try {
    await Promise.all(clients.flatMap((c) => Array.from({ length: opts.inFlight }, () => lane(c))));
  } finally {
    for (const c of clients) c.close();
  }
  const seconds = (performance.now() - started) / 1000;
  return { records: requests * opts.batchRecords, bytes: requests * batch.length, seconds, latenciesMs };
}

function produceFrame(topic: string, partition: number, records: Buffer, acks: number): Buffer {
  return RawKafkaClient.encodeRequest(PRODUCE, PRODUCE_VERSION, {
    transactionalId: null,
    acks,
    timeoutMs: 30_000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
  }, 0);
}

/** Where the partition index sits in the frame: found by encoding two frames that differ only there. */
function partitionIndexOffset(topic: string, records: Buffer): number {
  const a = produceFrame(topic, 0, records, 1);
  const b = produceFrame(topic, -1, records, 1); // 0xffffffff: all four bytes differ from 0
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  throw new Error('the partition index is not in the produce frame');
}
