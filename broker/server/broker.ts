import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { LogManager } from '../storage/log-manager.ts';
import { GroupCoordinator } from '../coordinator/group-coordinator.ts';
import { ProducerIdAllocator } from '../coordinator/producer-id-allocator.ts';
import { allHandlers } from '../handlers/index.ts';
import { AppendNotifier } from './append-notifier.ts';
import { createBrokerMetrics, registerLogMetrics } from './broker-metrics.ts';
import type { BrokerConfig } from './broker-config.ts';
import type { BrokerContext } from './broker-context.ts';
import { Connection } from './connection.ts';
import { RequestRouter } from './request-router.ts';
import { createLogger, type Logger } from './logger.ts';

/** A single broker: its logs, the Kafka listener and the /metrics endpoint, started and stopped together. */
export class Broker {
  readonly config: BrokerConfig;
  private readonly log: Logger;
  private logs: LogManager | null = null;
  private groups: GroupCoordinator | null = null;
  private server: Server | null = null;
  private metricsServer: HttpServer | null = null;
  private readonly connections = new Set<Connection>();
  private readonly sockets = new Set<Socket>();
  private readonly shutdown = new AbortController();

  constructor(config: BrokerConfig, log: Logger = createLogger(`broker-${config.nodeId}`)) {
    this.config = config;
    this.log = log;
  }

  /** The bound port (differs from the configured one when that was 0). */
  get port(): number {
    return this.config.port;
  }

  async start(): Promise<void> {
    const { config, log } = this;
    const startedAt = Date.now();
    this.logs = await LogManager.open(config.dataDir, config.nodeId, config.topicDefaults, log);
    const metrics = createBrokerMetrics(config.nodeId);
    this.groups = new GroupCoordinator(this.logs, config.coordinator, log);
    this.groups.start();
    this.logs.startRetention(config.retentionCheckIntervalMs);
    this.logs.startCleaner(config.cleanerIntervalMs, { maxKeysPerPass: 1_000_000 });
    this.groups.registerMetrics(metrics.registry);
    registerLogMetrics(metrics.registry, this.logs);
    const ctx: BrokerContext = {
      config,
      clusterId: this.logs.clusterId,
      logs: this.logs,
      appends: new AppendNotifier(),
      groups: this.groups,
      producerIds: new ProducerIdAllocator(config.dataDir),
      metrics,
      log,
      shutdown: this.shutdown.signal,
    };
    const router = new RequestRouter(ctx, allHandlers());
    const server = createServer((socket) => {
      this.sockets.add(socket);
      metrics.connections.inc();
      const conn = new Connection(socket, router, log, config.socketRequestMaxBytes);
      this.connections.add(conn);
      socket.on('close', () => {
        this.sockets.delete(socket);
        this.connections.delete(conn);
        metrics.connections.dec();
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
    const address = server.address();
    if (address && typeof address === 'object') config.port = address.port;
    if (config.metricsListen) {
      this.metricsServer = createHttpServer(async (req, res) => {
        if (req.url !== '/metrics') {
          res.writeHead(404).end('not found\n');
          return;
        }
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(await metrics.registry.metrics());
      });
      const { host, port } = config.metricsListen;
      await new Promise<void>((resolve, reject) => {
        this.metricsServer!.once('error', reject);
        this.metricsServer!.listen(port, host, () => resolve());
      });
      const bound = this.metricsServer.address();
      if (bound && typeof bound === 'object') config.metricsListen = { host, port: bound.port };
    }
    const topics = this.logs.topics().length;
    log.info(
      `ready: node ${config.nodeId} listening on ${config.host}:${config.port}, data in ${config.dataDir}, ` +
        `${topics} topic(s) loaded in ${Date.now() - startedAt} ms` +
        (config.metricsListen ? `, metrics on http://${config.metricsListen.host}:${config.metricsListen.port}/metrics` : ''),
    );
  }

  /** Stops accepting, answers parked fetches, closes clients, then flushes and closes every segment. */
  async stop(): Promise<void> {
    this.shutdown.abort();
    const closing = this.server ? new Promise<void>((resolve) => this.server!.close(() => resolve())) : Promise.resolve();
    // Give parked long-poll fetches a moment to write their (now immediate) answers before sockets close.
    await new Promise((resolve) => setImmediate(resolve));
    for (const conn of this.connections) conn.close();
    for (const socket of this.sockets) socket.destroy();
    await closing;
    if (this.metricsServer) await new Promise<void>((resolve) => this.metricsServer!.close(() => resolve()));
    this.groups?.close();
    if (this.logs) await this.logs.close();
    this.log.info('stopped: logs flushed and closed');
  }
}
