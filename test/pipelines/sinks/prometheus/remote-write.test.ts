// The remote-write client: its encoding decoded back independently, writes into a real Prometheus (Debian's
// 2.42) read back with PromQL, Prometheus' out-of-order rejection, and the retry rules against a local server.
import t from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs';
import { uncompressSync } from 'snappy';
import {
  decodeWriteRequest,
  encodeWriteRequest,
  parseRetryAfter,
  RemoteWriteClient,
  RemoteWriteError,
  RemoteWriteRejectedError,
  type RemoteWriteSeries,
} from '../../../../pipelines/sinks/prometheus/remote-write.ts';
import { startPrometheus, type PrometheusServer } from '../../../helpers/prometheus.ts';

// The 1.0 spec's messages, written out again here so that a wrong field number in the source shows up.
const SPEC = protobuf.parse(`
syntax = "proto3";
package spec;
message WriteRequest { repeated TimeSeries timeseries = 1; }
message TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; }
message Label { string name = 1; string value = 2; }
message Sample { double value = 1; int64 timestamp = 2; }
`).root.lookupType('spec.WriteRequest');

function decodeIndependently(body: Buffer): any {
  return SPEC.toObject(SPEC.decode(uncompressSync(body, { asBuffer: true }) as Buffer), { longs: Number, arrays: true, defaults: true });
}

/** Resolves with what the promise rejected with; fails the test if it resolved. */
async function failure(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

t.test('encodeWriteRequest', async (t) => {
  t.test('protobuf the spec reads back, in snappy block format', async (t) => {
    const body = encodeWriteRequest([
      {
        labels: { zone: 'b', __name__: 'http_requests', job: 'api', instance: 'host-1', empty: '' },
        samples: [
          { timestamp: 1_700_000_030_000, value: 3.25 },
          { timestamp: 1_700_000_000_000, value: -1 },
          { timestamp: 1_700_000_015_000, value: 0 },
        ],
      },
      { labels: { __name__: 'no_samples' }, samples: [] },
      { labels: { __name__: 'specials' }, samples: [{ timestamp: 0, value: Infinity }, { timestamp: 1, value: -Infinity }, { timestamp: 2, value: NaN }] },
    ]);
    t.notSame([...body.subarray(0, 4)], [0xff, 0x06, 0x00, 0x00], 'not the framed format');
    const decoded = decodeIndependently(body);
    t.equal(decoded.timeseries.length, 2, 'a series without samples is left out');
    const [first, second] = decoded.timeseries;
    t.strictSame(first.labels.map((l: any) => l.name), ['__name__', 'instance', 'job', 'zone'], 'labels sorted by name, the empty one dropped');
    t.strictSame(first.labels.map((l: any) => l.value), ['http_requests', 'host-1', 'api', 'b']);
    t.strictSame(first.samples, [
      { value: -1, timestamp: 1_700_000_000_000 },
      { value: 0, timestamp: 1_700_000_015_000 },
      { value: 3.25, timestamp: 1_700_000_030_000 },
    ], 'samples in time order, millisecond timestamps');
    t.equal(second.samples[0].value, Infinity);
    t.equal(second.samples[1].value, -Infinity);
    t.ok(Number.isNaN(second.samples[2].value));
  });

  t.test('decodeWriteRequest is its inverse', async (t) => {
    const series: RemoteWriteSeries[] = [
      { labels: { __name__: 'a', le: '0.5' }, samples: [{ timestamp: 10, value: 1 }, { timestamp: 20, value: 2 }] },
      { labels: { __name__: 'b' }, samples: [{ timestamp: 2 ** 50, value: 1e-300 }] },
    ];
    t.strictSame(decodeWriteRequest(encodeWriteRequest(series)), series);
    t.strictSame(decodeWriteRequest(encodeWriteRequest([])), []);
  });

  t.test('refuses what no receiver may be sent', async (t) => {
    t.throws(() => encodeWriteRequest([{ labels: { job: 'x' }, samples: [{ timestamp: 1, value: 1 }] }]), /__name__/);
    t.throws(() => encodeWriteRequest([{ labels: { __name__: 'a', 'bad.name': 'x' }, samples: [{ timestamp: 1, value: 1 }] }]), /invalid label name "bad.name"/);
    t.throws(() => encodeWriteRequest([{ labels: { __name__: 'a', '1x': 'x' }, samples: [{ timestamp: 1, value: 1 }] }]), /invalid label name/);
    t.throws(() => encodeWriteRequest([{ labels: { __name__: 'a' }, samples: [{ timestamp: 1.5, value: 1 }] }]), /not an integer/);
    t.throws(() => encodeWriteRequest([{ labels: { __name__: 'a', n: 1 as any }, samples: [{ timestamp: 1, value: 1 }] }]), /not a string/);
  });
});

t.test('parseRetryAfter', async (t) => {
  t.equal(parseRetryAfter(null), undefined);
  t.equal(parseRetryAfter('0'), 0);
  t.equal(parseRetryAfter(' 2 '), 2000);
  t.equal(parseRetryAfter('1.5'), 1500);
  const now = Date.parse('2024-01-01T00:00:00Z');
  t.equal(parseRetryAfter('Mon, 01 Jan 2024 00:00:03 GMT', now), 3000);
  t.equal(parseRetryAfter('Sun, 31 Dec 2023 23:00:00 GMT', now), 0, 'a date in the past means now');
  t.equal(parseRetryAfter('soon'), undefined);
});

t.test('backoff doubles from min to max, with jitter in the upper half', async (t) => {
  const c = new RemoteWriteClient({ url: 'http://127.0.0.1:1/', minBackoffMs: 100, maxBackoffMs: 1000 });
  for (const [retry, base] of [[1, 100], [2, 200], [3, 400], [4, 800], [5, 1000], [40, 1000]]) {
    for (let i = 0; i < 50; i++) {
      const d = c.backoffMs(retry);
      if (d < base / 2 || d > base) t.fail(`retry ${retry}: ${d} ms outside [${base / 2}, ${base}]`);
    }
  }
  t.pass('all within bounds');
});

// A local receiver whose answers a test scripts; `forward` relays a request to the real Prometheus.
interface Recorded { headers: IncomingMessage['headers']; body: Buffer }
async function scriptedServer(answer: (n: number, req: Recorded, res: ServerResponse) => void | Promise<void>) {
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec = { headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(rec);
      void answer(requests.length, rec, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/write`;
  const close = () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return { url, requests, close };
}

let prom: PrometheusServer;
t.test('against a real Prometheus', async (t) => {
  prom = await startPrometheus();
  t.teardown(() => prom.stop());
  // Whole minutes, within the last half hour: inside the head block of a fresh Prometheus, and close enough
  // to "now" for the default 5-minute lookback of instant queries.
  const base = Math.floor(Date.now() / 60_000) * 60_000 - 20 * 60_000;

  t.test('written samples come back from /api/v1/query and /api/v1/query_range', async (t) => {
    const client = new RemoteWriteClient({ url: prom.remoteWriteUrl });
    await client.write([
      {
        labels: { __name__: 'rw_test_temperature', job: 'sensors', instance: 'probe-1', room: 'kitchen' },
        samples: [
          { timestamp: base + 30_000, value: 21.75 },
          { timestamp: base, value: 20.5 },
          { timestamp: base + 15_000, value: -3 },
        ],
      },
      {
        labels: { __name__: 'rw_test_temperature', job: 'sensors', instance: 'probe-1', room: 'cellar' },
        samples: [{ timestamp: base, value: 12 }],
      },
    ]);
    const at = await prom.query('rw_test_temperature{room="kitchen"}', base + 20_000);
    t.equal(at.resultType, 'vector');
    t.strictSame(at.result, [{
      metric: { __name__: 'rw_test_temperature', job: 'sensors', instance: 'probe-1', room: 'kitchen' },
      value: [(base + 20_000) / 1000, '-3'],
    }], 'the sample at or before the query time, with every label');
    const sum = await prom.query('sum(rw_test_temperature)', base + 5_000);
    t.equal(sum.result[0].value[1], '32.5', 'PromQL over both series');
    const range = await prom.queryRange('rw_test_temperature{room="kitchen"}', base, base + 30_000, 15_000);
    t.equal(range.resultType, 'matrix');
    t.strictSame(range.result[0].values, [
      [base / 1000, '20.5'],
      [(base + 15_000) / 1000, '-3'],
      [(base + 30_000) / 1000, '21.75'],
    ], 'every sample at its own timestamp, in order');
    const cellar = await prom.queryRange('rw_test_temperature{room="cellar"}', base, base + 30_000, 15_000);
    t.strictSame(cellar.result[0].values.map((v: [number, string]) => v[1]), ['12', '12', '12'], 'lookback carries the single sample');
  });

  t.test('an out-of-order sample is rejected with the server\'s reason, and not retried', async (t) => {
    const retries: number[] = [];
    const client = new RemoteWriteClient({ url: prom.remoteWriteUrl, onRetry: (n) => retries.push(n) });
    await client.write([{ labels: { __name__: 'rw_test_ooo' }, samples: [{ timestamp: base + 60_000, value: 1 }] }]);
    const err = await failure(client.write([
      { labels: { __name__: 'rw_test_ooo_other' }, samples: [{ timestamp: base + 60_000, value: 7 }] },
      { labels: { __name__: 'rw_test_ooo' }, samples: [{ timestamp: base + 30_000, value: 2 }] },
    ]));
    t.ok(err instanceof RemoteWriteRejectedError, `typed error (${err})`);
    t.equal(err.status, 400);
    t.equal(err.serverMessage, 'out of order sample');
    t.equal(err.reason, 'out-of-order');
    t.equal(err.outOfOrder, true);
    t.equal(err.attempts, 1);
    t.strictSame(retries, [], 'no retry');
    const other = await prom.query('rw_test_ooo_other', base + 60_000);
    t.strictSame(other.result, [], 'Prometheus rolled back the whole request');

    const dup = await failure(client.write([{ labels: { __name__: 'rw_test_ooo' }, samples: [{ timestamp: base + 60_000, value: 5 }] }]));
    t.equal(dup.reason, 'duplicate-timestamp', 'another value at the same timestamp');
    await client.write([{ labels: { __name__: 'rw_test_ooo' }, samples: [{ timestamp: base + 60_000, value: 1 }] }]);
    t.pass('the same sample again is accepted: resending after a crash is harmless');

    const bounds = await failure(client.write([{ labels: { __name__: 'rw_test_ooo_new' }, samples: [{ timestamp: base - 3 * 3600_000, value: 1 }] }]));
    t.equal(bounds.reason, 'out-of-bounds', 'older than the head block');
  });

  t.test('503 twice (Retry-After: 0), then the request goes through', async (t) => {
    const rx = await scriptedServer(async (n, req, res) => {
      if (n <= 2) {
        res.writeHead(503, { 'Retry-After': '0' }).end('busy');
        return;
      }
      const r = await fetch(prom.remoteWriteUrl, { method: 'POST', headers: req.headers as Record<string, string>, body: req.body });
      res.writeHead(r.status).end(await r.text());
    });
    t.teardown(rx.close);
    const retries: [number, string, number][] = [];
    const client = new RemoteWriteClient({ url: rx.url, minBackoffMs: 60_000, maxBackoffMs: 60_000, onRetry: (n, err, delay) => retries.push([n, err.message, delay]) });
    await client.write([{ labels: { __name__: 'rw_test_retried', job: 'x' }, samples: [{ timestamp: base, value: 42 }] }]);
    t.equal(rx.requests.length, 3, 'succeeded on the 3rd attempt');
    t.strictSame(retries, [[1, 'HTTP 503: busy', 0], [2, 'HTTP 503: busy', 0]], 'onRetry per retry; Retry-After wins over the 60 s backoff');
    t.ok(rx.requests.every((r) => r.body.equals(rx.requests[0].body)), 'the same body each time');
    const h = rx.requests[0].headers;
    t.equal(h['content-encoding'], 'snappy');
    t.equal(h['content-type'], 'application/x-protobuf');
    t.equal(h['x-prometheus-remote-write-version'], '0.1.0');
    t.equal(h['user-agent'], 'tributary');
    const got = await prom.query('rw_test_retried', base);
    t.equal(got.result[0].value[1], '42', 'stored in Prometheus');
  });
});

t.test('retry rules', async (t) => {
  const series = [{ labels: { __name__: 'x' }, samples: [{ timestamp: 1, value: 1 }] }];

  t.test('400 is final', async (t) => {
    const rx = await scriptedServer((_n, _req, res) => void res.writeHead(400).end('bad things\n'));
    t.teardown(rx.close);
    const retries: number[] = [];
    const err = await failure(new RemoteWriteClient({ url: rx.url, onRetry: (n) => retries.push(n) }).write(series));
    t.ok(err instanceof RemoteWriteRejectedError);
    t.equal(err.serverMessage, 'bad things');
    t.equal(err.reason, 'other');
    t.equal(err.outOfOrder, false);
    t.equal(rx.requests.length, 1);
    t.strictSame(retries, []);
  });

  t.test('429 is retried after Retry-After', async (t) => {
    const rx = await scriptedServer((n, _req, res) => void (n === 1 ? res.writeHead(429, { 'Retry-After': '1' }).end() : res.writeHead(204).end()));
    t.teardown(rx.close);
    const delays: number[] = [];
    const started = Date.now();
    await new RemoteWriteClient({ url: rx.url, minBackoffMs: 1, onRetry: (_n, _e, d) => delays.push(d) }).write(series);
    t.strictSame(delays, [1000]);
    t.ok(Date.now() - started >= 950, 'waited for it');
    t.equal(rx.requests.length, 2);
  });

  t.test('5xx until retries run out', async (t) => {
    const rx = await scriptedServer((_n, _req, res) => void res.writeHead(500).end('internal'));
    t.teardown(rx.close);
    const retries: number[] = [];
    const err = await failure(new RemoteWriteClient({ url: rx.url, maxRetries: 3, minBackoffMs: 1, maxBackoffMs: 4, onRetry: (n) => retries.push(n) }).write(series));
    t.ok(err instanceof RemoteWriteError && !(err instanceof RemoteWriteRejectedError));
    t.equal(err.status, 500);
    t.equal(err.attempts, 4);
    t.match(err.message, /failed after 4 attempts: HTTP 500: internal/);
    t.strictSame(retries, [1, 2, 3]);
    t.equal(rx.requests.length, 4);
  });

  t.test('network errors are retried', async (t) => {
    const rx = await scriptedServer(() => {});
    await rx.close(); // nothing listens on its port any more
    const retries: string[] = [];
    const err = await failure(new RemoteWriteClient({ url: rx.url, maxRetries: 2, minBackoffMs: 1, onRetry: (_n, e) => retries.push(e.message) }).write(series));
    t.ok(err instanceof RemoteWriteError);
    t.equal(err.attempts, 3);
    t.equal(err.status, undefined);
    t.match(retries[0], /ECONNREFUSED/);
  });

  t.test('a timeout is a retryable failure', async (t) => {
    const rx = await scriptedServer((n, _req, res) => void (n === 1 ? undefined : res.writeHead(200).end()));
    t.teardown(rx.close);
    const retries: string[] = [];
    await new RemoteWriteClient({ url: rx.url, timeoutMs: 200, minBackoffMs: 1, onRetry: (_n, e) => retries.push(e.message) }).write(series);
    t.strictSame(retries, ['no answer within 200 ms']);
    t.equal(rx.requests.length, 2);
  });

  t.test('a 500 carrying a TSDB rejection is final (Prometheus 2.39+ "too old sample")', async (t) => {
    const rx = await scriptedServer((_n, _req, res) => void res.writeHead(500).end('too old sample\n'));
    t.teardown(rx.close);
    const err = await failure(new RemoteWriteClient({ url: rx.url, minBackoffMs: 1 }).write(series));
    t.ok(err instanceof RemoteWriteRejectedError);
    t.equal(err.reason, 'too-old');
    t.equal(rx.requests.length, 1);
  });

  t.test('an abort signal stops a backoff wait', async (t) => {
    const rx = await scriptedServer((_n, _req, res) => void res.writeHead(503).end());
    t.teardown(rx.close);
    const ac = new AbortController();
    const client = new RemoteWriteClient({ url: rx.url, minBackoffMs: 60_000, maxBackoffMs: 60_000, onRetry: () => setImmediate(() => ac.abort()) });
    const err = await failure(client.write(series, { signal: ac.signal }));
    t.equal(err.name, 'AbortError');
    t.equal(rx.requests.length, 1);
  });

  t.test('a write without samples makes no request', async (t) => {
    const rx = await scriptedServer((_n, _req, res) => void res.writeHead(204).end());
    t.teardown(rx.close);
    const client = new RemoteWriteClient({ url: rx.url });
    await client.write([]);
    await client.write([{ labels: { __name__: 'x' }, samples: [] }]);
    t.equal(rx.requests.length, 0);
  });
});
