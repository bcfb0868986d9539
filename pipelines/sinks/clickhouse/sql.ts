/**
 * The one place where values become SQL text. ClickHouse 18.16 (Debian's package, which the tests run)
 * has no server-side query parameters, so every value in a query is rendered as a literal here and
 * nowhere else. Each rule below was checked against 18.16's lexer and its VALUES parser, which read
 * string literals the same way, and holds for current releases too.
 *
 * String literals: inside '…' ClickHouse reads a backslash followed by any character as an escape;
 * `\b \f \n \r \t \0` name control characters, `\xHH` is a byte, and any other escaped character
 * stands for itself (so `\\` and `\'`). 18.16 does NOT know `\a` or `\v` (it reads them as the letters),
 * so the remaining control characters are written as `\xHH`. Nothing else needs escaping: the text is
 * sent as UTF-8 and ClickHouse strings are bytes.
 */

/** A name to render as a quoted identifier inside the `sql` template (`identifier('logs_enriched')`). */
export class Identifier {
  readonly name: string;
  constructor(name: string) {
    quoteIdentifier(name); // validate now, so a bad name fails where it is made
    this.name = name;
  }
}

/** A tuple `(a, b, c)` inside the `sql` template: the right-hand side of `IN` (18.16 rejects `x IN [..]`). */
export class List {
  readonly values: readonly SqlValue[];
  constructor(values: readonly SqlValue[]) {
    // `x IN ()` is a syntax error in every version; an empty list has no meaning a caller could want.
    if (values.length === 0) throw new RangeError('list(): an IN list needs at least one value');
    this.values = values;
  }
}

export type SqlValue = string | number | bigint | boolean | Date | null | readonly SqlValue[];

export function identifier(name: string): Identifier {
  return new Identifier(name);
}

export function list(values: readonly SqlValue[]): List {
  return new List(values);
}

const NAMED_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\0': '\\0',
  '\b': '\\b',
  '\f': '\\f',
};

// Backslash, quote, C0 controls and DEL. Everything else (including all non-ASCII) passes through.
const NEEDS_ESCAPE = /[\\'\x00-\x1f\x7f]/g;

function escapeChar(c: string): string {
  return NAMED_ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
}

/** `'…'` with ClickHouse's escapes. Rejects lone UTF-16 surrogates: they have no UTF-8 form. */
export function quoteString(s: string): string {
  if (typeof s !== 'string') throw new TypeError(`quoteString: expected a string, got ${typeof s}`);
  // A lone surrogate would silently become U+FFFD on the wire and match a different value; 18.16's
  // JSON input rejects it too. Refuse rather than change the value.
  if (!s.isWellFormed()) throw new TypeError(`quoteString: string contains a lone UTF-16 surrogate at index ${loneSurrogateIndex(s)}`);
  return `'${s.replace(NEEDS_ESCAPE, escapeChar)}'`;
}

function loneSurrogateIndex(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
      else return i;
    } else if (c >= 0xdc00 && c <= 0xdfff) return i;
  }
  return -1;
}

/** `` `name` `` with backtick and backslash escaped. Rejects empty names and NUL. */
export function quoteIdentifier(name: string): string {
  if (typeof name !== 'string') throw new TypeError(`quoteIdentifier: expected a string, got ${typeof name}`);
  if (name.length === 0) throw new RangeError('quoteIdentifier: empty identifier');
  if (name.includes('\0')) throw new RangeError('quoteIdentifier: identifier contains NUL');
  if (!name.isWellFormed()) throw new TypeError('quoteIdentifier: identifier contains a lone UTF-16 surrogate');
  return `\`${name.replace(/[\\`]/g, (c) => `\\${c}`)}\``;
}

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;
// Below this (subnormals) 18.16's parser rejects a float literal ("1e-310" is a syntax error), and its
// toFloat64('5e-324') gives 0. A subnormal is m × 2^-1074 for an integer m < 2^52, and multiplying by
// powers of two whose product is representable is exact, so it is rendered as (m * 2^-1022 * 2^-52).
const MIN_NORMAL = 2.2250738585072014e-308; // 2^-1022
const TWO_POW_MINUS_52 = 2.220446049250313e-16;
// DateTime is seconds since the epoch in a UInt32.
const DATETIME_MAX_MS = (2 ** 32 - 1) * 1000;

/**
 * The SQL literal for a value: strings quoted, finite numbers, bigints within Int64/UInt64, booleans
 * as 1/0, Dates as `toDateTime('YYYY-MM-DD hh:mm:ss', 'UTC')`, null as NULL, arrays as `[…]`.
 * Negative numbers get a leading space so that `a-${-1}` cannot become the comment `a--1`.
 */
export function literal(value: SqlValue): string {
  if (value === null) return 'NULL';
  switch (typeof value) {
    case 'string':
      return quoteString(value);
    case 'number':
      return numberLiteral(value);
    case 'bigint':
      if (value < INT64_MIN || value > UINT64_MAX) throw new RangeError(`literal: bigint ${value} is outside Int64/UInt64`);
      return value < 0n ? ` ${value}` : String(value);
    case 'boolean':
      return value ? '1' : '0';
    case 'object':
      if (Array.isArray(value)) return `[${value.map((v) => literal(v)).join(', ')}]`;
      if (value instanceof Date) return dateLiteral(value);
      break;
  }
  throw new TypeError(`literal: cannot render ${describe(value)} as SQL`);
}

function numberLiteral(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`literal: ${n} is not a finite number; ClickHouse has no literal for it`);
  // String() gives the shortest text that reads back as the same double ("1e+21", "0.1").
  const text = String(n); // -0 prints as "0"
  if (n !== 0 && Math.abs(n) < MIN_NORMAL) return `(${n * 2 ** 1022 * 2 ** 52} * ${MIN_NORMAL} * ${TWO_POW_MINUS_52})`;
  return n < 0 ? ` ${text}` : text;
}

function dateLiteral(d: Date): string {
  const ms = d.getTime();
  if (Number.isNaN(ms)) throw new RangeError('literal: invalid Date');
  if (ms < 0 || ms > DATETIME_MAX_MS) throw new RangeError(`literal: ${d.toISOString()} is outside DateTime's range (1970 … 2106)`);
  // DateTime has whole seconds: milliseconds are dropped (floored), as toDateTime would.
  const text = d.toISOString().slice(0, 19).replace('T', ' ');
  return `toDateTime('${text}', 'UTC')`;
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'object') return `an object (${Object.prototype.toString.call(value)})`;
  return `a ${typeof value}`;
}

/**
 * Tagged template for queries: every interpolated value is rendered by literal(), an `identifier()` by
 * quoteIdentifier() and a `list()` as a parenthesised tuple. Returns the query text.
 *
 *     sql`SELECT count() FROM ${identifier(table)} WHERE _topic = ${topic} AND _partition IN ${list(ps)}`
 *
 * A plain string is always a string literal; there is deliberately no way to splice raw text.
 */
export function sql(strings: TemplateStringsArray, ...values: readonly (SqlValue | Identifier | List)[]): string {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return out;
}

function render(value: SqlValue | Identifier | List): string {
  if (value instanceof Identifier) return quoteIdentifier(value.name);
  if (value instanceof List) return `(${value.values.map((v) => literal(v)).join(', ')})`;
  return literal(value);
}
