// A Prometheus with an out-of-order window (storage.tsdb.out_of_order_time_window, 2.39+) takes the late
// samples a default one rejects; samples behind the window are still rejected, and not retried.
import t from 'tap';
import { RemoteWriteClient, RemoteWriteRejectedError } from '../../../../pipelines/sinks/prometheus/remote-write.ts';
import { startPrometheus } from '../../../helpers/prometheus.ts';

t.test('with an out-of-order window', async (t) => {
  const prom = await startPrometheus({ outOfOrderTimeWindow: '10m' });
  t.teardown(() => prom.stop());
  const base = Math.floor(Date.now() / 60_000) * 60_000 - 5 * 60_000;
  const retries: number[] = [];
  const client = new RemoteWriteClient({ url: prom.remoteWriteUrl, minBackoffMs: 1, onRetry: (n) => retries.push(n) });
  const series = (timestamp: number, value: number) => [{ labels: { __name__: 'rw_test_late', job: 'j' }, samples: [{ timestamp, value }] }];

  await client.write(series(base + 120_000, 3));
  await client.write(series(base, 1));
  await client.write(series(base + 60_000, 2));
  t.pass('samples older than the newest one are accepted');
  const range = await prom.queryRange('rw_test_late', base, base + 120_000, 60_000);
  t.strictSame(range.result, [{
    metric: { __name__: 'rw_test_late', job: 'j' },
    values: [[base / 1000, '1'], [(base + 60_000) / 1000, '2'], [(base + 120_000) / 1000, '3']],
  }], 'and read back in time order');

  // 2.42 answers 500 "too old sample" here (later releases 400): the client must not retry it either way.
  const err = await client.write(series(base - 30 * 60_000, 0)).then(() => null, (e: unknown) => e);
  t.ok(err instanceof RemoteWriteRejectedError, `behind the window: rejected (${err})`);
  const rejected = err as RemoteWriteRejectedError;
  t.equal(rejected.reason, 'too-old');
  t.equal(rejected.outOfOrder, true);
  t.equal(rejected.attempts, 1);
  t.strictSame(retries, [], 'never retried');
});
