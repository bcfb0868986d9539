import type { DeleteRecordsRequest, DeleteRecordsResponse } from '../protocol/messages/index.ts';
import { ErrorCode, errorCodeOf } from '../protocol/error-codes.ts';
import type { ApiHandler } from './handler.ts';

export const deleteRecordsHandler: ApiHandler<DeleteRecordsRequest, DeleteRecordsResponse> = {
  apiKey: 21,
  minVersion: 0,
  maxVersion: 2,
  handle(req, ctx) {
    const topics = req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => {
        const log = ctx.broker.logs.getLog(t.name, p.partitionIndex);
        if (!log) return { partitionIndex: p.partitionIndex, lowWatermark: -1, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
        try {
          return { partitionIndex: p.partitionIndex, lowWatermark: log.deleteRecordsBefore(p.offset), errorCode: ErrorCode.NONE };
        } catch (err) {
          return { partitionIndex: p.partitionIndex, lowWatermark: log.logStartOffset, errorCode: errorCodeOf(err) };
        }
      }),
    }));
    return { throttleTimeMs: 0, topics };
  },
};
