// `npm run bench:replication`: what synchronous replication costs. A three-node cluster runs as three broker
// processes on this machine; the same pre-built-batch load (acks=all) goes to a topic with replication factor 3
// (min.insync.replicas=2) and to one with replication factor 1, each led by the broker the generator talks to.
// Kafka's published figure for 3x synchronous replication against none was 421,823 / 821,557 = 0.51.
// Flags: --records N (default 1000000), --record-bytes N (100), --batch N (1000), --in-flight N (8), --runs N (3),
//        --cpu-prof (each broker writes a CPU profile to bench/results/).
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import { startCli, type CliProcess } from '../../test/helpers/cli-process.ts';
import { removeDir, repoRoot, tempDir } from '../../test/helpers/broker-process.ts';
import { freePorts } from '../../stack/ports.ts';
import { RawKafkaClient } from '../lib/raw-kafka-client.ts';
import { producePrebuilt, type ProduceRun } from './load-generator.ts';
import { fmt, percentile, progress } from '../lib/stats.ts';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    'record-bytes': { type: 'string', default: '100' },
    batch: { type: 'string', default: '1000' },
    'in-flight': { type: 'string', default: '8' },
    runs: { type: 'string', default: '3' },
    'cpu-prof': { type: 'boolean', default: false },
  },
});
const total = Number(values.records);
const recordBytes = Number(values['record-bytes']);
const batchRecords = Number(values.batch);
const inFlight = Number(values['in-flight']);
const runs = Number(values.runs);
const NODES = 3;
const profDir = join(repoRoot, 'bench/results');
if (values['cpu-prof']) mkdirSync(profDir, { recursive: true });

interface Node {
  id: number;
  port: number;
  dataDir: string;
  process: CliProcess;
}

async function startCluster(): Promise<Node[]> {
  const ports = await freePorts(2 * NODES);
  const quorum = Array.from({ length: NODES }, (_, i) => `${i + 1}@127.0.0.1:${ports[NODES + i]}`).join(',');
  return Promise.all(
    Array.from({ length: NODES }, async (_, i) => {
      const dataDir = tempDir(`bench-replication-${i + 1}`);
      const process = await startCli(
        ['broker', '--node-id', String(i + 1), '--listen', `127.0.0.1:${ports[i]}`, '--data-dir', dataDir, '--controller-quorum', quorum],
        /ready: node \d+ listening on/,
        60_000,
        values['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-name', `replication-broker-${i + 1}.cpuprofile`] : [],
      );
      return { id: i + 1, port: ports[i], dataDir, process };
    }),
  );
}

/** Creates a one-partition topic and returns the port of the broker that leads it. */
async function createTopic(nodes: Node[], name: string, replicationFactor: number): Promise<number> {
  const c = await RawKafkaClient.connect(nodes[0].port);
  try {
    const configs = replicationFactor > 1 ? [{ name: 'min.insync.replicas', value: '2' }] : [];
    const res = await c.request(19, 7, { topics: [{ name, numPartitions: 1, replicationFactor, assignments: [], configs }], timeoutMs: 15_000, validateOnly: false });
    if (res.topics[0].errorCode !== 0) throw new Error(`create ${name}: ${res.topics[0].errorMessage}`);
    for (let attempt = 0; attempt < 100; attempt++) {
      const md = await c.request(3, 12, { topics: [{ name, topicId: '00000000-0000-0000-0000-000000000000' }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
      const p = md.topics[0]?.partitions[0];
      if (p && p.leaderId >= 0 && p.isrNodes.length === replicationFactor) return nodes.find((n) => n.id === p.leaderId)!.port;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`${name} got no leader with a full ISR`);
  } finally {
    c.close();
  }
}

function median(xs: number[]): number {
  return percentile(xs, 50);
}

progress(`starting a ${NODES}-node cluster; ${os.cpus().length} cores (${os.cpus()[0].model}), node ${process.version}`);
const nodes = await startCluster();
const results: { label: string; throughput: number[]; p99Loaded: number[]; unloaded: ProduceRun[] }[] = [];
try {
  for (const rf of [1, 3]) {
    const result = { label: `replication factor ${rf}`, throughput: [] as number[], p99Loaded: [] as number[], unloaded: [] as ProduceRun[] };
    for (let run = 1; run <= runs; run++) {
      const port = await createTopic(nodes, `bench-rf${rf}-run${run}`, rf);
      progress(`RF=${rf}, run ${run}/${runs}: ${fmt(total)} records of ${recordBytes} B, batches of ${batchRecords}, ${inFlight} in flight, acks=all...`);
      const loaded = await producePrebuilt(port, `bench-rf${rf}-run${run}`, { total, recordBytes, batchRecords, inFlight, acks: -1 });
      result.throughput.push(loaded.records / loaded.seconds);
      result.p99Loaded.push(percentile(loaded.latenciesMs, 99));
      result.unloaded.push(await producePrebuilt(port, `bench-rf${rf}-run${run}`, { total: Math.min(total, 200 * batchRecords), recordBytes, batchRecords, inFlight: 1, acks: -1 }));
    }
    results.push(result);
  }
} finally {
  await Promise.all(nodes.map((n) => n.process.stop()));
  for (const n of nodes) removeDir(n.dataDir);
}

const [rf1, rf3] = results;
const range = (xs: number[], digits = 0) => `${fmt(median(xs), digits)} (${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)})`;
const unloadedP = (r: (typeof results)[number], p: number) => r.unloaded.map((u) => percentile(u.latenciesMs, p));
console.log(
  [
    `Replication benchmark: ${NODES} broker processes on one machine, ${fmt(total)} records of ${recordBytes} B per run, one partition, acks=all, median of ${runs} runs (min–max); ${os.cpus().length} cores, node ${process.version}`,
    '',
    `| topic | records/s (${inFlight} in flight) | p99 latency loaded, ms | p50 / p99 latency, 1 in flight, ms |`,
    '|---|---:|---:|---:|',
    ...results.map((r) => `| ${r.label} | ${range(r.throughput)} | ${range(r.p99Loaded, 1)} | ${fmt(median(unloadedP(r, 50)), 2)} / ${fmt(median(unloadedP(r, 99)), 2)} |`),
    '',
    `RF=3 / RF=1 throughput: ${fmt(median(rf3.throughput) / median(rf1.throughput), 2)} (Kafka's published 3x synchronous replication figure: 0.51)`,
  ].join('\n'),
);
