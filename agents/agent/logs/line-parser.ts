import type { Attributes, Resource } from '../../events/attributes.ts';
import type { LogRecord } from '../../events/log-record.ts';
import { parseSeverity, type Severity } from './severity.ts';
import { parseTimestamp } from './timestamps.ts';

/** Which parsed fields hold the time, the level and the message, when not one of the usual names. */
export interface FieldNames {
  timestampField?: string;
  severityField?: string;
  messageField?: string;
}

export type LineParserConfig =
  | ({ type: 'none' } & FieldNames)
  | ({ type: 'json' } & FieldNames)
  | ({ type: 'logfmt' } & FieldNames)
  /** `pattern`: a JavaScript regular expression whose named groups become fields. */
  | ({ type: 'regex'; pattern: string } & FieldNames);

export interface LineContext {
  /** When the line was read: the observed time, and the time when the line has none we can use. */
  now: number;
  resource: Resource;
  file: string;
  /** Byte offset of the line's first byte in the file. */
  offset: number;
}

export type LineParser = (line: string, context: LineContext) => LogRecord;

/** A logfmt line's pairs; a bare key is `true`. */
export type LogfmtFields = Record<string, string | true>;

const DEFAULT_TIMESTAMP_FIELDS = ['time', 'timestamp', 'ts', '@timestamp'];
const DEFAULT_SEVERITY_FIELDS = ['level', 'severity', 'lvl', 'log.level'];
const DEFAULT_MESSAGE_FIELDS = ['msg', 'message', 'log'];

// The logs.raw schema's limits (events/attributes.ts, events/log-record.ts): values past them are cut, so a
// record is never refused for being large.
const MAX_ATTRIBUTES = 256;
const MAX_KEY_LENGTH = 256;
const MAX_STRING_LENGTH = 65_536;
const MAX_ARRAY_ITEMS = 1000;
const MAX_BODY_LENGTH = 1_048_576;
/** Deeper JSON is kept as a JSON string: keys stay readable and flattening cannot run away. */
const MAX_DEPTH = 8;

const FILE_PATH = 'log.file.path';
const PARSE_ERROR = 'log.parse_error';

type Fields = Record<string, unknown>;
type AttributeValue = Attributes[string];

interface FieldName {
  readonly name: string;
  /** The name's dotted parts, to find `log.level` as `{"log":{"level":…}}` in JSON too. */
  readonly path: readonly string[] | undefined;
}

/** What a line's fields were turned into; one per parser, reset per line, so lines allocate no bookkeeping. */
interface Extraction {
  attributes: Attributes;
  count: number;
  /** Flattened names of the fields taken as time, severity and message, left out of the attributes. */
  skipTime: string | undefined;
  skipSeverity: string | undefined;
  skipMessage: string | undefined;
}

/**
 * The per-line function of one file source. Everything that depends only on the config (the regular
 * expression, the field names) is prepared here, once. The function never throws and never drops a line:
 * a line that does not parse becomes a record with the line as body and `log.parse_error` saying why.
 * Throws, at config time, if the config itself is wrong (unknown type, missing or invalid pattern).
 */
export function createLineParser(config: LineParserConfig): LineParser {
  const type = config.type;
  if (type === 'none') return (line, context) => record(truncate(line, MAX_BODY_LENGTH), context.now, undefined, withFilePath({}, context.file), context);
  let extract: (line: string) => Fields | string;
  if (type === 'json') extract = extractJson;
  else if (type === 'logfmt') extract = parseLogfmt;
  else if (type === 'regex') extract = regexExtractor(config.pattern);
  else throw new Error(`unknown parser type ${JSON.stringify(type)}: expected none, json, logfmt or regex`);
  const nested = type === 'json';
  const timeFields = fieldNames(config.timestampField, DEFAULT_TIMESTAMP_FIELDS);
  const severityFields = fieldNames(config.severityField, DEFAULT_SEVERITY_FIELDS);
  const messageFields = fieldNames(config.messageField, DEFAULT_MESSAGE_FIELDS);
  const x: Extraction = { attributes: {}, count: 0, skipTime: undefined, skipSeverity: undefined, skipMessage: undefined };

  const parse = (line: string, context: LineContext): LogRecord => {
    const fields = extract(line);
    if (typeof fields === 'string') return failed(line, fields, context);
    let timestamp = context.now;
    let severity: Severity | undefined;
    let body = line;
    x.skipTime = x.skipSeverity = x.skipMessage = undefined;
    const time = find(fields, timeFields, nested);
    if (time) {
      const ms = parseTimestamp(time.value);
      // A time we cannot read stays an attribute, so it is not lost.
      if (ms !== undefined) {
        timestamp = ms;
        x.skipTime = time.name;
      }
    }
    const level = find(fields, severityFields, nested);
    if (level && (typeof level.value === 'string' || typeof level.value === 'number')) {
      severity = parseSeverity(level.value);
      if (severity) x.skipSeverity = level.name;
    }
    const message = find(fields, messageFields, nested);
    if (message) {
      const v = message.value;
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
        body = typeof v === 'string' ? v : String(v);
        x.skipMessage = message.name;
      }
    }
    x.attributes = {};
    x.count = 0;
    flatten(x, '', fields, 0);
    return record(truncate(body, MAX_BODY_LENGTH), timestamp, severity, withFilePath(x.attributes, context.file), context);
  };

  return (line, context) => {
    try {
      return parse(line, context);
    } catch (err) {
      // Not expected (the parsers report bad input as values); a safety net so one odd line cannot stop a file.
      return failed(line, `internal error: ${truncate(String((err as Error)?.message ?? err), 200)}`, context);
    }
  };
}

function record(body: string, timestamp: number, severity: Severity | undefined, attributes: Attributes, context: LineContext): LogRecord {
  const r: LogRecord = { timestamp, observedTimestamp: context.now, body, attributes, resource: context.resource, source: { file: context.file, offset: context.offset } };
  if (severity) {
    if (severity.severityNumber !== undefined) r.severityNumber = severity.severityNumber;
    r.severityText = severity.severityText;
  }
  return r;
}

function failed(line: string, reason: string, context: LineContext): LogRecord {
  const attributes: Attributes = {};
  attributes[PARSE_ERROR] = reason;
  return record(truncate(line, MAX_BODY_LENGTH), context.now, undefined, withFilePath(attributes, context.file), context);
}

/** Set last, so a parsed field of the same name cannot claim another file. */
function withFilePath(attributes: Attributes, file: string): Attributes {
  attributes[FILE_PATH] = truncate(file, MAX_STRING_LENGTH);
  return attributes;
}

function extractJson(line: string): Fields | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    // SyntaxError's message quotes the line back; the line is already the body.
    return 'invalid JSON';
  }
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Fields) : 'JSON value is not an object';
}

function regexExtractor(pattern: unknown): (line: string) => Fields | string {
  if (typeof pattern !== 'string' || pattern === '') throw new Error('a regex parser needs a pattern');
  let regex: RegExp;
  try {
    regex = new RegExp(pattern);
  } catch (err) {
    throw new Error(`invalid regex parser pattern ${JSON.stringify(pattern)}: ${(err as Error).message}`);
  }
  if (!/\(\?<(?![=!])/.test(pattern)) throw new Error(`regex parser pattern ${JSON.stringify(pattern)} has no named groups ((?<name>…)) to take fields from`);
  return (line) => {
    const m = regex.exec(line);
    // Groups are a null-prototype object: used as they are, no copy.
    return m === null ? 'pattern does not match' : (m.groups ?? {});
  };
}

function fieldNames(override: string | undefined, defaults: readonly string[]): readonly FieldName[] {
  return (override !== undefined ? [override] : defaults).map((name) => ({ name, path: name.includes('.') ? name.split('.') : undefined }));
}

/** The first of `names` that the line has, and its value. */
function find(fields: Fields, names: readonly FieldName[], nested: boolean): { name: string; value: unknown } | undefined {
  for (const f of names) {
    const value = lookup(fields, f, nested);
    if (value !== undefined) return { name: f.name, value };
  }
  return undefined;
}

function lookup(fields: Fields, f: FieldName, nested: boolean): unknown {
  if (Object.hasOwn(fields, f.name)) return fields[f.name];
  if (!nested || f.path === undefined) return undefined;
  let at: unknown = fields;
  for (const part of f.path) {
    if (at === null || typeof at !== 'object' || Array.isArray(at) || !Object.hasOwn(at, part)) return undefined;
    at = (at as Fields)[part];
  }
  return at;
}

/** Nested objects become dotted keys (`{"http":{"status":500}}` → `http.status`). */
function flatten(x: Extraction, prefix: string, fields: Fields, depth: number): void {
  for (const k in fields) {
    // One attribute is kept for log.file.path.
    if (x.count >= MAX_ATTRIBUTES - 1) return;
    const value = fields[k];
    if (value === undefined) continue; // a regex group that took no part in the match
    const key = prefix === '' ? k : `${prefix}.${k}`;
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && depth < MAX_DEPTH && !isEmptyObject(value)) {
      flatten(x, key, value as Fields, depth + 1);
    } else if (key !== x.skipTime && key !== x.skipSeverity && key !== x.skipMessage && key !== '') {
      setOwn(x.attributes, truncate(key, MAX_KEY_LENGTH), attributeValue(value));
      x.count++;
    }
  }
}

function setOwn<V>(object: Record<string, V>, key: string, value: NoInfer<V>): void {
  // Assigning `__proto__` would replace the object's prototype (or do nothing) instead of adding a key.
  if (key === '__proto__') Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  else object[key] = value;
}

function attributeValue(value: unknown): AttributeValue {
  switch (typeof value) {
    case 'string':
      return truncate(value, MAX_STRING_LENGTH);
    case 'boolean':
      return value;
    case 'number':
      // JSON's 1e999 parses to Infinity, which the schema (and JSON output) cannot carry.
      return Number.isFinite(value) ? value : String(value);
  }
  if (Array.isArray(value)) return scalarArray(value) ?? stringify(value);
  return stringify(value);
}

/** The array as an attribute if it holds only scalars: as is when within limits, else a trimmed copy. */
function scalarArray(items: unknown[]): AttributeValue | undefined {
  let fits = items.length <= MAX_ARRAY_ITEMS;
  for (const v of items) {
    if (typeof v === 'string') fits &&= v.length <= MAX_STRING_LENGTH;
    else if (typeof v === 'number') fits &&= Number.isFinite(v);
    else if (typeof v !== 'boolean') return undefined;
  }
  if (fits) return items as (string | number | boolean)[];
  const n = Math.min(items.length, MAX_ARRAY_ITEMS);
  const out: (string | number | boolean)[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = attributeValue(items[i]) as string | number | boolean;
  return out;
}

function stringify(value: unknown): string {
  try {
    return truncate(JSON.stringify(value) ?? String(value), MAX_STRING_LENGTH);
  } catch {
    return '[unserialisable]';
  }
}

function isEmptyObject(o: object): boolean {
  for (const _ in o) return false;
  return true;
}

/** Cut to `max` UTF-16 units (the schema's measure), never through a surrogate pair. */
function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  const c = s.charCodeAt(max - 1);
  return s.slice(0, c >= 0xd800 && c <= 0xdbff ? max - 1 : max);
}

/**
 * logfmt as go-logfmt and the other common encoders write it: pairs separated by blanks, `key=value`,
 * `key="quoted value"` with backslash escapes (\" \\ \n \t \r \uXXXX …), `key=` an empty string and a bare
 * `key` true. Lenient where real lines are sloppy (an `=` inside an unquoted value, as in URLs; an unknown
 * escape is kept as written), strict where the line is not logfmt at all: a quote in a key or an unquoted
 * value, an unterminated quote, an empty key, or no `key=value` pair (prose would otherwise read as bare
 * keys). Returns the fields, or a string saying why the line is not logfmt. Later duplicates win.
 */
export function parseLogfmt(line: string): LogfmtFields | string {
  // A plain object, not a null-prototype one: those are hash tables to V8 and made this parser 3× slower.
  // setOwn keeps a `__proto__` key a key.
  const fields: LogfmtFields = {};
  const n = line.length;
  let pairs = 0;
  let i = 0;
  while (i < n) {
    while (i < n && line.charCodeAt(i) <= SPACE) i++;
    if (i === n) break;
    const keyStart = i;
    let c = line.charCodeAt(i);
    while (i < n && c > SPACE && c !== EQUALS && c !== QUOTE) c = line.charCodeAt(++i);
    if (i === keyStart) return c === QUOTE ? `logfmt: quote where a key should be, at ${i}` : `logfmt: empty key at ${i}`;
    const key = line.slice(keyStart, i);
    if (c === QUOTE) return `logfmt: quote in a key at ${i}`;
    if (c !== EQUALS) {
      setOwn(fields, key, true);
      continue;
    }
    i++;
    if (line.charCodeAt(i) === QUOTE) {
      const value = quoted(line, i + 1);
      if (value === undefined) return `logfmt: unterminated quoted value at ${i}`;
      i = quotedEnd;
      if (i < n && line.charCodeAt(i) > SPACE) return `logfmt: text right after a quoted value at ${i}`;
      setOwn(fields, key, value);
    } else {
      const valueStart = i;
      while (i < n && (c = line.charCodeAt(i)) > SPACE) {
        if (c === QUOTE) return `logfmt: quote in an unquoted value at ${i}`;
        i++;
      }
      setOwn(fields, key, line.slice(valueStart, i));
    }
    pairs++;
  }
  return pairs > 0 ? fields : 'logfmt: no key=value pairs';
}

/** Where the last quoted value ended (past its closing quote); a second return value without an allocation. */
let quotedEnd = 0;

/** The quoted value whose text starts at `from`, or undefined if it never closes. */
function quoted(line: string, from: number): string | undefined {
  const close = line.indexOf('"', from);
  if (close === -1) return undefined;
  const escape = line.indexOf('\\', from);
  if (escape === -1 || escape > close) {
    // The usual case: nothing escaped, one slice.
    quotedEnd = close + 1;
    return line.slice(from, close);
  }
  let out = line.slice(from, escape);
  let i = escape;
  const n = line.length;
  while (i < n) {
    const c = line.charCodeAt(i);
    if (c === QUOTE) {
      quotedEnd = i + 1;
      return out;
    }
    if (c !== BACKSLASH || i + 1 === n) {
      const next = nextSpecial(line, i + 1);
      out += line.slice(i, next);
      i = next;
      continue;
    }
    const e = line[i + 1];
    i += 2;
    switch (e) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'u': {
        const hex = line.slice(i, i + 4);
        if (/^[0-9a-fA-F]{4}$/.test(hex)) {
          out += String.fromCharCode(parseInt(hex, 16));
          i += 4;
        } else out += '\\u';
        break;
      }
      default:
        out += '\\' + e;
    }
  }
  return undefined;
}

/** The next quote or backslash at or after `from`, or the end of the line. */
function nextSpecial(line: string, from: number): number {
  let i = from;
  const n = line.length;
  while (i < n) {
    const c = line.charCodeAt(i);
    if (c === QUOTE || c === BACKSLASH) return i;
    i++;
  }
  return n;
}

const SPACE = 32;
const QUOTE = 34;
const EQUALS = 61;
const BACKSLASH = 92;
