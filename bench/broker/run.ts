// `npm run bench:broker`: produce and consume throughput and produce latency for 1,000,000 records of 100
// bytes to one partition, (1) with a load generator pipelining pre-built batches (the broker's capacity) and
// (2) with @platformatic/kafka (what an application gets). The broker runs as its own process, as in use.
// Flags: --records N (default 1000000), --record-bytes N (100), --batch N (records per batch, 1000),
//        --in-flight N (pipelined requests, 8), --cpu-prof (write a broker CPU profile to bench/results/).
import { parseArgs } from 'node:util';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { startBroker, removeDir, repoRoot } from '../../test/helpers/broker-process.ts';
import { RawKafkaClient } from '../lib/raw-kafka-client.ts';
import { consumeRaw, producePrebuilt } from './load-generator.ts';
import { consumeWithPlatformatic, produceWithPlatformatic } from './platformatic-client.ts';
import { fmt, percentile, progress } from '../lib/stats.ts';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    'record-bytes': { type: 'string', default: '100' },
    batch: { type: 'string', default: '1000' },
    'in-flight': { type: 'string', default: '8' },
    'cpu-prof': { type: 'boolean', default: false },
  },
});
const total = Number(values.records);
const recordBytes = Number(values['record-bytes']);
const batchRecords = Number(values.batch);
const inFlight = Number(values['in-flight']);

async function createTopic(port: number, name: string): Promise<void> {
  const c = await RawKafkaClient.connect(port);
  const res = await c.request(19, 7, { topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  c.close();
  if (res.topics[0].errorCode !== 0) throw new Error(`create ${name}: ${res.topics[0].errorMessage}`);
}

function row(label: string, records: number, bytes: number, seconds: number, lat?: number[]): string {
  const latency = lat ? `${fmt(percentile(lat, 50), 2)} / ${fmt(percentile(lat, 99), 2)} ms` : '';
  return `| ${label} | ${fmt(records / seconds)} | ${fmt(bytes / seconds / 1e6, 1)} | ${latency} |`;
}

const profDir = join(repoRoot, 'bench/results');
mkdirSync(profDir, { recursive: true });
const broker = await startBroker({ nodeArgs: values['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [] });
progress(`broker on 127.0.0.1:${broker.port}; ${os.cpus().length} cores, node ${process.version}`);
try {
  await createTopic(broker.port, 'bench-raw');
  await createTopic(broker.port, 'bench-client');

  progress(`producing ${fmt(total)} records of ${recordBytes} B with pre-built batches of ${batchRecords}, ${inFlight} in flight...`);
  const p1 = await producePrebuilt(broker.port, 'bench-raw', { total, recordBytes, batchRecords, inFlight });
  progress('consuming them back with Fetch...');
  const c1 = await consumeRaw(broker.port, 'bench-raw', p1.records, 8 << 20);
  progress('unloaded produce latency (one request in flight)...');
  const p1lat = await producePrebuilt(broker.port, 'bench-raw', { total: Math.min(total, 200 * batchRecords), recordBytes, batchRecords, inFlight: 1 });

  progress(`producing ${fmt(total)} records with @platformatic/kafka...`);
  const p2 = await produceWithPlatformatic(broker.port, 'bench-client', { total, recordBytes, perSend: batchRecords, inFlight: 4 });
  progress('consuming them back with @platformatic/kafka...');
  const c2 = await consumeWithPlatformatic(broker.port, 'bench-client', p2.records, 8 << 20);

  const lines = [
    `Broker benchmark: ${fmt(total)} records of ${recordBytes} B, one partition, acks=1, ${os.cpus().length} cores (${os.cpus()[0].model}), node ${process.version}`,
    '',
    '| workload | records/s | MB/s (payload) | produce latency p50 / p99 |',
    '|---|---:|---:|---:|',
    row(`produce, pre-built batches of ${batchRecords}, ${inFlight} in flight`, p1.records, p1.records * recordBytes, p1.seconds, p1.latenciesMs),
    row(`produce, pre-built batches of ${batchRecords}, 1 in flight`, p1lat.records, p1lat.records * recordBytes, p1lat.seconds, p1lat.latenciesMs),
    row('consume, Fetch of 8 MiB', c1.records, c1.records * recordBytes, c1.seconds),
    row(`produce, @platformatic/kafka, ${batchRecords} per send, 4 sends in flight`, p2.records, p2.records * recordBytes, p2.seconds, p2.latenciesMs),
    row('consume, @platformatic/kafka fetch of 8 MiB', c2.records, c2.records * recordBytes, c2.seconds),
  ];
  console.log(lines.join('\n'));
} finally {
  await broker.stop();
  removeDir(broker.dataDir);
}
