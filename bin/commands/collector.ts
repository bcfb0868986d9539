import { buildCollector } from '../../agents/collector/server.ts';
import { createLogger } from '../../broker/server/logger.ts';
import { formatHelp, parseFlags, UsageError, type Command } from './command.ts';
import { parseHostPort, parseIntFlag } from './host-port.ts';
import { waitForShutdownSignal } from './shutdown.ts';

const options = {
  listen: { type: 'string' },
  brokers: { type: 'string' },
  'body-limit-bytes': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const help = formatHelp(
  'tributary collector --listen HOST:PORT --brokers HOST:PORT[,HOST:PORT...] [options]',
  'Runs the HTTP collector in the foreground: POST /topics/:topic (JSON records) and /metrics. Answers 2xx once the broker acknowledged.',
  [
    { flag: '--listen HOST:PORT', description: 'HTTP address (default 127.0.0.1:4318, the OTLP/HTTP port)' },
    { flag: '--brokers LIST', description: 'Kafka bootstrap brokers, comma-separated (default 127.0.0.1:9092)' },
    { flag: '--body-limit-bytes N', description: 'largest request body accepted; larger ones get 413 (default 5242880)' },
    { flag: '-h, --help', description: 'show this help' },
  ],
);

export const collectorCommand: Command = {
  name: 'collector',
  summary: 'run the HTTP collector (REST produce; OTLP and page views to come)',
  async run(argv) {
    let listen: { host: string; port: number };
    let brokers: string[];
    let bodyLimit: number;
    try {
      const flags = parseFlags(argv, options);
      if (flags.help) {
        console.log(help);
        return 0;
      }
      listen = parseHostPort('--listen', flags.listen ?? '127.0.0.1:4318');
      brokers = (flags.brokers ?? '127.0.0.1:9092').split(',').map((b) => b.trim());
      for (const b of brokers) parseHostPort('--brokers', b);
      bodyLimit = parseIntFlag('--body-limit-bytes', flags['body-limit-bytes'], 5 * 1024 * 1024, 1024);
    } catch (err) {
      if (err instanceof UsageError) {
        console.error(`tributary collector: ${err.message}\n\n${help}`);
        return 2;
      }
      throw err;
    }
    const log = createLogger('collector');
    const { app } = await buildCollector({ brokers, bodyLimitBytes: bodyLimit });
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
