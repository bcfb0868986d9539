import { Type } from '@sinclair/typebox';

/** `250ms`, `30s`, `5m`, `1h`, `1d` or a number of milliseconds: the one duration syntax of every config file. */
export const DurationSchema = Type.Union([Type.Integer({ minimum: 0 }), Type.String({ pattern: '^\\d+(\\.\\d+)?(ms|s|m|h|d)$' })], {
  errorMessage: 'expected a duration such as 30s, 5m, 1h or a number of milliseconds',
});

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of a value that DurationSchema accepted; `fallback` when absent. */
export function parseDuration(value: number | string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number') return value;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value);
  if (!m) throw new RangeError(`not a duration: ${JSON.stringify(value)}`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2]]);
}
