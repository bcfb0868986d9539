// Every message of every version: a random instance encodes, decodes back to the same values, and
// re-encodes to the same bytes. Plus byte vectors written by hand from the protocol documentation.
import t from 'tap';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Reader, Writer } from '../../../broker/protocol/primitives.ts';
import { readDefinition, parseMessage } from '../../../broker/protocol/generator/schema.ts';
import * as messages from '../../../broker/protocol/messages/index.ts';
import { prng, randomStruct } from './random-message.ts';

const defsDir = resolve(import.meta.dirname, '../../../../shared/kafka-protocol');
const specs = readdirSync(defsDir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => parseMessage(readDefinition(join(defsDir, f))))
  .filter((m) => ['request', 'response', 'header', 'data'].includes(m.type));

function codec(name: string) {
  const m = messages as unknown as Record<string, (...args: any[]) => any>;
  return { encode: m[`encode${name}`], decode: m[`decode${name}`] };
}

/** Values present in `want` equal those in `got` (got may hold defaults for the fields want lacks). */
function sameWhereGiven(want: unknown, got: unknown, path: string, problems: string[]): void {
  if (want === undefined) return;
  if (Buffer.isBuffer(want)) {
    if (!Buffer.isBuffer(got) || !want.equals(got)) problems.push(`${path}: bytes differ`);
    return;
  }
  if (Array.isArray(want)) {
    if (!Array.isArray(got) || got.length !== want.length) {
      problems.push(`${path}: array length ${Array.isArray(got) ? got.length : got} != ${want.length}`);
      return;
    }
    want.forEach((w, i) => sameWhereGiven(w, got[i], `${path}[${i}]`, problems));
    return;
  }
  if (want !== null && typeof want === 'object') {
    if (got === null || typeof got !== 'object') {
      problems.push(`${path}: expected object, got ${got}`);
      return;
    }
    for (const [k, w] of Object.entries(want)) sameWhereGiven(w, (got as Record<string, unknown>)[k], `${path}.${k}`, problems);
    return;
  }
  if (!Object.is(want, got) && !(typeof want === 'number' && typeof got === 'number' && Math.abs(want - got) < 1e-9)) {
    problems.push(`${path}: ${JSON.stringify(got)} != ${JSON.stringify(want)}`);
  }
}

t.test('every message, every version round-trips', async (t) => {
  const rand = prng(20261123);
  let cases = 0;
  const failures: string[] = [];
  for (const spec of specs) {
    const { encode, decode } = codec(spec.name);
    for (let v = spec.valid.min; v <= spec.valid.max; v++) {
      for (let i = 0; i < 3; i++) {
        cases++;
        const input = randomStruct(spec.fields, spec, v, rand);
        try {
          const w = new Writer();
          encode(w, v, input);
          const bytes = w.finishSingle();
          const r = new Reader(bytes);
          const decoded = decode(r, v);
          if (r.remaining() !== 0) failures.push(`${spec.name} v${v}: ${r.remaining()} bytes left after decode`);
          const problems: string[] = [];
          sameWhereGiven(input, decoded, spec.name, problems);
          if (problems.length) failures.push(`${spec.name} v${v}: ${problems.slice(0, 3).join('; ')}`);
          const w2 = new Writer();
          encode(w2, v, decoded);
          if (!w2.finishSingle().equals(bytes)) failures.push(`${spec.name} v${v}: re-encoding the decoded message changed its bytes`);
        } catch (err) {
          failures.push(`${spec.name} v${v}: ${(err as Error).message}`);
        }
      }
    }
  }
  t.same(failures.slice(0, 20), [], `${cases} cases`);
  t.ok(cases > 1500, `${cases} message/version cases exercised`);
});

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

t.test('hand-checked encodings', async (t) => {
  // ApiVersionsRequest v3 (flexible): compact strings "kcat" / "1.7", empty tagged fields.
  let w = new Writer();
  messages.encodeApiVersionsRequest(w, 3, { clientSoftwareName: 'kcat', clientSoftwareVersion: '1.7' });
  t.same(w.finishSingle(), hex('05 6b636174 04 312e37 00'));

  // MetadataRequest v1 with null topics: int32 -1.
  w = new Writer();
  messages.encodeMetadataRequest(w, 1, { topics: null });
  t.same(w.finishSingle(), hex('ffffffff'));

  // RequestHeader v2: int16 key, int16 version, int32 correlation, ClientId as a NON-compact nullable
  // string (the one flexibleVersions "none" field), then tagged fields.
  w = new Writer();
  messages.encodeRequestHeader(w, 2, { requestApiKey: 3, requestApiVersion: 12, correlationId: 7, clientId: 'c' });
  t.same(w.finishSingle(), hex('0003 000c 00000007 0001 63 00'));

  // ProduceRequest v9: null transactional id (compact: 0), acks -1, timeout 1000, one topic "t" with
  // partition 0 and 3 bytes of records, each struct ending in an empty tagged-field section.
  w = new Writer();
  messages.encodeProduceRequest(w, 9, { transactionalId: null, acks: -1, timeoutMs: 1000, topicData: [{ name: 't', partitionData: [{ index: 0, records: Buffer.from([1, 2, 3]) }] }] });
  t.same(w.finishSingle(), hex('00 ffff 000003e8 02 02 74 02 00000000 04 010203 00 00 00'));

  // ApiVersionsResponse v3 tagged field: FinalizedFeaturesEpoch (tag 1) written only when not the default -1.
  w = new Writer();
  messages.encodeApiVersionsResponse(w, 3, { errorCode: 0, apiKeys: [], throttleTimeMs: 0, finalizedFeaturesEpoch: 5 });
  t.same(w.finishSingle(), hex('0000 01 00000000 01 01 08 0000000000000005'));
  const decoded = messages.decodeApiVersionsResponse(new Reader(hex('0000 01 00000000 01 01 08 0000000000000005')), 3);
  t.equal(decoded.finalizedFeaturesEpoch, 5);
  t.same(decoded.supportedFeatures, []);
});

t.test('records are written zero-copy', async (t) => {
  const big = Buffer.alloc(64 * 1024, 9);
  const w = new Writer();
  messages.encodeFetchResponse(w, 4, {
    throttleTimeMs: 0,
    responses: [{ topic: 't', partitions: [{ partitionIndex: 0, errorCode: 0, highWatermark: 1, lastStableOffset: 1, abortedTransactions: null, records: [big] }] }],
  });
  t.ok(w.finish().includes(big), 'the record buffer itself is one of the chunks');
});
