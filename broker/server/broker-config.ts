import { DEFAULT_COORDINATOR_CONFIG, type CoordinatorConfig } from '../coordinator/group-coordinator.ts';

/** Broker-wide settings, named after Kafka's server.properties where one exists. */
export interface BrokerConfig {
  nodeId: number;
  host: string;
  port: number;
  /** advertised.listeners: the address given to clients in Metadata when it differs from the bind address. */
  advertised: { host: string; port: number } | null;
  /** host:port for /metrics, or null for none. */
  metricsListen: { host: string; port: number } | null;
  dataDir: string;
  /** auto.create.topics.enable */
  autoCreateTopics: boolean;
  /** num.partitions: partitions of auto-created topics and of CreateTopics with -1. */
  defaultPartitions: number;
  /** socket.request.max.bytes: larger frames close the connection. */
  socketRequestMaxBytes: number;
  /** Topic config defaults (message.max.bytes → max.message.bytes, log.segment.bytes → segment.bytes, ...). */
  topicDefaults: Record<string, string>;
  /** log.retention.check.interval.ms */
  retentionCheckIntervalMs: number;
  /** How often the log cleaner looks for compacted topics to clean. */
  cleanerIntervalMs: number;
  /** Consumer-group coordinator settings (group.*, offsets.*). */
  coordinator: CoordinatorConfig;
}

export const DEFAULT_SOCKET_REQUEST_MAX_BYTES = 104_857_600;

export function defaultBrokerConfig(overrides: Partial<BrokerConfig> & Pick<BrokerConfig, 'dataDir'>): BrokerConfig {
  return {
    nodeId: 1,
    host: '127.0.0.1',
    port: 9092,
    advertised: null,
    metricsListen: null,
    autoCreateTopics: true,
    defaultPartitions: 1,
    socketRequestMaxBytes: DEFAULT_SOCKET_REQUEST_MAX_BYTES,
    topicDefaults: {},
    retentionCheckIntervalMs: 300_000,
    cleanerIntervalMs: 15_000,
    coordinator: { ...DEFAULT_COORDINATOR_CONFIG },
    ...overrides,
  };
}
