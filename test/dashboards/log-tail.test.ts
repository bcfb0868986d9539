// The live tail against a real broker (`tributary broker` as a child process): an SSE client sees exactly the
// new logs.enriched records that match its filters, in offset order, with their partition and offset;
// records written before it started are not replayed; heartbeats flow; bad filters are a 400; the number of
// tails is capped; disconnecting stops the consumer (the active-tails gauge returns to 0).
import t from 'tap';
import { ProduceAcks, Producer } from '@platformatic/kafka';
import { TopicFollower, type TailedRecord } from '../../dashboards/log-tail.ts';
import { startDashboards } from '../../dashboards/server.ts';
import { createTopics } from '../helpers/admin.ts';
import { removeDir, startBroker } from '../helpers/broker-process.ts';
import { until } from '../helpers/collect.ts';

const broker = await startBroker();
const brokers = [`127.0.0.1:${broker.port}`];
t.teardown(async () => {
  await broker.stop();
  removeDir(broker.dataDir);
});
await createTopics(broker.port, [{ topic: 'logs.enriched', numPartitions: 2 }]);
const producer = new Producer({ clientId: 'log-tail-test', bootstrapBrokers: brokers, acks: ProduceAcks.ALL });
t.teardown(() => producer.close());

let seq = 0;
const log = (service: string, severity: string, body: string, host = 'web-1') => ({ time: Date.now(), timestamp: Date.now(), service, host, severity, severity_number: 9, body, seq: seq++ });
async function produce(rows: { partition: number; value: object }[]): Promise<{ partition: number; offset: number }[]> {
  const result = await producer.send({ messages: rows.map((r) => ({ topic: 'logs.enriched', partition: r.partition, value: Buffer.from(JSON.stringify(r.value)) })) });
  // The answer holds each partition's base offset; a partition's messages follow it in the order sent.
  const next = new Map((result.offsets ?? []).map((o) => [o.partition, Number(o.offset)]));
  return rows.map((r) => {
    const offset = next.get(r.partition)!;
    next.set(r.partition, offset + 1);
    return { partition: r.partition, offset };
  });
}

// Written before any tail starts: a tail must not show them.
await produce([{ partition: 0, value: log('api', 'ERROR', 'old failure') }, { partition: 1, value: log('api', 'ERROR', 'old failure') }]);

const dash = await startDashboards({ port: 0, brokers, maxTails: 2, tailHeartbeatMs: 200 });
t.teardown(() => dash.close());

interface SseEvent {
  event: string;
  data: any;
  id?: string;
}

/** A streaming SSE client on fetch: collects events and counts heartbeat comments. */
async function openTail(query: string) {
  const abort = new AbortController();
  const res = await fetch(new URL(`/api/logs/tail?${query}`, dash.url), { signal: abort.signal });
  const events: SseEvent[] = [];
  let heartbeats = 0;
  const done = (async () => {
    if (!res.body || res.status !== 200) return;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const e: Partial<SseEvent> = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(': heartbeat')) heartbeats++;
            else if (line.startsWith('event: ')) e.event = line.slice(7);
            else if (line.startsWith('data: ')) e.data = JSON.parse(line.slice(6));
            else if (line.startsWith('id: ')) e.id = line.slice(4);
          }
          if (e.event) events.push(e as SseEvent);
        }
      }
    } catch {
      // aborted by the test
    }
  })();
  return {
    res,
    events,
    heartbeats: () => heartbeats,
    logs: () => events.filter((e) => e.event === 'log').map((e) => e.data),
    ready: () => until('the tail to be ready', () => events.some((e) => e.event === 'ready'), 20_000),
    async close() {
      abort.abort();
      await done;
    },
  };
}

const activeTails = async () => Number(/tributary_dashboards_active_tails (\d+)/.exec(await (await fetch(new URL('/metrics', dash.url))).text())?.[1]);

t.test('bad filters are a 400 with the reason', async (t) => {
  for (const [query, code] of [
    ['severity=LOUD', 'INVALID_REQUEST'],
    ['colour=red', 'UNKNOWN_PARAMETER'],
    ['service=a&service=b', 'INVALID_REQUEST'],
    [`text=${'x'.repeat(2000)}`, 'INVALID_REQUEST'],
  ]) {
    const res = await fetch(new URL(`/api/logs/tail?${query}`, dash.url));
    const body = (await res.json()) as { code: string; message: string };
    t.equal(res.status, 400, query.slice(0, 40));
    t.equal(body.code, code, `${query.slice(0, 40)}: ${body.message}`);
    t.ok(body.message.length > 5);
  }
  t.equal(await activeTails(), 0, 'no tail was started');
});

t.test('only new, matching records, in order, with partition and offset', async (t) => {
  const tail = await openTail('service=api&severity=ERROR&text=DISK');
  t.equal(tail.res.status, 200);
  t.match(tail.res.headers.get('content-type'), /text\/event-stream/);
  await tail.ready();
  t.same(tail.events[0].data, { partitions: 2 });

  const rows = [
    { partition: 0, value: log('api', 'ERROR', 'Disk full on /var') },
    { partition: 0, value: log('api', 'INFO', 'disk checked') },
    { partition: 0, value: log('worker', 'ERROR', 'disk full') },
    { partition: 1, value: log('api', 'ERROR', 'connection reset') },
    { partition: 0, value: log('api', 'ERROR', 'second disk error') },
    { partition: 1, value: log('api', 'ERROR', 'disk gone', 'web-2') },
    { partition: 0, value: log('api', 'ERROR', 'third DISK error') },
  ];
  const positions = await produce(rows);
  const wanted = [0, 4, 5, 6];
  await until('the matching records', () => tail.logs().length >= wanted.length, 20_000, () => JSON.stringify(tail.logs()));
  await new Promise((r) => setTimeout(r, 500));
  const got = tail.logs();
  t.equal(got.length, wanted.length, 'nothing else arrived');
  t.same(got.map((l) => l.record.body).sort(), wanted.map((i) => (rows[i].value as { body: string }).body).sort());
  for (const i of wanted) {
    const e = got.find((l) => l.record.seq === (rows[i].value as { seq: number }).seq);
    t.same({ partition: e.partition, offset: e.offset }, positions[i], `record ${i}: partition and offset as produced`);
  }
  const partition0 = got.filter((l) => l.partition === 0).map((l) => l.offset);
  t.same(partition0, [...partition0].sort((a, b) => a - b), 'offset order within a partition');
  t.notOk(got.some((l) => l.record.body === 'old failure'), 'no record from before the tail started');
  const ids = tail.events.filter((e) => e.event === 'log').map((e) => e.id);
  t.same(ids, got.map((l) => `${l.partition}:${l.offset}`), 'SSE ids are partition:offset');
  await until('a heartbeat', () => tail.heartbeats() > 0, 5_000);
  t.equal(await activeTails(), 1);
  await tail.close();
  await until('the consumer to stop', async () => (await activeTails()) === 0, 10_000);
  t.pass('disconnecting stopped the tail');
});

t.test('an empty filter follows everything; tails are capped', async (t) => {
  const a = await openTail('');
  const b = await openTail('host=web-2');
  await Promise.all([a.ready(), b.ready()]);
  const third = await fetch(new URL('/api/logs/tail', dash.url));
  t.equal(third.status, 429);
  t.match(((await third.json()) as { message: string }).message, /at most 2 live tails/);
  await produce([{ partition: 1, value: log('checkout', 'INFO', 'paid', 'web-2') }, { partition: 0, value: log('api', 'DEBUG', 'tick') }]);
  await until('both records', () => a.logs().length >= 2, 20_000);
  await until('the web-2 record', () => b.logs().length >= 1, 20_000);
  t.same(a.logs().map((l) => l.record.body).sort(), ['paid', 'tick']);
  t.same(b.logs().map((l) => l.record.body), ['paid']);
  t.equal(await activeTails(), 2);
  await Promise.all([a.close(), b.close()]);
  await until('every consumer to stop', async () => (await activeTails()) === 0, 10_000);
  const again = await openTail('');
  t.equal(again.res.status, 200, 'a slot is free again');
  await again.close();
});

t.test('a tail started before its topic exists shows the records once it does', async (t) => {
  const got: TailedRecord[] = [];
  let readyWith = -1;
  const errors: string[] = [];
  const follower = new TopicFollower({ brokers, topic: 'logs.later', onReady: (n) => (readyWith = n), onRecord: (r) => got.push(r), onError: (e) => errors.push(e.message) });
  follower.start();
  t.teardown(() => follower.stop());
  await until('ready', () => readyWith !== -1, 10_000);
  t.equal(readyWith, 0, 'ready with no partitions');
  await createTopics(broker.port, [{ topic: 'logs.later', numPartitions: 1 }]);
  await producer.send({ messages: [{ topic: 'logs.later', partition: 0, value: Buffer.from(JSON.stringify(log('api', 'INFO', 'first ever'))) }] });
  await until('the first record of the new topic', () => got.length === 1, 20_000, () => errors.join('; '));
  t.same({ partition: got[0].partition, offset: got[0].offset, body: got[0].record.body }, { partition: 0, offset: 0, body: 'first ever' }, 'from its first offset: all of it is new');
  t.same(errors, [], 'an absent topic is not an error');
});
