// Every message of every version: a random instance encodes, decodes back to the same values (with the
// defaults of absent fields filled in), and re-encodes to the same bytes. Plus byte vectors written by hand
// from the protocol documentation (protocol.html) and Kafka's definitions.
import t from 'tap';
import { isDeepStrictEqual } from 'node:util';
import { Reader, Writer, ProtocolDecodeError } from '../../../broker/protocol/primitives.ts';
import * as messages from '../../../broker/protocol/messages/index.ts';
import { apiTable, requestHeaderVersion, responseHeaderVersion } from '../../../broker/protocol/messages/index.ts';
import { loadSpecs, prng, randomStruct, expectedDecode } from './random-message.ts';

const specs = loadSpecs();
type Codec = { encode: (w: Writer, v: number, m: unknown) => void; decode: (r: Reader, v: number) => unknown };
const codecs = messages as unknown as Record<string, Codec['encode'] & Codec['decode']>;
const codec = (name: string): Codec => ({ encode: codecs[`encode${name}`], decode: codecs[`decode${name}`] });
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const encode = (fn: (w: Writer) => void) => {
  const w = new Writer();
  fn(w);
  return w.finishSingle();
};

t.test('every message, every version round-trips', async (t) => {
  const rand = prng(20261123);
  let cases = 0;
  const failures: string[] = [];
  for (const spec of specs) {
    const { encode, decode } = codec(spec.name);
    if (!encode || !decode) {
      failures.push(`${spec.name}: no codec exported from the index`);
      continue;
    }
    for (let v = spec.valid.min; v <= spec.valid.max; v++) {
      for (let i = 0; i < 3; i++) {
        cases++;
        const input = randomStruct(spec.fields, spec, v, rand);
        try {
          const w = new Writer(16);
          encode(w, v, input);
          const size = w.size;
          const bytes = Buffer.concat(w.finish());
          if (bytes.length !== size) failures.push(`${spec.name} v${v}: size ${size} but ${bytes.length} bytes`);
          const r = new Reader(bytes);
          const decoded = decode(r, v);
          if (r.remaining() !== 0) failures.push(`${spec.name} v${v}: ${r.remaining()} bytes left after decode`);
          const want = expectedDecode(spec.fields, spec, v, input);
          if (!isDeepStrictEqual(decoded, want)) failures.push(`${spec.name} v${v}: decoded value differs: ${JSON.stringify(firstDifference(decoded, want))}`);
          const again = new Writer();
          encode(again, v, decoded);
          if (!again.finishSingle().equals(bytes)) failures.push(`${spec.name} v${v}: re-encoding the decoded message changed its bytes`);
        } catch (err) {
          failures.push(`${spec.name} v${v}: ${(err as Error).stack}`);
        }
      }
    }
  }
  t.same(failures.slice(0, 10), [], `${cases} cases`);
  t.ok(cases > 1500, `${cases} message/version cases exercised`);
});

/** The path and values of the first difference, for a readable failure. */
function firstDifference(got: unknown, want: unknown, path = '$'): unknown {
  if (Buffer.isBuffer(want) || Buffer.isBuffer(got)) {
    return Buffer.isBuffer(got) && Buffer.isBuffer(want) && got.equals(want) ? null : { path, got: String(got), want: String(want) };
  }
  if (want !== null && got !== null && typeof want === 'object' && typeof got === 'object') {
    const keys = new Set([...Object.keys(want), ...Object.keys(got)]);
    for (const k of keys) {
      const d = firstDifference((got as Record<string, unknown>)[k], (want as Record<string, unknown>)[k], `${path}.${k}`);
      if (d) return d;
    }
    return null;
  }
  return Object.is(got, want) ? null : { path, got, want };
}

t.test('decoding fills every field of every version with a value', async (t) => {
  // MetadataRequest v0 has neither AllowAutoTopicCreation (default true) nor the v8+ flags.
  const m = messages.decodeMetadataRequest(new Reader(hex('00000000')), 0);
  t.same(m, { topics: [], allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
  // FetchRequest v4: no session fields, no rack, no replica state; those come back as their defaults.
  const w = new Writer();
  messages.encodeFetchRequest(w, 4, { replicaId: -1, maxWaitMs: 500, minBytes: 1, maxBytes: 1024, isolationLevel: 0, topics: [] });
  const f = messages.decodeFetchRequest(new Reader(w.finishSingle()), 4);
  t.equal(f.sessionEpoch, -1);
  t.equal(f.rackId, '');
  t.equal(f.clusterId, null);
  t.same(f.replicaState, { replicaId: -1, replicaEpoch: -1 });
  t.same(f.forgottenTopicsData, []);
});

t.test('hand-checked encodings', async (t) => {
  // ApiVersionsRequest v3 (flexible): COMPACT_STRING "kcat" (length+1 = 5), "1.7" (4), empty tagged fields.
  t.same(encode((w) => messages.encodeApiVersionsRequest(w, 3, { clientSoftwareName: 'kcat', clientSoftwareVersion: '1.7' })), hex('05 6b636174 04 312e37 00'));

  // MetadataRequest v1: topics is a nullable ARRAY, null as int32 -1. v0 cannot say null: an empty array.
  t.same(encode((w) => messages.encodeMetadataRequest(w, 1, { topics: null })), hex('ffffffff'));
  t.throws(() => encode((w) => messages.encodeMetadataRequest(w, 0, { topics: null })), /not allow/);
  // MetadataRequest v4 adds AllowAutoTopicCreation (BOOLEAN); one topic "ab" as int16-length STRING.
  t.same(encode((w) => messages.encodeMetadataRequest(w, 4, { topics: [{ name: 'ab' }], allowAutoTopicCreation: false })), hex('00000001 0002 6162 00'));

  // RequestHeader v2: INT16 key, INT16 version, INT32 correlation id, ClientId as a NON-compact NULLABLE_STRING
  // (its flexibleVersions is "none"), then the tagged fields. v0 has no client id at all.
  t.same(encode((w) => messages.encodeRequestHeader(w, 2, { requestApiKey: 3, requestApiVersion: 12, correlationId: 7, clientId: 'c' })), hex('0003 000c 00000007 0001 63 00'));
  t.same(encode((w) => messages.encodeRequestHeader(w, 1, { requestApiKey: 3, requestApiVersion: 1, correlationId: 7, clientId: null })), hex('0003 0001 00000007 ffff'));
  t.same(encode((w) => messages.encodeRequestHeader(w, 0, { requestApiKey: 7, requestApiVersion: 0, correlationId: 1, clientId: 'ignored' })), hex('0007 0000 00000001'));
  // ResponseHeader v1: correlation id and an empty tagged-field section.
  t.same(encode((w) => messages.encodeResponseHeader(w, 1, { correlationId: 258 })), hex('00000102 00'));

  // ProduceRequest v9: COMPACT_NULLABLE_STRING null (0), acks -1, timeout 1000, COMPACT_ARRAY of one topic "t"
  // with partition 0 and 3 bytes of COMPACT_RECORDS, each struct ending in an empty tagged-field section.
  const produce = { transactionalId: null, acks: -1, timeoutMs: 1000, topicData: [{ name: 't', partitionData: [{ index: 0, records: Buffer.from([1, 2, 3]) }] }] };
  const produceV9 = hex('00 ffff 000003e8 02 02 74 02 00000000 04 010203 00 00 00');
  t.same(encode((w) => messages.encodeProduceRequest(w, 9, produce)), produceV9);
  const decoded = messages.decodeProduceRequest(new Reader(produceV9), 9);
  t.same(decoded, produce);
  // The same request in v3 (not flexible): NULLABLE_STRING -1, ARRAY int32 counts, RECORDS with an int32 size.
  t.same(encode((w) => messages.encodeProduceRequest(w, 3, produce)), hex('ffff ffff 000003e8 00000001 0001 74 00000001 00000000 00000003 010203'));

  // ApiVersionsResponse v3: FinalizedFeaturesEpoch (tag 1, INT64) is written only when not its default -1.
  const avr = hex('0000 01 00000000 01 01 08 0000000000000005');
  t.same(encode((w) => messages.encodeApiVersionsResponse(w, 3, { errorCode: 0, apiKeys: [], throttleTimeMs: 0, finalizedFeaturesEpoch: 5 })), avr);
  t.same(encode((w) => messages.encodeApiVersionsResponse(w, 3, { errorCode: 0, apiKeys: [], throttleTimeMs: 0, finalizedFeaturesEpoch: -1 })), hex('0000 01 00000000 00'));
  const decodedAvr = messages.decodeApiVersionsResponse(new Reader(avr), 3);
  t.equal(decodedAvr.finalizedFeaturesEpoch, 5);
  t.same(decodedAvr.supportedFeatures, []);
  // ApiVersionsResponse v0: ARRAY of (INT16 key, INT16 min, INT16 max), no throttle time.
  t.same(encode((w) => messages.encodeApiVersionsResponse(w, 0, { errorCode: 35, apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 4 }] })), hex('0023 00000001 0012 0000 0004'));
});

t.test('a tagged field longer than 127 bytes gets a two-byte size', async (t) => {
  // SupportedFeatures (tag 0) with 20 features named "feature-NN": 1 + 20 * (1 + 10 + 2 + 2 + 1) = 321 bytes.
  const features = Array.from({ length: 20 }, (_, i) => ({ name: `feature-${String(i).padStart(2, '0')}`, minVersion: 1, maxVersion: 2 }));
  const bytes = encode((w) => messages.encodeApiVersionsResponse(w, 3, { errorCode: 0, apiKeys: [], throttleTimeMs: 0, supportedFeatures: features }));
  const field = Buffer.concat([Buffer.from([21]), ...features.map((f) => Buffer.concat([Buffer.from([11]), Buffer.from(f.name), hex('0001 0002 00')]))]);
  t.equal(field.length, 321);
  t.same(bytes, Buffer.concat([hex('0000 01 00000000 01 00'), hex('c102'), field]));
  t.same(messages.decodeApiVersionsResponse(new Reader(bytes), 3).supportedFeatures, features);
});

t.test('decoding what real clients send', async (t) => {
  // librdkafka's first request: header v2 (ClientId "rdkafka" with an int16 length), ApiVersions v3 body.
  const frame = hex('0012 0003 00000001 0007 72646b61666b61 00  0b 6c696272646b61666b61 06 322e302e32 00');
  const r = new Reader(frame);
  t.same(messages.decodeRequestHeader(r, requestHeaderVersion(18, 3)), { requestApiKey: 18, requestApiVersion: 3, correlationId: 1, clientId: 'rdkafka' });
  t.same(messages.decodeApiVersionsRequest(r, 3), { clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.0.2' });
  t.equal(r.remaining(), 0);

  // Unknown tagged fields (here tag 5 with 3 bytes, from a newer client) are skipped.
  const withUnknown = hex('05 6b636174 04 312e37 01 05 03 aabbcc');
  const r2 = new Reader(withUnknown);
  t.same(messages.decodeApiVersionsRequest(r2, 3), { clientSoftwareName: 'kcat', clientSoftwareVersion: '1.7' });
  t.equal(r2.remaining(), 0);

  // A known tagged field whose content overruns its declared size is malformed.
  t.throws(() => messages.decodeApiVersionsResponse(new Reader(hex('0000 01 00000000 01 01 04 0000000000000005')), 3), ProtocolDecodeError);
  // Versions outside the definition are refused.
  t.throws(() => messages.decodeApiVersionsRequest(new Reader(withUnknown), 99), ProtocolDecodeError);
  t.throws(() => encode((w) => messages.encodeApiVersionsRequest(w, 99, {})), /unsupported version/);
});

t.test('fields optional in the interface are written as their defaults', async (t) => {
  // JoinGroupRequest v5 with GroupInstanceId (v5+, nullable, default null) left out: written as null.
  const bytes = encode((w) =>
    messages.encodeJoinGroupRequest(w, 5, { groupId: 'g', sessionTimeoutMs: 10, rebalanceTimeoutMs: 20, memberId: '', protocolType: 'consumer', protocols: [] }),
  );
  t.same(bytes, hex('0001 67 0000000a 00000014 0000 ffff 0008 636f6e73756d6572 00000000'));
});

t.test('records are written zero-copy', async (t) => {
  const big = Buffer.alloc(64 * 1024, 9);
  const small = Buffer.from([1, 2, 3]);
  const w = new Writer();
  messages.encodeFetchResponse(w, 4, {
    throttleTimeMs: 0,
    responses: [{ topic: 't', partitions: [{ partitionIndex: 0, errorCode: 0, highWatermark: 1, lastStableOffset: 1, abortedTransactions: null, records: [big, small] }] }],
  });
  const chunks = w.finish();
  t.ok(chunks.includes(big), 'the big record buffer itself is one of the chunks');
  t.ok(chunks.includes(small), 'so is the small one');
  const decoded = messages.decodeFetchResponse(new Reader(Buffer.concat(chunks)), 4);
  const records = decoded.responses[0].partitions[0].records as Buffer;
  t.equal(records.length, big.length + small.length);
});

t.test('the api table and header versions', async (t) => {
  const produce = apiTable[0]!;
  t.match(produce, { apiKey: 0, name: 'Produce', minVersion: 0, maxVersion: 11, firstFlexibleVersion: 9 });
  t.equal(produce.decodeRequest, messages.decodeProduceRequest);
  t.equal(produce.encodeResponse, messages.encodeProduceResponse);
  t.equal(apiTable[18]!.name, 'ApiVersions');
  t.equal(apiTable.filter(Boolean).length, specs.filter((s) => s.type === 'request').length);
  t.equal(requestHeaderVersion(3, 8), 1);
  t.equal(requestHeaderVersion(3, 9), 2);
  t.equal(requestHeaderVersion(7, 0), 0, 'ControlledShutdown v0');
  t.equal(requestHeaderVersion(18, 3), 2);
  t.equal(responseHeaderVersion(3, 9), 1);
  t.equal(responseHeaderVersion(3, 8), 0);
  t.equal(responseHeaderVersion(18, 3), 0, 'ApiVersions responses always use header v0');
  t.equal(messages.ProduceRequestMeta.apiKey, 0);
  t.same(messages.ProduceRequestMeta.validVersions, [0, 11]);
  t.same(messages.ProduceRequestMeta.flexibleVersions, [9]);
  t.equal(messages.ConsumerProtocolAssignmentMeta.flexibleVersions, null);
});
