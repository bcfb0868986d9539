import type { FetchRequest, FetchResponse } from '../protocol/messages/index.ts';
import type { FetchableTopicResponse, PartitionData } from '../protocol/messages/FetchResponse.ts';
import { ErrorCode, errorCodeOf } from '../protocol/error-codes.ts';
import { AppendNotifier } from '../server/append-notifier.ts';
import type { ApiHandler, RequestContext } from './handler.ts';
import { ZERO_UUID } from './topic-lookup.ts';

const EMPTY: readonly Buffer[] = [];

/**
 * Serves stored batches as they are on disk (never re-encoded). Respects the response's max.bytes and
 * each partition's max bytes, always returning at least one whole batch to the first partition with data
 * (KIP-74) so a batch larger than the limits cannot stall a consumer. With min.bytes unmet it parks until
 * an append to one of its partitions, or max.wait.ms, whichever comes first.
 * v4 is the first version whose records are RecordBatch v2; fetch sessions (v7+) are answered sessionless
 * (session id 0), which every client handles by sending full requests.
 *
 * In a cluster a fetch with a replica id is a follower's: it may read up to the log end (not just HW), and its
 * fetch offset tells the leader how far that follower has got, which may move HW and the ISR. Consumers read
 * only from the leader and only below HW.
 */
export const fetchHandler: ApiHandler<FetchRequest, FetchResponse> = {
  apiKey: 1,
  minVersion: 4,
  maxVersion: 17,
  async handle(req, ctx) {
    const deadline = Date.now() + Math.max(0, req.maxWaitMs);
    const keys = watchKeys(req, ctx);
    for (;;) {
      const { response, bytes, anyError } = readOnce(req, ctx);
      const remaining = deadline - Date.now();
      if (bytes >= Math.max(1, req.minBytes) || anyError || remaining <= 0 || ctx.broker.shutdown.aborted || keys.length === 0) {
        return response;
      }
      await ctx.broker.appends.waitForAny(keys, remaining, ctx.broker.shutdown);
    }
  },
};

function topicNameOf(topic: { topic?: string; topicId?: string }, ctx: RequestContext): string | undefined {
  if (ctx.apiVersion >= 13) return ctx.broker.logs.topicById(topic.topicId ?? ZERO_UUID)?.name;
  return topic.topic;
}

function watchKeys(req: FetchRequest, ctx: RequestContext): string[] {
  const keys: string[] = [];
  for (const t of req.topics) {
    const name = topicNameOf(t, ctx);
    if (name === undefined) continue;
    for (const p of t.partitions) keys.push(AppendNotifier.key(name, p.partition));
  }
  return keys;
}

function replicaIdOf(req: FetchRequest): number {
  return req.replicaState && req.replicaState.replicaId >= 0 ? req.replicaState.replicaId : (req.replicaId ?? -1);
}

function readOnce(req: FetchRequest, ctx: RequestContext): { response: FetchResponse; bytes: number; anyError: boolean } {
  const { partitions: leadership, metrics, cluster } = ctx.broker;
  const replicaId = cluster ? replicaIdOf(req) : -1;
  let budget = req.maxBytes !== undefined && req.maxBytes > 0 ? req.maxBytes : 0x7fffffff;
  let bytes = 0;
  let anyError = false;
  const readCommitted = req.isolationLevel === 1;
  const responses: FetchableTopicResponse[] = [];
  for (const t of req.topics) {
    const name = topicNameOf(t, ctx);
    const partitions: PartitionData[] = [];
    for (const p of t.partitions) {
      const out: PartitionData = {
        partitionIndex: p.partition,
        errorCode: ErrorCode.NONE,
        highWatermark: -1,
        lastStableOffset: -1,
        logStartOffset: -1,
        abortedTransactions: readCommitted ? [] : null,
        preferredReadReplica: -1,
        records: EMPTY,
      };
      partitions.push(out);
      const leader = name === undefined ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : leadership.leader(name, p.partition, p.currentLeaderEpoch);
      if (typeof leader === 'number') {
        out.errorCode = name === undefined && ctx.apiVersion >= 13 ? ErrorCode.UNKNOWN_TOPIC_ID : leader;
        anyError = true;
        continue;
      }
      const { log, state } = leader;
      try {
        if (replicaId >= 0 && state) {
          const hwBefore = log.highWatermark;
          state.followerFetched(replicaId, p.fetchOffset, Date.now());
          // The follower's progress may have committed data that consumers and acks=all producers wait for.
          if (log.highWatermark !== hwBefore) ctx.broker.appends.notify(name as string, p.partition);
        }
        const maxBytes = Math.min(p.partitionMaxBytes, budget);
        const upTo = replicaId >= 0 ? log.logEndOffset : log.highWatermark;
        const read = log.read(p.fetchOffset, Math.max(0, maxBytes), bytes === 0, upTo);
        out.highWatermark = read.highWatermark;
        out.lastStableOffset = read.highWatermark;
        out.logStartOffset = read.logStartOffset;
        let size = 0;
        for (const b of read.records) size += b.length;
        if (size > 0) {
          out.records = read.records;
          bytes += size;
          budget -= size;
          metrics.bytesOut.inc({ topic: name as string }, size);
        }
      } catch (err) {
        out.errorCode = errorCodeOf(err);
        out.highWatermark = log.highWatermark;
        out.lastStableOffset = log.highWatermark;
        out.logStartOffset = log.logStartOffset;
        anyError = true;
      }
    }
    responses.push({ topic: name ?? '', topicId: t.topicId ?? ZERO_UUID, partitions });
  }
  const response: FetchResponse = { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses };
  return { response, bytes, anyError };
}
