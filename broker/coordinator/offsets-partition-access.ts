import { ErrorCode } from '../protocol/error-codes.ts';
import type { LogManager } from '../storage/log-manager.ts';
import type { Log } from '../storage/log.ts';

export const OFFSETS_TOPIC = '__consumer_offsets';


/**
 * How the group coordinator reaches the `__consumer_offsets` partitions it coordinates. In a cluster the
 * ReplicaManager implements it over the partitions this broker leads; on a single node every partition is local.
 */
export interface OffsetsPartitionAccess {
  /** This broker's log for __consumer_offsets partition p and the leader epoch to stamp, when it leads p; else null. */
  leaderLog(partition: number): { log: Log; leaderEpoch: number } | null;
  /**
   * Resolves ErrorCode.NONE once offsets up to and including lastOffset are replicated (HW > lastOffset), else an
   * error code. May return the code at once (a plain number) when the append is already committed, so a single
   * node makes commits visible synchronously as it always did.
   */
  waitReplicated(partition: number, lastOffset: number, timeoutMs: number): number | Promise<number>;
}

/** Single node: every partition is local and an append is committed at once (today's behaviour). */
export function localOffsetsAccess(logs: LogManager): OffsetsPartitionAccess {
  return {
    leaderLog(partition) {
      const log = logs.getLog(OFFSETS_TOPIC, partition);
      return log ? { log, leaderEpoch: 0 } : null;
    },
    waitReplicated: () => ErrorCode.NONE,
  };
}

/**
 * What an OffsetCommit client is told when its commit record could not be appended or replicated: Kafka's
 * mapping in GroupMetadataManager.storeOffsets, so clients retry (or rediscover the coordinator) as with Kafka.
 */
export function commitErrorFor(appendError: number): number {
  switch (appendError) {
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode.NOT_ENOUGH_REPLICAS:
    case ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case ErrorCode.REQUEST_TIMED_OUT:
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.KAFKA_STORAGE_ERROR:
      return ErrorCode.NOT_COORDINATOR;
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.RECORD_LIST_TOO_LARGE:
    case ErrorCode.INVALID_FETCH_SIZE:
      return ErrorCode.INVALID_COMMIT_OFFSET_SIZE;
    default:
      return appendError;
  }
}
