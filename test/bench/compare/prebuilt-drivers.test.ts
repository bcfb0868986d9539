// The peers' pre-built drivers (raw RESP, raw NATS protocol) against their real servers: what they produce is
// read back exactly once per partition by the delegated client's consumer, a stamped batch carries its send
// time, and a server's error for one record rejects its batch without upsetting the batches after it.
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { DiscardPolicy, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { createClient } from 'redis';
import { startRedis } from '../../../bench/compare/servers/redis-server.ts';
import { startNats } from '../../../bench/compare/servers/nats-server.ts';
import type { StreamDriver } from '../../../bench/compare/drivers/stream-driver.ts';
import { RedisPrebuiltDriver } from '../../../bench/compare/drivers/redis-prebuilt.ts';
import { NatsPrebuiltDriver } from '../../../bench/compare/drivers/nats-prebuilt.ts';

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
 * As test/bench/compare/drivers.test.ts: 3 batches to 2 partitions (one stamped, the plain ones sent twice
 * concurrently so re-sent buffers are in flight together), read back; then a marker per partition proves
 * nothing more came. Returns [found, wanted, what] for the caller to assert.
 */
async function roundTrip(driver: StreamDriver, stream: string): Promise<[unknown, unknown, string][]> {
  await driver.createStreams(stream, 2);
  const sentAt = performance.now();
  await Promise.all([driver.produceBatch(stream, 0, 300, RECORD_BYTES), driver.produceBatch(stream, 0, 300, RECORD_BYTES)]);
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
    await waitFor(() => counts[0] >= 607 && counts[1] >= 200, 'the produced records', consumption.failed);
    const marker = performance.now() + 1;
    await driver.produceBatch(stream, 0, 1, RECORD_BYTES, marker);
    await driver.produceBatch(stream, 1, 1, RECORD_BYTES, marker);
    await waitFor(() => stamped.get(marker)?.[0] === 1 && stamped.get(marker)?.[1] === 1, 'the markers', consumption.failed);
  } finally {
    await consumption.stop();
  }
  return [
    [counts, [608, 201], 'every record exactly once per partition (markers included)'],
    [stamped.get(sentAt), [7, 0], 'the stamped batch carried its send time'],
    [stamped.size, 2, 'no record carried a send time it was not sent with'],
  ];
}

t.test('Redis Streams (pre-built commands) against a real redis-server', async (t) => {
  const server = await startRedis();
  t.teardown(() => server.stop());
  const driver = await RedisPrebuiltDriver.connect(server.port);
  try {
    t.equal(driver.client, 'raw RESP (pre-built)');
    for (const [found, wanted, what] of await roundTrip(driver, 'prebuilt-test')) t.same(found, wanted, what);

    // A key of another type answers every XADD with -WRONGTYPE: the batch is rejected, the next one is not.
    const other = createClient({ url: `redis://127.0.0.1:${server.port}` });
    other.on('error', () => {});
    await other.connect();
    try {
      await other.set('wrong:0', 'not a stream');
    } finally {
      await other.close();
    }
    await t.rejects(driver.produceBatch('wrong', 0, 3, RECORD_BYTES), /WRONGTYPE/, 'an error reply rejects its batch');
    await driver.produceBatch('prebuilt-test', 1, 5, RECORD_BYTES);
    t.pass('the batch after it is acknowledged on the same connection');
    await driver.deleteStreams('prebuilt-test', 2);
  } finally {
    await driver.close();
  }
});

t.test('NATS JetStream (pre-built publishes) against a real nats-server', async (t) => {
  const server = await startNats();
  t.teardown(() => server.stop());
  const driver = await NatsPrebuiltDriver.connect(server.port);
  try {
    t.equal(driver.client, 'raw NATS protocol (pre-built)');
    for (const [found, wanted, what] of await roundTrip(driver, 'prebuilt-test')) t.same(found, wanted, what);

    // A stream that takes one message and discards new ones answers the rest with an error PubAck.
    const nc = await connect({ servers: `127.0.0.1:${server.port}` });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: 'full-0', subjects: ['full.0'], storage: StorageType.File, max_msgs: 1, discard: DiscardPolicy.New });
    } finally {
      await nc.close();
    }
    await t.rejects(driver.produceBatch('full', 0, 3, RECORD_BYTES), /maximum messages/, 'an error ack rejects its batch');
    await driver.produceBatch('prebuilt-test', 1, 5, RECORD_BYTES);
    t.pass('the batch after it is acknowledged on the same connection');
    await driver.deleteStreams('prebuilt-test', 2);
  } finally {
    await driver.close();
  }
});
