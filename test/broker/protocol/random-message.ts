// Random instances of any message version, and the value a decoder must produce for them, written from the
// definitions independently of the generator's emitters (so the two check each other).
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readDefinition } from '../../../broker/protocol/generator/json-with-comments.ts';
import { parseMessage, MESSAGE_TYPES, type FieldSpec, type MessageSpec } from '../../../broker/protocol/generator/schema.ts';
import { isEmpty, type VersionRange } from '../../../broker/protocol/generator/versions.ts';

export const repoRoot = resolve(import.meta.dirname, '../../..');
/** The repository is always cloned with shared/ beside it. */
export const definitionsDir = resolve(repoRoot, '../shared/kafka-protocol');

export function loadSpecs(): MessageSpec[] {
  return readdirSync(definitionsDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => readDefinition(join(definitionsDir, f)))
    .filter((json) => MESSAGE_TYPES.includes(json.type))
    .map((json) => parseMessage(json));
}

const inRange = (r: VersionRange, v: number) => !isEmpty(r) && v >= r.min && v <= r.max;

/** A seeded xorshift PRNG so failures reproduce. */
export function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

function structFields(f: FieldSpec, msg: MessageSpec): FieldSpec[] {
  return f.fields.length > 0 ? f.fields : msg.structs.find((s) => s.name === f.type)!.fields;
}

const INT64_EDGES = [0, -1, 2 ** 53 - 1, -(2 ** 53), 2 ** 63, -(2 ** 63)];

function randomScalar(type: string, rand: () => number): unknown {
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  switch (type) {
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
      return rand() < 0.2 ? INT64_EDGES[int(0, INT64_EDGES.length - 1)] : int(-(2 ** 52), 2 ** 52);
    case 'float64':
      return [0, -1.5, 1e300, rand() * 1e6 - 5e5][int(0, 3)];
    case 'string':
      return ['', 'a', 'topic-1', 'ünïcødé ✓ 𝄞', 'x'.repeat(int(0, 300))][int(0, 4)];
    case 'uuid': {
      const hex = Array.from({ length: 32 }, () => Math.floor(rand() * 16).toString(16)).join('');
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    }
    case 'bytes':
      return Buffer.from(Array.from({ length: int(0, 200) }, () => int(0, 255)));
    case 'records': {
      const parts = Array.from({ length: int(1, 3) }, () => Buffer.from(Array.from({ length: int(0, 40) }, () => int(0, 255))));
      return rand() < 0.5 ? parts[0] : parts;
    }
  }
  throw new Error(`no random ${type}`);
}

/** A random instance of a struct holding exactly the fields that exist in version v (tagged ones included). */
export function randomStruct(fields: FieldSpec[], msg: MessageSpec, v: number, rand: () => number, depth = 0): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const f of fields) {
    if (!inRange(f.versions, v)) continue;
    if (inRange(f.nullable, v) && rand() < 0.15) {
      o[f.prop] = null;
      continue;
    }
    const one = () => (f.isStruct ? randomStruct(structFields(f, msg), msg, v, rand, depth + 1) : randomScalar(f.type, rand));
    o[f.prop] = f.isArray ? Array.from({ length: depth > 3 ? 0 : Math.floor(rand() * 3) }, one) : one();
  }
  return o;
}

/** The value a field takes in a version that lacks it (the definition's default, else the type's zero). */
export function defaultValue(f: FieldSpec, msg: MessageSpec): unknown {
  const d = f.default;
  if (d === 'null') return null;
  if (f.isArray) return [];
  if (f.isStruct) return Object.fromEntries(structFields(f, msg).map((sf) => [sf.prop, defaultValue(sf, msg)]));
  switch (f.type) {
    case 'bool':
      return d === 'true';
    case 'string':
      return d ?? '';
    case 'uuid':
      return '00000000-0000-0000-0000-000000000000';
    case 'bytes':
      return Buffer.alloc(0);
    case 'records':
      return null;
  }
  if (d === undefined) return 0;
  return /^-?0x/i.test(d) ? (d.startsWith('-') ? -1 : 1) * Number.parseInt(d.replace(/^-?0x/i, ''), 16) : Number(d);
}

/**
 * What decoding `input` (encoded in version v) must give: every field of every struct filled, absent ones
 * with defaults; records as one buffer; int64 values as the decoder reads them back after clamping.
 */
export function expectedDecode(fields: FieldSpec[], msg: MessageSpec, v: number, input: Record<string, unknown>): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const f of fields) {
    const value = input[f.prop];
    if (!inRange(f.versions, v) || value === undefined) {
      o[f.prop] = defaultValue(f, msg);
      continue;
    }
    const one = (x: unknown): unknown => {
      if (x === null) return null;
      if (f.isStruct) return expectedDecode(structFields(f, msg), msg, v, x as Record<string, unknown>);
      if (f.type === 'records') return Array.isArray(x) ? Buffer.concat(x) : x;
      return x;
    };
    o[f.prop] = f.isArray && value !== null ? (value as unknown[]).map(one) : one(value);
  }
  return o;
}
