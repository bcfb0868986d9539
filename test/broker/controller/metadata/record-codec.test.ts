import t from 'tap';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MetadataDecodeError, decodeRecord, decodeRecordBatch, encodeRecord, encodeRecordBatch } from '../../../../broker/controller/metadata/record-codec.ts';
import { MetadataRecordError, type MetadataRecord, type TopicRecord } from '../../../../broker/controller/metadata/records.ts';
import { recordArb } from './record-arbitraries.ts';

const TOPIC_ID = '6f1c2a3b-4d5e-4f60-8172-839495a6b7c8';
const partition: MetadataRecord = { type: 'Partition', topicId: TOPIC_ID, partitionId: 2, replicas: [1, 2, 3], isr: [1, 3], leader: 3, leaderEpoch: 4, partitionEpoch: 9 };
const topic: TopicRecord = { type: 'Topic', name: 'logs.raw', topicId: TOPIC_ID, configs: new Map([['retention.ms', '1000'], ['cleanup.policy', 'compact']]) };

function decodeError(bytes: Uint8Array): string {
  try {
    decodeRecord(bytes);
  } catch (err) {
    if (err instanceof MetadataDecodeError) return err.message;
    throw err;
  }
  throw new Error('decoded without error');
}

t.test('decode(encode(r)) equals r for every well-formed record', async (t) => {
  fc.assert(
    fc.property(recordArb, (r) => {
      assert.deepStrictEqual(decodeRecord(encodeRecord(r)), r);
    }),
    { numRuns: 2000 },
  );
  t.pass('2000 generated records round-trip');
});

t.test('a batch round-trips as a whole', async (t) => {
  fc.assert(
    fc.property(fc.array(recordArb, { maxLength: 8 }), (records) => {
      assert.deepStrictEqual(decodeRecordBatch(encodeRecordBatch(records)), records);
    }),
    { numRuns: 300 },
  );
  t.pass();
});

t.test('the wire form is pinned: a FenceBroker record is type, version, zigzag id, zigzag epoch', async (t) => {
  t.same([...encodeRecord({ type: 'FenceBroker', brokerId: 3, brokerEpoch: 5 })], [2, 0, 6, 10]);
  t.same(decodeRecord(Uint8Array.from([2, 0, 6, 10])), { type: 'FenceBroker', brokerId: 3, brokerEpoch: 5 }, 'a plain Uint8Array decodes too');
});

t.test('config maps encode in name order, so equal records have equal bytes', async (t) => {
  const reversed: MetadataRecord = { ...topic, configs: new Map([...topic.configs].reverse()) };
  t.same(encodeRecord(reversed), encodeRecord(topic));
});

t.test('every truncation of a record is refused with MetadataDecodeError', async (t) => {
  fc.assert(
    fc.property(recordArb, fc.nat(), (r, cut) => {
      const bytes = encodeRecord(r);
      const at = cut % bytes.length;
      assert.throws(() => decodeRecord(bytes.subarray(0, at)), MetadataDecodeError);
    }),
    { numRuns: 1000 },
  );
  t.pass();
});

t.test('corrupted bytes either fail with MetadataDecodeError or decode to a record whose encoding they are', async (t) => {
  let refused = 0;
  let accepted = 0;
  fc.assert(
    fc.property(recordArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 }), (r, flips) => {
      const bytes = Buffer.from(encodeRecord(r));
      for (const [at, mask] of flips) bytes[at % bytes.length] ^= mask;
      try {
        const decoded = decodeRecord(bytes);
        assert.deepStrictEqual(encodeRecord(decoded), bytes);
        accepted++;
      } catch (err) {
        assert.ok(err instanceof MetadataDecodeError, `unexpected ${String(err)}`);
        refused++;
      }
    }),
    { numRuns: 2000 },
  );
  t.ok(refused > 0, `some corruptions refused (${refused})`);
  t.comment(`${accepted} corruptions still formed a valid record (e.g. a flipped port or epoch): framing cannot detect those`);
});

t.test('random bytes never escape as anything but MetadataDecodeError', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        decodeRecord(bytes);
      } catch (err) {
        assert.ok(err instanceof MetadataDecodeError, `unexpected ${String(err)}`);
      }
      try {
        decodeRecordBatch(bytes);
      } catch (err) {
        assert.ok(err instanceof MetadataDecodeError, `unexpected ${String(err)}`);
      }
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

t.test('malformed records are refused with a clear reason', async (t) => {
  const good = encodeRecord(partition);
  t.match(decodeError(Buffer.from([0x7f, 0])), /unknown metadata record type 127/);
  t.match(decodeError(Buffer.from([good[0], 1, ...good.subarray(2)])), /Partition record version 1 is not supported/);
  t.match(decodeError(Buffer.concat([good, Buffer.from([0])])), /1 trailing byte/);
  t.match(decodeError(Buffer.alloc(0)), /int8: needs 1 bytes/);

  // Replicas [1, 1, 3]: decodable framing, but a broker listed twice.
  const dup = Buffer.from(good);
  const replicasAt = 2 + 16 + 1 + 1; // header, topic id, partition id, array length
  t.equal(dup[replicasAt], 2, 'replica 1 is at the expected offset');
  dup[replicasAt + 1] = 2;
  t.match(decodeError(dup), /replicas lists a broker twice: \[1, 1, 3\]/);

  const zeroId = Buffer.from(encodeRecord({ type: 'RemoveTopic', topicId: TOPIC_ID }));
  zeroId.fill(0, 2);
  t.match(decodeError(zeroId), /topicId must be a non-zero lower-case uuid/);

  // Invalid UTF-8 in the topic name decodes to U+FFFD, which would silently rename the topic.
  const name = Buffer.from(encodeRecord(topic));
  name[3] = 0xff;
  t.match(decodeError(name), /not in canonical form/);

  // An over-long varint (partition id 2 as two bytes) is refused: one record, one encoding.
  const long = Buffer.concat([good.subarray(0, 18), Buffer.from([0x84, 0x00]), good.subarray(19)]);
  t.match(decodeError(long), /not in canonical form/);

  const config = Buffer.from(encodeRecord({ type: 'Config', resourceType: 'topic', resourceName: 'a', name: 'b', value: null }));
  config[2] = 3;
  t.match(decodeError(config), /unknown resource type 3/);
});

t.test('a batch with one bad record yields no records at all', async (t) => {
  const batch = Buffer.from(encodeRecordBatch([topic, partition, { type: 'RemoveTopic', topicId: TOPIC_ID }]));
  const secondType = batch.indexOf(encodeRecord(partition));
  batch[secondType] = 0x7e;
  t.throws(() => decodeRecordBatch(batch), { name: 'MetadataDecodeError', message: /record 1: unknown metadata record type 126/ });
  t.throws(() => decodeRecordBatch(Buffer.from([200, 1])), { message: /200 records cannot fit/ });
  t.throws(() => decodeRecordBatch(Buffer.concat([encodeRecordBatch([partition]), Buffer.from([9])])), { message: /1 trailing byte/ });
});

t.test('encoding refuses records with fields out of range (a caller bug) before writing anything', async (t) => {
  const bad: [string, unknown, RegExp][] = [
    ['negative broker id', { type: 'FenceBroker', brokerId: -1, brokerEpoch: 1 }, /brokerId must be an integer/],
    ['fractional epoch', { type: 'UnfenceBroker', brokerId: 1, brokerEpoch: 1.5 }, /brokerEpoch must be an integer/],
    ['leader below -1', { ...partition, leader: -2 }, /leader must be an integer in \[-1/],
    ['port too large', { type: 'RegisterBroker', brokerId: 1, incarnationId: TOPIC_ID, brokerEpoch: 1, endpoints: [{ name: 'P', host: 'h', port: 70000, securityProtocol: 0 }], rack: null, fenced: true }, /port/],
    ['no endpoints', { type: 'RegisterBroker', brokerId: 1, incarnationId: TOPIC_ID, brokerEpoch: 1, endpoints: [], rack: null, fenced: true }, /at least one endpoint/],
    ['upper-case uuid', { type: 'RemoveTopic', topicId: TOPIC_ID.toUpperCase() }, /lower-case uuid/],
    ['lone surrogate', { type: 'Config', resourceType: 'topic', resourceName: 't', name: '\ud800', value: null }, /lone surrogate/],
    ['unknown type', { type: 'Nope' }, /unknown record type/],
  ];
  for (const [what, record, message] of bad) t.throws(() => encodeRecord(record as MetadataRecord), { name: 'MetadataRecordError', message }, what);
  t.ok(new MetadataRecordError('x') instanceof Error);
});
