import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { BrokerWriter, BrokerUnavailableError } from './broker-writer.ts';
import { restProducePlugin } from './plugins/rest-produce.ts';
import { metricsPlugin } from './plugins/metrics.ts';
import { otlpPlugin } from './plugins/otlp.ts';
import { pageViewsPlugin } from './plugins/pageviews.ts';
import { VisitorIds } from './visitor-id.ts';

export interface CollectorOptions {
  brokers: string[];
  /** Largest accepted request body; larger ones get 413. */
  bodyLimitBytes: number;
  logger?: boolean;
  /** File keeping the secret behind visitor-id salts (stable ids across restarts); none: in memory. */
  saltFile?: string;
}

/**
 * The collector: a fastify app whose routes are plugins (REST produce, OTLP/HTTP logs and metrics, the
 * page-view tracker and beacon, /metrics). Errors have one shape, `{statusCode, code, error, message}`; a broker that does not
 * acknowledge turns into 503 with Retry-After, so senders back off and retry.
 */
export async function buildCollector(opts: CollectorOptions): Promise<{ app: FastifyInstance; writer: BrokerWriter }> {
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: opts.bodyLimitBytes });
  const writer = new BrokerWriter(opts.brokers);
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    if (err instanceof BrokerUnavailableError) {
      reply.header('retry-after', '5');
      return reply.code(503).send({ statusCode: 503, code: 'BROKER_UNAVAILABLE', error: 'Service Unavailable', message: err.message });
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) app.log.error(err);
    return reply.code(status).send({ statusCode: status, code: err.code ?? 'INTERNAL', error: status >= 500 ? 'Internal Server Error' : 'Bad Request', message: status >= 500 ? 'internal error' : err.message });
  });
  await app.register(metricsPlugin, { registry: new Registry() });
  await app.register(restProducePlugin, { writer });
  await app.register(otlpPlugin, { writer });
  await app.register(pageViewsPlugin, { writer, visitors: new VisitorIds(opts.saltFile) });
  app.addHook('onClose', async () => writer.close());
  return { app, writer };
}
