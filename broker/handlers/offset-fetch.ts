import type { OffsetFetchRequest, OffsetFetchResponse } from '../protocol/messages/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { ApiHandler, RequestContext } from './handler.ts';

interface PartitionOffset {
  partitionIndex: number;
  committedOffset: number;
  committedLeaderEpoch: number;
  metadata: string | null;
  errorCode: number;
}

/** One group's committed offsets for the given topics (null: every topic the group committed for). */
function fetchGroup(ctx: RequestContext, groupId: string, topics: { name: string; partitionIndexes: number[] }[] | null): { name: string; partitions: PartitionOffset[] }[] {
  const { groups } = ctx.broker;
  if (topics === null) {
    const byTopic = new Map<string, PartitionOffset[]>();
    for (const o of groups.committedAll(groupId)) {
      if (!byTopic.has(o.topic)) byTopic.set(o.topic, []);
      byTopic.get(o.topic)!.push({ partitionIndex: o.partition, committedOffset: o.offset, committedLeaderEpoch: o.leaderEpoch, metadata: o.metadata, errorCode: ErrorCode.NONE });
    }
    return [...byTopic].map(([name, partitions]) => ({ name, partitions }));
  }
  return topics.map((t) => ({
    name: t.name,
    partitions: t.partitionIndexes.map((p) => {
      const o = groups.committed(groupId, t.name, p);
      return o
        ? { partitionIndex: p, committedOffset: o.offset, committedLeaderEpoch: o.leaderEpoch, metadata: o.metadata, errorCode: ErrorCode.NONE }
        : { partitionIndex: p, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE };
    }),
  }));
}

/** A group this broker does not coordinate (now): Kafka's OffsetFetchRequest.getErrorResponse for each version. */
function groupErrorResponse(ctx: RequestContext, errorCode: number, topics: { name: string; partitionIndexes: number[] }[] | null): OffsetFetchResponse {
  if (ctx.apiVersion >= 2) return { throttleTimeMs: 0, topics: [], errorCode };
  // v1 has no top-level error: every requested partition carries it.
  const partitions = (t: { partitionIndexes: number[] }) => t.partitionIndexes.map((p) => ({ partitionIndex: p, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode }));
  return { throttleTimeMs: 0, topics: (topics ?? []).map((t) => ({ name: t.name, partitions: partitions(t) })), errorCode };
}

/** v0–7 ask for one group; v8+ for several at once. */
export const offsetFetchHandler: ApiHandler<OffsetFetchRequest, OffsetFetchResponse> = {
  apiKey: 9,
  minVersion: 1,
  maxVersion: 9,
  handle(req, ctx) {
    const { groups } = ctx.broker;
    if (ctx.apiVersion >= 8) {
      return {
        throttleTimeMs: 0,
        groups: (req.groups ?? []).map((g) => {
          const errorCode = groups.coordinatorError(g.groupId);
          return { groupId: g.groupId, topics: errorCode === ErrorCode.NONE ? fetchGroup(ctx, g.groupId, g.topics ?? null) : [], errorCode };
        }),
      };
    }
    const groupId = req.groupId ?? '';
    const errorCode = groups.coordinatorError(groupId);
    if (errorCode !== ErrorCode.NONE) return groupErrorResponse(ctx, errorCode, req.topics ?? null);
    return { throttleTimeMs: 0, topics: fetchGroup(ctx, groupId, req.topics ?? null), errorCode: ErrorCode.NONE };
  },
};
