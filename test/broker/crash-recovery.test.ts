// Acceptance: kill -9 the broker while an acks=all producer is writing; after a restart every acknowledged
// message is read back, in order, exactly once. Then a torn and a corrupted segment tail are repaired on startup.
import t from 'tap';
import { readdirSync, statSync, truncateSync, openSync, writeSync, closeSync, readSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker, removeDir, tempDir } from '../helpers/broker-process.ts';
import { kcat } from '../helpers/kcat.ts';

const TOPIC = 'crash';

async function readAll(port: number): Promise<string[]> {
  const res = await kcat(['-C', '-b', `127.0.0.1:${port}`, '-t', TOPIC, '-p', '0', '-o', 'beginning', '-e', '-q', '-f', '%s\\n']);
  if (res.code !== 0) throw new Error(`kcat failed: ${res.stderr}`);
  return res.stdout.toString().split('\n').filter((l) => l.length > 0);
}

function lastSegment(dataDir: string): string {
  const dir = join(dataDir, 'topics', TOPIC, '0');
  const logs = readdirSync(dir).filter((f) => f.endsWith('.log')).sort();
  return join(dir, logs[logs.length - 1]);
}

t.test('kill -9 during acks=all produce loses nothing acknowledged', async (t) => {
  const dataDir = tempDir('crash');
  t.teardown(() => removeDir(dataDir));
  let broker = await startBroker({ dataDir });
  const kafka = new Kafka({ clientId: 'crash-test', brokers: [`127.0.0.1:${broker.port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1 }] });
  await admin.disconnect();

  const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
  await producer.connect();
  const acknowledged: string[] = [];
  let seq = 0;
  let killed = false;
  const producing = (async () => {
    while (!killed) {
      const batch = Array.from({ length: 50 }, () => ({ value: `m-${seq++}` }));
      try {
        await producer.send({ topic: TOPIC, acks: -1, messages: batch });
        acknowledged.push(...batch.map((m) => m.value));
      } catch {
        return; // the broker is gone: this batch was never acknowledged
      }
    }
  })();
  while (acknowledged.length < 20_000) await new Promise((r) => setTimeout(r, 10));
  killed = true;
  await broker.kill();
  await producing;
  await producer.disconnect().catch(() => {});
  t.ok(acknowledged.length >= 20_000, `${acknowledged.length} messages acknowledged before the crash`);

  broker = await startBroker({ dataDir });
  const read = await readAll(broker.port);
  // Unacknowledged messages may or may not be there; acknowledged ones must all be, once each, in order.
  t.same(read.slice(0, acknowledged.length), acknowledged, 'every acknowledged message, in order');
  t.equal(new Set(read).size, read.length, 'no message twice');
  for (let i = 0; i < read.length; i++) {
    if (read[i] !== `m-${i}`) {
      t.fail(`position ${i} holds ${read[i]}`);
      break;
    }
  }
  await broker.stop();
});

t.test('a torn tail and a corrupted tail are cut off at startup; data before them is served', async (t) => {
  const dataDir = tempDir('torn');
  t.teardown(() => removeDir(dataDir));
  let broker = await startBroker({ dataDir });
  const bootstrap = `127.0.0.1:${broker.port}`;
  const lines = Array.from({ length: 100 }, (_, i) => `line-${i}`);
  // Ten separate produce runs: ten batches at least, so cutting one leaves the others.
  for (let i = 0; i < 10; i++) {
    const res = await kcat(['-P', '-b', bootstrap, '-t', TOPIC, '-p', '0'], lines.slice(i * 10, i * 10 + 10).join('\n') + '\n');
    t.equal(res.code, 0, res.stderr);
  }
  await broker.kill();

  // Torn: cut the last batch in half, as a crash mid-write would.
  const segment = lastSegment(dataDir);
  const size = statSync(segment).size;
  truncateSync(segment, size - 20);
  broker = await startBroker({ dataDir });
  let read = await readAll(broker.port);
  t.same(read, lines.slice(0, 90), 'the torn last batch is gone, the nine before it are intact');
  t.match(broker.output(), /truncat/i, 'recovery is logged');
  // Producing after recovery continues at the repaired end.
  await kcat(['-P', '-b', `127.0.0.1:${broker.port}`, '-t', TOPIC, '-p', '0'], 'after-repair\n');
  read = await readAll(broker.port);
  t.same(read, [...lines.slice(0, 90), 'after-repair']);
  await broker.kill();

  // Corrupt: flip a byte inside the last batch's records (CRC32C then fails).
  const fd = openSync(segment, 'r+');
  const end = fstatSync(fd).size;
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, end - 3);
  b[0] ^= 0xff;
  writeSync(fd, b, 0, 1, end - 3);
  closeSync(fd);
  broker = await startBroker({ dataDir });
  read = await readAll(broker.port);
  t.same(read, lines.slice(0, 90), 'the corrupt batch is never served');
  await broker.stop();

  // Junk appended after a clean shutdown is also found (recovery does not trust the clean marker blindly).
  const fd2 = openSync(segment, 'a');
  writeSync(fd2, Buffer.alloc(40, 0xab));
  closeSync(fd2);
  broker = await startBroker({ dataDir });
  read = await readAll(broker.port);
  t.same(read, lines.slice(0, 90), 'junk after the last batch is cut');
  await broker.stop();
});
