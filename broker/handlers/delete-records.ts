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
        const leader = ctx.broker.partitions.leader(t.name, p.partitionIndex);
        if (typeof leader === 'number') return { partitionIndex: p.partitionIndex, lowWatermark: -1, errorCode: leader };
        const { log } = leader;
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
