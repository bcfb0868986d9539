import t, { type Test } from 'tap';
import { readdirSync, readFileSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { Log } from '../../../broker/storage/log.ts';
import { resolveLogConfig } from '../../../broker/storage/log-config.ts';
import { buildRecordBatch } from '../../../broker/protocol/record-batch/records.ts';
import { BATCH_LENGTH, LOG_OVERHEAD, PARTITION_LEADER_EPOCH, RECORDS, readInt64 } from '../../../broker/protocol/record-batch/batch-header.ts';
import { ErrorCode } from '../../../broker/protocol/error-codes.ts';
import { tempDir, removeDir } from '../../helpers/broker-process.ts';

const config = resolveLogConfig({ 'segment.bytes': '600' });

function openLog(t: Test, name: string, replicated = true): { log: Log; dir: string } {
  const dir = tempDir(name);
  t.teardown(() => removeDir(dir));
  return { log: Log.open(dir, config, { replicated }).log, dir };
}

let valueSeq = 0;
const records = (n: number) => Array.from({ length: n }, () => ({ key: null, value: Buffer.from(`value-${valueSeq++}`), timestamp: 1_700_000_000_000 + valueSeq }));
const plainBatch = (n: number) => buildRecordBatch({ records: records(n) });
const idempotentBatch = (n: number, producerId: number, baseSequence: number, values = records(n)) => buildRecordBatch({ records: values, producerId, producerEpoch: 0, baseSequence });

/** Each batch in `chunk`: base offset and partition leader epoch. */
function batchesOf(chunks: Buffer[]): { base: number; epoch: number; bytes: Buffer }[] {
  const out: { base: number; epoch: number; bytes: Buffer }[] = [];
  for (const chunk of chunks) {
    for (let pos = 0; pos < chunk.length; pos += LOG_OVERHEAD + chunk.readInt32BE(pos + BATCH_LENGTH)) {
      out.push({ base: readInt64(chunk, pos), epoch: chunk.readInt32BE(pos + PARTITION_LEADER_EPOCH), bytes: chunk.subarray(pos, pos + LOG_OVERHEAD + chunk.readInt32BE(pos + BATCH_LENGTH)) });
    }
  }
  return out;
}

/** The segment files of a partition dir: name → bytes. */
function segmentFiles(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.log')).sort()) files.set(f, readFileSync(join(dir, f)));
  return files;
}

/** What a follower's fetcher does: read the leader up to its log end, append what came back, until caught up. */
function replicate(leader: Log, follower: Log, maxBytes: number): void {
  for (let round = 0; follower.logEndOffset < leader.logEndOffset; round++) {
    if (round > 10_000) throw new Error('replication makes no progress');
    const read = leader.read(follower.logEndOffset, maxBytes, true, leader.logEndOffset);
    for (const chunk of read.records) follower.appendAsFollower(chunk);
    follower.setHighWatermark(read.highWatermark);
  }
}

t.test('a follower copying the leader batch by batch ends byte-identical, with the same epochs and producer state', async (t) => {
  const { log: leader, dir: leaderDir } = openLog(t, 'leader');
  const { log: follower, dir: followerDir } = openLog(t, 'follower');
  const pid = 4242;
  let seq = 0;
  const retries: Buffer[] = [];
  for (const epoch of [0, 0, 3, 3, 5]) {
    leader.append(plainBatch(4), epoch);
    const values = records(3);
    leader.append(idempotentBatch(3, pid, seq, values), epoch);
    retries.push(idempotentBatch(3, pid, seq, values)); // the same batch, as a producer would resend it
    seq += 3;
  }
  t.ok(leader.segmentCount > 1, `${leader.segmentCount} leader segments`);
  t.same(leader.leaderEpochEntries(), [
    { epoch: 0, startOffset: 0 },
    { epoch: 3, startOffset: 14 },
    { epoch: 5, startOffset: 28 },
  ]);
  t.equal(leader.highWatermark, 0, 'appends do not move a replicated HW');

  // One batch per fetch: the follower rolls where the leader did, so even the segment files match.
  replicate(leader, follower, 1);
  t.same(segmentFiles(followerDir), segmentFiles(leaderDir), 'same segment files, byte for byte');
  t.same(follower.leaderEpochEntries(), leader.leaderEpochEntries(), 'same leader epochs');
  t.equal(follower.latestEpoch(), 5);
  for (const epoch of [0, 1, 3, 4, 5]) t.same(follower.endOffsetForEpoch(epoch), leader.endOffsetForEpoch(epoch), `endOffsetForEpoch(${epoch})`);

  // Bigger fetches, several batches per append: the same log content.
  const { log: other, dir: otherDir } = openLog(t, 'follower-bulk');
  replicate(leader, other, 1 << 20);
  t.same(Buffer.concat([...segmentFiles(otherDir).values()]), Buffer.concat([...segmentFiles(leaderDir).values()]), 'same bytes in bulk');
  t.same(other.leaderEpochEntries(), leader.leaderEpochEntries());

  // The follower becomes leader (epoch 6): producers' retries are still recognised, after a restart too.
  follower.close();
  const promoted = Log.open(followerDir, config, { replicated: true }).log;
  promoted.assignEpochStartOffset(6, promoted.logEndOffset);
  const lastRetry = promoted.append(retries[4], 6);
  t.equal(lastRetry.recordCount, 0, 'a retry of the last batch is not appended again');
  t.equal(lastRetry.baseOffset, 32, 'it gets its original offsets');
  t.equal(promoted.logEndOffset, leader.logEndOffset);
  t.equal(promoted.append(retries[3], 6).baseOffset, 25, 'an older retry is recognised too');
  t.throws(() => promoted.append(idempotentBatch(1, pid, seq + 1), 6), { code: 45 }, 'a sequence gap is refused');
  t.equal(promoted.append(idempotentBatch(1, pid, seq), 6).baseOffset, 35, 'the next sequence is appended');
  t.same(promoted.endOffsetForEpoch(5), { leaderEpoch: 5, endOffset: 35 }, 'epoch 5 ends where the new leader began');
  promoted.close();
  leader.close();
  other.close();
});

t.test('divergence: a follower truncates where the leader says its epoch ended, then both logs are equal', async (t) => {
  for (const scenario of ['extra tail in the same old epoch', 'tail in an epoch the leader never had'] as const) {
    await t.test(scenario, async (t) => {
      const { log: leader, dir: leaderDir } = openLog(t, 'div-leader');
      const { log: follower, dir: followerDir } = openLog(t, 'div-follower');
      for (let i = 0; i < 3; i++) leader.append(plainBatch(5), 0);
      replicate(leader, follower, 1 << 20);
      // The follower was leader once and appended a tail nobody copied; then the other replica won an election.
      const staleEpoch = scenario === 'extra tail in the same old epoch' ? 0 : 1;
      follower.append(plainBatch(7), staleEpoch);
      follower.append(plainBatch(2), staleEpoch);
      leader.assignEpochStartOffset(2, leader.logEndOffset);
      for (let i = 0; i < 3; i++) leader.append(plainBatch(3), 2);
      t.not(follower.logEndOffset, 15);

      // Kafka's follower truncation (OffsetsForLeaderEpoch): ask about its latest epoch; when the leader answers
      // with an older epoch, the follower's own end of that epoch bounds the truncation too.
      const answer = leader.endOffsetForEpoch(follower.latestEpoch());
      t.same(answer, { leaderEpoch: 0, endOffset: 15 }, 'the leader: epoch 0 ended at 15');
      const ownEnd = answer.leaderEpoch === follower.latestEpoch() ? follower.logEndOffset : follower.endOffsetForEpoch(answer.leaderEpoch).endOffset;
      follower.truncateTo(Math.min(answer.endOffset, ownEnd, follower.logEndOffset));
      t.equal(follower.logEndOffset, 15);
      t.same(follower.leaderEpochEntries(), [{ epoch: 0, startOffset: 0 }], 'the stale epoch is gone from the cache');
      replicate(leader, follower, 1 << 20);
      t.same(Buffer.concat([...segmentFiles(followerDir).values()]), Buffer.concat([...segmentFiles(leaderDir).values()]), 'both logs hold the same bytes');
      t.same(follower.leaderEpochEntries(), leader.leaderEpochEntries());
      follower.close();
      leader.close();
    });
  }
});

t.test('reads never return a batch at or past maxOffset (the HW by default), even inside one segment', async (t) => {
  const { log } = openLog(t, 'hw-bound');
  const bases: number[] = [];
  for (let i = 0; i < 12; i++) bases.push(log.append(plainBatch(3), 0).baseOffset);
  t.ok(log.segmentCount > 1);
  const baseOfs = (chunks: Buffer[]) => batchesOf(chunks).map((b) => b.base);
  for (const hw of [0, 3, 6, 9, 18, 27, 36]) {
    log.setHighWatermark(hw);
    t.equal(log.highWatermark, hw);
    for (const from of bases.filter((b) => b <= hw)) {
      const got = baseOfs(log.read(from, 1 << 20).records);
      t.same(got, bases.filter((b) => b >= from && b < hw), `HW ${hw}, fetch from ${from}`);
    }
    t.same(log.read(hw, 1 << 20).records, [], `fetching at the HW (${hw}) returns nothing, no error`);
    t.same(baseOfs(log.read(0, 1 << 20, true, log.logEndOffset).records), bases, 'a follower reads to the log end');
  }
  t.same(log.read(log.logEndOffset, 100, true, log.logEndOffset).records, []);
  t.throws(() => log.read(log.logEndOffset + 1, 100), { code: ErrorCode.OFFSET_OUT_OF_RANGE });
  log.setHighWatermark(1000);
  t.equal(log.highWatermark, log.logEndOffset, 'clamped to the log end');
  log.setHighWatermark(-5);
  t.equal(log.highWatermark, 0, 'clamped to the log start');

  // Whatever maxBytes is, the batches returned are contiguous: a read never skips what did not fit.
  const batchBytes = batchesOf(log.read(0, 1 << 20, true, log.logEndOffset).records)[0].bytes.length;
  for (const maxBytes of [0, 1, batchBytes - 1, batchBytes, batchBytes + 1, 2 * batchBytes + 7, 5 * batchBytes, 1 << 20]) {
    for (const minOne of [true, false]) {
      const got = baseOfs(log.read(3, maxBytes, minOne, log.logEndOffset).records);
      t.same(got, bases.slice(1, 1 + got.length), `maxBytes ${maxBytes}, minOneBatch ${minOne}: contiguous from 3`);
      if (minOne) t.ok(got.length >= 1);
    }
  }
  log.close();
});

t.test('a single-node log still commits on append', async (t) => {
  const { log } = openLog(t, 'single', false);
  log.append(plainBatch(3), 0);
  t.equal(log.highWatermark, 3);
  log.appendAsFollower(buildRecordBatch({ records: records(2), baseOffset: 3, partitionLeaderEpoch: 1 }));
  t.equal(log.highWatermark, 5);
  t.equal(batchesOf(log.read(0, 1 << 20).records).length, 2);
  log.close();
});

t.test('a replicated log keeps its HW across a restart and a crash never restores a higher one', async (t) => {
  const { log, dir } = openLog(t, 'hw-restart');
  for (let i = 0; i < 6; i++) log.append(plainBatch(5), 0);
  log.setHighWatermark(20);
  log.append(plainBatch(5), 0);
  t.equal(log.highWatermark, 20, 'an append does not move it');
  log.close();
  t.equal(readFileSync(join(dir, 'high-watermark'), 'utf8'), '20');

  let reopened = Log.open(dir, config, { replicated: true }).log;
  t.equal(reopened.highWatermark, 20, 'restored on open');
  t.equal(reopened.logEndOffset, 35);
  reopened.setHighWatermark(30);
  reopened.append(plainBatch(5), 0);
  // A crash: no close, so nothing since the last checkpoint reached the disk's small files.
  const crashed = reopened;
  reopened = Log.open(dir, config, { replicated: true }).log;
  t.ok(reopened.highWatermark <= 30, `after a crash the HW (${reopened.highWatermark}) is at most the last one set`);
  t.equal(reopened.logEndOffset, 40, 'the appended batch survived (it was written before the crash)');
  reopened.setHighWatermark(40);
  reopened.close();
  crashed.close(); // release its files; it writes its own (lower) HW, which the next open must respect
  t.ok(Log.open(dir, config, { replicated: true }).log.highWatermark <= 40);

  // The HW moves with no append of ours (a follower learning the leader's): the flush timer checkpoints it.
  const { log: idle, dir: idleDir } = openLog(t, 'hw-idle');
  idle.append(plainBatch(5), 0);
  idle.flush();
  idle.setHighWatermark(5);
  idle.flushIfDue(Date.now() + 120_000);
  t.equal(readFileSync(join(idleDir, 'high-watermark'), 'utf8'), '5', 'checkpointed by the timer');
  idle.close();

  // A torn tail cut on open: the checkpointed HW is clamped to what is left.
  const { log: torn, dir: tornDir } = openLog(t, 'hw-torn');
  for (let i = 0; i < 4; i++) torn.append(plainBatch(5), 0);
  torn.setHighWatermark(20);
  torn.close();
  const segment = join(tornDir, [...segmentFiles(tornDir).keys()].pop()!);
  truncateSync(segment, statSync(segment).size - 3);
  const recovered = Log.open(tornDir, config, { replicated: true }).log;
  t.equal(recovered.logEndOffset, 15);
  t.equal(recovered.highWatermark, 15, 'clamped to the recovered log end');
  t.same(batchesOf(recovered.read(0, 1 << 20).records).length, 3);
  recovered.close();
});

t.test('appendAsFollower refuses what does not continue the log and leaves it unchanged', async (t) => {
  const { log: leader } = openLog(t, 'refuse-leader');
  for (let i = 0; i < 4; i++) leader.append(plainBatch(3), 1);
  const batches = batchesOf(leader.read(0, 1 << 20, true, leader.logEndOffset).records).map((b) => Buffer.from(b.bytes));
  const { log: follower, dir } = openLog(t, 'refuse-follower');
  follower.appendAsFollower(batches[0]);
  const snapshot = () => ({ leo: follower.logEndOffset, size: follower.sizeInBytes, epochs: follower.leaderEpochEntries(), bytes: Buffer.concat([...segmentFiles(dir).values()]) });
  const before = snapshot();

  t.throws(() => follower.appendAsFollower(batches[0]), { code: ErrorCode.OFFSET_OUT_OF_RANGE }, 'a batch already in the log');
  t.throws(() => follower.appendAsFollower(Buffer.concat([batches[1], batches[1]])), { code: ErrorCode.INVALID_RECORD }, 'batches that go backwards');
  const corrupt = Buffer.from(batches[1]);
  corrupt[RECORDS + 2] ^= 0xff;
  t.throws(() => follower.appendAsFollower(corrupt), { code: ErrorCode.CORRUPT_MESSAGE }, 'a CRC mismatch');
  t.throws(() => follower.appendAsFollower(Buffer.concat([batches[1], batches[2].subarray(0, 40)])), { code: ErrorCode.CORRUPT_MESSAGE }, 'a truncated trailing batch');
  t.same(snapshot(), before, 'nothing was written');

  const result = follower.appendAsFollower(Buffer.concat([batches[1], batches[2], batches[3]]));
  t.same(result, { baseOffset: 3, lastOffset: 11, logAppendTimeMs: -1, recordCount: 9 });
  t.equal(follower.logEndOffset, 12);
  t.equal(follower.highWatermark, 0, 'a follower waits for the leader to move its HW');
  follower.close();
  leader.close();
});

t.test('appendAsFollower keeps the gaps compaction left in the leader\'s log, as Kafka does', async (t) => {
  const { log: leader } = openLog(t, 'gap-leader');
  for (let i = 0; i < 4; i++) leader.append(plainBatch(3), 1);
  const batches = batchesOf(leader.read(0, 1 << 20, true, leader.logEndOffset).records).map((b) => Buffer.from(b.bytes));
  const { log: follower } = openLog(t, 'gap-follower');
  follower.appendAsFollower(batches[0]);
  follower.appendAsFollower(Buffer.concat([batches[2], batches[3]]));
  t.equal(follower.logEndOffset, 12, 'the log end follows the last batch');
  const read = batchesOf(follower.read(0, 1 << 20, true, follower.logEndOffset).records).map((b) => b.base);
  t.same(read, [0, 6, 9], 'offsets 3-5 are a gap, as on a compacted leader');
  follower.close();
  leader.close();
});

t.test('truncateFullyAndStartAt empties the log and restarts it at an offset', async (t) => {
  const { log, dir } = openLog(t, 'full-truncate');
  for (let i = 0; i < 8; i++) log.append(idempotentBatch(2, 99, i * 2), i < 4 ? 0 : 2);
  log.setHighWatermark(10);
  t.ok(log.segmentCount > 1);
  log.truncateFullyAndStartAt(1000);
  const check = (l: Log, what: string) => {
    t.equal(l.logStartOffset, 1000, `${what}: log start`);
    t.equal(l.logEndOffset, 1000, `${what}: log end`);
    t.equal(l.highWatermark, 1000, `${what}: HW`);
    t.same(l.leaderEpochEntries(), [], `${what}: no epochs`);
    t.equal(l.latestEpoch(), -1);
    t.same([...segmentFiles(dir).keys()], ['00000000000000001000.log'], `${what}: one empty segment`);
    t.same(l.read(1000, 1 << 20).records, []);
    t.throws(() => l.read(0, 1 << 20), { code: ErrorCode.OFFSET_OUT_OF_RANGE });
  };
  check(log, 'at once');
  log.close();
  const reopened = Log.open(dir, config, { replicated: true }).log;
  check(reopened, 'after a restart');
  t.throws(() => reopened.append(idempotentBatch(1, 99, 16), 3), { code: 45 }, 'the producer state was cleared too');
  reopened.appendAsFollower(buildRecordBatch({ records: records(4), baseOffset: 1000, partitionLeaderEpoch: 7 }));
  t.equal(reopened.logEndOffset, 1004);
  t.same(reopened.leaderEpochEntries(), [{ epoch: 7, startOffset: 1000 }]);
  reopened.close();
});

t.test('retention never deletes a replicated log past its HW; DeleteRecords moves the first epoch up', async (t) => {
  const dir = tempDir('retention-hw');
  t.teardown(() => removeDir(dir));
  const small = resolveLogConfig({ 'segment.bytes': '300', 'retention.bytes': '0' });
  const log = Log.open(dir, small, { replicated: true }).log;
  for (let i = 0; i < 10; i++) log.append(plainBatch(3), i < 5 ? 1 : 4);
  t.ok(log.segmentCount > 3);
  t.equal(log.applyRetention(Date.now()), 0, 'nothing committed: nothing deleted');
  log.setHighWatermark(log.logEndOffset);
  t.ok(log.applyRetention(Date.now()) > 0);
  t.equal(log.segmentCount, 1);
  t.equal(log.leaderEpochEntries()[0].startOffset, log.logStartOffset, 'the first epoch starts at the new log start');
  log.close();
});
