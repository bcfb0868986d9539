import type { ListOffsetsRequest, ListOffsetsResponse } from '../protocol/messages/index.ts';
import type { ListOffsetsTopicResponse, ListOffsetsPartitionResponse } from '../protocol/messages/ListOffsetsResponse.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { ApiHandler } from './handler.ts';

const LATEST = -1;
const EARLIEST = -2;
const MAX_TIMESTAMP = -3;

/** Earliest, latest, max-timestamp and first-offset-at-or-after-a-timestamp (via each segment's time index). */
export const listOffsetsHandler: ApiHandler<ListOffsetsRequest, ListOffsetsResponse> = {
  apiKey: 2,
  minVersion: 0,
  maxVersion: 10,
  handle(req, ctx) {
    const topics: ListOffsetsTopicResponse[] = [];
    for (const t of req.topics) {
      const partitions: ListOffsetsPartitionResponse[] = [];
      for (const p of t.partitions) {
        const out: ListOffsetsPartitionResponse = {
          partitionIndex: p.partitionIndex,
          errorCode: ErrorCode.NONE,
          oldStyleOffsets: [],
          timestamp: -1,
          offset: -1,
          leaderEpoch: 0,
        };
        partitions.push(out);
        const leader = ctx.broker.partitions.leader(t.name, p.partitionIndex, p.currentLeaderEpoch);
        if (typeof leader === 'number') {
          out.errorCode = leader;
          out.leaderEpoch = -1;
          continue;
        }
        const { log } = leader;
        out.leaderEpoch = leader.leaderEpoch;
        if (p.timestamp === EARLIEST) {
          out.offset = log.logStartOffset;
        } else if (p.timestamp === LATEST) {
          out.offset = log.highWatermark;
        } else if (p.timestamp === MAX_TIMESTAMP) {
          const found = log.offsetOfMaxTimestamp();
          if (found) {
            out.offset = found.offset;
            out.timestamp = found.timestamp;
          }
        } else {
          const found = log.offsetForTimestamp(p.timestamp);
          if (found && found.offset < log.highWatermark) {
            out.offset = found.offset;
            out.timestamp = found.timestamp;
          }
        }
        if (ctx.apiVersion === 0) out.oldStyleOffsets = out.offset! >= 0 ? [out.offset!] : [];
      }
      topics.push({ name: t.name, partitions });
    }
    return { throttleTimeMs: 0, topics };
  },
};
