import type { ProduceRequest, ProduceResponse } from '../protocol/messages/index.ts';
import type { TopicProduceResponse, PartitionProduceResponse } from '../protocol/messages/ProduceResponse.ts';
import { ErrorCode, errorCodeOf } from '../protocol/error-codes.ts';
import type { ApiHandler } from './handler.ts';

/**
 * Appends each partition's batches to its log. Batches are validated (magic, sizes, CRC32C) and written as
 * received with offsets and leader epoch stamped into their headers; records are never decoded here.
 * v3 is the first version that carries RecordBatch v2, the only format this broker stores; v0–2 are still
 * advertised because librdkafka (kcat, ClickHouse's Kafka engine) only compresses with gzip, snappy or lz4
 * when the broker's Produce range includes v0 (Kafka 4.0 had to do the same). Old message sets sent with them
 * fail validation per partition with UNSUPPORTED_FOR_MESSAGE_FORMAT.
 *
 * In a cluster only the leader appends; acks=all refuses up front when the ISR is smaller than
 * min.insync.replicas and otherwise answers once the high watermark covers the batch (every ISR member has it).
 */
export const produceHandler: ApiHandler<ProduceRequest, ProduceResponse> = {
  apiKey: 0,
  minVersion: 0,
  maxVersion: 11,
  handle(req, ctx) {
    const { broker } = ctx;
    const acksValid = req.acks === 0 || req.acks === 1 || req.acks === -1;
    const responses: TopicProduceResponse[] = [];
    const replicating: Promise<void>[] = [];
    for (const topicData of req.topicData) {
      const partitionResponses: PartitionProduceResponse[] = [];
      for (const pd of topicData.partitionData) {
        const result: PartitionProduceResponse = {
          index: pd.index,
          errorCode: ErrorCode.NONE,
          baseOffset: -1,
          logAppendTimeMs: -1,
          logStartOffset: -1,
          recordErrors: [],
          errorMessage: null,
        };
        partitionResponses.push(result);
        if (!acksValid) {
          result.errorCode = ErrorCode.INVALID_REQUIRED_ACKS;
          continue;
        }
        const leader = broker.partitions.leader(topicData.name, pd.index);
        if (typeof leader === 'number') {
          result.errorCode = leader;
          continue;
        }
        const { log, state } = leader;
        const records = pd.records;
        if (!records || !Buffer.isBuffer(records) || records.length === 0) {
          result.errorCode = ErrorCode.INVALID_RECORD;
          result.errorMessage = 'produce request carries no record batch';
          continue;
        }
        const minIsr = log.config.minInsyncReplicas;
        if (state && req.acks === -1 && state.isr.length < minIsr) {
          result.errorCode = ErrorCode.NOT_ENOUGH_REPLICAS;
          result.errorMessage = `the ISR has ${state.isr.length} member(s), min.insync.replicas is ${minIsr}`;
          continue;
        }
        try {
          const appended = log.append(records, leader.leaderEpoch);
          result.baseOffset = appended.baseOffset;
          result.logAppendTimeMs = appended.logAppendTimeMs;
          result.logStartOffset = log.logStartOffset;
          broker.metrics.bytesIn.inc({ topic: topicData.name }, records.length);
          broker.metrics.recordsIn.inc({ topic: topicData.name }, appended.recordCount);
          if (state) {
            state.onLocalAppend();
            if (req.acks === -1) {
              replicating.push(
                state.waitForReplication(appended.lastOffset + 1, minIsr, req.timeoutMs > 0 ? req.timeoutMs : 30_000).then((code) => {
                  result.errorCode = code;
                }),
              );
            }
          }
          broker.appends.notify(topicData.name, pd.index);
        } catch (err) {
          result.errorCode = errorCodeOf(err);
          result.errorMessage = (err as Error).message;
          if (result.errorCode === ErrorCode.UNKNOWN_SERVER_ERROR) {
            broker.log.error(`append to ${topicData.name}-${pd.index} failed: ${(err as Error).stack}`);
          }
        }
      }
      responses.push({ name: topicData.name, partitionResponses });
    }
    // acks=0: the client expects no response at all.
    if (req.acks === 0) return undefined;
    const response = { responses, throttleTimeMs: 0 };
    if (replicating.length === 0) return response;
    return Promise.all(replicating).then(() => response);
  },
};
