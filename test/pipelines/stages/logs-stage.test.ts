// The logs stage driven directly (no broker): enrichment, per-minute counts by event time with late and
// out-of-order records, rows shaped as the sink's tables, and restarts from a snapshot changing nothing.
import t from 'tap';
import fc from 'fast-check';
import { logsStage } from '../../../pipelines/stages/index.ts';
import { normaliseSeverity } from '../../../pipelines/stages/logs-stage.ts';
import { allRowProblems, CollectingEmitter, Driver, record, runAll } from './fixtures/harness.ts';

const T0 = Date.UTC(2024, 0, 1, 12, 0);
const S = 1000;
const api = { 'service.name': 'api', 'host.name': 'h1' };

function log(offset: number, ms: number, extra: Record<string, unknown> = {}) {
  return record('logs.raw', offset, { timestamp: T0 + ms, body: `line ${offset}`, resource: api, severityNumber: 9, ...extra });
}

const FIXED = [
  log(0, 1 * S),
  log(1, 30 * S, { severityNumber: undefined, severityText: 'error' }),
  log(2, 61 * S, { resource: { 'service.name': 'web', 'host.name': 'h2' }, severityNumber: 13 }),
  log(3, 5 * S), // out of order, its minute still open (watermark T0 + 1 s)
  log(4, 125 * S), // watermark T0 + 65 s: minute 0 closes
  log(5, 10 * S), // late: minute 0 is closed
  record('logs.raw', 6, '{not json'),
  record('logs.raw', 7, { body: 'no timestamp', resource: api }),
  log(8, 130 * S, {
    resource: { 'os.type': 'linux' },
    severityNumber: undefined,
    severityText: 'Notice',
    body: { msg: 'structured', n: 1 },
    attributes: { 'http.status': 200, tags: ['a', 'b'], ok: true, path: '/x' },
    traceId: 'a'.repeat(32),
    spanId: 'b'.repeat(16),
    observedTimestamp: T0 + 131 * S,
    source: { file: '/var/log/app.log', offset: 4096 },
  }),
  log(9, 62 * S),
  log(10, 121 * S, { severityNumber: undefined }),
];

t.test('severity normalisation', async (t) => {
  t.strictSame(normaliseSeverity(9, undefined), { severityNumber: 9, severity: 'INFO' });
  t.strictSame(normaliseSeverity(24, 'whatever'), { severityNumber: 24, severity: 'FATAL' });
  t.strictSame(normaliseSeverity(0, 'warning'), { severityNumber: 13, severity: 'WARN' });
  t.strictSame(normaliseSeverity(undefined, 'E'), { severityNumber: 17, severity: 'ERROR' });
  t.strictSame(normaliseSeverity(undefined, 'chatty'), { severityNumber: 0, severity: 'UNSPECIFIED' });
  t.strictSame(normaliseSeverity(undefined, undefined), { severityNumber: 0, severity: 'UNSPECIFIED' });
});

t.test('fixed input: enriched rows, rollups, late and dead-lettered records', async (t) => {
  const out = new CollectingEmitter();
  const d = new Driver(logsStage());
  d.feed(FIXED, out);
  // Minute 0 was emitted as soon as the watermark passed it, before the end of input.
  t.strictSame(out.rows('logs.rollup.1m'), [
    { minute: T0, service: 'api', severity: 'ERROR', count: 1 },
    { minute: T0, service: 'api', severity: 'INFO', count: 2 },
  ]);
  d.finish(out);
  t.strictSame(allRowProblems(out.outputs), []);

  const enriched = out.rows('logs.enriched');
  t.equal(enriched.length, 9, 'every valid record is enriched, the late one included');
  t.strictSame(out.keys('logs.enriched'), ['api', 'api', 'web', 'api', 'api', 'api', 'unknown', 'api', 'api']);
  t.strictSame(enriched[0], {
    time: T0 + 1000,
    timestamp: T0 + 1000,
    observed_timestamp: 0,
    service: 'api',
    host: 'h1',
    severity_number: 9,
    severity: 'INFO',
    body: 'line 0',
    attribute_keys: [],
    attribute_values: [],
    resource_keys: ['service.name', 'host.name'],
    resource_values: ['api', 'h1'],
    trace_id: '',
    span_id: '',
    source_file: '',
    source_offset: 0,
  });
  t.strictSame(enriched[6], {
    time: T0 + 130_000,
    timestamp: T0 + 130_000,
    observed_timestamp: T0 + 131_000,
    service: 'unknown',
    host: '',
    severity_number: 10,
    severity: 'INFO',
    body: '{"msg":"structured","n":1}',
    attribute_keys: ['http.status', 'tags', 'ok', 'path'],
    attribute_values: ['200', '["a","b"]', 'true', '/x'],
    resource_keys: ['os.type'],
    resource_values: ['linux'],
    trace_id: 'a'.repeat(32),
    span_id: 'b'.repeat(16),
    source_file: '/var/log/app.log',
    source_offset: 4096,
  });

  t.strictSame(out.of('late'), [{ kind: 'late', offset: 5, eventTime: T0 + 10_000 }]);
  t.strictSame(out.of('dead').map((o) => (o as { offset: number }).offset), [6, 7]);
  t.match((out.of('dead')[0] as { reason: string }).reason, /invalid JSON/);
  t.match((out.of('dead')[1] as { reason: string }).reason, /schema/);

  t.strictSame(out.rows('logs.rollup.1m'), [
    { minute: T0, service: 'api', severity: 'ERROR', count: 1 },
    { minute: T0, service: 'api', severity: 'INFO', count: 2 },
    { minute: T0 + 60_000, service: 'api', severity: 'INFO', count: 1 },
    { minute: T0 + 60_000, service: 'web', severity: 'WARN', count: 1 },
    { minute: T0 + 120_000, service: 'api', severity: 'INFO', count: 1 },
    { minute: T0 + 120_000, service: 'api', severity: 'UNSPECIFIED', count: 1 },
    { minute: T0 + 120_000, service: 'unknown', severity: 'INFO', count: 1 },
  ]);
  t.strictSame(out.keys('logs.rollup.1m').slice(0, 2), [`api|ERROR|${T0}`, `api|INFO|${T0}`]);
});

t.test('allowed lateness is a parameter', async (t) => {
  t.equal(logsStage().allowedLatenessMs, 60_000);
  // With 3 minutes of lateness the record at 10 s is in time.
  const outputs = runAll(logsStage({ allowedLatenessMs: 180_000 }), FIXED);
  t.equal(outputs.filter((o) => o.kind === 'late').length, 0);
  t.throws(() => logsStage({ allowedLatenessMs: -1 }));
});

/** A few hundred records with jitter (out of order within and beyond the lateness) over ~10 minutes. */
function generated(n: number, seed: number) {
  let s = seed;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const services = ['api', 'web', 'db'];
  const records = [];
  for (let i = 0; i < n; i++) {
    const base = (i / n) * 600 * S;
    const jitter = rnd() < 0.1 ? -rnd() * 120 * S : -rnd() * 20 * S;
    records.push(
      log(i, Math.max(0, Math.round(base + jitter)), {
        resource: { 'service.name': services[Math.floor(rnd() * 3)] },
        severityNumber: 1 + Math.floor(rnd() * 24),
      }),
    );
  }
  return records;
}

t.test('rollups add up to the enriched records that were not late, per 2-minute period', async (t) => {
  const out = new CollectingEmitter();
  const d = new Driver(logsStage());
  d.feed(generated(2000, 7), out);
  d.finish(out);
  t.strictSame(allRowProblems(out.outputs), []);
  const late = new Set(out.of('late').map((o) => (o as { offset: number }).offset));
  t.ok(late.size > 0, 'the data has late records');
  const expected = new Map<string, number>();
  const enriched = out.rows('logs.enriched');
  enriched.forEach((r, i) => {
    if (late.has(i)) return;
    const k = `${r.service}|${r.severity}|${Math.floor(r.time / 120_000)}`;
    expected.set(k, (expected.get(k) ?? 0) + 1);
  });
  const merged = new Map<string, number>();
  for (const r of out.rows('logs.rollup.1m')) {
    const k = `${r.service}|${r.severity}|${Math.floor(r.minute / 120_000)}`;
    merged.set(k, (merged.get(k) ?? 0) + r.count);
  }
  t.strictSame(Object.fromEntries([...merged].sort()), Object.fromEntries([...expected].sort()));
});

t.test('a restart from a snapshot at any record gives the same outputs', async (t) => {
  const records = generated(400, 11);
  const whole = runAll(logsStage(), records);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: records.length }), (k) => {
      t.strictSame(runAll(logsStage(), records, k), whole);
      return true;
    }),
    { numRuns: 25 },
  );
  for (const k of [0, 1, 200, 400]) t.strictSame(runAll(logsStage(), records, k), whole, `restart at ${k}`);
});
