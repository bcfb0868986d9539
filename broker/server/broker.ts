import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { LogManager } from '../storage/log-manager.ts';
import { QuorumController } from '../controller/quorum-controller.ts';
import { BrokerLifecycle } from '../controller/broker-lifecycle.ts';
import { ReplicaManager } from '../replication/replica-manager.ts';
import { singleNodeLeadership, type PartitionLeadership } from '../replication/partition-leadership.ts';
import { ClusterProducerIds } from '../coordinator/cluster-producer-ids.ts';
import { SecurityProtocol } from '../controller/metadata/records.ts';
import { GroupCoordinator } from '../coordinator/group-coordinator.ts';
import { ProducerIdAllocator } from '../coordinator/producer-id-allocator.ts';
import { allHandlers } from '../handlers/index.ts';
import { AppendNotifier } from './append-notifier.ts';
import { createBrokerMetrics, registerLogMetrics } from './broker-metrics.ts';
import type { BrokerConfig, ClusterConfig } from './broker-config.ts';
import type { BrokerContext, ClusterContext } from './broker-context.ts';
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
  private controller: QuorumController | null = null;
  private lifecycle: BrokerLifecycle | null = null;
  private replicas: ReplicaManager | null = null;

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
    const emptyStorage = !existsSync(join(config.dataDir, 'meta.properties'));
    this.logs = await LogManager.open(config.dataDir, config.nodeId, config.topicDefaults, log, { replicated: config.cluster !== null });
    const metrics = createBrokerMetrics(config.nodeId);
    const appends = new AppendNotifier();
    let partitions: PartitionLeadership = singleNodeLeadership(this.logs);
    let cluster: ClusterContext | null = null;
    if (config.cluster) {
      cluster = this.createCluster(config.cluster, appends, emptyStorage);
      partitions = cluster.replicas;
      this.groups = new GroupCoordinator(this.logs, config.coordinator, log, { access: cluster.replicas.offsetsAccess(), manageTopic: false, partitionCount: config.coordinator.offsetsTopicPartitions });
      cluster.replicas.attachGroups(this.groups);
    } else {
      this.groups = new GroupCoordinator(this.logs, config.coordinator, log);
    }
    this.groups.start();
    this.logs.startRetention(config.retentionCheckIntervalMs);
    this.logs.startCleaner(config.cleanerIntervalMs, { maxKeysPerPass: 1_000_000 });
    this.groups.registerMetrics(metrics.registry);
    registerLogMetrics(metrics.registry, this.logs, partitions);
    const lifecycle = this.lifecycle;
    const ctx: BrokerContext = {
      config,
      clusterId: config.cluster ? clusterIdOf(config.cluster) : this.logs.clusterId,
      logs: this.logs,
      partitions,
      cluster,
      appends,
      groups: this.groups,
      producerIds: lifecycle ? new ClusterProducerIds(() => lifecycle.brokerEpoch) : new ProducerIdAllocator(config.dataDir),
      metrics,
      log,
      shutdown: this.shutdown.signal,
    };
    await this.listen(ctx);
    if (config.metricsListen) await this.listenMetrics(metrics.registry);
    if (cluster) {
      await cluster.controller.start();
      // The listener is up before registering: the registration tells the others where to fetch from.
      await this.lifecycle!.start();
      cluster.replicas.start();
      cluster.replicas.onImage(cluster.controller.image);
    }
    const topics = this.logs.topics().length;
    log.info(
      `ready: node ${config.nodeId} listening on ${config.host}:${config.port}, data in ${config.dataDir}, ` +
        `${topics} topic(s) loaded in ${Date.now() - startedAt} ms` +
        (config.metricsListen ? `, metrics on http://${config.metricsListen.host}:${config.metricsListen.port}/metrics` : '') +
        (cluster ? `, member of a ${config.cluster!.voters.length}-node cluster (controller leader: ${cluster.controller.leaderId ?? 'none yet'})` : ''),
    );
  }

  private createCluster(clusterConfig: ClusterConfig, appends: AppendNotifier, emptyStorage: boolean): ClusterContext {
    const { config, log } = this;
    const self = clusterConfig.voters.find((v) => v.id === config.nodeId);
    if (!self) throw new Error(`node ${config.nodeId} is not in --controller-quorum (${clusterConfig.voters.map((v) => v.id).join(', ')}); every broker is also a controller voter`);
    const dialAddresses = new Map(clusterConfig.voters.filter((v) => v.id !== config.nodeId).map((v) => [v.id, clusterConfig.peerAddresses.get(v.id) ?? { host: v.host, port: v.port }]));
    const controller = new QuorumController({
      nodeId: config.nodeId,
      voters: clusterConfig.voters,
      listen: { host: self.host, port: self.port },
      dialAddresses,
      dataDir: config.dataDir,
      log,
      brokerSessionTimeoutMs: clusterConfig.brokerSessionTimeoutMs,
      leaderRebalanceIntervalMs: clusterConfig.leaderRebalanceIntervalMs,
      defaultReplicationFactor: clusterConfig.defaultReplicationFactor,
    });
    const advertised = () => config.advertised ?? { host: config.host, port: config.port };
    this.lifecycle = new BrokerLifecycle({
      brokerId: config.nodeId,
      get endpoints() {
        return [{ name: 'PLAINTEXT', ...advertised(), securityProtocol: SecurityProtocol.PLAINTEXT }];
      },
      rack: null,
      heartbeatIntervalMs: clusterConfig.brokerHeartbeatIntervalMs,
      emptyStorage,
      controller,
      log,
    });
    const replicas = new ReplicaManager({
      nodeId: config.nodeId,
      logs: this.logs!,
      controller,
      lifecycle: this.lifecycle,
      appends,
      log,
      replicaLagTimeMaxMs: clusterConfig.replicaLagTimeMaxMs,
      brokerAddressOverrides: clusterConfig.peerBrokerAddresses,
    });
    controller.onImage((image) => replicas.onImage(image));
    this.controller = controller;
    this.replicas = replicas;
    if (emptyStorage) log.info('starting with an empty data directory: this broker holds no replica data yet');
    return { controller, replicas };
  }

  private async listen(ctx: BrokerContext): Promise<void> {
    const { config, log } = this;
    const router = new RequestRouter(ctx, allHandlers());
    const server = createServer((socket) => {
      this.sockets.add(socket);
      ctx.metrics.connections.inc();
      const conn = new Connection(socket, router, log, config.socketRequestMaxBytes);
      this.connections.add(conn);
      socket.on('close', () => {
        this.sockets.delete(socket);
        this.connections.delete(conn);
        ctx.metrics.connections.dec();
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
    const address = server.address();
    if (address && typeof address === 'object') config.port = address.port;
  }

  private async listenMetrics(registry: BrokerContext['metrics']['registry']): Promise<void> {
    const { config } = this;
    this.metricsServer = createHttpServer(async (req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end('not found\n');
        return;
      }
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(await registry.metrics());
    });
    const { host, port } = config.metricsListen!;
    await new Promise<void>((resolve, reject) => {
      this.metricsServer!.once('error', reject);
      this.metricsServer!.listen(port, host, () => resolve());
    });
    const bound = this.metricsServer.address();
    if (bound && typeof bound === 'object') config.metricsListen = { host, port: bound.port };
  }

  /** Stops accepting, answers parked fetches, closes clients, then flushes and closes every segment. */
  async stop(): Promise<void> {
    // Leaderships move while this broker still serves, so its followers have what they need to take over.
    if (this.lifecycle && this.config.cluster) await this.lifecycle.controlledShutdown(this.config.cluster.controlledShutdownTimeoutMs);
    this.shutdown.abort();
    const closing = this.server ? new Promise<void>((resolve) => this.server!.close(() => resolve())) : Promise.resolve();
    // Give parked long-poll fetches a moment to write their (now immediate) answers before sockets close.
    await new Promise((resolve) => setImmediate(resolve));
    for (const conn of this.connections) conn.close();
    for (const socket of this.sockets) socket.destroy();
    await closing;
    if (this.metricsServer) await new Promise<void>((resolve) => this.metricsServer!.close(() => resolve()));
    await this.replicas?.stop();
    this.lifecycle?.stop();
    await this.controller?.stop();
    this.groups?.close();
    if (this.logs) await this.logs.close();
    this.log.info('stopped: logs flushed and closed');
  }
}

/** Every broker of a cluster reports the same id: one derived from the voter set they share. */
function clusterIdOf(cluster: ClusterConfig): string {
  const voters = cluster.voters.map((v) => `${v.id}@${v.host}:${v.port}`).join(',');
  return createHash('sha256').update(voters).digest('base64url').slice(0, 22);
}
