import { isEmpty, type VersionRange } from '../../../broker/protocol/generator/versions.ts';
import type { FieldSpec, MessageSpec } from '../../../broker/protocol/generator/schema.ts';

const inRange = (r: VersionRange, v: number) => !isEmpty(r) && v >= r.min && v <= r.max;

/** A seeded PRNG so failures reproduce. */
export function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

function randomScalar(f: FieldSpec, rand: () => number): unknown {
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  switch (f.type) {
    case 'bool':
      return rand() < 0.5;
    case 'int8':
      return int(-128, 127);
    case 'int16':
      return int(-32768, 32767);
    case 'uint16':
      return int(0, 65535);
    case 'int32':
      return int(-2147483648, 2147483647);
    case 'uint32':
      return int(0, 4294967295);
    case 'int64':
      return int(-(2 ** 52), 2 ** 52);
    case 'float64':
      return rand() * 1e6 - 5e5;
    case 'string':
      return ['', 'a', 'topic-1', 'ünïcødé ✓', 'x'.repeat(int(0, 300))][int(0, 4)];
    case 'uuid': {
      const hex = Array.from({ length: 32 }, () => Math.floor(rand() * 16).toString(16)).join('');
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    }
    case 'bytes':
    case 'records':
      return Buffer.from(Array.from({ length: int(0, 40) }, () => int(0, 255)));
  }
  throw new Error(`no random ${f.type}`);
}

/** A random instance of a struct with exactly the fields that exist in version v. */
export function randomStruct(fields: FieldSpec[], msg: MessageSpec, v: number, rand: () => number, depth = 0): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const f of fields) {
    if (!inRange(f.versions, v)) continue;
    const nullable = inRange(f.nullable, v) || (f.type === 'records' && !f.isArray);
    if (nullable && rand() < 0.15) {
      o[f.prop] = null;
      continue;
    }
    const structFields = f.isStruct ? (f.fields.length > 0 ? f.fields : msg.structs.find((s) => s.name === f.type)!.fields) : [];
    const one = () => (f.isStruct ? randomStruct(structFields, msg, v, rand, depth + 1) : randomScalar(f, rand));
    if (f.isArray) {
      const n = depth > 3 ? 0 : Math.floor(rand() * 3);
      o[f.prop] = Array.from({ length: n }, one);
    } else {
      o[f.prop] = one();
    }
  }
  return o;
}
