import { Broker } from '../../broker/server/broker.ts';
import { DEFAULT_CLUSTER_TIMINGS, DEFAULT_SOCKET_REQUEST_MAX_BYTES, defaultBrokerConfig, type ClusterConfig, type HostPort } from '../../broker/server/broker-config.ts';
import { parseVoters } from '../../broker/controller/raft/voters.ts';
import { createLogger } from '../../broker/server/logger.ts';
import { DEFAULT_COORDINATOR_CONFIG } from '../../broker/coordinator/group-coordinator.ts';
import { formatHelp, parseFlags, UsageError, type Command } from './command.ts';
import { parseHostPort, parseIntFlag } from './host-port.ts';

const options = {
  'node-id': { type: 'string' },
  listen: { type: 'string' },
  'advertised-listener': { type: 'string' },
  'data-dir': { type: 'string' },
  'metrics-listen': { type: 'string' },
  'auto-create-topics': { type: 'string' },
  'num-partitions': { type: 'string' },
  'socket-request-max-bytes': { type: 'string' },
  'topic-default': { type: 'string', multiple: true },
  'group-initial-rebalance-delay-ms': { type: 'string' },
  'offsets-topic-partitions': { type: 'string' },
  'retention-check-interval-ms': { type: 'string' },
  'log-cleaner-interval-ms': { type: 'string' },
  'controller-quorum': { type: 'string' },
  'peer-address': { type: 'string', multiple: true },
  'peer-broker-address': { type: 'string', multiple: true },
  'replica-lag-time-max-ms': { type: 'string' },
  'broker-session-timeout-ms': { type: 'string' },
  'broker-heartbeat-interval-ms': { type: 'string' },
  'default-replication-factor': { type: 'string' },
  'leader-rebalance-interval-ms': { type: 'string' },
  'controlled-shutdown-timeout-ms': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const help = formatHelp(
  'tributary broker --node-id N --listen HOST:PORT --data-dir DIR [options]',
  'Runs a Kafka-protocol broker in the foreground. Logs one line when ready; SIGTERM/SIGINT flush and close the logs.',
  [
    { flag: '--node-id N', description: 'broker id (required, >= 0)' },
    { flag: '--listen HOST:PORT', description: 'Kafka listener; also the address advertised to clients (default 127.0.0.1:9092)' },
    { flag: '--advertised-listener HOST:PORT', description: 'address clients are told to use, when it is not the --listen address (e.g. behind a proxy)' },
    { flag: '--data-dir DIR', description: 'where topics, segments and broker metadata live (required)' },
    { flag: '--metrics-listen HOST:PORT', description: 'serve Prometheus metrics at http://HOST:PORT/metrics' },
    { flag: '--auto-create-topics true|false', description: 'create unknown topics on Metadata requests (default true)' },
    { flag: '--num-partitions N', description: 'partitions of auto-created topics (default 1)' },
    { flag: '--socket-request-max-bytes N', description: `largest request accepted (default ${DEFAULT_SOCKET_REQUEST_MAX_BYTES})` },
    { flag: '--topic-default KEY=VALUE', description: 'default topic config, repeatable (e.g. segment.bytes=104857600, flush.messages=1)' },
    { flag: '--group-initial-rebalance-delay-ms N', description: 'how long a new group waits for more members before its first generation (default 3000)' },
    { flag: '--offsets-topic-partitions N', description: 'partitions of __consumer_offsets when first created (default 50)' },
    { flag: '--retention-check-interval-ms N', description: 'how often time and size retention run (default 300000)' },
    { flag: '--log-cleaner-interval-ms N', description: 'how often compacted topics are checked for cleaning (default 15000)' },
    { flag: '--controller-quorum 1@H:P,2@H:P,...', description: 'join a replicated cluster: every listed node is a broker and a controller voter; this node listens for its peers on its own entry' },
    { flag: '--peer-address ID=HOST:PORT', description: 'dial voter ID at this address instead of its quorum entry (repeatable; e.g. through a proxy)' },
    { flag: '--peer-broker-address ID=HOST:PORT', description: "fetch replicas from broker ID at this address instead of its advertised listener (repeatable)" },
    { flag: '--replica-lag-time-max-ms N', description: `a follower not caught up for this long leaves the ISR (default ${DEFAULT_CLUSTER_TIMINGS.replicaLagTimeMaxMs})` },
    { flag: '--broker-session-timeout-ms N', description: `a broker not heard from for this long is fenced (default ${DEFAULT_CLUSTER_TIMINGS.brokerSessionTimeoutMs})` },
    { flag: '--broker-heartbeat-interval-ms N', description: `how often a broker heartbeats to the controller (default ${DEFAULT_CLUSTER_TIMINGS.brokerHeartbeatIntervalMs})` },
    { flag: '--default-replication-factor N', description: 'replicas of auto-created topics, CreateTopics with -1 and __consumer_offsets (default: min(3, voters))' },
    { flag: '--leader-rebalance-interval-ms N', description: `how often leadership moves back to preferred replicas (default ${DEFAULT_CLUSTER_TIMINGS.leaderRebalanceIntervalMs})` },
    { flag: '--controlled-shutdown-timeout-ms N', description: `how long a stopping broker waits for its leaderships to move (default ${DEFAULT_CLUSTER_TIMINGS.controlledShutdownTimeoutMs})` },
    { flag: '-h, --help', description: 'show this help' },
  ],
);

export const brokerCommand: Command = {
  name: 'broker',
  summary: 'run a Kafka-protocol broker',
  async run(argv) {
    let broker: Broker;
    try {
      const flags = parseFlags(argv, options);
      if (flags.help) {
        console.log(help);
        return 0;
      }
      if (flags['node-id'] === undefined) throw new UsageError('--node-id is required');
      if (flags['data-dir'] === undefined) throw new UsageError('--data-dir is required');
      const listen = parseHostPort('--listen', flags.listen ?? '127.0.0.1:9092');
      const autoCreate = flags['auto-create-topics'] ?? 'true';
      if (autoCreate !== 'true' && autoCreate !== 'false') throw new UsageError(`--auto-create-topics expects true or false, got '${autoCreate}'`);
      const topicDefaults: Record<string, string> = {};
      for (const kv of flags['topic-default'] ?? []) {
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new UsageError(`--topic-default expects KEY=VALUE, got '${kv}'`);
        topicDefaults[kv.slice(0, eq)] = kv.slice(eq + 1);
      }
      const config = defaultBrokerConfig({
        nodeId: parseIntFlag('--node-id', flags['node-id'], 1, 0),
        host: listen.host,
        port: listen.port,
        advertised: flags['advertised-listener'] ? parseHostPort('--advertised-listener', flags['advertised-listener']) : null,
        dataDir: flags['data-dir'],
        metricsListen: flags['metrics-listen'] ? parseHostPort('--metrics-listen', flags['metrics-listen']) : null,
        autoCreateTopics: autoCreate === 'true',
        defaultPartitions: parseIntFlag('--num-partitions', flags['num-partitions'], 1, 1),
        socketRequestMaxBytes: parseIntFlag('--socket-request-max-bytes', flags['socket-request-max-bytes'], DEFAULT_SOCKET_REQUEST_MAX_BYTES, 1024),
        topicDefaults,
        retentionCheckIntervalMs: parseIntFlag('--retention-check-interval-ms', flags['retention-check-interval-ms'], 300_000, 10),
        cleanerIntervalMs: parseIntFlag('--log-cleaner-interval-ms', flags['log-cleaner-interval-ms'], 15_000, 10),
        cluster: flags['controller-quorum'] === undefined ? null : parseClusterFlags(flags),
        coordinator: {
          ...DEFAULT_COORDINATOR_CONFIG,
          initialRebalanceDelayMs: parseIntFlag('--group-initial-rebalance-delay-ms', flags['group-initial-rebalance-delay-ms'], DEFAULT_COORDINATOR_CONFIG.initialRebalanceDelayMs, 0),
          offsetsTopicPartitions: parseIntFlag('--offsets-topic-partitions', flags['offsets-topic-partitions'], DEFAULT_COORDINATOR_CONFIG.offsetsTopicPartitions, 1),
        },
      });
      if (config.cluster && !config.cluster.voters.some((v) => v.id === config.nodeId)) {
        throw new UsageError(`node ${config.nodeId} is not in --controller-quorum (${config.cluster.voters.map((v) => v.id).join(', ')}); every broker is also a controller voter`);
      }
      broker = new Broker(config, createLogger(`broker-${config.nodeId}`));
    } catch (err) {
      if (err instanceof UsageError) {
        console.error(`tributary broker: ${err.message}\n\n${help}`);
        return 2;
      }
      throw err;
    }
    try {
      await broker.start();
    } catch (err) {
      console.error(`tributary broker: failed to start: ${(err as Error).message}`);
      return 1;
    }
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        process.off('SIGTERM', onTerm);
        process.off('SIGINT', onInt);
        createLogger(`broker-${broker.config.nodeId}`).info(`${signal} received, shutting down`);
        broker.stop().then(resolve, (err) => {
          console.error(`tributary broker: shutdown failed: ${(err as Error).message}`);
          process.exitCode = 1;
          resolve();
        });
      };
      const onTerm = () => stop('SIGTERM');
      const onInt = () => stop('SIGINT');
      process.on('SIGTERM', onTerm);
      process.on('SIGINT', onInt);
    });
    return process.exitCode === 1 ? 1 : 0;
  },
};

function parsePeerAddresses(flag: string, values: string[] | undefined): Map<number, HostPort> {
  const peers = new Map<number, HostPort>();
  for (const value of values ?? []) {
    const eq = value.indexOf('=');
    if (eq <= 0) throw new UsageError(`${flag} expects ID=HOST:PORT, got '${value}'`);
    const id = parseIntFlag(flag, value.slice(0, eq), 0, 0);
    peers.set(id, parseHostPort(flag, value.slice(eq + 1)));
  }
  return peers;
}

function parseClusterFlags(flags: Record<string, string | string[] | boolean | undefined>): ClusterConfig {
  let voters;
  try {
    voters = parseVoters(flags['controller-quorum'] as string);
  } catch (err) {
    throw new UsageError(`--controller-quorum: ${(err as Error).message}`);
  }
  const int = (name: string, fallback: number, min: number) => parseIntFlag(`--${name}`, flags[name] as string | undefined, fallback, min);
  const heartbeat = int('broker-heartbeat-interval-ms', DEFAULT_CLUSTER_TIMINGS.brokerHeartbeatIntervalMs, 10);
  const session = int('broker-session-timeout-ms', DEFAULT_CLUSTER_TIMINGS.brokerSessionTimeoutMs, 100);
  if (session <= heartbeat) throw new UsageError(`--broker-session-timeout-ms (${session}) must be longer than --broker-heartbeat-interval-ms (${heartbeat})`);
  const replicationFactor = int('default-replication-factor', Math.min(3, voters.length), 1);
  if (replicationFactor > voters.length) throw new UsageError(`--default-replication-factor ${replicationFactor} is larger than the cluster (${voters.length} nodes)`);
  return {
    voters,
    peerAddresses: parsePeerAddresses('--peer-address', flags['peer-address'] as string[] | undefined),
    peerBrokerAddresses: parsePeerAddresses('--peer-broker-address', flags['peer-broker-address'] as string[] | undefined),
    replicaLagTimeMaxMs: int('replica-lag-time-max-ms', DEFAULT_CLUSTER_TIMINGS.replicaLagTimeMaxMs, 10),
    brokerSessionTimeoutMs: session,
    brokerHeartbeatIntervalMs: heartbeat,
    defaultReplicationFactor: replicationFactor,
    leaderRebalanceIntervalMs: int('leader-rebalance-interval-ms', DEFAULT_CLUSTER_TIMINGS.leaderRebalanceIntervalMs, 100),
    controlledShutdownTimeoutMs: int('controlled-shutdown-timeout-ms', DEFAULT_CLUSTER_TIMINGS.controlledShutdownTimeoutMs, 0),
  };
}
