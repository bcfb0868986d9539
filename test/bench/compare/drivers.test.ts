// The comparison's four drivers against their real servers: what is produced comes back exactly once per
// partition, and a send time stamped into a batch reaches the consumer unchanged.
import t from 'tap';
import { startBroker, removeDir } from '../../helpers/broker-process.ts';
import { startRedis } from '../../../bench/compare/servers/redis-server.ts';
import { startNats } from '../../../bench/compare/servers/nats-server.ts';
import type { StreamDriver } from '../../../bench/compare/drivers/stream-driver.ts';
import { TributaryPrebuiltDriver } from '../../../bench/compare/drivers/tributary-prebuilt.ts';
import { TributaryPlatformaticDriver } from '../../../bench/compare/drivers/tributary-platformatic.ts';
import { RedisStreamsDriver } from '../../../bench/compare/drivers/redis-streams.ts';
import { NatsJetStreamDriver } from '../../../bench/compare/drivers/nats-jetstream.ts';

const WAIT_MS = 20_000;

const RECORD_BYTES = 100;

async function waitFor(condition: () => boolean, what: string, failed: Promise<Error>): Promise<void> {
  let failure: Error | null = null;
  void failed.then((err) => (failure = err));
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (failure) throw failure;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * 3 batches to 2 partitions (one stamped), read back; then a marker per partition proves nothing more came.
 * Streams are not deleted: the servers and their directories go at the end. Returns [found, wanted, what]
 * for the caller to assert.
 */
async function roundTrip(driver: StreamDriver, stream: string): Promise<[unknown, unknown, string][]> {
  await driver.createStreams(stream, 2);
  const sentAt = performance.now();
  await driver.produceBatch(stream, 0, 300, RECORD_BYTES);
  await driver.produceBatch(stream, 1, 200, RECORD_BYTES);
  await driver.produceBatch(stream, 0, 7, RECORD_BYTES, sentAt);

  const counts = [0, 0];
  const stamped = new Map<number, number[]>();
  const consumption = await driver.consume(stream, 2, (partition, count, sentAtMs) => {
    counts[partition] += count;
    if (sentAtMs !== undefined) {
      if (!stamped.has(sentAtMs)) stamped.set(sentAtMs, [0, 0]);
      stamped.get(sentAtMs)![partition] += count;
    }
  });
  try {
    await waitFor(() => counts[0] >= 307 && counts[1] >= 200, 'the produced records', consumption.failed);
    const marker = performance.now() + 1;
    await driver.produceBatch(stream, 0, 1, RECORD_BYTES, marker);
    await driver.produceBatch(stream, 1, 1, RECORD_BYTES, marker);
    await waitFor(() => stamped.get(marker)?.[0] === 1 && stamped.get(marker)?.[1] === 1, 'the markers', consumption.failed);
  } finally {
    await consumption.stop();
  }
  return [
    [counts, [308, 201], 'every record exactly once per partition (markers included)'],
    [stamped.get(sentAt), [7, 0], 'the stamped batch carried its send time'],
    [stamped.size, 2, 'no record carried a send time it was not sent with'],
  ];
}

t.test('Tributary drivers against a real broker', async (t) => {
  const broker = await startBroker();
  t.teardown(async () => {
    await broker.stop();
    removeDir(broker.dataDir);
  });
  t.test('pre-built batches', async (t) => {
    const driver = await TributaryPrebuiltDriver.connect(broker.port);
    try {
      for (const [found, wanted, what] of await roundTrip(driver, 'drivers-prebuilt')) t.same(found, wanted, what);
    } finally {
      await driver.close();
    }
  });
  t.test('@platformatic/kafka', async (t) => {
    const driver = new TributaryPlatformaticDriver(broker.port);
    try {
      for (const [found, wanted, what] of await roundTrip(driver, 'drivers-platformatic')) t.same(found, wanted, what);
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
    for (const [found, wanted, what] of await roundTrip(driver, 'drivers-test')) t.same(found, wanted, what);
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
    for (const [found, wanted, what] of await roundTrip(driver, 'drivers-test')) t.same(found, wanted, what);
  } finally {
    await driver.close();
  }
});
