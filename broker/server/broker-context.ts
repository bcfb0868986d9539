import type { LogManager } from '../storage/log-manager.ts';
import type { AppendNotifier } from './append-notifier.ts';
import type { BrokerConfig } from './broker-config.ts';
import type { BrokerMetrics } from './broker-metrics.ts';
import type { Logger } from './logger.ts';
import type { GroupCoordinator } from '../coordinator/group-coordinator.ts';
import type { PartitionLeadership } from '../replication/partition-leadership.ts';
import type { QuorumController } from '../controller/quorum-controller.ts';
import type { ReplicaManager } from '../replication/replica-manager.ts';

/** Hands out producer ids no other producer in the cluster has had. */
export interface ProducerIdSource {
  allocate(): number;
}

/** What a broker in a cluster has besides a single broker's parts. */
export interface ClusterContext {
  controller: QuorumController;
  replicas: ReplicaManager;
}

/** Everything a handler may touch, in one object passed with each request. */
export interface BrokerContext {
  config: BrokerConfig;
  clusterId: string;
  logs: LogManager;
  /** Which partitions this broker leads: every local one on a single broker, the image's say in a cluster. */
  partitions: PartitionLeadership;
  /** Null on a single broker (no --controller-quorum). */
  cluster: ClusterContext | null;
  appends: AppendNotifier;
  groups: GroupCoordinator;
  producerIds: ProducerIdSource;
  metrics: BrokerMetrics;
  log: Logger;
  /** Aborted on shutdown so parked long-poll fetches answer at once. */
  shutdown: AbortSignal;
}
