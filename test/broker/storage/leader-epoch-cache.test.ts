import t, { type Test } from 'tap';
import { readFileSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LeaderEpochCache, LEADER_EPOCH_CHECKPOINT_FILE } from '../../../broker/storage/leader-epoch-cache.ts';
import { Log } from '../../../broker/storage/log.ts';
import { resolveLogConfig } from '../../../broker/storage/log-config.ts';
import { buildRecordBatch } from '../../../broker/protocol/record-batch/records.ts';
import { tempDir, removeDir } from '../../helpers/broker-process.ts';

function freshCache(t: Test): { cache: LeaderEpochCache; dir: string } {
  const dir = tempDir('epochs');
  t.teardown(() => removeDir(dir));
  return { cache: LeaderEpochCache.open(dir).cache, dir };
}

const entries = (...pairs: [number, number][]) => pairs.map(([epoch, startOffset]) => ({ epoch, startOffset }));

t.test('assign: new epochs are recorded; the same epoch again or an older one is ignored', async (t) => {
  const { cache } = freshCache(t);
  t.equal(cache.latestEpoch, -1, 'nothing recorded');
  t.equal(cache.assign(2, 6), true);
  t.equal(cache.assign(2, 7), false, 'a later batch of the same epoch does not move its start');
  t.equal(cache.assign(2, 5), false, 'nor does an earlier one');
  t.equal(cache.assign(3, 8), true);
  t.equal(cache.assign(1, 9), false, 'an older epoch is ignored');
  t.same(cache.list(), entries([2, 6], [3, 8]));
  t.equal(cache.latestEpoch, 3);
  t.throws(() => cache.assign(-1, 10), RangeError);
});

t.test('assign: a new epoch starting below later entries drops them (start offsets never decrease)', async (t) => {
  const { cache } = freshCache(t);
  cache.assign(2, 6);
  cache.assign(3, 8);
  cache.assign(4, 11);
  cache.assign(5, 7);
  t.same(cache.list(), entries([2, 6], [5, 7]));
  cache.assign(6, 7);
  t.same(cache.list(), entries([2, 6], [6, 7]), 'an epoch with no batches of its own is replaced by the next at the same start');
});

t.test('endOffsetFor: Kafka LeaderEpochFileCache cases', async (t) => {
  const { cache } = freshCache(t);
  t.same(cache.endOffsetFor(0, 0), { leaderEpoch: -1, endOffset: -1 }, 'no epochs recorded: UNDEFINED');
  t.same(cache.endOffsetFor(-1, 0), { leaderEpoch: -1, endOffset: -1 }, 'UNDEFINED epoch requested: UNDEFINED');
  cache.assign(2, 6);
  t.same(cache.endOffsetFor(2, 7), { leaderEpoch: 2, endOffset: 7 }, 'epochs need not start at 0; the latest ends at the LEO');
  t.same(cache.endOffsetFor(3, 7), { leaderEpoch: -1, endOffset: -1 }, 'an epoch above the latest is not tracked');
  cache.assign(3, 8);
  cache.assign(4, 11);
  const cases: [number, number, number][] = [
    // requested, leaderEpoch, endOffset   (log end offset 20)
    [4, 4, 20], // the latest epoch: the log end
    [3, 3, 11], // a previous epoch: the start of the next
    [2, 2, 8],
    [1, -1, -1], // below every known epoch
    [5, -1, -1], // above the latest
    [-1, -1, -1],
  ];
  for (const [requested, leaderEpoch, endOffset] of cases) t.same(cache.endOffsetFor(requested, 20), { leaderEpoch, endOffset }, `epoch ${requested}`);

  const { cache: sparse } = freshCache(t);
  sparse.assign(0, 10);
  sparse.assign(2, 13);
  sparse.assign(4, 17);
  t.same(sparse.endOffsetFor(0, 30), { leaderEpoch: 0, endOffset: 13 });
  t.same(sparse.endOffsetFor(1, 30), { leaderEpoch: 0, endOffset: 13 }, 'an epoch that never wrote here: the largest below it, ending where the next starts');
  t.same(sparse.endOffsetFor(2, 30), { leaderEpoch: 2, endOffset: 17 });
  t.same(sparse.endOffsetFor(3, 30), { leaderEpoch: 2, endOffset: 17 });
  t.same(sparse.endOffsetFor(4, 30), { leaderEpoch: 4, endOffset: 30 });
});

t.test('truncateFromEnd drops entries starting at or after the offset', async (t) => {
  const build = () => {
    const { cache } = freshCache(t);
    cache.assign(2, 6);
    cache.assign(3, 8);
    cache.assign(4, 11);
    return cache;
  };
  let cache = build();
  cache.truncateFromEnd(9);
  t.same(cache.list(), entries([2, 6], [3, 8]), 'between epoch boundaries');
  cache = build();
  cache.truncateFromEnd(8);
  t.same(cache.list(), entries([2, 6]), 'at an epoch start: that epoch goes');
  cache = build();
  cache.truncateFromEnd(12);
  t.same(cache.list(), entries([2, 6], [3, 8], [4, 11]), 'past the last start: nothing changes');
  cache = build();
  cache.truncateFromEnd(-1);
  t.same(cache.list(), entries([2, 6], [3, 8], [4, 11]), 'an undefined offset changes nothing');
  cache.truncateFromEnd(0);
  t.same(cache.list(), [], 'truncating to 0 clears');
});

t.test('truncateFromStart moves the covering epoch up to the new log start', async (t) => {
  const build = () => {
    const { cache } = freshCache(t);
    cache.assign(2, 6);
    cache.assign(3, 8);
    cache.assign(4, 11);
    return cache;
  };
  const cases: [number, [number, number][]][] = [
    [1, [[2, 6], [3, 8], [4, 11]]], // before the first entry: nothing
    [6, [[2, 6], [3, 8], [4, 11]]], // at the first start: nothing
    [7, [[2, 7], [3, 8], [4, 11]]],
    [8, [[3, 8], [4, 11]]],
    [9, [[3, 9], [4, 11]]],
    [11, [[4, 11]]],
    [15, [[4, 15]]], // past the last start: the latest epoch is kept, moved up
  ];
  for (const [offset, expected] of cases) {
    const cache = build();
    cache.truncateFromStart(offset);
    t.same(cache.list(), entries(...expected), `truncateFromStart(${offset})`);
  }
});

t.test('persisted on change only, reloaded, and a corrupt file is reported so the log rebuilds it', async (t) => {
  const { cache, dir } = freshCache(t);
  const path = join(dir, LEADER_EPOCH_CHECKPOINT_FILE);
  t.notOk(existsSync(path), 'nothing written before the first entry');
  cache.assign(0, 0);
  cache.assign(3, 40);
  t.equal(readFileSync(path, 'utf8'), '0\n2\n0 0\n3 40\n', "Kafka's checkpoint format");
  // Every write replaces the file (temp file + rename), so an unchanged inode means nothing was written.
  const inode = statSync(path).ino;
  cache.assign(3, 50);
  cache.assign(2, 60);
  cache.truncateFromEnd(100);
  cache.truncateFromStart(0);
  t.equal(statSync(path).ino, inode, 'no-op calls do not write');
  cache.assign(4, 70);
  t.not(statSync(path).ino, inode, 'a change does');
  cache.truncateFromEnd(70);

  const reloaded = LeaderEpochCache.open(dir);
  t.equal(reloaded.loaded, true);
  t.same(reloaded.cache.list(), entries([0, 0], [3, 40]));

  for (const junk of ['', '0\n3\n0 0\n3 40\n', '1\n1\n0 0\n', '0\n2\n3 40\n0 0\n', '0\n1\nzero 0\n', '0\n2\n0 0\n3 4']) {
    writeFileSync(path, junk);
    const opened = LeaderEpochCache.open(dir);
    t.equal(opened.loaded, false, `corrupt ${JSON.stringify(junk)} is not loaded`);
    t.same(opened.cache.list(), []);
  }
});

t.test('a log rebuilds a missing or corrupt checkpoint from its batch headers', async (t) => {
  const dir = tempDir('epoch-rebuild');
  t.teardown(() => removeDir(dir));
  const config = resolveLogConfig({ 'segment.bytes': '300' });
  const batch = (n: number) => buildRecordBatch({ records: Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from(`v${i}`) })) });
  let { log } = Log.open(dir, config);
  for (const epoch of [0, 0, 3, 3, 5, 5]) log.append(batch(3), epoch);
  const expected = entries([0, 0], [3, 6], [5, 12]);
  t.same(log.leaderEpochEntries(), expected);
  t.ok(log.segmentCount > 1, 'the rebuild walks several segments');
  log.close();
  const path = join(dir, LEADER_EPOCH_CHECKPOINT_FILE);
  for (const damage of [() => writeFileSync(path, 'garbage'), () => removeDir(path)]) {
    damage();
    ({ log } = Log.open(dir, config));
    t.same(log.leaderEpochEntries(), expected, 'rebuilt');
    t.equal(readFileSync(path, 'utf8'), '0\n3\n0 0\n3 6\n5 12\n', 'and written back');
    t.equal(log.endOffsetForEpoch(3).endOffset, 12);
    log.close();
  }
});
