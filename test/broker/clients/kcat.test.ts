// Acceptance: librdkafka (Debian's kcat) produces 100,000 keyed messages with each compression codec to a
// 3-partition topic and reads them back: same multiset, per-partition order kept; -L lists, -Q finds by time.
import t from 'tap';
import { kcat } from '../../helpers/kcat.ts';
import { startBroker, removeDir, type BrokerProcess } from '../../helpers/broker-process.ts';
import { createTopics } from '../../helpers/admin.ts';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readBatchHeader, compressionOf, LOG_OVERHEAD } from '../../../broker/protocol/record-batch/batch-header.ts';
import { Codec } from '../../../broker/protocol/record-batch/compression.ts';

/** The compression codecs of every batch stored for a topic, read from its segment files. */
function storedCodecs(dataDir: string, topic: string): Set<number> {
  const codecs = new Set<number>();
  for (const p of [0, 1, 2]) {
    const dir = join(dataDir, 'topics', topic, String(p));
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.log'))) {
      const data = readFileSync(join(dir, f));
      for (let pos = 0; pos < data.length; pos += LOG_OVERHEAD + readBatchHeader(data, pos).batchLength) codecs.add(compressionOf(readBatchHeader(data, pos).attributes));
    }
  }
  return codecs;
}

const MESSAGES = 100_000;
const KEYS = 97;
const codecs = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;

let broker: BrokerProcess;
t.before(async () => {
  broker = await startBroker();
  await createTopics(broker.port, codecs.map((c) => ({ topic: `kcat-${c}`, numPartitions: 3 })));
});
t.teardown(async () => {
  await broker.stop();
  removeDir(broker.dataDir);
});

function payload(from: number, to: number): string {
  const lines: string[] = [];
  for (let i = from; i < to; i++) lines.push(`key-${i % KEYS}:value-${i}-${'x'.repeat(i % 50)}`);
  return lines.join('\n') + '\n';
}

interface Consumed {
  partition: number;
  offset: number;
  key: string;
  value: string;
}

async function consumeAll(topic: string): Promise<Consumed[]> {
  const res = await kcat(['-C', '-b', `127.0.0.1:${broker.port}`, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p|%o|%k|%s\\n']);
  if (res.code !== 0) throw new Error(`kcat -C failed (${res.code}): ${res.stderr}`);
  return res.stdout
    .toString()
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const [p, o, k, ...v] = l.split('|');
      return { partition: Number(p), offset: Number(o), key: k, value: v.join('|') };
    });
}

for (const codec of codecs) {
  t.test(`kcat -z ${codec}: 100,000 keyed messages round-trip`, async (t) => {
    const topic = `kcat-${codec}`;
    const bootstrap = `127.0.0.1:${broker.port}`;
    const half = MESSAGES / 2;
    const first = await kcat(['-P', '-b', bootstrap, '-t', topic, '-K', ':', '-z', codec, '-X', 'linger.ms=5'], payload(0, half));
    t.equal(first.code, 0, `first half produced: ${first.stderr}`);
    // A gap in time so -Q can find where the second half starts.
    await new Promise((r) => setTimeout(r, 200));
    const secondStart = Date.now();
    await new Promise((r) => setTimeout(r, 20));
    const second = await kcat(['-P', '-b', bootstrap, '-t', topic, '-K', ':', '-z', codec, '-X', 'linger.ms=5'], payload(half, MESSAGES));
    t.equal(second.code, 0, `second half produced: ${second.stderr}`);

    const consumed = await consumeAll(topic);
    t.equal(consumed.length, MESSAGES, 'every message consumed once');
    const expected = payload(0, MESSAGES).trim().split('\n').sort();
    const got = consumed.map((m) => `${m.key}:${m.value}`).sort();
    t.same(got, expected, 'same multiset of key:value');

    // Per-partition order: offsets strictly increase and, within a key, produce order is kept.
    const partitionsSeen = new Set<number>();
    const lastOffset = new Map<number, number>();
    const lastSeqOfKey = new Map<string, number>();
    let orderViolations = 0;
    for (const m of consumed) {
      partitionsSeen.add(m.partition);
      if ((lastOffset.get(m.partition) ?? -1) >= m.offset) orderViolations++;
      lastOffset.set(m.partition, m.offset);
      const seq = Number(m.value.split('-')[1]);
      if ((lastSeqOfKey.get(m.key) ?? -1) >= seq) orderViolations++;
      lastSeqOfKey.set(m.key, seq);
    }
    t.equal(orderViolations, 0, 'per-partition order kept');
    // librdkafka sends a batch uncompressed when compressing would not shrink it (tiny tail batches), so
    // "none" may appear beside the codec; anything else would mean the broker rewrote what it stored.
    const stored = storedCodecs(broker.dataDir, topic);
    t.ok(stored.has(Codec[codec]), `batches are stored ${codec}-compressed, as kcat sent them`);
    t.same([...stored].filter((c) => c !== Codec[codec] && c !== Codec.none), [], 'no batch carries any other codec');
    t.same([...partitionsSeen].sort(), [0, 1, 2], 'keys spread over all 3 partitions');

    // -Q: the offset for secondStart in each partition is the first message of the second half there.
    const q = await kcat(['-Q', '-b', bootstrap, '-t', `${topic}:0:${secondStart}`, '-t', `${topic}:1:${secondStart}`, '-t', `${topic}:2:${secondStart}`]);
    t.equal(q.code, 0, `kcat -Q ran: ${q.stderr}`);
    for (const p of [0, 1, 2]) {
      const m = new RegExp(`${topic} \\[${p}\\]\\s+offset (-?\\d+)`).exec(q.stdout.toString());
      t.ok(m, `partition ${p} answered: ${q.stdout}`);
      const firstOfSecondHalf = consumed.find((c) => c.partition === p && Number(c.value.split('-')[1]) >= half);
      t.equal(Number(m?.[1]), firstOfSecondHalf?.offset, `partition ${p}: offset by timestamp is the first message after the gap`);
    }
  });
}

t.test('kcat -L lists topics with their partitions and leader', async (t) => {
  const res = await kcat(['-L', '-b', `127.0.0.1:${broker.port}`]);
  t.equal(res.code, 0, res.stderr);
  const out = res.stdout.toString();
  t.match(out, /1 brokers:\s+broker 1 at 127\.0\.0\.1:\d+/);
  for (const c of codecs) t.match(out, new RegExp(`topic "kcat-${c}" with 3 partitions`));
  t.match(out, /partition 0, leader 1, replicas: 1, isrs: 1/);
});
