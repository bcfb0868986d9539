import type { FastifyInstance } from 'fastify';
import { buildCollector } from '../../agents/collector/server.ts';
import { startBroker, removeDir, type BrokerProcess } from './broker-process.ts';

export interface CollectorUnderTest {
  broker: BrokerProcess;
  app: FastifyInstance;
  url: string;
  stop(): Promise<void>;
}

/** A real broker process plus an in-process collector writing to it, on ephemeral ports. */
export async function startCollectorWithBroker(bodyLimitBytes: number): Promise<CollectorUnderTest> {
  const broker = await startBroker();
  const { app } = await buildCollector({ brokers: [`127.0.0.1:${broker.port}`], bodyLimitBytes });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  return {
    broker,
    app,
    url,
    async stop() {
      await app.close();
      await broker.stop();
      removeDir(broker.dataDir);
    },
  };
}
