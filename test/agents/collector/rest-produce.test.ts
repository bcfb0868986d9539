// The collector's REST produce endpoint against a real broker: JSON records land in the topic only after
// the broker acknowledged; raw topics are validated against their schema; bad input gets a clear 4xx and
// writes nothing; a broker that is down gives 503 with Retry-After.
import t from 'tap';
import { buildCollector } from '../../../agents/collector/server.ts';
import type { BrokerProcess } from '../../helpers/broker-process.ts';
import { startCollectorWithBroker, type CollectorUnderTest } from '../../helpers/collector.ts';
import { kcat } from '../../helpers/kcat.ts';

let broker: BrokerProcess;
let url: string;
let stack: CollectorUnderTest;
t.before(async () => {
  stack = await startCollectorWithBroker(64 * 1024);
  ({ broker, url } = stack);
});
t.teardown(() => stack.stop());

const post = (path: string, body: string, type = 'application/json') => fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': type }, body });

async function readTopic(topic: string): Promise<string[]> {
  const res = await kcat(['-C', '-b', `127.0.0.1:${broker.port}`, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%k|%s\\n']);
  return res.stdout.toString().trim().split('\n').filter(Boolean);
}

const log = (i: number) => ({ timestamp: Date.now(), severityText: 'INFO', severityNumber: 9, body: `line ${i}`, resource: { 'service.name': 'api', 'host.name': 'web-1' }, attributes: { 'http.status': 200 } });

t.test('JSON records are written and acknowledged', async (t) => {
  const res = await post('/topics/events', JSON.stringify({ records: [{ key: 'a', value: { n: 1 } }, { value: 'plain', headers: { h: 'v' } }] }));
  t.equal(res.status, 200);
  const body = (await res.json()) as { offsets: unknown[] };
  t.ok(body.offsets.length > 0, 'offsets returned');
  t.same(await readTopic('events'), ['a|{"n":1}', '|"plain"']);
});

t.test('raw topics: schema-checked, keyed by host', async (t) => {
  const res = await post('/topics/logs.raw', JSON.stringify({ records: [{ value: log(1) }, { value: log(2) }] }));
  t.equal(res.status, 200, await res.clone().text());
  const stored = await readTopic('logs.raw');
  t.equal(stored.length, 2);
  t.ok(stored.every((l) => l.startsWith('web-1|')), 'keyed by host.name');
  t.equal(JSON.parse(stored[0].slice(6)).body, 'line 1');
});

t.test('bad input: clear 4xx, nothing written', async (t) => {
  const before = (await readTopic('logs.raw')).length;
  const bad = { ...log(3), severityNumber: 99 };
  let res = await post('/topics/logs.raw', JSON.stringify({ records: [{ value: log(3) }, { value: bad }] }));
  t.equal(res.status, 400);
  t.match(((await res.json()) as { message: string }).message, /records\[1\]\.value does not match the logs\.raw schema: \/severityNumber/);
  res = await post('/topics/metrics.raw', JSON.stringify({ records: [{ value: { timestamp: Date.now(), name: 'cpu', type: 'gauge', resource: {} } }] }));
  t.equal(res.status, 400, 'a gauge without a value');
  res = await post('/topics/logs.raw', '{"records": [', 'application/json');
  t.equal(res.status, 400, 'broken JSON');
  res = await post('/topics/logs.raw', 'records', 'text/csv');
  t.equal(res.status, 415, 'wrong content type');
  res = await post('/topics/logs.raw', JSON.stringify({ records: [{ value: 'x'.repeat(100_000) }] }));
  t.equal(res.status, 413, 'body over the limit');
  res = await post('/topics/bad%2Fname', JSON.stringify({ records: [{ value: 1 }] }));
  t.equal(res.status, 400, 'invalid topic name');
  res = await post('/topics/events', JSON.stringify({ records: [] }));
  t.equal(res.status, 400, 'no records');
  t.equal((await readTopic('logs.raw')).length, before, 'nothing was written');
});

t.test('/metrics counts requests by route and status', async (t) => {
  const text = await (await fetch(`${url}/metrics`)).text();
  t.match(text, /tributary_collector_requests_total\{route="\/topics\/:topic",status="400"\} \d+/);
});

t.test('a broker that is down gives 503 with Retry-After', async (t) => {
  const { app: orphan } = await buildCollector({ brokers: ['127.0.0.1:1'], bodyLimitBytes: 64 * 1024 });
  const res = await orphan.inject({ method: 'POST', url: '/topics/events', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ records: [{ value: 1 }] }) });
  t.equal(res.statusCode, 503);
  t.equal(res.headers['retry-after'], '5');
  t.equal(res.json().code, 'BROKER_UNAVAILABLE');
  await orphan.close();
});

t.test('the page-view beacon: bad input is refused, good input is enriched', async (t) => {
  const beacon = (body: string, type = 'text/plain') => fetch(`${url}/api/event`, { method: 'POST', headers: { 'content-type': type, 'user-agent': 'test-agent/1.0' }, body });
  t.equal((await beacon('{not json')).status, 400, 'broken JSON');
  t.equal((await beacon(JSON.stringify({ site: 'x.example', url: 'http://x.example/', path: '/', visitorId: 'forged' }))).status, 400, 'fields only the collector sets are refused');
  t.equal((await beacon(JSON.stringify({ url: 'http://x.example/', path: '/' }))).status, 400, 'no site');
  const ok = await beacon(JSON.stringify({ site: 'x.example', url: 'http://x.example/a', path: '/a' }), 'application/json');
  t.equal(ok.status, 202);
  const views = (await readTopic('pageviews.raw')).map((l) => JSON.parse(l.slice(l.indexOf('|') + 1)));
  t.equal(views.length, 1, 'only the valid beacon was written');
  t.match(views[0], { site: 'x.example', path: '/a', userAgent: 'test-agent/1.0', visitorId: /^[0-9a-f]{32}$/ });
  const script = await fetch(`${url}/tracker.js`);
  t.match(script.headers.get('content-type') ?? '', /javascript/);
  t.ok((await script.text()).includes('sendBeacon'));
});
