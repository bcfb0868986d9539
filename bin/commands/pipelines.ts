import { Registry, collectDefaultMetrics } from 'prom-client';
import { createLogger } from '../../broker/server/logger.ts';
import { serveMetrics } from '../../lib/metrics-endpoint.ts';
import { runStage, type StageWorker } from '../../pipelines/runtime/stage-worker.ts';
import type { StageDefinition } from '../../pipelines/runtime/stage.ts';
import { logsStage, metricsStage, pageviewsStage } from '../../pipelines/stages/index.ts';
import { startClickHouseSink } from '../../pipelines/sinks/clickhouse/clickhouse-sink.ts';
import { startPrometheusSink } from '../../pipelines/sinks/prometheus/prometheus-sink.ts';
import { formatHelp, parseFlags, UsageError, type Command } from './command.ts';
import { parseHostPort, parseHttpUrl, parseIntFlag } from './host-port.ts';
import { waitForShutdownSignal } from './shutdown.ts';

const STAGES: Record<string, (opts: { allowedLatenessMs: number }) => StageDefinition> = {
  logs: logsStage,
  metrics: metricsStage,
  pageviews: pageviewsStage,
};

const options = {
  brokers: { type: 'string' },
  clickhouse: { type: 'string' },
  prometheus: { type: 'string' },
  stages: { type: 'string' },
  'allowed-lateness-ms': { type: 'string' },
  'metrics-listen': { type: 'string' },
  'session-timeout-ms': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const help = formatHelp(
  'tributary pipelines --brokers HOST:PORT[,...] [--clickhouse URL] [--prometheus URL] [options]',
  'Runs the pipeline stages (logs, metrics, pageviews: enrichment, rollups, sessions) and the sinks in the foreground. Several processes may run side by side: they share partitions through consumer groups.',
  [
    { flag: '--brokers LIST', description: 'Kafka bootstrap brokers, comma-separated (default 127.0.0.1:9092)' },
    { flag: '--clickhouse URL', description: 'load the derived topics into this ClickHouse (HTTP interface, e.g. http://127.0.0.1:8123)' },
    { flag: '--prometheus URL', description: 'remote-write metric rollups to this Prometheus (started with --web.enable-remote-write-receiver)' },
    { flag: '--stages LIST', description: 'which stages to run, comma-separated (default logs,metrics,pageviews; "none" for sinks only)' },
    { flag: '--allowed-lateness-ms N', description: 'how late a record may be for its window (default 60000)' },
    { flag: '--metrics-listen HOST:PORT', description: '/metrics of every stage and sink (default 127.0.0.1:9701)' },
    { flag: '--session-timeout-ms N', description: 'how soon the partitions of a crashed process move to the others (default 10000, at least 6000)' },
    { flag: '-h, --help', description: 'show this help' },
  ],
);

export const pipelinesCommand: Command = {
  name: 'pipelines',
  summary: 'run the pipeline stages and the ClickHouse / Prometheus sinks',
  async run(argv) {
    let brokers: string[];
    let clickhouse: string | undefined;
    let prometheus: string | undefined;
    let stageNames: string[];
    let allowedLatenessMs: number;
    let metricsListen: { host: string; port: number };
    let sessionTimeoutMs: number;
    try {
      const flags = parseFlags(argv, options);
      if (flags.help) {
        console.log(help);
        return 0;
      }
      brokers = (flags.brokers ?? '127.0.0.1:9092').split(',').map((b) => b.trim());
      for (const b of brokers) parseHostPort('--brokers', b);
      clickhouse = parseHttpUrl('--clickhouse', flags.clickhouse);
      prometheus = parseHttpUrl('--prometheus', flags.prometheus);
      stageNames = flags.stages === 'none' ? [] : (flags.stages ?? 'logs,metrics,pageviews').split(',').map((s) => s.trim());
      for (const name of stageNames) if (!STAGES[name]) throw new UsageError(`--stages: unknown stage '${name}' (known: ${Object.keys(STAGES).join(', ')})`);
      allowedLatenessMs = parseIntFlag('--allowed-lateness-ms', flags['allowed-lateness-ms'], 60_000, 0);
      sessionTimeoutMs = parseIntFlag('--session-timeout-ms', flags['session-timeout-ms'], 10_000, 6_000);
      metricsListen = parseHostPort('--metrics-listen', flags['metrics-listen'] ?? '127.0.0.1:9701');
      if (stageNames.length === 0 && !clickhouse && !prometheus) throw new UsageError('nothing to run: no stages and neither --clickhouse nor --prometheus');
    } catch (err) {
      if (err instanceof UsageError) {
        console.error(`tributary pipelines: ${err.message}\n\n${help}`);
        return 2;
      }
      throw err;
    }
    const log = createLogger('pipelines');
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: 'tributary_pipelines_process_' });
    const running: { name: string; stop(): Promise<void> }[] = [];
    try {
      const endpoint = await serveMetrics(registry, metricsListen);
      running.push({ name: 'metrics endpoint', stop: () => endpoint.close() });
      for (const name of stageNames) {
        const worker: StageWorker = await runStage(STAGES[name]({ allowedLatenessMs }), { brokers, registry, sessionTimeoutMs, log: createLogger(`stage-${name}`) });
        running.push({ name: `stage ${name}`, stop: () => worker.stop() });
      }
      if (clickhouse) {
        const sink = await startClickHouseSink({ brokers, clickhouseUrl: clickhouse, registry, sessionTimeoutMs, log: createLogger('sink-clickhouse') });
        running.push({ name: 'ClickHouse sink', stop: () => sink.stop() });
      }
      if (prometheus) {
        const sink = await startPrometheusSink({ brokers, remoteWriteUrl: `${prometheus}/api/v1/write`, registry, sessionTimeoutMs, log: createLogger('sink-prometheus') });
        running.push({ name: 'Prometheus sink', stop: () => sink.stop() });
      }
      log.info(
        `ready: stages ${stageNames.join(', ') || 'none'}; sinks ${[clickhouse && `ClickHouse ${clickhouse}`, prometheus && `Prometheus ${prometheus}`].filter(Boolean).join(', ') || 'none'}; metrics on http://${metricsListen.host}:${endpoint.port}/metrics`,
      );
    } catch (err) {
      console.error(`tributary pipelines: failed to start: ${(err as Error).message}`);
      for (const r of running.reverse()) await r.stop().catch(() => {});
      return 1;
    }
    const signal = await waitForShutdownSignal();
    log.info(`${signal} received, shutting down`);
    for (const r of running.reverse()) {
      await r.stop().catch((err: Error) => log.warn(`stopping ${r.name}: ${err.message}`));
    }
    log.info('stopped');
    return 0;
  },
};
