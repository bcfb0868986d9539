import { statSync } from 'node:fs';
import { Registry } from 'prom-client';
import { createLogger } from '../../broker/server/logger.ts';
import { RuleFileError } from '../../dashboards/alerts/alert-rule.ts';
import { startAlerting, type Alerting } from '../../dashboards/alerts/alerting.ts';
import { DefinitionError } from '../../dashboards/definitions-loader.ts';
import { DEFAULT_DEFINITIONS_DIR, startDashboards } from '../../dashboards/server.ts';
import { formatHelp, parseFlags, UsageError, type Command } from './command.ts';
import { parseHostPort, parseHttpUrl } from './host-port.ts';
import { waitForShutdownSignal } from './shutdown.ts';

const options = {
  listen: { type: 'string' },
  clickhouse: { type: 'string' },
  prometheus: { type: 'string' },
  brokers: { type: 'string' },
  definitions: { type: 'string' },
  rules: { type: 'string' },
  webhook: { type: 'string', multiple: true },
  alertmanager: { type: 'string' },
  'external-url': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const help = formatHelp(
  'tributary dashboards [--listen HOST:PORT] [--clickhouse URL] [--prometheus URL] [--brokers LIST] [--definitions DIR] [--rules DIR [--webhook URL]... [--alertmanager URL]]',
  'Runs the dashboards web app in the foreground: the UI, panel data from ClickHouse and Prometheus, the live log tail from the broker, the alert rules, /metrics and /health.',
  [
    { flag: '--listen HOST:PORT', description: 'HTTP address (default 127.0.0.1:3000)' },
    { flag: '--clickhouse URL', description: "ClickHouse's HTTP interface, e.g. http://127.0.0.1:8123 (without it, SQL panels answer 502)" },
    { flag: '--prometheus URL', description: 'Prometheus, e.g. http://127.0.0.1:9090 (without it, PromQL panels answer 502)' },
    { flag: '--brokers LIST', description: 'Kafka bootstrap brokers for the live log tail, comma-separated (default 127.0.0.1:9092)' },
    { flag: '--definitions DIR', description: `folder of dashboard files (default ${DEFAULT_DEFINITIONS_DIR})` },
    { flag: '--rules DIR', description: 'folder of alert rule files to evaluate (state kept in --clickhouse); without it, no alerting' },
    { flag: '--webhook URL', description: "send alert notifications here, in Alertmanager's webhook format (repeatable)" },
    { flag: '--alertmanager URL', description: 'also post alerts to this Alertmanager (its /api/v2/alerts)' },
    { flag: '--external-url URL', description: 'how people reach these dashboards, for links in notifications (default http://LISTEN/)' },
    { flag: '-h, --help', description: 'show this help' },
  ],
);

export const dashboardsCommand: Command = {
  name: 'dashboards',
  summary: 'run the dashboards web app (UI, panel data, live log tail)',
  async run(argv) {
    let listen: { host: string; port: number };
    let brokers: string[];
    let clickhouseUrl: string | undefined;
    let prometheusUrl: string | undefined;
    let definitionsDir: string;
    let rulesDir: string | undefined;
    let webhooks: string[];
    let alertmanagerUrl: string | undefined;
    let externalUrl: string | undefined;
    try {
      const flags = parseFlags(argv, options);
      if (flags.help) {
        console.log(help);
        return 0;
      }
      listen = parseHostPort('--listen', flags.listen ?? '127.0.0.1:3000');
      brokers = (flags.brokers ?? '127.0.0.1:9092').split(',').map((b) => b.trim());
      for (const b of brokers) parseHostPort('--brokers', b);
      clickhouseUrl = parseHttpUrl('--clickhouse', flags.clickhouse);
      prometheusUrl = parseHttpUrl('--prometheus', flags.prometheus);
      definitionsDir = flags.definitions ?? DEFAULT_DEFINITIONS_DIR;
      if (!statSync(definitionsDir, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--definitions: '${definitionsDir}' is not a folder`);
      rulesDir = flags.rules;
      if (rulesDir !== undefined && !statSync(rulesDir, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--rules: '${rulesDir}' is not a folder`);
      webhooks = (flags.webhook ?? []).map((w) => parseHttpUrl('--webhook', w)!);
      alertmanagerUrl = parseHttpUrl('--alertmanager', flags.alertmanager);
      externalUrl = parseHttpUrl('--external-url', flags['external-url']);
      if (rulesDir === undefined && (webhooks.length > 0 || alertmanagerUrl)) throw new UsageError('--webhook and --alertmanager need --rules (no rules, nothing to send)');
    } catch (err) {
      if (err instanceof UsageError) {
        console.error(`tributary dashboards: ${err.message}\n\n${help}`);
        return 2;
      }
      throw err;
    }
    const log = createLogger('dashboards');
    const registry = new Registry();
    let alerting: Alerting | undefined;
    let running;
    try {
      if (rulesDir !== undefined) {
        const shownHost = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
        alerting = await startAlerting({
          rulesDir,
          clickhouseUrl,
          prometheusUrl,
          webhooks,
          alertmanagerUrl,
          externalUrl: externalUrl ?? `http://${shownHost}:${listen.port}/`,
          registry,
          log: createLogger('alerts'),
        });
        log.info(`alerting: rules from ${rulesDir}, ${webhooks.length} webhook(s)${alertmanagerUrl ? `, Alertmanager ${alertmanagerUrl}` : ''}`);
      }
      running = await startDashboards({ host: listen.host, port: listen.port, clickhouseUrl, prometheusUrl, brokers, definitionsDir, alerts: alerting, registry, log });
    } catch (err) {
      await alerting?.stop();
      const message =
        err instanceof DefinitionError ? `bad dashboard definition: ${err.message}` : err instanceof RuleFileError ? `bad alert rule file: ${err.message}` : (err as Error).message;
      console.error(`tributary dashboards: failed to start: ${message}`);
      return 1;
    }
    log.info(`ready: dashboards on ${running.url}`);
    const signal = await waitForShutdownSignal();
    log.info(`${signal} received, shutting down`);
    await running.close();
    await alerting?.stop();
    log.info('stopped');
    return 0;
  },
};
