// The comparison's four drivers against their real servers: what is produced comes back exactly once per
// partition, and a send time stamped into a batch reaches the consumer unchanged.
import t from 'tap';
import { startBroker, removeDir } from '../../helpers/broker-process.ts';
import { startRedis } from '../../../bench/compare/servers/redis-server.ts';
import { startNats } from '../../../bench/compare/servers/nats-server.ts';
import { TributaryPrebuiltDriver } from '../../../bench/compare/drivers/tributary-prebuilt.ts';
import { TributaryPlatformaticDriver } from '../../../bench/compare/drivers/tributary-platformatic.ts';
import { RedisStreamsDriver } from '../../../bench/compare/drivers/redis-streams.ts';
import { NatsJetStreamDriver } from '../../../bench/compare/drivers/nats-jetstream.ts';
import { checkRoundTrip } from './driver-round-trip.ts';

t.test('Tributary drivers against a real broker', async (t) => {
  const broker = await startBroker();
  t.teardown(async () => {
    await broker.stop();
    removeDir(broker.dataDir);
  });
  t.test('pre-built batches', async (t) => {
    const driver = await TributaryPrebuiltDriver.connect(broker.port);
    try {
      await checkRoundTrip(t, driver, 'drivers-prebuilt');
    } finally {
      await driver.close();
    }
  });
  t.test('@platformatic/kafka', async (t) => {
    const driver = new TributaryPlatformaticDriver(broker.port);
    try {
      await checkRoundTrip(t, driver, 'drivers-platformatic');
    } finally {
      await driver.close();
    }
  });
});

t.test('Redis Streams against a real redis-server', async (t) => {
  const server = await startRedis();
  t.teardown(() => server.stop());
  t.match(server.version, /^\d+\.\d+\.\d+$/);
  const driver = await RedisStreamsDriver.connect(server.port);
  try {
    await checkRoundTrip(t, driver, 'drivers-test');
  } finally {
    await driver.close();
  }
});

t.test('NATS JetStream against a real nats-server', async (t) => {
  const server = await startNats();
  t.teardown(() => server.stop());
  t.match(server.version, /^\d+\.\d+\.\d+$/);
  const driver = await NatsJetStreamDriver.connect(server.port);
  try {
    await checkRoundTrip(t, driver, 'drivers-test');
  } finally {
    await driver.close();
  }
});
