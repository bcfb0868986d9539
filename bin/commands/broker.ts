import { Broker } from '../../broker/server/broker.ts';
import { DEFAULT_SOCKET_REQUEST_MAX_BYTES, defaultBrokerConfig } from '../../broker/server/broker-config.ts';
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
        coordinator: {
          ...DEFAULT_COORDINATOR_CONFIG,
          initialRebalanceDelayMs: parseIntFlag('--group-initial-rebalance-delay-ms', flags['group-initial-rebalance-delay-ms'], DEFAULT_COORDINATOR_CONFIG.initialRebalanceDelayMs, 0),
          offsetsTopicPartitions: parseIntFlag('--offsets-topic-partitions', flags['offsets-topic-partitions'], DEFAULT_COORDINATOR_CONFIG.offsetsTopicPartitions, 1),
        },
      });
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
