/**
 * What the three stages share: decoding a raw record against its topic's schema (compiled once per
 * process, never per record), stringifying attribute values the way the ClickHouse columns want them,
 * and the options every stage factory takes.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { Emitter, InputRecord } from '../runtime/stage.ts';

export const WINDOW_MS = 60_000;
export const DEFAULT_ALLOWED_LATENESS_MS = 60_000;

export interface StageOptions {
  /** How long after a minute ends its records are still folded in (default 60 s). */
  allowedLatenessMs?: number;
}

export function allowedLateness(opts: StageOptions | undefined): number {
  const ms = opts?.allowedLatenessMs ?? DEFAULT_ALLOWED_LATENESS_MS;
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`allowedLatenessMs must be a non-negative number, got ${ms}`);
  return ms;
}

export class RecordDecoder<S extends TSchema> {
  private readonly compiled: TypeCheck<S>;
  private readonly check: ((value: Static<S>) => string | null) | undefined;

  constructor(schema: S, check?: (value: Static<S>) => string | null) {
    this.compiled = TypeCompiler.Compile(schema);
    this.check = check;
  }

  /** The record's value if it parses and validates; otherwise dead-letters it and returns undefined. */
  decode(record: InputRecord, out: Emitter): Static<S> | undefined {
    let value: unknown;
    try {
      value = JSON.parse(record.value.toString('utf8'));
    } catch (err) {
      out.deadLetter(record, `invalid JSON: ${(err as Error).message}`);
      return undefined;
    }
    if (!this.compiled.Check(value)) {
      // Only failures pay for the error walk.
      const first = this.compiled.Errors(value).First();
      out.deadLetter(record, first ? `schema: ${first.path || '/'} ${first.message}` : 'schema: invalid');
      return undefined;
    }
    if (this.check) {
      const problem = this.check(value);
      if (problem !== null) {
        out.deadLetter(record, problem);
        return undefined;
      }
    }
    return value;
  }
}

/** Strings as they are, everything else (numbers, booleans, arrays) as JSON. */
export function stringifyValue(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** An attribute map as the parallel key and value arrays ClickHouse stores. */
export function flattenAttributes(attrs: Record<string, unknown> | undefined): [string[], string[]] {
  const keys: string[] = [];
  const values: string[] = [];
  if (attrs !== undefined) {
    for (const k in attrs) {
      const v = attrs[k];
      if (v === undefined) continue;
      keys.push(k);
      values.push(stringifyValue(v));
    }
  }
  return [keys, values];
}

/** JSON has no Infinity: a watermark that has not started yet is stored as null. */
export function watermarkToJson(w: number): number | null {
  return Number.isFinite(w) ? w : null;
}

export function watermarkFromJson(w: unknown): number {
  return typeof w === 'number' ? w : -Infinity;
}
