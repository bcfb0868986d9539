// Acceptance: while the broker is unreachable the bounded disk buffer fills; then tailing pauses
// (backpressure) instead of dropping lines, metrics that cannot wait are dropped by policy and counted,
// and when the broker comes up the buffer drains in order with every line exactly once. Ships lz4
// (the tailing test ships zstd).
import t from 'tap';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startBroker, tempDir, removeDir, type BrokerProcess } from '../../helpers/broker-process.ts';
import { startAgent, freePort } from '../../helpers/agent-process.ts';
import { readTopicJson } from '../../helpers/topic-reader.ts';
import { until } from '../../helpers/collect.ts';

t.test('a full buffer pauses tailing, drops metrics by policy with a count, and drains when the broker returns', async (t) => {
  const dir = tempDir('agent-bp');
  const logs = join(dir, 'logs');
  mkdirSync(logs);
  const brokerPort = await freePort();
  let broker: BrokerProcess | null = null;
  const agent = await startAgent(dir, {
    brokers: [`127.0.0.1:${brokerPort}`],
    state_dir: join(dir, 'state'),
    host_name: 'bp-host',
    files: [{ include: [join(logs, '*.log')] }],
    host_metrics: { interval: '200ms' },
    buffer: { max_bytes: '256KiB', segment_bytes: '64KiB' },
    tail: { poll_interval: '50ms', glob_interval: '200ms', read_chunk_bytes: '16KiB' },
    shipping: { linger: '10ms', batch_max_bytes: '64KiB', min_backoff: '50ms', max_backoff: '300ms', request_timeout: '2s', compression: 'lz4' },
  });
  t.teardown(async () => {
    await agent.kill();
    await broker?.kill();
    removeDir(dir);
    if (broker) removeDir(broker.dataDir);
  });

  const lines = 20_000;
  let text = '';
  for (let i = 1; i <= lines; i++) text += `line ${String(i).padStart(6, '0')} ${'x'.repeat(80)}\n`;
  appendFileSync(join(logs, 'big.log'), text); // ~2 MB, eight times the buffer

  await until('backpressure', async () => (await agent.metrics()).get('tributary_agent_backpressure') === 1, 30_000);
  const full = await agent.metrics();
  const bufferBytes = full.get('tributary_agent_buffer_bytes')!;
  t.ok(bufferBytes >= 256 * 1024 && bufferBytes < 256 * 1024 + 64 * 1024, `the buffer stops near its bound (${bufferBytes} bytes)`);
  t.ok(full.get(`tributary_agent_file_lag_bytes{file="${join(logs, 'big.log')}"}`)! > 1_000_000, 'the rest of the file waits unread');
  await until('metrics dropped by policy', async () => ((await agent.metrics()).get('tributary_agent_dropped_total{source="host_metrics",reason="buffer_full"}') ?? 0) > 0, 10_000);

  broker = await startBroker({ port: brokerPort });
  let records: Awaited<ReturnType<typeof readTopicJson>> = [];
  await until('every line in logs.raw', async () => {
    records = await readTopicJson(brokerPort, 'logs.raw');
    return records.length >= lines;
  }, 90_000, () => `have ${records.length}`);
  const numbers = records.sort((a, b) => a.offset - b.offset).map((r) => Number((r.value.body as string).split(' ')[1]));
  t.equal(numbers.length, lines, 'exactly every line');
  t.same(numbers.slice(0, 3), [1, 2, 3]);
  t.ok(numbers.every((n, i) => n === i + 1), 'in order, none missing, none twice');
  await until('backpressure released', async () => (await agent.metrics()).get('tributary_agent_backpressure') === 0, 10_000);
  await until('host metrics shipped again', async () => ((await agent.metrics()).get('tributary_agent_records_shipped_total{topic="metrics.raw"}') ?? 0) > 0, 30_000);
  await agent.stop(); // host metrics every 200 ms would keep a reader from ever reaching the end
  const metricsRaw = await readTopicJson(brokerPort, 'metrics.raw');
  t.ok(metricsRaw.length > 0, 'host metrics flow again once there is room');
});
