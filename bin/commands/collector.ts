import { buildCollector } from '../../agents/collector/server.ts';
import { createLogger } from '../../broker/server/logger.ts';
import { formatHelp, parseFlags, UsageError, type Command } from './command.ts';
import { parseHostPort, parseIntFlag } from './host-port.ts';
import { waitForShutdownSignal } from './shutdown.ts';

const options = {
  listen: { type: 'string' },
  brokers: { type: 'string' },
  'body-limit-bytes': { type: 'string' },
  'salt-file': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const help = formatHelp(
  'tributary collector --listen HOST:PORT --brokers HOST:PORT[,HOST:PORT...] [options]',
  'Runs the HTTP collector in the foreground: OTLP/HTTP (/v1/logs, /v1/metrics), the page-view tracker (/tracker.js) and beacon (/api/event), POST /topics/:topic, /metrics. Answers 2xx once the broker acknowledged.',
  [
    { flag: '--listen HOST:PORT', description: 'HTTP address (default 127.0.0.1:4318, the OTLP/HTTP port)' },
    { flag: '--brokers LIST', description: 'Kafka bootstrap brokers, comma-separated (default 127.0.0.1:9092)' },
    { flag: '--body-limit-bytes N', description: 'largest request body accepted; larger ones get 413 (default 5242880)' },
    { flag: '--salt-file PATH', description: 'keeps the secret behind daily visitor-id salts, so ids stay stable across restarts (default: in memory)' },
    { flag: '-h, --help', description: 'show this help' },
  ],
);

export const collectorCommand: Command = {
  name: 'collector',
  summary: 'run the HTTP collector (OTLP/HTTP, page views, REST produce)',
  async run(argv) {
    let listen: { host: string; port: number };
    let brokers: string[];
    let bodyLimit: number;
    let saltFile: string | undefined;
    try {
      const flags = parseFlags(argv, options);
      if (flags.help) {
        console.log(help);
        return 0;
      }
      listen = parseHostPort('--listen', flags.listen ?? '127.0.0.1:4318');
      brokers = (flags.brokers ?? '127.0.0.1:9092').split(',').map((b) => b.trim());
      for (const b of brokers) parseHostPort('--brokers', b);
      saltFile = flags['salt-file'];
      bodyLimit = parseIntFlag('--body-limit-bytes', flags['body-limit-bytes'], 5 * 1024 * 1024, 1024);
    } catch (err) {
      if (err instanceof UsageError) {
        console.error(`tributary collector: ${err.message}\n\n${help}`);
        return 2;
      }
      throw err;
    }
    const log = createLogger('collector');
    const { app } = await buildCollector({ brokers, bodyLimitBytes: bodyLimit, saltFile });
    try {
      await app.listen({ host: listen.host, port: listen.port });
    } catch (err) {
      console.error(`tributary collector: failed to start: ${(err as Error).message}`);
      return 1;
    }
    const address = app.server.address();
    const port = address && typeof address === 'object' ? address.port : listen.port;
    log.info(`ready: listening on http://${listen.host}:${port}, writing to ${brokers.join(',')}`);
    const signal = await waitForShutdownSignal();
    log.info(`${signal} received, shutting down`);
    await app.close();
    log.info('stopped');
    return 0;
  },
};
