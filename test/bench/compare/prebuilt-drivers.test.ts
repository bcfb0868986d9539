// The peers' pre-built drivers (raw RESP, raw NATS protocol) against their real servers: what they produce is
// read back exactly once per partition by the delegated client's consumer, a stamped batch carries its send
// time, and a server's error for one record rejects its batch without upsetting the batches after it.
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { DiscardPolicy, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { createClient } from 'redis';
import { startRedis } from '../../../bench/compare/servers/redis-server.ts';
import { startNats } from '../../../bench/compare/servers/nats-server.ts';
import { RedisPrebuiltDriver } from '../../../bench/compare/drivers/redis-prebuilt.ts';
import { NatsPrebuiltDriver } from '../../../bench/compare/drivers/nats-prebuilt.ts';
import { checkRoundTrip, RECORD_BYTES } from './driver-round-trip.ts';

t.test('Redis Streams (pre-built commands) against a real redis-server', async (t) => {
  const server = await startRedis();
  t.teardown(() => server.stop());
  const driver = await RedisPrebuiltDriver.connect(server.port);
  try {
    t.equal(driver.client, 'raw RESP (pre-built)');
    await checkRoundTrip(t, driver, 'prebuilt-test', 2);

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
    await checkRoundTrip(t, driver, 'prebuilt-test', 2);

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
