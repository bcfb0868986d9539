// Lines of JSON, logfmt, regex-matched or plain text into logs.raw records: fields to time, severity, body
// and attributes, within the schema's limits, and a line that does not parse kept with the reason.
import t from 'tap';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { Value } from '@sinclair/typebox/value';
import { LogRecord } from '../../../../agents/events/log-record.ts';
import { createLineParser, parseLogfmt, type LineContext, type LineParserConfig } from '../../../../agents/agent/logs/line-parser.ts';

const now = Date.UTC(2026, 10, 23, 9, 0, 0);
const context: LineContext = { now, resource: { 'host.name': 'web-1', 'service.name': 'api' }, file: '/var/log/app.log', offset: 4096 };

function parse(config: LineParserConfig, line: string, ctx: LineContext = context): LogRecord {
  const r = createLineParser(config)(line, ctx);
  if (!Value.Check(LogRecord, r)) throw new Error(`not a LogRecord: ${JSON.stringify([...Value.Errors(LogRecord, r)].slice(0, 3))}`);
  return r;
}

t.test('none: the line is the body', async (t) => {
  const r = parse({ type: 'none' }, '{"msg":"not parsed"}');
  t.same(r, {
    timestamp: now, observedTimestamp: now, body: '{"msg":"not parsed"}', resource: context.resource,
    attributes: { 'log.file.path': '/var/log/app.log' }, source: { file: '/var/log/app.log', offset: 4096 },
  });
});

t.test('json: time, severity, message, and the rest flattened into attributes', async (t) => {
  const r = parse({ type: 'json' }, '{"time":"2026-11-23T08:00:00.250Z","level":"warn","msg":"slow query","db":{"table":"orders","ms":812,"slow":true},"tags":["a",1,false],"extra":[{"k":1}],"none":null,"empty":{}}');
  t.equal(r.timestamp, Date.parse('2026-11-23T08:00:00.250Z'));
  t.equal(r.observedTimestamp, now);
  t.equal(r.severityNumber, 13);
  t.equal(r.severityText, 'WARN');
  t.equal(r.body, 'slow query');
  t.same(r.attributes, {
    'db.table': 'orders', 'db.ms': 812, 'db.slow': true, tags: ['a', 1, false], extra: '[{"k":1}]', none: 'null', empty: '{}',
    'log.file.path': '/var/log/app.log',
  }, 'consumed fields are not repeated; arrays of scalars kept; other shapes as JSON');
  t.same(r.source, { file: '/var/log/app.log', offset: 4096 });
});

t.test('json: the default field names, in order of preference', async (t) => {
  t.equal(parse({ type: 'json' }, '{"ts":1795421702,"message":"m"}').timestamp, 1795421702000, 'ts in epoch seconds');
  t.equal(parse({ type: 'json' }, '{"@timestamp":"2026-11-23T08:00:00Z","log":"docker line"}').body, 'docker line');
  const both = parse({ type: 'json' }, '{"time":"2026-11-23T08:00:00Z","ts":"2026-11-23T07:00:00Z","msg":"m","message":"other"}');
  t.equal(both.timestamp, Date.parse('2026-11-23T08:00:00Z'), 'time before ts');
  t.equal(both.body, 'm', 'msg before message');
  t.same(both.attributes, { ts: '2026-11-23T07:00:00Z', message: 'other', 'log.file.path': '/var/log/app.log' }, 'the others stay');
  const ecs = parse({ type: 'json' }, '{"@timestamp":"2026-11-23T08:00:00Z","log":{"level":"error","logger":"db"},"message":"m"}');
  t.equal(ecs.severityNumber, 17, 'log.level found as nested ECS fields');
  t.same(ecs.attributes, { 'log.logger': 'db', 'log.file.path': '/var/log/app.log' });
  t.equal(parse({ type: 'json' }, '{"log.level":"debug"}').severityNumber, 5, 'and as a dotted key');
  t.equal(parse({ type: 'json' }, '{"level":30,"msg":"pino"}').severityText, 'INFO', "pino's numeric level");
});

t.test('json: overridden field names', async (t) => {
  const r = parse({ type: 'json', timestampField: 'when', severityField: 'sev', messageField: 'text' }, '{"when":"2026-11-23T08:00:00Z","sev":"E","text":"hi","msg":"not the message","level":"info"}');
  t.equal(r.timestamp, Date.parse('2026-11-23T08:00:00Z'));
  t.equal(r.severityNumber, 17);
  t.equal(r.body, 'hi');
  t.same(r.attributes, { msg: 'not the message', level: 'info', 'log.file.path': '/var/log/app.log' }, 'the defaults are not used');
  t.equal(parse({ type: 'json', messageField: 'req.path' }, '{"req":{"path":"/x","verb":"GET"}}').body, '/x', 'a nested message field');
});

t.test('json: fields that cannot serve stay attributes', async (t) => {
  const r = parse({ type: 'json' }, '{"time":"last tuesday","level":"chatty","msg":{"text":"structured"}}');
  t.equal(r.timestamp, now, 'an unreadable time falls back to the read time');
  t.equal(r.attributes!.time, 'last tuesday', 'and is kept');
  t.equal(r.severityNumber, undefined, 'an unknown level has no number');
  t.equal(r.severityText, 'chatty', 'but keeps its text');
  t.equal(r.body, '{"time":"last tuesday","level":"chatty","msg":{"text":"structured"}}', 'no string message: the line');
  t.equal(r.attributes!['msg.text'], 'structured');
  t.equal(parse({ type: 'json' }, '{"time":"1990-01-01T00:00:00Z"}').timestamp, now, 'out of the schema bounds: read time');
  t.equal(parse({ type: 'json' }, '{"msg":42}').body, '42');
});

t.test('json: not JSON, or not an object: kept with the reason', async (t) => {
  for (const [line, reason] of [['not json at all', 'invalid JSON'], ['{"a":', 'invalid JSON'], ['', 'invalid JSON'], ['[1,2]', 'JSON value is not an object'], ['"str"', 'JSON value is not an object'], ['null', 'JSON value is not an object']]) {
    const r = parse({ type: 'json' }, line);
    t.equal(r.body, line);
    t.equal(r.timestamp, now);
    t.same(r.attributes, { 'log.parse_error': reason, 'log.file.path': '/var/log/app.log' }, JSON.stringify(line));
  }
});

t.test('json: the schema limits cut, they do not refuse', async (t) => {
  const many: Record<string, number> = {};
  for (let i = 0; i < 300; i++) many[`k${i}`] = i;
  const r = parse({ type: 'json' }, JSON.stringify(many));
  t.equal(Object.keys(r.attributes!).length, 256, 'at most 256 attributes');
  t.equal(r.attributes!['log.file.path'], '/var/log/app.log', 'log.file.path always among them');
  const long = parse({ type: 'json' }, JSON.stringify({ ['k'.repeat(300)]: 'x'.repeat(70_000), arr: Array.from({ length: 1500 }, (_, i) => i), strs: ['y'.repeat(70_000)] }));
  t.equal(long.attributes!['k'.repeat(256)], 'x'.repeat(65_536), 'key and value cut to 256 and 65536');
  t.equal((long.attributes!.arr as number[]).length, 1000, 'arrays cut to 1000 items');
  t.equal((long.attributes!.strs as string[])[0].length, 65_536);
  const emoji = parse({ type: 'json' }, JSON.stringify({ e: 'x'.repeat(65_535) + '😀' })).attributes!.e as string;
  t.equal(emoji.length, 65_535, 'a surrogate pair is not cut in half');
  const huge = parse({ type: 'none' }, 'z'.repeat(2_000_000));
  t.equal((huge.body as string).length, 1_048_576, 'the body too');
  t.equal(parse({ type: 'json' }, '{"big":1e999}').attributes!.big, 'Infinity', 'a number JSON cannot carry');
  const deep = parse({ type: 'json' }, '{"a":'.repeat(20) + '1' + '}'.repeat(20));
  t.equal(deep.attributes!['a.a.a.a.a.a.a.a.a'], '{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":1}}}}}}}}}}}', 'deep nesting kept as JSON');
  const veryDeep = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000);
  t.ok(parse({ type: 'json' }, veryDeep), 'absurd nesting does not throw');
  const proto = parse({ type: 'json' }, '{"__proto__":{"polluted":1},"constructor":"c"}');
  t.equal(proto.attributes!['__proto__.polluted'], 1);
  t.equal(proto.attributes!.constructor, 'c');
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype touched');
  t.equal(parse({ type: 'json' }, '{"":"empty key","ok":1}').attributes!.ok, 1, 'an empty key (not allowed by the schema) is left out');
});

t.test('logfmt', async (t) => {
  const r = parse({ type: 'logfmt' }, 'ts=2026-11-23T08:00:01Z level=error msg="payment failed" order_id=42 retry url=/cart?a=b empty=');
  t.equal(r.timestamp, Date.parse('2026-11-23T08:00:01Z'));
  t.equal(r.severityNumber, 17);
  t.equal(r.body, 'payment failed');
  t.same(r.attributes, { order_id: '42', retry: true, url: '/cart?a=b', empty: '', 'log.file.path': '/var/log/app.log' }, 'values stay strings; a bare key is true');
  t.same({ ...(parseLogfmt('a="say \\"hi\\"\\n\\tC:\\\\dir \\u00e9 \\q"  b=2\tc') as object) }, { a: 'say "hi"\n\tC:\\dir é \\q', b: '2', c: true }, 'escapes; an unknown one kept as written');
  t.same({ ...(parseLogfmt('a=1 a=2') as object) }, { a: '2' }, 'the last duplicate wins');
  for (const [line, reason] of [
    ['a="unterminated', 'logfmt: unterminated quoted value at 2'],
    ['=value', 'logfmt: empty key at 0'],
    ['a=1 "quoted key"=2', 'logfmt: quote where a key should be, at 4'],
    ['ke"y=1', 'logfmt: quote in a key at 2'],
    ['a="x"y', 'logfmt: text right after a quoted value at 5'],
    ['a=b"c', 'logfmt: quote in an unquoted value at 3'],
    ['Starting server on port 8080', 'logfmt: no key=value pairs'],
    ['', 'logfmt: no key=value pairs'],
  ]) {
    const bad = parse({ type: 'logfmt' }, line);
    t.equal(bad.body, line);
    t.equal(bad.attributes!['log.parse_error'], reason, line);
  }
});

const access = '^(?<client>\\S+) \\S+ \\S+ \\[(?<time>[^\\]]+)\\] "(?<method>\\S+) (?<path>\\S+) \\S+" (?<status>\\d{3}) (?<bytes>\\d+)(?: "(?<referer>[^"]*)")?$';

t.test('regex: named groups are fields', async (t) => {
  const r = parse({ type: 'regex', pattern: access }, '10.0.0.1 - - [23/Nov/2026:08:00:02 +0000] "GET /cart HTTP/1.1" 404 512');
  t.equal(r.timestamp, Date.parse('2026-11-23T08:00:02Z'));
  t.equal(r.body, '10.0.0.1 - - [23/Nov/2026:08:00:02 +0000] "GET /cart HTTP/1.1" 404 512', 'no message group: the line');
  t.same(r.attributes, { client: '10.0.0.1', method: 'GET', path: '/cart', status: '404', bytes: '512', 'log.file.path': '/var/log/app.log' }, 'a group that took no part is left out');
  const m = parse({ type: 'regex', pattern: '^(?<ts>\\S+) \\[(?<lvl>\\w+)\\] (?<msg>.*)$' }, '2026-11-23T08:00:00Z [WARN] disk 91% full');
  t.equal(m.body, 'disk 91% full');
  t.equal(m.severityNumber, 13);
  t.same(m.attributes, { 'log.file.path': '/var/log/app.log' });
  const none = parse({ type: 'regex', pattern: access }, 'garbage');
  t.same(none.attributes, { 'log.parse_error': 'pattern does not match', 'log.file.path': '/var/log/app.log' });
  t.equal(none.body, 'garbage');
});

t.test('config errors are thrown at config time, naming the pattern', async (t) => {
  t.throws(() => createLineParser({ type: 'regex', pattern: '(?<open' }), /invalid regex parser pattern "\(\?<open": /);
  t.throws(() => createLineParser({ type: 'regex', pattern: '^\\d+ (.*)$' }), /pattern "\^\\\\d\+ \(\.\*\)\$" has no named groups/);
  t.throws(() => createLineParser({ type: 'regex' } as unknown as LineParserConfig), /a regex parser needs a pattern/);
  t.throws(() => createLineParser({ type: 'xml' } as unknown as LineParserConfig), /unknown parser type "xml"/);
});

t.test('one parser, many lines: no state leaks between lines', async (t) => {
  const p = createLineParser({ type: 'json' });
  const a = p('{"msg":"a","x":1,"level":"error"}', context);
  const b = p('{"y":2}', { ...context, offset: 10 });
  t.same(a.attributes, { x: 1, 'log.file.path': '/var/log/app.log' });
  t.same(b.attributes, { y: 2, 'log.file.path': '/var/log/app.log' });
  t.equal(b.severityText, undefined);
  t.equal(b.body, '{"y":2}');
  t.equal(b.source!.offset, 10);
});

const configs: LineParserConfig[] = [{ type: 'none' }, { type: 'json' }, { type: 'logfmt' }, { type: 'regex', pattern: '^(?<ts>\\S+) (?<level>\\w+) (?<msg>.*)$' }];
const anyLine = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.json({ maxDepth: 4 }),
  fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 3 })).map((o) => JSON.stringify(o)),
  fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 12 })), { maxLength: 6 }).map((kv) => kv.map(([k, v]) => `${k}=${v}`).join(' ')),
);

t.test('property: any line, any parser: a valid record, never an exception, the line never lost', async (t) => {
  const parsers = configs.map((c) => createLineParser(c));
  fc.assert(fc.property(anyLine, fc.nat({ max: configs.length - 1 }), (line, which) => {
    const r = parsers[which](line, context);
    if (!Value.Check(LogRecord, r)) throw new Error(JSON.stringify([...Value.Errors(LogRecord, r)][0]));
    // Either the body is the line, or the line parsed and its message field became the body.
    if (r.body !== line && r.attributes!['log.parse_error'] !== undefined) return false;
    return r.attributes!['log.file.path'] === context.file && r.source!.offset === context.offset;
  }), { numRuns: 3000 });
  t.pass('held');
});

t.test('property: JSON fields come back as attributes', async (t) => {
  const key = fc.stringMatching(/^[a-z][a-z0-9_]{0,11}$/).filter((k) => !['time', 'timestamp', 'ts', 'level', 'severity', 'lvl', 'msg', 'message', 'log'].includes(k));
  const scalar = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean());
  fc.assert(fc.property(fc.dictionary(key, fc.oneof(scalar, fc.dictionary(key, scalar, { maxKeys: 3 })), { maxKeys: 12 }), (fields) => {
    const r = createLineParser({ type: 'json' })(JSON.stringify(fields), context);
    for (const [k, v] of Object.entries(fields)) {
      if (v !== null && typeof v === 'object') {
        for (const [k2, v2] of Object.entries(v)) if (!Object.is(r.attributes![`${k}.${k2}`], JSON.parse(JSON.stringify(v2)))) return false;
        if (Object.keys(v).length === 0 && r.attributes![k] !== '{}') return false;
      } else if (!Object.is(r.attributes![k], JSON.parse(JSON.stringify(v)))) return false;
    }
    return Value.Check(LogRecord, r);
  }), { numRuns: 1000 });
  t.pass('held');
});

/** A logfmt encoder as go-logfmt writes: quoted when empty or holding blanks, `=` or `"`; then escaped. */
function encodeLogfmt(fields: [string, string | true][]): string {
  return fields.map(([k, v]) => {
    if (v === true) return k;
    if (v !== '' && !/[\u0000-\u0020"=]/.test(v)) return `${k}=${v}`;
    const escaped = v.replace(/[\u0000-\u001f"\\]/g, (c) => {
      if (c === '"' || c === '\\') return `\\${c}`;
      if (c === '\n') return '\\n';
      if (c === '\t') return '\\t';
      if (c === '\r') return '\\r';
      return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
    });
    return `${k}="${escaped}"`;
  }).join(' ');
}

t.test('property: logfmt round trip', async (t) => {
  const key = fc.string({ unit: 'binary', minLength: 1, maxLength: 16 }).filter((k) => ![...k].some((c) => c <= ' ' || c === '=' || c === '"'));
  const value = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.constant(true as const), fc.constantFrom('', ' ', '"', '\\', 'a=b', '\\"'));
  fc.assert(fc.property(fc.uniqueArray(fc.tuple(key, value), { selector: ([k]) => k, minLength: 1, maxLength: 10 }).filter((kv) => kv.some(([, v]) => v !== true)), (kv) => {
    const parsed = parseLogfmt(encodeLogfmt(kv));
    if (typeof parsed === 'string') throw new Error(parsed);
    return isDeepStrictEqual({ ...parsed }, Object.fromEntries(kv));
  }), { numRuns: 1000 });
  t.pass('held');
});
