import t from 'tap';
import { LogManager } from '../../../broker/storage/log-manager.ts';
import { GroupCoordinator, DEFAULT_COORDINATOR_CONFIG } from '../../../broker/coordinator/group-coordinator.ts';
import { createLogger } from '../../../broker/server/logger.ts';
import { tempDir, removeDir } from '../../helpers/broker-process.ts';

const quiet = createLogger('test', true);
const config = { ...DEFAULT_COORDINATOR_CONFIG, offsetsTopicPartitions: 3, offsetsRetentionMs: 1000 };

t.test('offsets and groups are rebuilt from __consumer_offsets; empty groups\' offsets expire', async (t) => {
  const dir = tempDir('coord');
  t.teardown(() => removeDir(dir));
  let logs = await LogManager.open(dir, 1, {}, quiet);
  logs.createTopic('orders', 2, {});
  let coordinator = new GroupCoordinator(logs, config, quiet);
  coordinator.start();
  t.equal(logs.topic('__consumer_offsets')?.config.cleanupPolicy.join(), 'compact', 'the offsets topic is compacted');
  coordinator.commitOffsets('g1', [{ topic: 'orders', partition: 0, offset: 42, leaderEpoch: 0, metadata: 'm' }]);
  coordinator.commitOffsets('g1', [{ topic: 'orders', partition: 0, offset: 50, leaderEpoch: 0, metadata: '' }, { topic: 'orders', partition: 1, offset: 7, leaderEpoch: 0, metadata: '' }]);
  coordinator.commitOffsets('g2', [{ topic: 'orders', partition: 1, offset: 3, leaderEpoch: 0, metadata: '' }]);
  t.equal(coordinator.deleteGroup('g2'), 0);
  coordinator.close();
  await logs.close();

  logs = await LogManager.open(dir, 1, {}, quiet);
  coordinator = new GroupCoordinator(logs, config, quiet);
  coordinator.start();
  t.equal(coordinator.committed('g1', 'orders', 0)?.offset, 50, 'the latest commit wins after a restart');
  t.equal(coordinator.committed('g1', 'orders', 1)?.offset, 7);
  t.equal(coordinator.committed('g2', 'orders', 1), undefined, 'a deleted group stays deleted');
  t.same(coordinator.groupIds(), ['g1']);

  t.equal(coordinator.expireOffsets(Date.now()), 0, 'nothing expires before offsets.retention');
  t.equal(coordinator.expireOffsets(Date.now() + 2000), 2, 'an empty group\'s offsets expire after it');
  t.equal(coordinator.committed('g1', 'orders', 0), undefined);
  coordinator.close();
  await logs.close();

  logs = await LogManager.open(dir, 1, {}, quiet);
  coordinator = new GroupCoordinator(logs, config, quiet);
  coordinator.start();
  t.equal(coordinator.committed('g1', 'orders', 0), undefined, 'expiry is durable (tombstones)');
  coordinator.close();
  await logs.close();
});

t.test('a group maps to the __consumer_offsets partition Kafka would use', async (t) => {
  const dir = tempDir('coord-part');
  t.teardown(() => removeDir(dir));
  const logs = await LogManager.open(dir, 1, {}, quiet);
  const coordinator = new GroupCoordinator(logs, DEFAULT_COORDINATOR_CONFIG, quiet);
  coordinator.start();
  // Java: "a".hashCode() = 97, "ab".hashCode() = 97 * 31 + 98 = 3105; 50 partitions.
  t.equal(coordinator.partitionFor('a'), 47);
  t.equal(coordinator.partitionFor('ab'), 5);
  coordinator.close();
  await logs.close();
});
