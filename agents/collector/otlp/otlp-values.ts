import type { Attributes } from '../../events/attributes.ts';

export class OtlpShapeError extends Error {
  override name = 'OtlpShapeError';
}

export interface OtlpKeyValue {
  key: string;
  value?: OtlpAnyValue;
}

export interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: OtlpAnyValue[] };
  kvlistValue?: { values?: OtlpKeyValue[] };
  bytesValue?: string;
}

/** An OTLP AnyValue as plain JSON (int64 as a number: exact up to 2^53). */
export function anyValue(v: OtlpAnyValue | undefined): unknown {
  if (!v || typeof v !== 'object') return null;
  if (v.stringValue !== undefined) return String(v.stringValue);
  if (v.boolValue !== undefined) return Boolean(v.boolValue);
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return Number(v.doubleValue);
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(anyValue);
  if (v.kvlistValue !== undefined) return Object.fromEntries((v.kvlistValue.values ?? []).map((kv) => [kv.key, anyValue(kv.value)]));
  if (v.bytesValue !== undefined) return String(v.bytesValue);
  return null;
}

/** OTLP attributes as our attribute map: scalars and arrays of scalars; nested maps become JSON text. */
export function attributes(list: OtlpKeyValue[] | undefined): Attributes {
  const out: Attributes = {};
  if (list === undefined) return out;
  if (!Array.isArray(list)) throw new OtlpShapeError('attributes must be a list of {key, value}');
  for (const kv of list) {
    if (!kv || typeof kv.key !== 'string') throw new OtlpShapeError('an attribute has no key');
    const v = anyValue(kv.value);
    if (v === null) continue;
    if (Array.isArray(v)) out[kv.key] = v.map((x) => (typeof x === 'object' && x !== null ? JSON.stringify(x) : (x as string | number | boolean)));
    else if (typeof v === 'object') out[kv.key] = JSON.stringify(v);
    else out[kv.key] = v as string | number | boolean;
  }
  return out;
}

/** Nanoseconds since the epoch (a decimal string or number) as milliseconds; 0 or absent → fallback. */
export function nanosToMillis(nanos: string | number | undefined, fallback: number): number {
  if (nanos === undefined || nanos === null || nanos === '' || nanos === '0' || nanos === 0) return fallback;
  try {
    return Number(BigInt(String(nanos)) / 1_000_000n);
  } catch {
    throw new OtlpShapeError(`'${nanos}' is not a nanosecond timestamp`);
  }
}

export function list<T>(value: T[] | undefined, what: string): T[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new OtlpShapeError(`${what} must be a list`);
  return value;
}
