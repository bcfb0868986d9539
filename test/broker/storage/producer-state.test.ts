import t from 'tap';
import { ProducerStateManager } from '../../../broker/storage/producer-state.ts';
import { tempDir, removeDir } from '../../helpers/broker-process.ts';

t.test('sequence checks: in order, duplicates, gaps, fencing, new epochs', async (t) => {
  const dir = tempDir('pstate');
  t.teardown(() => removeDir(dir));
  const s = new ProducerStateManager(dir);
  t.equal(s.check(7, 0, 0, 4), null, 'a new producer starts at 0');
  t.throws(() => s.check(8, 0, 5, 9), { code: 45 }, 'a new producer not at 0 is out of order');
  s.update(7, 0, { firstSeq: 0, lastSeq: 4, firstOffset: 100, lastOffset: 104 });
  t.equal(s.check(7, 0, 5, 9), null, 'the next batch');
  t.same(s.check(7, 0, 0, 4), { firstSeq: 0, lastSeq: 4, firstOffset: 100, lastOffset: 104 }, 'a retry is recognised with its offsets');
  t.throws(() => s.check(7, 0, 6, 9), { code: 45 }, 'a gap is refused');
  s.update(7, 0, { firstSeq: 5, lastSeq: 9, firstOffset: 105, lastOffset: 109 });
  s.update(7, 1, { firstSeq: 0, lastSeq: 0, firstOffset: 110, lastOffset: 110 });
  t.throws(() => s.check(7, 0, 10, 10), { code: 47 }, 'an older epoch is fenced');
  t.throws(() => s.check(7, 2, 3, 3), { code: 45 }, 'a new epoch must start at 0');
  for (let i = 1; i <= 6; i++) s.update(7, 1, { firstSeq: i, lastSeq: i, firstOffset: 110 + i, lastOffset: 110 + i });
  t.throws(() => s.check(7, 1, 0, 0), { code: 45 }, 'only the last five batches are remembered: an older retry is out of order');
  s.saveSnapshot(117);
  const reloaded = new ProducerStateManager(dir);
  t.equal(reloaded.loadSnapshot(0, 117), 117);
  t.same(reloaded.check(7, 1, 6, 6)?.firstOffset, 116, 'state survives a snapshot round trip');
  t.equal(new ProducerStateManager(dir).loadSnapshot(0, 50), 0, 'a snapshot beyond the log end is ignored');
});
