import type { OffsetCommitRequest, OffsetCommitResponse } from '../protocol/messages/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { ApiHandler } from './handler.ts';

const OFFSET_METADATA_TOO_LARGE = 12;
const MAX_METADATA_BYTES = 4096; // offset.metadata.max.bytes

export const offsetCommitHandler: ApiHandler<OffsetCommitRequest, OffsetCommitResponse> = {
  apiKey: 8,
  minVersion: 0,
  maxVersion: 9,
  handle(req, ctx) {
    const { groups, logs } = ctx.broker;
    const existing = groups.existingGroup(req.groupId);
    const generationId = ctx.apiVersion >= 1 ? (req.generationIdOrMemberEpoch ?? -1) : -1;
    const memberId = ctx.apiVersion >= 1 ? (req.memberId ?? '') : '';
    const groupError = existing ? existing.validateCommit(memberId, req.groupInstanceId ?? null, generationId) : generationId < 0 ? ErrorCode.NONE : 25;
    const accepted: { topic: string; partition: number; offset: number; leaderEpoch: number; metadata: string }[] = [];
    const topics = req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => {
        let errorCode = groupError;
        if (errorCode === ErrorCode.NONE) {
          const metadata = p.committedMetadata ?? '';
          if (!logs.getLog(t.name, p.partitionIndex)) errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          else if (Buffer.byteLength(metadata) > MAX_METADATA_BYTES) errorCode = OFFSET_METADATA_TOO_LARGE;
          else accepted.push({ topic: t.name, partition: p.partitionIndex, offset: p.committedOffset, leaderEpoch: p.committedLeaderEpoch ?? -1, metadata });
        }
        return { partitionIndex: p.partitionIndex, errorCode };
      }),
    }));
    groups.commitOffsets(req.groupId, accepted);
    return { throttleTimeMs: 0, topics };
  },
};
