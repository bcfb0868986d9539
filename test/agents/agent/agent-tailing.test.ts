// Acceptance: 200,000 lines across two files while one is rotated by rename (also while the agent is
// down) and the other by copytruncate, the agent is restarted twice (kill -9 and SIGTERM) and the broker
// is stopped for a while: every line arrives in logs.raw exactly once, in order per file.
import t from 'tap';
import { appendFileSync, copyFileSync, mkdirSync, renameSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBroker, tempDir, removeDir, type BrokerProcess } from '../../helpers/broker-process.ts';
import { startAgent, freePort, type AgentProcess } from '../../helpers/agent-process.ts';
import { readTopicJson } from '../../helpers/topic-reader.ts';
import { until } from '../../helpers/collect.ts';

const PER_FILE = 100_000;

t.test('200,000 lines through rotation, truncation, two agent restarts and a broker outage: exactly once, in order', async (t) => {
  const dir = tempDir('agent-tail');
  const logs = join(dir, 'logs');
  mkdirSync(logs);
  const brokerPort = await freePort();
  let broker: BrokerProcess = await startBroker({ port: brokerPort, args: ['--num-partitions', '3'] });
  const brokerDir = broker.dataDir;
  let agent: AgentProcess | null = null;
  const previous: string[] = [];
  t.teardown(async () => {
    if (process.env.DEBUG_AGENT_TEST) {
      const m = agent ? [...(await agent.metrics())].filter(([k]) => k.startsWith('tributary_agent_') && !k.includes('process_')).map(([k, v]) => `${k} ${v}`).join('\n') : '';
      console.error(`--- agents\n${previous.join('\n')}\n${agent?.output()}\n${m}\n--- broker\n${broker.output()}`);
    }
    await agent?.kill();
    await broker.kill();
    removeDir(dir);
    removeDir(brokerDir);
  });

  const config = {
    brokers: [`127.0.0.1:${brokerPort}`],
    state_dir: join(dir, 'state'),
    host_name: 'test-host',
    files: [{ include: [join(logs, '*.log')], service: 'shop' }],
    tail: { poll_interval: '50ms', glob_interval: '200ms', rotate_wait: '1s' },
    shipping: { linger: '20ms', min_backoff: '50ms', max_backoff: '500ms', request_timeout: '3s', compression: 'zstd' },
  };
  const written = { a: 0, b: 0 };
  const write = (stream: 'a' | 'b', n: number) => {
    let text = '';
    for (let i = 0; i < n; i++) text += `${stream} ${String(++written[stream]).padStart(6, '0')} the quick brown fox jumps over the lazy dog\n`;
    appendFileSync(join(logs, `${stream}.log`), text);
  };
  // Writes in small steps, the way an application logs, rather than one big append.
  const writeBoth = async (n: number) => {
    for (let done = 0; done < n; done += 1000) {
      write('a', Math.min(1000, n - done));
      write('b', Math.min(1000, n - done));
      await sleep(5);
    }
  };
  const lag = async (file: string) => (await agent!.metrics()).get(`tributary_agent_file_lag_bytes{file="${join(logs, file)}"}`);

  agent = await startAgent(dir, config);
  await writeBoth(20_000);
  // Rotation is about files the agent follows: make sure it found a.log before it is renamed.
  await until('the agent to tail a.log', async () => ((await agent!.metrics()).get(`tributary_agent_lines_read_total{file="${join(logs, 'a.log')}"}`) ?? 0) > 0, 30_000);
  renameSync(join(logs, 'a.log'), join(logs, 'a.log.1')); // rotation by rename; the writer reopens a.log
  await writeBoth(10_000);
  // The agent has to have seen the new a.log before it goes down: a file created and rotated away while
  // no agent runs is outside every tailer's reach.
  await until('the agent to follow the rotation', async () => ((await agent!.metrics()).get('tributary_agent_file_rotations_total{kind="rename"}') ?? 0) >= 1, 30_000);

  await agent.kill(); // restart 1: a crash
  previous.push(agent.output());
  agent = null;
  await writeBoth(10_000);
  renameSync(join(logs, 'a.log.1'), join(logs, 'a.log.2')); // rotated again while the agent is down
  renameSync(join(logs, 'a.log'), join(logs, 'a.log.1'));
  await writeBoth(5_000);
  agent = await startAgent(dir, config);
  await writeBoth(10_000);

  // copytruncate loses whatever the agent had not read when the copy is truncated; logrotate users
  // accept that, so the test truncates once the agent has caught up with b.log.
  await sleep(300);
  await until('the agent to catch up with b.log', async () => (await lag('b.log')) === 0, 60_000);
  copyFileSync(join(logs, 'b.log'), join(logs, 'b.log.1'));
  truncateSync(join(logs, 'b.log'), 0);
  await until('the agent to notice the truncation', async () => ((await agent!.metrics()).get('tributary_agent_file_rotations_total{kind="truncate"}') ?? 0) >= 1, 10_000);
  await writeBoth(10_000);

  await broker.stop(); // the broker goes away for a while; the agent buffers on disk
  await writeBoth(10_000);
  await sleep(3000);
  const during = await agent.metrics();
  t.ok((during.get('tributary_agent_buffer_records') ?? 0) > 0, `records wait in the disk buffer during the outage (${during.get('tributary_agent_buffer_records')})`);
  t.equal(during.get('tributary_agent_broker_up'), 0, 'the agent reports the broker down');
  broker = await startBroker({ port: brokerPort, dataDir: brokerDir, args: ['--num-partitions', '3'] });
  await writeBoth(10_000);

  const stopCode = await agent.stop(); // restart 2: a clean stop
  t.equal(stopCode, 0, 'the agent stops cleanly on SIGTERM');
  previous.push(agent.output());
  agent = await startAgent(dir, config);
  await writeBoth(PER_FILE - written.a);
  t.equal(written.a, PER_FILE);
  t.equal(written.b, PER_FILE);

  let records: Awaited<ReturnType<typeof readTopicJson>> = [];
  await until(
    'all 200,000 lines in logs.raw',
    async () => {
      records = await readTopicJson(brokerPort, 'logs.raw');
      return records.length >= 2 * PER_FILE;
    },
    180_000,
    () => `have ${records.length}; broker exit code ${broker.child.exitCode}`,
  ).catch((err) => t.fail(err.message));
  await sleep(1000);
  records = await readTopicJson(brokerPort, 'logs.raw');

  const partitions = new Set(records.map((r) => r.partition));
  t.equal(partitions.size, 1, "one host's lines share a partition, so they keep their order");
  const seen = { a: new Uint8Array(PER_FILE + 1), b: new Uint8Array(PER_FILE + 1) };
  const last = { a: 0, b: 0 };
  let duplicates = 0;
  let outOfOrder = 0;
  const firstCopy = new Map<string, (typeof records)[number]>();
  const duplicateReport: string[] = [];
  for (const r of records.sort((x, y) => x.offset - y.offset)) {
    const [stream, n] = (r.value.body as string).split(' ') as ['a' | 'b', string];
    const i = Number(n);
    if (seen[stream][i]) {
      duplicates++;
      // Where both copies sit and which agent sequence numbers they carry tells a re-read line (two
      // seqs) from a re-sent record (one seq twice).
      const first = firstCopy.get(`${stream}${i}`)!;
      if (duplicateReport.length < 20) duplicateReport.push(`${stream} ${i}: offset ${first.offset} [${first.headers}] and offset ${r.offset} [${r.headers}]`);
    } else firstCopy.set(`${stream}${i}`, r);
    seen[stream][i] = 1;
    if (i < last[stream]) outOfOrder++;
    last[stream] = i;
  }
  if (duplicates > 0) t.comment(`${duplicates} duplicates, the first ones:\n${duplicateReport.join('\n')}\n--- agent runs\n${previous.join('\n')}\n${agent.output()}`);
  const missing = (s: 'a' | 'b') => seen[s].slice(1).reduce((n, v) => n + (v ? 0 : 1), 0);
  if (process.env.DEBUG_AGENT_TEST) {
    for (const s of ['a', 'b'] as const) {
      const ranges: string[] = [];
      for (let i = 1; i <= PER_FILE; i++) {
        if (seen[s][i]) continue;
        let j = i;
        while (j + 1 <= PER_FILE && !seen[s][j + 1]) j++;
        ranges.push(`${i}-${j}`);
        i = j;
      }
      console.error(`missing ${s}: ${ranges.join(', ')}`);
    }
  }
  t.equal(records.length, 2 * PER_FILE, 'exactly 200,000 records');
  t.equal(duplicates, 0, 'no duplicates');
  t.equal(missing('a'), 0, 'no line of a.log (and its rotations) is missing');
  t.equal(missing('b'), 0, 'no line of b.log is missing');
  t.equal(outOfOrder, 0, 'lines of each file are in order');

  const sample = records[0].value;
  t.equal(sample.resource['host.name'], 'test-host');
  t.equal(sample.resource['service.name'], 'shop');
  t.equal(records[0].key, 'test-host', 'keyed by host');
  t.match(sample.attributes['log.file.path'], /\/logs\/[ab]\.log/);
  const final = await agent.metrics();
  t.equal(final.get('tributary_agent_buffer_records'), 0, 'the buffer drained');
});
