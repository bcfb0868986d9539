import { Reader } from '../../broker/protocol/primitives.ts';
import { decodeFetchResponse } from '../../broker/protocol/messages/index.ts';
import { buildRecordBatch } from '../../broker/protocol/record-batch/records.ts';
import { RawKafkaClient } from '../lib/raw-kafka-client.ts';

const PRODUCE = 0;
const FETCH = 1;
const PRODUCE_VERSION = 9;
const FETCH_VERSION = 12;

export interface ProduceRun {
  records: number;
  bytes: number;
  seconds: number;
  latenciesMs: number[];
}

/**
 * The broker's own capacity: one produce frame (a batch of `batchRecords` records) is built once and sent
 * over and over, `inFlight` requests pipelined on one connection, so the client costs next to nothing and
 * the figure is what the broker can take in. Only the correlation id is patched per request.
 */
export async function producePrebuilt(port: number, topic: string, opts: { total: number; recordBytes: number; batchRecords: number; inFlight: number; acks?: number; host?: string }): Promise<ProduceRun> {
  const value = Buffer.alloc(opts.recordBytes, 0x61);
  const records = Array.from({ length: opts.batchRecords }, () => ({ key: null, value }));
  const batch = buildRecordBatch({ records });
  const frame = RawKafkaClient.encodeRequest(PRODUCE, PRODUCE_VERSION, {
    transactionalId: null,
    acks: opts.acks ?? 1,
    timeoutMs: 30_000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }],
  }, 0);
  // One copy of the frame per in-flight slot: slot k is reused only after request k - inFlight was answered,
  // and the broker cannot answer before it has read the whole frame.
  const slots = Array.from({ length: opts.inFlight }, () => Buffer.from(frame));
  const client = await RawKafkaClient.connect(port, opts.host);
  const requests = Math.ceil(opts.total / opts.batchRecords);
  const latenciesMs: number[] = new Array(requests);
  let sent = 0;
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    let done = 0;
    const sendOne = () => {
      const id = ++sent;
      const f = slots[id % slots.length];
      f.writeInt32BE(id, 8);
      const t0 = performance.now();
      client.sendFrame(f, id).then((res) => {
        if (res.length === 0) return reject(new Error('broker closed the connection'));
        latenciesMs[id - 1] = performance.now() - t0;
        done++;
        if (done === requests) resolve();
        else if (sent < requests) sendOne();
      }, reject);
    };
    for (let i = 0; i < Math.min(opts.inFlight, requests); i++) sendOne();
  });
  const seconds = (performance.now() - started) / 1000;
  client.close();
  return { records: requests * opts.batchRecords, bytes: requests * batch.length, seconds, latenciesMs };
}

export interface ConsumeRun {
  records: number;
  bytes: number;
  seconds: number;
}

/** Reads partition 0 from `fromOffset` to `endOffset` with Fetch requests of up to `fetchBytes` each. */
export async function consumeRaw(port: number, topic: string, endOffset: number, fetchBytes: number, fromOffset = 0): Promise<ConsumeRun> {
  const client = await RawKafkaClient.connect(port);
  let offset = fromOffset;
  let bytes = 0;
  let correlationId = 0;
  const started = performance.now();
  while (offset < endOffset) {
    const id = ++correlationId;
    const frame = RawKafkaClient.encodeRequest(FETCH, FETCH_VERSION, {
      replicaId: -1, maxWaitMs: 500, minBytes: 1, maxBytes: fetchBytes, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: offset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: fetchBytes }] }],
      forgottenTopicsData: [], rackId: '',
    }, id);
    const res = await client.sendFrame(frame, id);
    if (res.length === 0) throw new Error('broker closed the connection');
    const r = new Reader(res, 5); // correlation id + empty tagged fields (response header v1)
    const decoded = decodeFetchResponse(r, FETCH_VERSION);
    const records = decoded.responses[0].partitions[0].records as Buffer;
    if (!records || records.length === 0) throw new Error(`fetch at ${offset} returned nothing`);
    bytes += records.length;
    // Walk batch headers only: next offset = last batch's base offset + lastOffsetDelta + 1.
    let pos = 0;
    while (pos + 61 <= records.length) {
      const length = records.readInt32BE(pos + 8);
      if (pos + 12 + length > records.length) break;
      offset = Number(records.readBigInt64BE(pos)) + records.readInt32BE(pos + 23) + 1;
      pos += 12 + length;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  client.close();
  return { records: offset - fromOffset, bytes, seconds };
}
