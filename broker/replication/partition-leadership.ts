/**
 * How request handlers find the partition they may serve: only the leader takes produce, consumer fetches and
 * offset queries. A single broker leads everything it stores (epoch 0); in a cluster the ReplicaManager answers
 * from the metadata image.
 */
import { ErrorCode } from '../protocol/error-codes.ts';
import type { Log } from '../storage/log.ts';
import type { LogManager } from '../storage/log-manager.ts';
import type { PartitionLeaderState } from './partition-leader-state.ts';


export interface LeaderPartition {
  log: Log;
  leaderEpoch: number;
  /** The leader's replication state; null on a single broker, where an append is committed at once. */
  state: PartitionLeaderState | null;
}

export interface PartitionLeadership {
  /**
   * The partition when this broker leads it, else the error code a client should get (and then refresh its
   * metadata). `currentLeaderEpoch` (-1 or undefined: not given) is the epoch the client believes in (KIP-320).
   */
  leader(topic: string, partition: number, currentLeaderEpoch?: number): LeaderPartition | number;
}

/** Checks a client's view of the leader epoch against the leader's, as Kafka's Partition.checkCurrentLeaderEpoch. */
export function checkLeaderEpoch(current: number | undefined, leaderEpoch: number): number {
  if (current === undefined || current < 0 || current === leaderEpoch) return ErrorCode.NONE;
  return current < leaderEpoch ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.UNKNOWN_LEADER_EPOCH;
}

export function singleNodeLeadership(logs: LogManager): PartitionLeadership {
  return {
    leader(topic, partition, currentLeaderEpoch) {
      const log = logs.getLog(topic, partition);
      if (!log) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      const epochError = checkLeaderEpoch(currentLeaderEpoch, 0);
      return epochError === ErrorCode.NONE ? { log, leaderEpoch: 0, state: null } : epochError;
    },
  };
}
