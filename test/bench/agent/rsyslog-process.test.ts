import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBroker, removeDir, tempDir } from '../../helpers/broker-process.ts';
import { readTopicJson, type ConsumedRecord } from '../../helpers/topic-reader.ts';
import { librdkafkaVersion, rsyslogVersion, startRsyslog, type RsyslogProcess } from '../../../bench/agent/rsyslog-process.ts';

const LINES = 1000;

t.test('rsyslogd ships every line of a file into the broker as JSON, then stops cleanly', async (t) => {
  const broker = await startBroker();
  const dir = tempDir('rsyslog-process');
  let rsyslog: RsyslogProcess | undefined;
  t.teardown(async () => {
    await rsyslog?.stop();
    await broker.stop();
    removeDir(broker.dataDir);
    removeDir(dir);
  });
  const logs = join(dir, 'logs');
  mkdirSync(logs);
  const file = join(logs, 'app.log');
  // Quotes and backslashes: the JSON template must escape them.
  writeFileSync(file, Array.from({ length: LINES }, (_, i) => `line ${i} says "hi" \\ bye\n`).join(''));

  rsyslog = await startRsyslog({ files: [join(logs, '*.log')], brokerPort: broker.port, topic: 'rsyslog-test', workDir: join(dir, 'rsyslog') });

  let records: ConsumedRecord[] = [];
  const deadline = Date.now() + 40_000;
  while (Date.now() < deadline) {
    records = await readTopicJson(broker.port, 'rsyslog-test');
    if (records.length >= LINES) break;
    await sleep(250);
  }
  t.equal(records.length, LINES, `every line in the topic\n${rsyslog.logs()}`);
  t.same(records.map((r) => r.value.message), Array.from({ length: LINES }, (_, i) => `line ${i} says "hi" \\ bye`), 'each line once, in order');
  t.same(records[0].value, { message: 'line 0 says "hi" \\ bye', file, host: 'bench-host' });

  await rsyslog.stop();
  t.equal(rsyslog.child.exitCode, 0, 'rsyslogd exits 0 on SIGTERM');
  t.match(rsyslog.logs(), /exiting on signal 15/);
});

t.test('the versions the bench reports', async (t) => {
  t.match(rsyslogVersion(), /^8\.\d+\.\d+$/);
  t.match(librdkafkaVersion(), /^\d+\.\d+\.\d+$/);
});
