// Random and mutated bytes into every request decoder: each input either decodes or throws
// ProtocolDecodeError, never anything else, never a hang, never an allocation beyond the input.
import t from 'tap';
import { Reader, Writer, ProtocolDecodeError } from '../../../broker/protocol/primitives.ts';
import { apiTable, decodeRequestHeader } from '../../../broker/protocol/messages/index.ts';
import { readDefinition, parseMessage } from '../../../broker/protocol/generator/schema.ts';
import { join, resolve } from 'node:path';
import { prng, randomStruct } from './random-message.ts';

const defsDir = resolve(import.meta.dirname, '../../../../shared/kafka-protocol');
const rand = prng(7);

function tryDecode(decode: (r: Reader, v: number) => unknown, bytes: Buffer, v: number): 'ok' | 'rejected' {
  try {
    decode(new Reader(bytes), v);
    return 'ok';
  } catch (err) {
    if (err instanceof ProtocolDecodeError) return 'rejected';
    throw new Error(`decoder threw ${(err as Error).name}: ${(err as Error).message}`);
  }
}

t.test('mutated valid requests of every API and version', async (t) => {
  let cases = 0;
  let rejected = 0;
  const unexpected: string[] = [];
  for (const api of apiTable) {
    if (!api) continue;
    const spec = parseMessage(readDefinition(join(defsDir, `${api.name}Request.json`)));
    for (let v = api.minVersion; v <= api.maxVersion; v++) {
      const w = new Writer();
      api.encodeRequest(w, v, randomStruct(spec.fields, spec, v, rand));
      const valid = w.finishSingle();
      for (let i = 0; i < 6; i++) {
        const bytes = Buffer.from(valid);
        const mode = i % 3;
        if (mode === 0 && bytes.length > 0) {
          for (let k = 0; k < 3; k++) bytes[Math.floor(rand() * bytes.length)] ^= 1 << Math.floor(rand() * 8);
        } else if (mode === 1) {
          // Inflate a 4-byte or 1-byte length somewhere to a huge value.
          const at = Math.floor(rand() * Math.max(1, bytes.length - 4));
          if (bytes.length >= 4) bytes.writeInt32BE(0x7ffffff0, at);
        }
        const input = mode === 2 ? bytes.subarray(0, Math.floor(rand() * bytes.length)) : bytes;
        cases++;
        try {
          if (tryDecode(api.decodeRequest, input, v) === 'rejected') rejected++;
        } catch (err) {
          unexpected.push(`${api.name} v${v}: ${(err as Error).message}`);
        }
      }
    }
  }
  t.same(unexpected.slice(0, 10), [], `${cases} cases, ${rejected} rejected with ProtocolDecodeError`);
  t.ok(rejected > cases / 4, 'most mutations are caught');
});

t.test('pure random bytes into headers and requests', async (t) => {
  const unexpected: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const bytes = Buffer.from(Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256)));
    const api = apiTable[[0, 1, 2, 3, 18, 19, 32][i % 7]]!;
    const v = api.minVersion + Math.floor(rand() * (api.maxVersion - api.minVersion + 1));
    try {
      tryDecode((r, hv) => decodeRequestHeader(r, hv), bytes, i % 3);
      tryDecode(api.decodeRequest, bytes, v);
    } catch (err) {
      unexpected.push((err as Error).message);
    }
  }
  t.same(unexpected.slice(0, 10), []);
});

t.test('a huge array count is refused before allocation', async (t) => {
  const bytes = Buffer.alloc(8);
  bytes.writeInt32BE(2_000_000_000, 0);
  t.throws(() => apiTable[3]!.decodeRequest(new Reader(bytes), 1), { name: 'ProtocolDecodeError' });
});
