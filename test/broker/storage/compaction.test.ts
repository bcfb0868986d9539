// Acceptance: 100,000 updates over 1,000 keys plus tombstones; after cleaning a full read returns exactly
// the latest value of each live key and disk use fell. Then kill -9 the broker repeatedly while it cleans:
// nothing is lost.
import t from 'tap';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { kcat } from '../../helpers/kcat.ts';
import { startBroker, removeDir, tempDir, type BrokerProcess } from '../../helpers/broker-process.ts';
import { createTopics } from '../../helpers/admin.ts';
import { until } from '../../helpers/collect.ts';

const TOPIC = 'compacted';
const KEYS = 1000;
const args = ['--log-cleaner-interval-ms', '200'];

function diskUse(dataDir: string): number {
  const dir = join(dataDir, 'topics', TOPIC, '0');
  return readdirSync(dir).filter((f) => f.endsWith('.log')).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

async function produceUpdates(port: number, from: number, to: number): Promise<Map<string, string | null>> {
  const latest = new Map<string, string | null>();
  const lines: string[] = [];
  for (let i = from; i < to; i++) {
    const key = `k${i % KEYS}`;
    lines.push(`${key}:v${i}`);
    latest.set(key, `v${i}`);
  }
  const res = await kcat(['-P', '-b', `127.0.0.1:${port}`, '-t', TOPIC, '-p', '0', '-K', ':'], lines.join('\n') + '\n');
  if (res.code !== 0) throw new Error(res.stderr);
  return latest;
}

async function tombstones(port: number, keys: string[]): Promise<void> {
  const res = await kcat(['-P', '-b', `127.0.0.1:${port}`, '-t', TOPIC, '-p', '0', '-K', ':', '-Z'], keys.map((k) => `${k}:`).join('\n') + '\n');
  if (res.code !== 0) throw new Error(res.stderr);
}

/** Rolls the active segment (segment.ms passed) by appending a sentinel, so every update is in a closed segment. */
async function roll(port: number, sentinel: string): Promise<void> {
  await new Promise((r) => setTimeout(r, 1100));
  const res = await kcat(['-P', '-b', `127.0.0.1:${port}`, '-t', TOPIC, '-p', '0', '-K', ':'], `${sentinel}:end\n`);
  if (res.code !== 0) throw new Error(res.stderr);
}

async function readAll(port: number): Promise<[string, string][]> {
  const res = await kcat(['-C', '-b', `127.0.0.1:${port}`, '-t', TOPIC, '-p', '0', '-o', 'beginning', '-e', '-q', '-Z', '-f', '%k=%s\\n']);
  if (res.code !== 0) throw new Error(res.stderr);
  return res.stdout.toString().trim().split('\n').filter(Boolean).map((l) => l.split('=') as [string, string]);
}

function expected(latest: Map<string, string | null>): string[] {
  return [...latest].filter(([, v]) => v !== null).map(([k, v]) => `${k}=${v}`).sort();
}

let broker: BrokerProcess;
const dataDir = tempDir('compact');
t.teardown(async () => {
  await broker?.stop();
  removeDir(dataDir);
});

t.test('compaction keeps the latest value per key and frees disk', async (t) => {
  broker = await startBroker({ dataDir, args });
  await createTopics(broker.port, [{
    topic: TOPIC,
    numPartitions: 1,
    configEntries: [
      { name: 'cleanup.policy', value: 'compact' },
      { name: 'segment.bytes', value: '65536' },
      { name: 'segment.ms', value: '1000' },
      { name: 'delete.retention.ms', value: '0' },
      { name: 'min.cleanable.dirty.ratio', value: '0.01' },
    ],
  }]);
  const latest = await produceUpdates(broker.port, 0, 100_000);
  const deleted = Array.from({ length: 100 }, (_, i) => `k${i * 7}`);
  await tombstones(broker.port, deleted);
  for (const k of deleted) latest.set(k, null);
  await roll(broker.port, 'sentinel-1');
  latest.set('sentinel-1', 'end');
  // The cleaner runs in the background while we produce, so compare with what was written.
  const written = 100_000 * (61 / 10 + 20);

  const want = expected(latest);
  await until('a full read returns only the latest values', async () => (await readAll(broker.port)).length === want.length, 60_000);
  const got = (await readAll(broker.port)).map(([k, v]) => `${k}=${v}`).sort();
  t.same(got, want, `exactly the latest value of each of the ${want.length} live keys`);
  const after = diskUse(dataDir);
  t.ok(after < written / 10, `disk use ${after} bytes, for about ${written} bytes written`);
  const passes = [...broker.output().matchAll(/compacted compacted-0: \d+ segment\(s\), \d+ record\(s\) removed, (\d+) → (\d+) bytes/g)];
  t.ok(passes.length > 0 && passes.every(([, b, a]) => Number(a) < Number(b)), `every cleaning pass shrank the log (${passes.length} passes)`);
});

t.test('kill -9 while cleaning loses nothing', async (t) => {
  const latest = new Map<string, string | null>();
  for (const [k, v] of await readAll(broker.port)) latest.set(k, v);
  for (const [k, v] of await produceUpdates(broker.port, 100_000, 200_000)) latest.set(k, v);
  await roll(broker.port, 'sentinel-2');
  latest.set('sentinel-2', 'end');
  for (let i = 0; i < 6; i++) {
    await broker.kill();
    broker = await startBroker({ dataDir, args });
    await new Promise((r) => setTimeout(r, 150 + i * 120));
  }
  await broker.kill();
  broker = await startBroker({ dataDir, args });
  const want = expected(latest);
  await until('compaction settles after the crashes', async () => (await readAll(broker.port)).length === want.length, 60_000);
  t.same((await readAll(broker.port)).map(([k, v]) => `${k}=${v}`).sort(), want, 'every key still has its latest value');
});
