// What `tributary up` runs, in start order, with every flag and file each component needs. Pure apart
// from writing the generated configs (ClickHouse, Prometheus, agent) into the state directory.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stackAgentConfig } from './agent-config.ts';
import { clickHouseComponent } from './clickhouse-process.ts';
import { ensureRawTopics } from './raw-topics.ts';
import { prometheusComponent, type ScrapeTarget } from './prometheus-process.ts';
import type { StackBinaries } from './required-packages.ts';
import type { ClusterPorts, StackPorts } from './ports.ts';
import type { ComponentSpec } from './supervisor.ts';

/** The Tributary components `--without` may leave out; ClickHouse, Prometheus and the broker always run. */
export const OPTIONAL_COMPONENTS = ['collector', 'agent', 'pipelines', 'dashboards'] as const;
export type OptionalComponent = (typeof OPTIONAL_COMPONENTS)[number];

export interface StackOptions {
  stateDir: string;
  ports: StackPorts;
  /** Broker nodes; more than one runs a replicated cluster (every node also a controller voter). */
  brokers: number;
  /** Ports of every broker node when `brokers` > 1. */
  cluster?: ClusterPorts;
  /** Hosts to listen on; everything but the dashboards and the collector stays on 127.0.0.1. */
  dashboardsHost: string;
  collectorHost: string;
  binaries: StackBinaries;
  without: ReadonlySet<OptionalComponent>;
  /** The `tributary` entry point (bin/tributary.js) and the Node that runs it. */
  cli: string;
  node: string;
  dashboards: { definitions?: string; rules?: string; webhooks: string[]; alertmanager?: string };
}

/** Where things live under the state directory. */
export function stackPaths(stateDir: string) {
  const root = resolve(stateDir);
  return {
    root,
    logs: join(root, 'logs'),
    demoLogs: join(root, 'demo-logs'),
    dropInLogs: join(root, 'logs-in'),
    broker: join(root, 'broker-1'),
    brokerNode: (id: number) => join(root, `broker-${id}`),
    agent: join(root, 'agent'),
    collectorSalt: join(root, 'collector', 'salt'),
  };
}

/** How late a record may be for its per-minute rollup, in the stack `up` runs. */
export const ROLLUP_ALLOWED_LATENESS_MS = 10_000;

const local = (port: number) => `127.0.0.1:${port}`;
const hostPort = (host: string, port: number) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** Every component's address, as `up` prints it in the `stack:` line. */
export function stackEndpoints(o: StackOptions) {
  const p = o.ports;
  const on = (c: OptionalComponent) => !o.without.has(c);
  return {
    stateDir: stackPaths(o.stateDir).root,
    clickhouse: { url: `http://${local(p.clickhouseHttp)}`, httpPort: p.clickhouseHttp, tcpPort: p.clickhouseTcp },
    prometheus: { url: `http://${local(p.prometheus)}`, port: p.prometheus },
    broker: o.cluster
      ? { bootstrap: o.cluster.kafka.map(local).join(','), port: p.broker, metrics: o.cluster.metrics.map((m) => `http://${local(m)}/metrics`).join(' ') }
      : { bootstrap: local(p.broker), port: p.broker, metrics: `http://${local(p.brokerMetrics)}/metrics` },
    ...(on('collector') && { collector: { url: `http://${hostPort(o.collectorHost, p.collector)}`, port: p.collector, metrics: `http://${hostPort(o.collectorHost, p.collector)}/metrics` } }),
    ...(on('agent') && { agent: { metrics: `http://${local(p.agentMetrics)}/metrics` } }),
    ...(on('pipelines') && { pipelines: { metrics: `http://${local(p.pipelinesMetrics)}/metrics` } }),
    ...(on('dashboards') && { dashboards: { url: `http://${hostPort(o.dashboardsHost, p.dashboards)}/`, port: p.dashboards, metrics: `http://${hostPort(o.dashboardsHost, p.dashboards)}/metrics` } }),
    stack: { metrics: `http://${local(p.stackMetrics)}/metrics` },
  };
}

/** The Prometheus jobs: every component's own /metrics, Prometheus itself, and `up`'s (job `stack`). */
function scrapeTargets(o: StackOptions): ScrapeTarget[] {
  const p = o.ports;
  const scrapeHost = (host: string) => (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host);
  const targets: ScrapeTarget[] = [
    { job: 'prometheus', address: local(p.prometheus) },
    { job: 'stack', address: local(p.stackMetrics) },
    ...(o.cluster ? o.cluster.metrics : [p.brokerMetrics]).map((port) => ({ job: 'broker', address: local(port) })),
  ];
  if (!o.without.has('collector')) targets.push({ job: 'collector', address: hostPort(scrapeHost(o.collectorHost), p.collector) });
  if (!o.without.has('agent')) targets.push({ job: 'agent', address: local(p.agentMetrics) });
  if (!o.without.has('pipelines')) targets.push({ job: 'pipelines', address: local(p.pipelinesMetrics) });
  if (!o.without.has('dashboards')) targets.push({ job: 'dashboards', address: hostPort(scrapeHost(o.dashboardsHost), p.dashboards) });
  return targets;
}

/** The components in start order; writes their generated configs into the state directory. */
export function stackComponents(o: StackOptions): (ComponentSpec | ComponentSpec[])[] {
  const paths = stackPaths(o.stateDir);
  const p = o.ports;
  const endpoints = stackEndpoints(o);
  for (const dir of [paths.logs, paths.demoLogs, paths.dropInLogs, paths.agent, join(paths.root, 'collector')]) mkdirSync(dir, { recursive: true });
  const tributary = (name: string, args: string[], ready: RegExp, address: string): ComponentSpec => ({
    name,
    command: o.node,
    args: [o.cli, name, ...args],
    ready: { line: ready },
    address,
    readyTimeoutMs: 60_000,
    stopTimeoutMs: 15_000,
  });
  const brokers = endpoints.broker.bootstrap;
  const components: (ComponentSpec | ComponentSpec[])[] = [
    clickHouseComponent({ command: o.binaries.clickhouse, stateDir: paths.root, logDir: paths.logs, ports: { http: p.clickhouseHttp, tcp: p.clickhouseTcp, interserver: p.clickhouseInterserver } }),
    prometheusComponent({ binary: o.binaries.prometheus, stateDir: paths.root, port: p.prometheus, targets: scrapeTargets(o) }),
  ];
  const brokerReady = /ready: node \d+ listening on/;
  if (o.cluster) {
    // The nodes start together: none is ready before a quorum of them runs. The raw topics are created
    // once the first is ready, by which time a quorum has formed.
    const quorum = o.cluster.controller.map((port, i) => `${i + 1}@${local(port)}`).join(',');
    const nodes = o.cluster.kafka.map((kafka, i) => ({
      ...tributary('broker', ['--node-id', String(i + 1), '--listen', local(kafka), '--data-dir', paths.brokerNode(i + 1), '--metrics-listen', local(o.cluster!.metrics[i]), '--controller-quorum', quorum], brokerReady, local(kafka)),
      name: `broker-${i + 1}`,
    }));
    nodes[nodes.length - 1].afterReady = async () => void (await ensureRawTopics(brokers, nodes.length));
    components.push(nodes);
  } else {
    components.push({
      ...tributary('broker', ['--node-id', '1', '--listen', brokers, '--data-dir', paths.broker, '--metrics-listen', local(p.brokerMetrics)], brokerReady, brokers),
      afterReady: async () => void (await ensureRawTopics(brokers)),
    });
  }
  if (!o.without.has('collector')) {
    const listen = hostPort(o.collectorHost, p.collector);
    components.push(tributary('collector', ['--listen', listen, '--brokers', brokers, '--salt-file', paths.collectorSalt], /ready: listening on/, `http://${listen}`));
  }
  if (!o.without.has('agent')) {
    // Not agent.yaml: `npm start` used to write that one for people to edit, and it is not overwritten.
    const configFile = join(paths.agent, 'agent.generated.yaml');
    writeFileSync(configFile, stackAgentConfig({ brokers: [brokers], stateDir: paths.agent, demoLogDir: paths.demoLogs, dropInLogDir: paths.dropInLogs, metricsListen: local(p.agentMetrics) }));
    components.push(tributary('agent', ['--config', configFile], /ready: agent /, `${endpoints.agent!.metrics} (tailing ${paths.demoLogs}, ${paths.dropInLogs})`));
  }
  if (!o.without.has('pipelines')) {
    components.push(
      tributary(
        'pipelines',
        // On one machine records arrive within seconds; a shorter allowed lateness than the default minute
        // closes each minute's rollups about 10 s after it ends, so rollup panels fill within the first
        // minute or so of a fresh stack. Records later than that still reach logs_enriched and pageviews_enriched.
        ['--brokers', brokers, '--clickhouse', endpoints.clickhouse.url, '--prometheus', endpoints.prometheus.url, '--metrics-listen', local(p.pipelinesMetrics), '--allowed-lateness-ms', String(ROLLUP_ALLOWED_LATENESS_MS)],
        /ready: stages /,
        endpoints.pipelines!.metrics,
      ),
    );
  }
  if (!o.without.has('dashboards')) {
    const d = o.dashboards;
    const args = ['--listen', hostPort(o.dashboardsHost, p.dashboards), '--clickhouse', endpoints.clickhouse.url, '--prometheus', endpoints.prometheus.url, '--brokers', brokers];
    if (d.definitions) args.push('--definitions', resolve(d.definitions));
    if (d.rules) args.push('--rules', resolve(d.rules));
    for (const w of d.webhooks) args.push('--webhook', w);
    if (d.alertmanager) args.push('--alertmanager', d.alertmanager);
    components.push(tributary('dashboards', args, /ready: dashboards on /, endpoints.dashboards!.url));
  }
  return components;
}
