import type { OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse } from '../protocol/messages/index.ts';
import type { EpochEndOffset, OffsetForLeaderTopicResult } from '../protocol/messages/OffsetForLeaderEpochResponse.ts';
import { ErrorCode, errorCodeOf } from '../protocol/error-codes.ts';
import type { ApiHandler, RequestContext } from './handler.ts';


/**
 * OffsetForLeaderEpoch (KIP-101/279): for each partition, the largest epoch this leader knows that is at most
 * the requested one, and the offset where it ended — the first offset of the next epoch, or the log end for
 * the current one. A follower truncates its log to that point before fetching so divergent tails from an old
 * leader are dropped. currentLeaderEpoch (v2+) fences callers with stale metadata.
 */
export const offsetForLeaderEpochHandler: ApiHandler<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse> = {
  apiKey: 23,
  minVersion: 0,
  maxVersion: 4,
  handle(req, ctx) {
    const topics: OffsetForLeaderTopicResult[] = req.topics.map((t) => ({
      topic: t.topic,
      partitions: t.partitions.map((p) => endOffsetOf(ctx, t.topic, p.partition, p.currentLeaderEpoch ?? -1, p.leaderEpoch)),
    }));
    return { throttleTimeMs: 0, topics };
  },
};

function endOffsetOf(ctx: RequestContext, topic: string, partition: number, currentLeaderEpoch: number, leaderEpoch: number): EpochEndOffset {
  const failed = (errorCode: number): EpochEndOffset => ({ errorCode, partition, leaderEpoch: -1, endOffset: -1 });
  // A negative current epoch means the caller did not give one; leader() fences a stale or too new one.
  const leader = ctx.broker.partitions.leader(topic, partition, currentLeaderEpoch);
  if (typeof leader === 'number') return failed(leader);
  try {
    const found = leader.log.endOffsetForEpoch(leaderEpoch);
    return { errorCode: ErrorCode.NONE, partition, leaderEpoch: found.leaderEpoch, endOffset: found.endOffset };
  } catch (err) {
    return failed(errorCodeOf(err));
  }
}
