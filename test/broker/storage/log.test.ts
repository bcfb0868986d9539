import t from 'tap';
import { readdirSync, statSync, truncateSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { Log } from '../../../broker/storage/log.ts';
import { resolveLogConfig } from '../../../broker/storage/log-config.ts';
import { buildRecordBatch, decodeRecords } from '../../../broker/protocol/record-batch/records.ts';
import { readBatchHeader } from '../../../broker/protocol/record-batch/batch-header.ts';
import { tempDir, removeDir } from '../../helpers/broker-process.ts';

const batchOf = (from: number, n: number, ts = Date.now()) =>
  buildRecordBatch({ records: Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from(`v${from + i}`), timestamp: ts + i })) });

function valuesOf(buffers: Buffer[]): string[] {
  const out: string[] = [];
  for (const buf of buffers) {
    let pos = 0;
    while (pos < buf.length) {
      const h = readBatchHeader(buf, pos);
      for (const r of decodeRecords(buf.subarray(pos, pos + 12 + h.batchLength))) out.push(r.value!.toString());
      pos += 12 + h.batchLength;
    }
  }
  return out;
}

function openLog(dir: string, overrides: Record<string, string> = {}) {
  return Log.open(dir, resolveLogConfig(overrides));
}

t.test('appends assign dense offsets; reads return whole batches from any offset', async (t) => {
  const dir = tempDir('log');
  t.teardown(() => removeDir(dir));
  const { log } = openLog(dir);
  for (let i = 0; i < 20; i++) t.equal(log.append(batchOf(i * 10, 10), 0).baseOffset, i * 10);
  t.equal(log.logEndOffset, 200);
  const all = log.read(0, 1 << 20);
  t.same(valuesOf(all.records), Array.from({ length: 200 }, (_, i) => `v${i}`));
  const mid = log.read(55, 1 << 20);
  t.equal(valuesOf(mid.records)[0], 'v50', 'starts at the batch containing the offset');
  const small = log.read(0, 10);
  t.equal(valuesOf(small.records).length, 10, 'maxBytes below one batch still returns one whole batch');
  t.equal(log.read(200, 1000).records.length, 0, 'at the end: nothing');
  t.throws(() => log.read(201, 1000), { code: 1 }, 'past the end: OFFSET_OUT_OF_RANGE');
  log.close();
});

t.test('segments roll by size and by age; reads span segments', async (t) => {
  const dir = tempDir('roll');
  t.teardown(() => removeDir(dir));
  const { log } = openLog(dir, { 'segment.bytes': '2000' });
  for (let i = 0; i < 50; i++) log.append(batchOf(i * 5, 5), 0);
  t.ok(log.segmentCount >= 3, `${log.segmentCount} segments`);
  t.same(valuesOf(log.read(0, 1 << 20).records).length, 250);
  log.close();
  const aged = tempDir('age');
  t.teardown(() => removeDir(aged));
  const { log: log2 } = openLog(aged, { 'segment.ms': '50' });
  log2.append(batchOf(0, 1), 0);
  await new Promise((r) => setTimeout(r, 80));
  log2.append(batchOf(1, 1), 0);
  t.equal(log2.segmentCount, 2, 'rolled after segment.ms');
  t.same(readdirSync(aged).filter((f) => f.endsWith('.log')).sort(), ['00000000000000000000.log', '00000000000000000001.log']);
  log2.close();
});

t.test('offsetForTimestamp finds the first record at or after a time, inside batches too', async (t) => {
  const dir = tempDir('ts');
  t.teardown(() => removeDir(dir));
  const { log } = openLog(dir, { 'segment.bytes': '3000', 'index.interval.bytes': '100' });
  for (let i = 0; i < 40; i++) log.append(batchOf(i * 10, 10, 1_000_000 + i * 10), 0);
  t.same(log.offsetForTimestamp(1_000_000), { offset: 0, timestamp: 1_000_000 });
  t.same(log.offsetForTimestamp(1_000_123), { offset: 123, timestamp: 1_000_123 });
  t.same(log.offsetForTimestamp(999), { offset: 0, timestamp: 1_000_000 });
  t.equal(log.offsetForTimestamp(2_000_000), null);
  t.same(log.offsetOfMaxTimestamp()?.timestamp, 1_000_399);
  log.close();
});

t.test('reopen after close keeps everything; a torn or corrupt tail is cut', async (t) => {
  const dir = tempDir('reopen');
  t.teardown(() => removeDir(dir));
  let { log } = openLog(dir);
  for (let i = 0; i < 10; i++) log.append(batchOf(i * 10, 10), 0);
  log.close();
  ({ log } = openLog(dir));
  t.equal(log.logEndOffset, 100);
  log.append(batchOf(100, 10), 0);
  t.equal(log.logEndOffset, 110);
  log.close();

  const seg = join(dir, '00000000000000000000.log');
  truncateSync(seg, statSync(seg).size - 7);
  let report;
  ({ log, report } = openLog(dir));
  t.equal(log.logEndOffset, 100, 'torn last batch removed');
  t.ok(report.truncatedBytes > 0);
  log.close();

  appendFileSync(seg, Buffer.alloc(100, 0x55));
  ({ log, report } = openLog(dir));
  t.equal(log.logEndOffset, 100, 'garbage removed');
  t.equal(report.truncatedBytes, 100);
  t.same(valuesOf(log.read(0, 1 << 20).records).length, 100, 'everything before is intact');
  log.close();
});

t.test('flush.messages=1 fsyncs every append; truncateTo drops whole batches', async (t) => {
  const dir = tempDir('flush');
  t.teardown(() => removeDir(dir));
  const { log } = openLog(dir, { 'flush.messages': '1' });
  for (let i = 0; i < 5; i++) log.append(batchOf(i * 10, 10), 0);
  log.truncateTo(25);
  t.equal(log.logEndOffset, 20, 'the batch holding 25 goes whole');
  t.equal(log.append(batchOf(20, 1), 0).baseOffset, 20);
  log.close();
});

// Seen in the benchmark: a topic deleted while its background fsync ran crashed the broker, because the
// fsync's completion wrote a recovery point into the removed directory.
t.test('a background flush finishing after the log was deleted or closed writes nothing', async (t) => {
  for (const end of ['delete', 'close'] as const) {
    const dir = tempDir(`flush-${end}`);
    t.teardown(() => removeDir(dir));
    const { log } = openLog(dir, { 'flush.ms': '0' });
    log.append(batchOf(0, 10), 0);
    log.flushIfDue(Date.now());
    log[end]();
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (end === 'delete') t.throws(() => readdirSync(dir), { code: 'ENOENT' }, 'the directory stays gone');
    else t.ok(readdirSync(dir).includes('recovery-point'), 'close wrote its own checkpoint');
  }
});

t.test('bad configs are refused with INVALID_CONFIG', async (t) => {
  t.throws(() => resolveLogConfig({ 'retention.ms': 'soon' }), { code: 40 });
  t.throws(() => resolveLogConfig({ 'no.such.config': '1' }), { code: 40 });
  t.throws(() => resolveLogConfig({ 'cleanup.policy': 'shred' }), { code: 40 });
  t.same(resolveLogConfig({ 'cleanup.policy': 'compact,delete' }).cleanupPolicy, ['compact', 'delete']);
  t.equal(resolveLogConfig({}).retentionMs, 604_800_000, '7 days by default');
});
