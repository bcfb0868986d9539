import t from 'tap';
import { crc32c } from '@node-rs/crc32';
import { buildRecordBatch, decodeRecords } from '../../../../broker/protocol/record-batch/records.ts';
import { validateBatches } from '../../../../broker/protocol/record-batch/validate.ts';
import { assignOffsets } from '../../../../broker/protocol/record-batch/assign-offsets.ts';
import { Codec, compress, decompress } from '../../../../broker/protocol/record-batch/compression.ts';
import { readBatchHeader, CRC, ATTRIBUTES } from '../../../../broker/protocol/record-batch/batch-header.ts';
import { compressSync as rawSnappy } from 'snappy';
import { createRequire } from 'node:module';

const records = Array.from({ length: 50 }, (_, i) => ({
  key: i % 7 === 0 ? null : Buffer.from(`key-${i}`),
  value: i % 11 === 0 ? null : Buffer.from(`value-${i}-`.repeat(i % 5 + 1)),
  headers: i % 3 === 0 ? [{ key: 'h', value: Buffer.from(String(i)) }, { key: 'n', value: null }] : [],
  timestamp: 1_700_000_000_000 + i * 10,
}));

t.test('every codec: build, validate, decode back', async (t) => {
  for (const [name, codec] of Object.entries(Codec)) {
    const batch = buildRecordBatch({ records, compression: codec });
    const summary = validateBatches(batch, 1 << 20);
    t.equal(summary.recordCount, 50, `${name}: count`);
    t.equal(summary.maxTimestamp, 1_700_000_000_490, `${name}: max timestamp`);
    const decoded = decodeRecords(batch);
    t.same(decoded.map((r) => [r.offset, r.timestamp, r.key?.toString() ?? null, r.value?.toString() ?? null]),
      records.map((r, i) => [i, r.timestamp, r.key?.toString() ?? null, r.value?.toString() ?? null]), `${name}: records`);
    t.same(decoded[3].headers.map((h) => [h.key, h.value?.toString() ?? null]), [['h', '3'], ['n', null]], `${name}: headers`);
  }
});

t.test('snappy: the xerial framing and raw snappy (librdkafka) both decompress', async (t) => {
  const data = Buffer.from('hello snappy '.repeat(10_000));
  t.same(decompress(Codec.snappy, compress(Codec.snappy, data)), data, 'xerial');
  t.same(decompress(Codec.snappy, rawSnappy(data) as Buffer), data, 'raw');
});

t.test('offsets are stamped in place and the CRC stays valid', async (t) => {
  const a = buildRecordBatch({ records: records.slice(0, 10) });
  const b = buildRecordBatch({ records: records.slice(10, 15), compression: Codec.zstd });
  const both = Buffer.concat([a, b]);
  const before = Buffer.from(both);
  const summary = validateBatches(both, 1 << 20);
  t.equal(summary.batchCount, 2);
  t.equal(assignOffsets(both, summary, 1000, 7), 1014);
  t.equal(readBatchHeader(both, 0).baseOffset, 1000);
  t.equal(readBatchHeader(both, a.length).baseOffset, 1010);
  t.equal(readBatchHeader(both, a.length).partitionLeaderEpoch, 7);
  t.same(both.subarray(ATTRIBUTES, a.length), before.subarray(ATTRIBUTES, a.length), 'records untouched');
  t.doesNotThrow(() => validateBatches(both, 1 << 20), 'still valid');
  t.equal(crc32c(both.subarray(ATTRIBUTES, a.length)) >>> 0, both.readUInt32BE(CRC));
});

t.test('a flipped bit anywhere under the CRC is caught', async (t) => {
  const batch = buildRecordBatch({ records });
  for (let i = 0; i < 200; i++) {
    const bad = Buffer.from(batch);
    const at = ATTRIBUTES + Math.floor(Math.random() * (bad.length - ATTRIBUTES));
    bad[at] ^= 1 << (i % 8);
    t.throws(() => validateBatches(bad, 1 << 20), { name: 'CorruptRecordError' }, `bit flip at ${at}`);
  }
});

t.test('kafkajs-built batches validate and decode', async (t) => {
  // kafkajs's own encoder (what its producer sends), gzip-compressed.
  const require = createRequire(import.meta.url);
  const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js');
  const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js');
  const Compression = require('kafkajs/src/protocol/message/compression/index.js');
  const encoder = await RecordBatch({
    compression: Compression.Types.GZIP,
    firstTimestamp: 1_700_000_000_000,
    maxTimestamp: 1_700_000_000_001,
    lastOffsetDelta: 1,
    records: [Record({ key: 'a', value: 'x', headers: { h: 'v' } }), Record({ key: null, value: 'y', offsetDelta: 1, timestampDelta: 1 })],
  });
  const batch = encoder.buffer as Buffer;
  t.equal(validateBatches(batch, 1 << 20).recordCount, 2);
  const decoded = decodeRecords(batch);
  t.same(decoded.map((r) => r.value?.toString()), ['x', 'y']);
  t.equal(decoded[0].headers[0].key, 'h');
});
