// Acceptance: multiline stack traces arrive as one record each; JSON, logfmt and regex lines are parsed
// into the log schema (time, severity, body, attributes).
import t from 'tap';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startBroker, tempDir, removeDir } from '../../helpers/broker-process.ts';
import { startAgent } from '../../helpers/agent-process.ts';
import { readTopicJson } from '../../helpers/topic-reader.ts';
import { until } from '../../helpers/collect.ts';

t.test('multiline traces and parsed formats', async (t) => {
  const dir = tempDir('agent-parse');
  const logs = join(dir, 'logs');
  mkdirSync(logs);
  const broker = await startBroker();
  const agentConfig = {
    brokers: [`127.0.0.1:${broker.port}`],
    state_dir: join(dir, 'state'),
    host_name: 'parse-host',
    files: [
      { include: [join(logs, 'java.log')], service: 'billing', multiline: { start_pattern: '^\\d{4}-\\d{2}-\\d{2} ', timeout: '300ms' } },
      { include: [join(logs, 'app.json')], service: 'api', parser: { type: 'json' }, attributes: { env: 'test' } },
      { include: [join(logs, 'app.logfmt')], service: 'worker', parser: { type: 'logfmt' } },
      { include: [join(logs, 'access.log')], service: 'nginx', parser: { type: 'regex', pattern: '^(?<client>\\S+) \\S+ \\S+ \\[(?<time>[^\\]]+)\\] "(?<method>\\S+) (?<path>\\S+) \\S+" (?<status>\\d{3}) (?<bytes>\\d+)$' } },
    ],
    tail: { poll_interval: '50ms', glob_interval: '200ms' },
    shipping: { linger: '20ms' },
  };
  const agent = await startAgent(dir, agentConfig);
  t.teardown(async () => {
    await agent.kill();
    await broker.kill();
    removeDir(dir);
    removeDir(broker.dataDir);
  });

  let java = '';
  for (let i = 0; i < 20; i++) {
    java += `2026-11-23 08:15:${String(i).padStart(2, '0')},123 ERROR [main] request ${i} failed\n`;
    java += `java.lang.IllegalStateException: boom ${i}\n\tat com.shop.Billing.charge(Billing.java:42)\n\tat com.shop.Api.handle(Api.java:7)\nCaused by: java.io.IOException: disk\n\tat com.shop.Disk.write(Disk.java:3)\n\t... 2 more\n`;
    java += `2026-11-23 08:15:${String(i).padStart(2, '0')},500 INFO [main] request ${i} retried\n`;
  }
  appendFileSync(join(logs, 'java.log'), java);
  appendFileSync(join(logs, 'app.json'), '{"time":"2026-11-23T08:00:00.250Z","level":"warn","msg":"slow query","db":{"table":"orders","ms":812}}\nnot json at all\n');
  appendFileSync(join(logs, 'app.logfmt'), 'ts=2026-11-23T08:00:01Z level=error msg="payment failed" order_id=42 retry=true\n');
  appendFileSync(join(logs, 'access.log'), '10.0.0.1 - - [23/Nov/2026:08:00:02 +0000] "GET /cart HTTP/1.1" 404 512\n');

  let records: Awaited<ReturnType<typeof readTopicJson>> = [];
  await until('44 records in logs.raw', async () => {
    records = await readTopicJson(broker.port, 'logs.raw');
    return records.length >= 44;
  }, 60_000, () => `have ${records.length}`);
  const by = (service: string) => records.map((r) => r.value).filter((v) => v.resource['service.name'] === service);

  const traces = by('billing');
  t.equal(traces.length, 40, 'each trace is one record, each INFO line another');
  const first = traces.find((v) => String(v.body).includes('request 0 failed'))!;
  t.match(first.body, /^2026-11-23 08:15:00,123 ERROR \[main\] request 0 failed\njava.lang.IllegalStateException: boom 0\n\tat com.shop.Billing.charge/);
  t.match(first.body, /\t\.\.\. 2 more$/, 'the trace ends with its last line');
  t.equal(first.body.split('\n').length, 7, 'all seven lines of the trace');
  t.equal(traces.filter((v) => String(v.body).includes('retried')).length, 20);

  const api = by('api');
  t.equal(api.length, 2);
  const slow = api.find((v) => v.body === 'slow query')!;
  t.equal(slow.timestamp, Date.parse('2026-11-23T08:00:00.250Z'), 'time from the record');
  t.equal(slow.severityText, 'WARN');
  t.equal(slow.severityNumber, 13);
  t.equal(slow.attributes['db.table'], 'orders', 'nested fields flattened');
  t.equal(slow.attributes['db.ms'], 812);
  t.equal(slow.attributes.env, 'test', 'configured attributes added');
  const broken = api.find((v) => v.body === 'not json at all')!;
  t.ok(broken, 'a line that is not JSON is kept, not dropped');
  t.ok(broken.attributes['log.parse_error'], 'and marked with the parse error');

  const [worker] = by('worker');
  t.equal(worker.body, 'payment failed');
  t.equal(worker.severityNumber, 17);
  t.equal(worker.attributes.order_id, '42');
  t.equal(worker.timestamp, Date.parse('2026-11-23T08:00:01Z'));

  const [access] = by('nginx');
  t.equal(access.attributes.status, '404');
  t.equal(access.attributes.path, '/cart');
  t.equal(access.timestamp, Date.parse('2026-11-23T08:00:02Z'));
});
