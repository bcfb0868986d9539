import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LogManager } from '../../../broker/storage/log-manager.ts';
import { buildRecordBatch } from '../../../broker/protocol/record-batch/records.ts';
import { tempDir, removeDir } from '../../helpers/broker-process.ts';

t.test('topics, partitions and configs survive a reopen', async (t) => {
  const dir = tempDir('lm');
  t.teardown(() => removeDir(dir));
  let lm = await LogManager.open(dir, 1, {});
  const created = lm.createTopic('orders', 3, { 'retention.ms': '1000' });
  lm.getLog('orders', 2)!.append(buildRecordBatch({ records: [{ key: null, value: Buffer.from('x') }] }), 0);
  lm.createPartitions('orders', 5);
  const clusterId = lm.clusterId;
  await lm.close();
  lm = await LogManager.open(dir, 1, {});
  const info = lm.topic('orders')!;
  t.equal(info.topicId, created.topicId);
  t.equal(info.partitions, 5);
  t.equal(info.config.retentionMs, 1000);
  t.equal(info.configs.find((c) => c.name === 'retention.ms')?.explicit, true);
  t.equal(lm.getLog('orders', 2)!.logEndOffset, 1);
  t.equal(lm.clusterId, clusterId, 'cluster id is stable');
  t.equal(lm.topicById(created.topicId)?.name, 'orders');
  lm.deleteTopic('orders');
  t.notOk(existsSync(join(dir, 'topics', 'orders')));
  await lm.close();
  await t.rejects(LogManager.open(dir, 2, {}), /belongs to node 1/);
});

t.test('bad names, partition counts and configs create nothing', async (t) => {
  const dir = tempDir('lm-bad');
  t.teardown(() => removeDir(dir));
  const lm = await LogManager.open(dir, 1, {});
  t.throws(() => lm.createTopic('bad/name', 1, {}), { code: 17 });
  t.throws(() => lm.createTopic('..', 1, {}), { code: 17 });
  t.throws(() => lm.createTopic('x'.repeat(250), 1, {}), { code: 17 });
  t.throws(() => lm.createTopic('ok', 0, {}), { code: 37 });
  t.throws(() => lm.createTopic('ok', 1, { 'segment.bytes': 'big' }), { code: 40 });
  t.notOk(existsSync(join(dir, 'topics', 'ok')));
  lm.createTopic('ok', 1, {});
  t.throws(() => lm.createTopic('ok', 1, {}), { code: 36 });
  t.throws(() => lm.createPartitions('ok', 1), { code: 37 });
  t.equal(lm.topics().length, 1);
  await lm.close();
});
