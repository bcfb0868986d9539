// Random and mutated bytes into the decoders: every input either decodes or throws ProtocolDecodeError,
// never anything else, never a hang. Bounded: a few thousand cases, seconds in all.
import t from 'tap';
import { Reader, Writer, ProtocolDecodeError } from '../../../broker/protocol/primitives.ts';
import { apiTable, decodeRequestHeader, decodeResponseHeader } from '../../../broker/protocol/messages/index.ts';
import { loadSpecs, prng, randomStruct } from './random-message.ts';

const specs = new Map(loadSpecs().map((s) => [s.name, s]));
const rand = prng(7);
const int = (n: number) => Math.floor(rand() * n);

type Decode = (r: Reader, v: number) => unknown;

/** 'ok' or 'rejected'; anything thrown that is not a ProtocolDecodeError is reported as a failure. */
function tryDecode(decode: Decode, bytes: Buffer, v: number): 'ok' | 'rejected' {
  try {
    decode(new Reader(bytes), v);
    return 'ok';
  } catch (err) {
    if (err instanceof ProtocolDecodeError) return 'rejected';
    throw new Error(`threw ${(err as Error).name}: ${(err as Error).message}`);
  }
}

/** Bit flips, a length field inflated to a huge value, a truncation, or bytes spliced in. */
function mutate(valid: Buffer, mode: number): Buffer {
  const bytes = Buffer.from(valid);
  switch (mode) {
    case 0:
      for (let k = 0; k < 1 + int(4); k++) if (bytes.length) bytes[int(bytes.length)] ^= 1 << int(8);
      return bytes;
    case 1:
      if (bytes.length >= 4) bytes.writeInt32BE([0x7ffffff0, -2, 0x10000][int(3)], int(bytes.length - 3));
      return bytes;
    case 2:
      if (bytes.length >= 1) bytes[int(bytes.length)] = [0xff, 0x80, 0x7f][int(3)];
      return bytes.subarray(0, bytes.length ? int(bytes.length) : 0);
    default: {
      const at = int(bytes.length + 1);
      return Buffer.concat([bytes.subarray(0, at), Buffer.from([int(256), int(256), 0xff, 0xff, 0xff, 0x0f]), bytes.subarray(at)]);
    }
  }
}

t.test('mutated valid requests of every API and version', async (t) => {
  let cases = 0;
  let rejected = 0;
  const unexpected: string[] = [];
  for (const api of apiTable) {
    if (!api) continue;
    const spec = specs.get(`${api.name}Request`)!;
    for (let v = api.minVersion; v <= api.maxVersion; v++) {
      const w = new Writer();
      api.encodeRequest(w, v, randomStruct(spec.fields, spec, v, rand));
      const valid = w.finishSingle();
      for (let i = 0; i < 8; i++) {
        cases++;
        try {
          if (tryDecode(api.decodeRequest, mutate(valid, i % 4), v) === 'rejected') rejected++;
        } catch (err) {
          unexpected.push(`${api.name} v${v}: ${(err as Error).message}`);
        }
      }
    }
  }
  t.same(unexpected.slice(0, 10), [], `${cases} cases, ${rejected} rejected with ProtocolDecodeError`);
  t.ok(cases > 2000, `${cases} cases`);
  t.ok(rejected > cases / 4, 'most mutations are caught');
});

t.test('mutated valid responses of the APIs the broker serves', async (t) => {
  const unexpected: string[] = [];
  for (const key of [0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 21, 22, 32, 37, 42]) {
    const api = apiTable[key]!;
    const spec = specs.get(`${api.name}Response`)!;
    for (let v = api.minVersion; v <= api.maxVersion; v++) {
      const w = new Writer();
      api.encodeResponse(w, v, randomStruct(spec.fields, spec, v, rand));
      const valid = w.finishSingle();
      for (let i = 0; i < 4; i++) {
        try {
          tryDecode(api.decodeResponse, mutate(valid, i), v);
        } catch (err) {
          unexpected.push(`${api.name} v${v}: ${(err as Error).message}`);
        }
      }
    }
  }
  t.same(unexpected.slice(0, 10), []);
});

t.test('pure random bytes into headers and every request decoder', async (t) => {
  const apis = apiTable.filter((a) => a !== undefined);
  const unexpected: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const bytes = Buffer.from(Array.from({ length: int(80) }, () => (rand() < 0.3 ? [0, 1, 0xff, 0x7f][int(4)] : int(256))));
    const api = apis[i % apis.length];
    const v = api.minVersion + int(api.maxVersion - api.minVersion + 1);
    try {
      tryDecode(decodeRequestHeader, bytes, i % 3);
      tryDecode(decodeResponseHeader, bytes, i % 2);
      tryDecode(api.decodeRequest, bytes, v);
    } catch (err) {
      unexpected.push(`${api.name} v${v}: ${(err as Error).message}`);
    }
  }
  t.same(unexpected.slice(0, 10), []);
});

t.test('huge counts are refused before allocation', async (t) => {
  // MetadataRequest v1: int32 topic count 2e9 with 4 bytes left.
  const bytes = Buffer.alloc(8);
  bytes.writeInt32BE(2_000_000_000, 0);
  t.throws(() => apiTable[3]!.decodeRequest(new Reader(bytes), 1), ProtocolDecodeError);
  // ProduceRequest v9: compact topic count 2^35 - 2 (a 5-byte uvarint).
  t.throws(() => apiTable[0]!.decodeRequest(new Reader(Buffer.from([0, 0xff, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x7f])), 9), ProtocolDecodeError);
  // A tagged-field count far beyond the bytes.
  t.throws(() => apiTable[18]!.decodeRequest(new Reader(Buffer.from([1, 1, 0xff, 0xff, 0xff, 0x0f])), 3), ProtocolDecodeError);
});
