import { DEFAULT_COORDINATOR_CONFIG, type CoordinatorConfig } from '../coordinator/group-coordinator.ts';
import type { Voter } from '../controller/raft/voters.ts';

export interface HostPort {
  host: string;
  port: number;
}

/** Settings of a broker that is part of a replicated cluster: given --controller-quorum, the controllerQuorum voters below. */
export interface ClusterConfig {
  /** controller.quorum.voters: every broker is also a voter of the controller quorum (combined mode). */
  voters: Voter[];
  /** How this broker dials other voters, where that differs from the voter list (e.g. through a proxy). */
  peerAddresses: Map<number, HostPort>;
  /** How this broker reaches other brokers' Kafka listeners for replica fetching, where that differs. */
  peerBrokerAddresses: Map<number, HostPort>;
  /** replica.lag.time.max.ms: a follower not caught up for this long leaves the ISR. */
  replicaLagTimeMaxMs: number;
  /** broker.session.timeout.ms: a broker not heard from for this long is fenced by the controller. */
  brokerSessionTimeoutMs: number;
  /** broker.heartbeat.interval.ms */
  brokerHeartbeatIntervalMs: number;
  /** default.replication.factor: for auto-created topics, CreateTopics with -1 and __consumer_offsets. */
  defaultReplicationFactor: number;
  /** leader.imbalance.check.interval.ms: how often leadership is moved back to preferred replicas. */
  leaderRebalanceIntervalMs: number;
  /** controlled.shutdown: how long a stopping broker waits for its leaderships to move. */
  controlledShutdownTimeoutMs: number;
}

export const DEFAULT_CLUSTER_TIMINGS = {
  replicaLagTimeMaxMs: 30_000,
  brokerSessionTimeoutMs: 9_000,
  brokerHeartbeatIntervalMs: 2_000,
  leaderRebalanceIntervalMs: 30_000,
  controlledShutdownTimeoutMs: 10_000,
} as const;

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
  /** Null for a single broker that is its own cluster. */
  cluster: ClusterConfig | null;
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
    cluster: null,
    ...overrides,
  };
}
