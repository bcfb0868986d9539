import { existsSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { serveMetrics } from '../../lib/metrics-endpoint.ts';
import { DemoGenerator, parseErrorBurst, type ErrorBurst } from '../../stack/demo-generator.ts';
import { autoPorts, clusterPorts, DEFAULT_PORTS, portIsFree, type ClusterPorts, type StackPorts } from '../../stack/ports.ts';
import { findStackBinaries, MissingPackagesError, type StackBinaries } from '../../stack/required-packages.ts';
import { OPTIONAL_COMPONENTS, stackComponents, stackEndpoints, stackPaths, type OptionalComponent, type StackOptions } from '../../stack/stack-plan.ts';
import { stackRegistry } from '../../stack/stack-metrics.ts';
import { StartError, Supervisor } from '../../stack/supervisor.ts';
import { formatHelp, parseFlags, UsageError, type Command } from './command.ts';
import { parseHostPort, parseHttpUrl, parseIntFlag } from './host-port.ts';

const options = {
  'state-dir': { type: 'string' },
  demo: { type: 'boolean' },
  'demo-rate': { type: 'string' },
  'demo-log-rate': { type: 'string' },
  'demo-error-burst': { type: 'string' },
  ports: { type: 'string' },
  brokers: { type: 'string' },
  'dashboards-listen': { type: 'string' },
  'collector-listen': { type: 'string' },
  definitions: { type: 'string' },
  rules: { type: 'string' },
  webhook: { type: 'string', multiple: true },
  alertmanager: { type: 'string' },
  without: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const help = formatHelp(
  'tributary up [--state-dir DIR] [--demo] [--ports auto|default] [options]',
  'Runs the whole stack on this machine, supervised: ClickHouse and Prometheus (installed binaries), broker, collector, agent, pipelines and dashboards, ' +
    'in that order. Prints a line per component, then the dashboard URL. Components that crash are restarted. Ctrl-C stops everything in reverse order. ' +
    'Component output goes to DIR/logs/<component>.log; a second start on the same DIR keeps all data.',
  [
    { flag: '--state-dir DIR', description: 'where all data, generated configs and logs live (default ./data)' },
    { flag: '--demo', description: 'generate demo traffic: logs of four services (DIR/demo-logs) and page views of three sites' },
    { flag: '--demo-rate N', description: 'demo page views per second (default 3)' },
    { flag: '--demo-log-rate N', description: 'demo log records per second, over all services (default 8)' },
    { flag: '--demo-error-burst AFTER:DURATION', description: 'after AFTER, for DURATION, 20 ERROR records a second from service checkout (e.g. 30s:40s)' },
    { flag: '--ports auto|default', description: `default: broker ${DEFAULT_PORTS.broker}, collector ${DEFAULT_PORTS.collector}, dashboards ${DEFAULT_PORTS.dashboards}, ClickHouse ${DEFAULT_PORTS.clickhouseHttp}/${DEFAULT_PORTS.clickhouseTcp}, Prometheus ${DEFAULT_PORTS.prometheus}, …; auto: free ports` },
    { flag: '--brokers N', description: 'broker nodes (default 1); 3 runs a replicated cluster: topics get 3 replicas, min.insync.replicas stays at the topic default' },
    { flag: '--dashboards-listen HOST:PORT', description: `dashboards address (default 127.0.0.1:${DEFAULT_PORTS.dashboards})` },
    { flag: '--collector-listen HOST:PORT', description: `collector address, for trackers and SDKs on other machines (default 127.0.0.1:${DEFAULT_PORTS.collector})` },
    { flag: '--definitions DIR', description: 'dashboard definitions (default: the dashboards command\'s own)' },
    { flag: '--rules DIR', description: 'alert rule files the dashboards evaluate (default: the shipped examples, dashboards/alerts/examples)' },
    { flag: '--webhook URL', description: 'alert webhook (Alertmanager payload), repeatable' },
    { flag: '--alertmanager URL', description: 'also send alerts to this Alertmanager' },
    { flag: '--without LIST', description: `leave components out, comma-separated: ${OPTIONAL_COMPONENTS.join(', ')}` },
    { flag: '-h, --help', description: 'show this help' },
  ],
);

interface UpOptions {
  stateDir: string;
  demo: boolean;
  demoRate: number;
  demoLogRate: number;
  errorBurst?: ErrorBurst;
  ports: 'auto' | 'default';
  brokers: number;
  dashboardsListen?: { host: string; port: number };
  collectorListen?: { host: string; port: number };
  without: Set<OptionalComponent>;
  dashboards: StackOptions['dashboards'];
}

function parseRate(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || n > 10_000) throw new UsageError(`${flag} expects a number of records per second (0-10000), got '${value}'`);
  return n;
}

/** The shipped example rules: error-log rate, host CPU and disk, ingest stalled, page views dropped to zero. */
const EXAMPLE_RULES_DIR = resolve(import.meta.dirname, '../../dashboards/alerts/examples');

function parseUpFlags(argv: string[]): UpOptions | 'help' {
  const flags = parseFlags(argv, options);
  if (flags.help) return 'help';
  const ports = flags.ports ?? 'default';
  if (ports !== 'auto' && ports !== 'default') throw new UsageError(`--ports expects auto or default, got '${ports}'`);
  const without = new Set<OptionalComponent>();
  for (const name of (flags.without ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(OPTIONAL_COMPONENTS as readonly string[]).includes(name)) throw new UsageError(`--without: '${name}' cannot be left out (optional: ${OPTIONAL_COMPONENTS.join(', ')})`);
    without.add(name as OptionalComponent);
  }
  let errorBurst: ErrorBurst | undefined;
  if (flags['demo-error-burst'] !== undefined) {
    if (!flags.demo) throw new UsageError('--demo-error-burst needs --demo');
    try {
      errorBurst = parseErrorBurst(flags['demo-error-burst']);
    } catch (err) {
      throw new UsageError(`--demo-error-burst ${(err as Error).message}`);
    }
  }
  if (flags.demo && without.has('agent') && without.has('collector')) throw new UsageError('--demo needs the agent or the collector to send its traffic to');
  return {
    stateDir: flags['state-dir'] ?? './data',
    demo: flags.demo ?? false,
    demoRate: parseRate('--demo-rate', flags['demo-rate'], 3),
    demoLogRate: parseRate('--demo-log-rate', flags['demo-log-rate'], 8),
    errorBurst,
    ports,
    brokers: parseIntFlag('--brokers', flags.brokers, 1, 1),
    dashboardsListen: flags['dashboards-listen'] === undefined ? undefined : parseHostPort('--dashboards-listen', flags['dashboards-listen']),
    collectorListen: flags['collector-listen'] === undefined ? undefined : parseHostPort('--collector-listen', flags['collector-listen']),
    without,
    dashboards: {
      definitions: flags.definitions,
      rules: flags.rules ?? EXAMPLE_RULES_DIR,
      webhooks: (flags.webhook ?? []).map((w) => parseHttpUrl('--webhook', w)),
      alertmanager: flags.alertmanager === undefined ? undefined : parseHttpUrl('--alertmanager', flags.alertmanager),
    },
  };
}

/** One `up` per state directory: a second one would fight the first over every data directory. */
function lockStateDir(root: string): () => void {
  mkdirSync(root, { recursive: true });
  const lock = join(root, 'up.pid');
  if (existsSync(lock)) {
    const pid = Number(readFileSync(lock, 'utf8').trim());
    let alive = false;
    try {
      // Alive and a tributary process: a pid reused by something else since a crash does not count.
      if (pid > 0 && pid !== process.pid) alive = readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('tributary');
    } catch {}
    if (alive) throw new Error(`another \`tributary up\` (pid ${pid}) is using ${root}; stop it first, or pass a different --state-dir`);
  }
  writeFileSync(lock, `${process.pid}\n`);
  return () => rmSync(lock, { force: true });
}

const PORT_NAMES: Record<keyof StackPorts, string> = {
  broker: 'broker',
  brokerMetrics: 'broker metrics',
  collector: 'collector',
  agentMetrics: 'agent metrics',
  pipelinesMetrics: 'pipelines metrics',
  stackMetrics: 'tributary up metrics',
  dashboards: 'dashboards',
  clickhouseHttp: 'ClickHouse HTTP',
  clickhouseTcp: 'ClickHouse native',
  clickhouseInterserver: 'ClickHouse interserver',
  prometheus: 'Prometheus',
};

async function choosePorts(o: UpOptions): Promise<{ ports: StackPorts; cluster?: ClusterPorts }> {
  const ports = o.ports === 'auto' ? await autoPorts() : { ...DEFAULT_PORTS };
  if (o.dashboardsListen) ports.dashboards = o.dashboardsListen.port;
  if (o.collectorListen) ports.collector = o.collectorListen.port;
  const cluster = o.brokers > 1 ? await clusterPorts(ports, o.brokers, o.ports === 'auto') : undefined;
  if (o.ports === 'default') {
    const wanted = Object.entries(ports).map(([name, port]) => [PORT_NAMES[name as keyof StackPorts], port] as const);
    if (cluster) {
      cluster.kafka.slice(1).forEach((port, i) => wanted.push([`broker ${i + 2}`, port]));
      cluster.metrics.slice(1).forEach((port, i) => wanted.push([`broker ${i + 2} metrics`, port]));
      cluster.controller.forEach((port, i) => wanted.push([`broker ${i + 1} controller`, port]));
    }
    const busy: string[] = [];
    for (const [name, port] of wanted) if (!(await portIsFree('127.0.0.1', port))) busy.push(`${port} (${name})`);
    if (busy.length > 0) throw new Error(`port${busy.length > 1 ? 's' : ''} ${busy.join(', ')} already in use: stop what uses ${busy.length > 1 ? 'them' : 'it'}, or run with --ports auto`);
  }
  return { ports, cluster };
}

export const upCommand: Command = {
  name: 'up',
  summary: 'run the whole stack on this machine (ClickHouse, Prometheus, broker, collector, agent, pipelines, dashboards)',
  async run(argv) {
    let o: UpOptions;
    try {
      const parsed = parseUpFlags(argv);
      if (parsed === 'help') {
        console.log(help);
        return 0;
      }
      o = parsed;
    } catch (err) {
      if (err instanceof UsageError) {
        console.error(`tributary up: ${err.message}\n\n${help}`);
        return 2;
      }
      throw err;
    }
    let binaries: StackBinaries;
    try {
      binaries = findStackBinaries();
    } catch (err) {
      if (err instanceof MissingPackagesError) {
        console.error(err.message);
        return 1;
      }
      throw err;
    }
    const cli = resolve(import.meta.dirname, '../tributary.js');
    const paths = stackPaths(o.stateDir);
    let unlock: () => void = () => {};
    let ports: StackPorts;
    let cluster: ClusterPorts | undefined;
    try {
      unlock = lockStateDir(paths.root);
      ({ ports, cluster } = await choosePorts(o));
    } catch (err) {
      unlock();
      console.error(`tributary up: ${(err as Error).message}`);
      return 1;
    }
    const stack: StackOptions = {
      stateDir: paths.root,
      ports,
      brokers: o.brokers,
      cluster,
      dashboardsHost: o.dashboardsListen?.host ?? '127.0.0.1',
      collectorHost: o.collectorListen?.host ?? '127.0.0.1',
      binaries,
      without: o.without,
      cli,
      node: process.execPath,
      dashboards: o.dashboards,
    };
    const endpoints = stackEndpoints(stack);
    const supervisor = new Supervisor({ logDir: paths.logs, print: (l) => console.log(l), printError: (l) => console.error(l) });
    let demo: DemoGenerator | null = null;
    const metrics = await serveMetrics(stackRegistry({ components: () => supervisor.status(), demo: () => demo?.counters ?? null }), { host: '127.0.0.1', port: ports.stackMetrics }).catch((err: Error) => err);
    if (metrics instanceof Error) {
      unlock();
      console.error(`tributary up: cannot serve its own /metrics on 127.0.0.1:${ports.stackMetrics}: ${metrics.message}`);
      return 1;
    }

    let stopping: Promise<void> | null = null;
    const stop = (signal: string) => {
      if (stopping) {
        // A second Ctrl-C: the user does not want to wait for a clean stop.
        console.error(`${signal} again: killing what still runs`);
        supervisor.killAll();
        return stopping;
      }
      stopping = (async () => {
        console.log(`${signal} received: stopping the stack (again to kill it at once)`);
        await demo?.stop();
        await supervisor.stopAll();
      })();
      stopRequested();
      return stopping;
    };
    let stopRequested = () => {};
    const stopSignalled = new Promise<void>((resolve) => (stopRequested = resolve));
    const onTerm = () => void stop('SIGTERM');
    const onInt = () => void stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
    const finish = async (code: number) => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      await metrics.close();
      unlock();
      return code;
    };

    console.log(`Starting Tributary (state in ${paths.root}, component logs in ${paths.logs})`);
    try {
      await supervisor.startAll(stackComponents(stack));
    } catch (err) {
      if (stopping) {
        await stopping;
        return finish(0);
      }
      if (err instanceof StartError) {
        console.error(`✗ ${err.message}`);
        console.error(`tributary up: ${err.component} failed to start; everything started before it was stopped (logs: ${paths.logs})`);
        return finish(1);
      }
      await supervisor.stopAll();
      console.error(`tributary up: ${(err as Error).message}`);
      return finish(1);
    }
    if (o.demo && !stopping) {
      demo = new DemoGenerator({
        logDir: paths.demoLogs,
        collectorUrl: o.without.has('collector') ? '' : endpoints.collector!.url,
        pageViewsPerSecond: o.without.has('collector') ? 0 : o.demoRate,
        logRecordsPerSecond: o.demoLogRate,
        errorBurst: o.errorBurst,
      });
      demo.start();
      console.log(
        `✓ demo traffic: ${o.demoLogRate} log records/s into ${paths.demoLogs}` +
          (o.without.has('collector') ? '' : `, ${o.demoRate} page views/s to ${endpoints.collector!.url}`) +
          (o.errorBurst ? `; an error burst after ${o.errorBurst.afterMs / 1000} s for ${o.errorBurst.durationMs / 1000} s` : ''),
      );
    }
    if (!stopping) {
      console.log(endpoints.dashboards ? `Tributary is up: open ${endpoints.dashboards.url}  (Ctrl-C stops it)` : 'Tributary is up (no dashboards); Ctrl-C stops it');
      console.log(`stack: ${JSON.stringify(endpoints)}`);
    }
    await stopSignalled;
    await stopping;
    console.log('Tributary stopped');
    return finish(0);
  },
};
