import type { LogManager } from '../storage/log-manager.ts';
import type { AppendNotifier } from './append-notifier.ts';
import type { BrokerConfig } from './broker-config.ts';
import type { BrokerMetrics } from './broker-metrics.ts';
import type { Logger } from './logger.ts';
import type { GroupCoordinator } from '../coordinator/group-coordinator.ts';
import type { ProducerIdAllocator } from '../coordinator/producer-id-allocator.ts';

/** Everything a handler may touch, in one object passed with each request. */
export interface BrokerContext {
  config: BrokerConfig;
  clusterId: string;
  logs: LogManager;
  appends: AppendNotifier;
  groups: GroupCoordinator;
  producerIds: ProducerIdAllocator;
  metrics: BrokerMetrics;
  log: Logger;
  /** Aborted on shutdown so parked long-poll fetches answer at once. */
  shutdown: AbortSignal;
}
