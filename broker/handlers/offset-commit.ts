import type { OffsetCommitRequest, OffsetCommitResponse } from '../protocol/messages/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { ApiHandler, RequestContext } from './handler.ts';

const OFFSET_METADATA_TOO_LARGE = 12;
const MAX_METADATA_BYTES = 4096; // offset.metadata.max.bytes

export const offsetCommitHandler: ApiHandler<OffsetCommitRequest, OffsetCommitResponse> = {
  apiKey: 8,
  minVersion: 0,
  maxVersion: 9,
  async handle(req, ctx) {
    const { groups, logs } = ctx.broker;
    const generationId = ctx.apiVersion >= 1 ? (req.generationIdOrMemberEpoch ?? -1) : -1;
    const memberId = ctx.apiVersion >= 1 ? (req.memberId ?? '') : '';
    let groupError = groups.coordinatorError(req.groupId);
    if (groupError === ErrorCode.NONE) {
      const existing = groups.existingGroup(req.groupId);
      groupError = existing ? existing.validateCommit(memberId, req.groupInstanceId ?? null, generationId) : generationId < 0 ? ErrorCode.NONE : 25;
    }
    const accepted: { topic: string; partition: number; offset: number; leaderEpoch: number; metadata: string }[] = [];
    const topics = req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => {
        let errorCode = groupError;
        if (errorCode === ErrorCode.NONE) {
          const metadata = p.committedMetadata ?? '';
          if (!partitionExists(ctx, t.name, p.partitionIndex)) errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          else if (Buffer.byteLength(metadata) > MAX_METADATA_BYTES) errorCode = OFFSET_METADATA_TOO_LARGE;
          else accepted.push({ topic: t.name, partition: p.partitionIndex, offset: p.committedOffset, leaderEpoch: p.committedLeaderEpoch ?? -1, metadata });
        }
        return { partitionIndex: p.partitionIndex, errorCode };
      }),
    }));
    // The accepted offsets are answered together: NONE once their record is replicated, else why not.
    const commitError = await groups.commitOffsets(req.groupId, accepted);
    if (commitError !== ErrorCode.NONE) {
      for (const t of topics) for (const p of t.partitions) if (p.errorCode === ErrorCode.NONE) p.errorCode = commitError;
    }
    return { throttleTimeMs: 0, topics };
  },
};

/** In a cluster the coordinator need not hold a replica of the committed topic: the metadata says whether it exists. */
function partitionExists(ctx: RequestContext, topic: string, partition: number): boolean {
  const cluster = ctx.broker.cluster;
  if (cluster) return cluster.controller.image.topic(topic)?.partitions[partition] !== undefined;
  return ctx.broker.logs.getLog(topic, partition) !== undefined;
}
