// How the single-node broker's cost grows with what it holds: partitions of one topic (1 -> 1,000), client
// connections (1 -> 500) and retained data (1 GB -> 20 GB). The broker runs as its own process, started once
// for the section (the retained-data curve restarts it to time start-up); the load is the pre-built-batch
// generator, so the figures are the broker's and not a client library's.
import { spawnSync } from 'node:child_process';
import { readdirSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { startBroker, removeDir, tempDir, type BrokerProcess } from '../../test/helpers/broker-process.ts';
import { removeOnExit, releaseDir } from '../../test/helpers/server-processes.ts';
import { RawKafkaClient } from '../lib/raw-kafka-client.ts';
import { rssMiB } from '../lib/process-usage.ts';
import { fmt, percentile, progress } from '../lib/stats.ts';
import { figure, MIN_RUNS, repeatRuns, type Cell, type ResultTable, type Section, type SectionOptions } from '../lib/results.ts';
import { produceSpread } from './multi-partition-load.ts';
import { consumeRaw } from '../broker/load-generator.ts';

const CREATE_TOPICS = 19;
const DELETE_TOPICS = 20;
const GB = 1e9;
const MiB = 1 << 20;
/** Free disk kept beyond a level before it is filled, so the bench never fills the machine's disk. */
const DISK_MARGIN = 5 * GB;

interface Plan {
  partitions: number[];
  connections: number[];
  retainedGB: number[];
  /** Records per run of the partitions curve: enough batches that every partition gets several. */
  partitionsTotal: number;
  /** Records per run of the connections curve, the same whatever the connection count. */
  connectionsTotal: number;
  /** Records produced, and read from each end, per run at a retained-data level. */
  atLevelRecords: number;
  /** Restarts timed per level: start-up of a broker holding 20 GB is the slow part of the section. */
  restarts: (runs: number) => number;
}

const QUICK: Plan = {
  partitions: [1, 100, 1000],
  connections: [1, 100, 500],
  retainedGB: [1, 2],
  partitionsTotal: 200_000,
  connectionsTotal: 100_000,
  atLevelRecords: 10_000,
  restarts: () => 1,
};

const FULL: Plan = {
  partitions: [1, 10, 100, 1000],
  connections: [1, 10, 100, 500],
  retainedGB: [1, 5, 20],
  partitionsTotal: 1_000_000,
  connectionsTotal: 1_000_000,
  atLevelRecords: 200_000,
  restarts: (runs) => runs,
};

/** Small records, as in `bench:broker`: the per-record and per-request costs dominate, not the bytes. */
const SMALL = { recordBytes: 100, batchRecords: 100 };
const SPREAD_IN_FLIGHT = 8;
/** Retained data is written fast: large records in large batches, several in flight. */
const LARGE = { recordBytes: 1024, batchRecords: 1000, inFlight: 8 };
const FILL_CHUNK_RECORDS = 500_000; // about 0.5 GB: one progress line every few seconds
const FETCH_BYTES = 8 * MiB;

/** The broker under test; the retained-data curve restarts it on the same data directory. */
class GrowthBroker {
  process!: BrokerProcess;
  readonly dataDir = tempDir('bench-growth');
  private readonly nodeArgs: string[];

  constructor(opts: SectionOptions) {
    removeOnExit(this.dataDir);
    this.nodeArgs = opts.cpuProfile ? ['--cpu-prof', '--cpu-prof-dir', opts.profileDir] : [];
  }

  get port(): number {
    return this.process.port;
  }

  /** Starts the broker and returns the seconds from spawn to its ready line. */
  async start(): Promise<number> {
    const started = performance.now();
    this.process = await startBroker({ dataDir: this.dataDir, nodeArgs: this.nodeArgs });
    return (performance.now() - started) / 1000;
  }

  /** SIGTERM, a clean shutdown (and the CPU profile written), then a timed start on the same data. */
  async restart(): Promise<number> {
    await this.process.stop();
    return this.start();
  }

  rssMiB(): number {
    return rssMiB(this.process.child.pid!);
  }

  async close(): Promise<void> {
    try {
      if (this.process) await this.process.stop();
    } finally {
      removeDir(this.dataDir);
      releaseDir(this.dataDir);
    }
  }
}

async function createTopic(port: number, name: string, partitions: number): Promise<void> {
  const c = await RawKafkaClient.connect(port);
  try {
    const res = await c.request(CREATE_TOPICS, 7, { topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 60_000, validateOnly: false });
    if (res.topics[0].errorCode !== 0) throw new Error(`create ${name}: ${res.topics[0].errorMessage}`);
  } finally {
    c.close();
  }
}

async function deleteTopics(port: number, names: string[]): Promise<void> {
  const c = await RawKafkaClient.connect(port);
  try {
    const res = await c.request(DELETE_TOPICS, 5, { topicNames: names, timeoutMs: 60_000 });
    for (const r of res.responses) if (r.errorCode !== 0) throw new Error(`delete ${r.name}: error code ${r.errorCode}`);
  } finally {
    c.close();
  }
}

/** Reads partition 0 from `from` until `count` records have come back; whole batches, so it may read a few more. */
/**
 * Drops the log bytes of records [from, from + count) from the page cache, so a read of old offsets comes
 * from disk, as on a broker that has been up for days, and not from memory the fill has just written. dd
 * with iflag=nocache advises POSIX_FADV_DONTNEED for the part it processed. Every batch of the topic has
 * the same size and record count, so a record's place in its segment follows from its offset.
 */
function evictRecords(partitionDir: string, from: number, count: number, batchBytes: number): void {
  const bases = readdirSync(partitionDir).filter((f) => f.endsWith('.log')).map((f) => Number(f.slice(0, -4))).sort((a, b) => a - b);
  const perBatch = LARGE.batchRecords;
  for (let i = 0; i < bases.length; i++) {
    const start = Math.max(from, bases[i]);
    const end = Math.min(from + count, bases[i + 1] ?? Infinity);
    if (start >= end) continue;
    const file = join(partitionDir, `${String(bases[i]).padStart(20, '0')}.log`);
    const skip = ((start - bases[i]) / perBatch) * batchBytes;
    const bytes = Math.ceil((end - start) / perBatch) * batchBytes;
    spawnSync('dd', [`if=${file}`, 'of=/dev/null', 'bs=1M', 'iflag=nocache,skip_bytes,count_bytes', `skip=${skip}`, `count=${bytes}`, 'status=none']);
  }
}

function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

function plural(n: number, word: string): string {
  return `${fmt(n)} ${word}${n === 1 ? '' : 's'}`;
}

async function connectionsCurve(broker: GrowthBroker, plan: Plan, runs: number): Promise<ResultTable> {
  const topic = 'growth-connections';
  await createTopic(broker.port, topic, 1);
  const rows = [];
  for (const connections of plan.connections) {
    progress(`growth: ${plural(connections, 'connection')}, ${fmt(plan.connectionsTotal)} records per run`);
    const f = await repeatRuns(`growth ${plural(connections, 'connection')}`, runs, async () => {
      const run = await produceSpread(broker.port, topic, { ...SMALL, total: plan.connectionsTotal, partitions: 1, connections, inFlight: 1 });
      return { rate: run.records / run.seconds, p99: percentile(run.latenciesMs, 99), rss: broker.rssMiB() };
    });
    rows.push({ label: plural(connections, 'connection'), cells: [f.rate, f.p99, f.rss] });
  }
  return {
    id: 'growth.connections',
    title: 'Broker cost growth: client connections',
    notes: [
      `${fmt(plan.connectionsTotal)} records of ${SMALL.recordBytes} B per run, shared out over the connections (opened before the clock starts); each connection keeps one pre-built batch of ${SMALL.batchRecords} records in flight; one topic with one partition, acks=1.`,
      'Ack latency: from writing a produce request to reading its response, over every request of the run.',
      'Broker RSS: read right after each run.',
    ],
    columns: [{ name: 'records/s' }, { name: 'ack p99, ms', digits: 1 }, { name: 'broker RSS, MiB' }],
    rows,
  };
}

async function partitionsCurve(broker: GrowthBroker, plan: Plan, runs: number): Promise<ResultTable> {
  const rows = [];
  for (const partitions of plan.partitions) {
    const topic = `growth-partitions-${partitions}`;
    let started = performance.now();
    await createTopic(broker.port, topic, partitions);
    const create = (performance.now() - started) / 1000;
    // The first batch to a partition opens its segment and indexes: a one-off cost, timed apart from the runs.
    started = performance.now();
    await produceSpread(broker.port, topic, { ...SMALL, total: partitions * SMALL.batchRecords, partitions, connections: 1, inFlight: SPREAD_IN_FLIGHT });
    const firstWrite = (performance.now() - started) / 1000;
    progress(`growth: created ${topic} (${fmt(create, 1)} s), wrote one batch to each partition (${fmt(firstWrite, 1)} s); ${fmt(plan.partitionsTotal)} records per run`);
    const f = await repeatRuns(`growth ${plural(partitions, 'partition')}`, runs, async () => {
      const run = await produceSpread(broker.port, topic, { ...SMALL, total: plan.partitionsTotal, partitions, connections: 1, inFlight: SPREAD_IN_FLIGHT });
      return { rate: run.records / run.seconds, rss: broker.rssMiB() };
    });
    rows.push({ label: plural(partitions, 'partition'), cells: [f.rate, f.rss, fmt(create, 1), fmt(firstWrite, 1)] });
  }
  return {
    id: 'growth.partitions',
    title: 'Broker cost growth: partitions of one topic',
    notes: [
      `${fmt(plan.partitionsTotal)} records of ${SMALL.recordBytes} B per run in pre-built batches of ${SMALL.batchRecords}, one batch per produce request, the requests round robin over the topic's partitions; one connection, ${SPREAD_IN_FLIGHT} requests in flight, acks=1.`,
      'CreateTopics and first batch to each (one pass each, before the runs): creating the topic, then one batch to every partition, which opens its segment and index files; the runs measure the partitions once they are open.',
      `Each level is a new topic on the same broker, so the RSS (read right after each run) also holds the smaller levels' topics and the ${plural(plan.connections.length, 'level')} of the connections curve run before.`,
    ],
    columns: [{ name: 'records/s' }, { name: 'broker RSS, MiB' }, { name: 'CreateTopics, s (one pass)' }, { name: 'first batch to each, s (one pass)' }],
    rows,
  };
}

/** What the retained-data topic holds so far; all its batches are alike (LARGE). */
interface RetainedLog {
  bytes: number;
  endOffset: number;
  batchBytes: number;
}

/** Produces to `topic` until it holds `targetBytes`, a progress line per chunk; returns the fill rate in MB/s. */
async function fillTo(port: number, topic: string, targetBytes: number, log: RetainedLog, label: string): Promise<number> {
  const from = log.bytes;
  let seconds = 0;
  while (log.bytes < targetBytes) {
    const batches = Math.ceil((targetBytes - log.bytes) / (log.batchBytes || LARGE.recordBytes * LARGE.batchRecords));
    const run = await produceSpread(port, topic, { ...LARGE, total: Math.min(FILL_CHUNK_RECORDS, batches * LARGE.batchRecords), partitions: 1, connections: 1 });
    log.bytes += run.bytes;
    log.endOffset += run.records;
    log.batchBytes = (run.bytes * LARGE.batchRecords) / run.records;
    seconds += run.seconds;
    progress(`growth: filling to ${label}: ${fmt(log.bytes / GB, 2)} GB (${fmt((log.bytes - from) / seconds / 1e6)} MB/s)`);
  }
  return (log.bytes - from) / seconds / 1e6;
}

async function retainedCurve(broker: GrowthBroker, plan: Plan, runs: number): Promise<ResultTable> {
  const topic = 'growth-retained';
  await createTopic(broker.port, topic, 1);
  const partitionDir = join(broker.dataDir, 'topics', topic, '0');
  const restarts = plan.restarts(runs);
  const notes: string[] = [];
  const rows: { label: string; cells: Cell[] }[] = [];
  const log: RetainedLog = { bytes: 0, endOffset: 0, batchBytes: 0 };
  for (const level of plan.retainedGB) {
    const label = `${fmt(level)} GB`;
    const free = freeBytes(broker.dataDir);
    if (free < level * GB + DISK_MARGIN) {
      notes.push(`${label} skipped: ${fmt(free / GB, 1)} GB free on the data directory's disk, ${fmt(level + DISK_MARGIN / GB)} GB needed.`);
      progress(`growth: ${label} skipped, only ${fmt(free / GB, 1)} GB free`);
      rows.push({ label, cells: [null, null, null, null, null, null] });
      continue;
    }

    const fill = await fillTo(broker.port, topic, level * GB, log, label);
    const startSamples: number[] = [];
    for (let i = 0; i < restarts; i++) {
      startSamples.push(await broker.restart());
      progress(`growth: start-up holding ${label}: ${fmt(startSamples[i], 2)} s (restart ${i + 1}/${restarts})`);
    }

    const f = await repeatRuns(`growth at ${label}`, runs, async (run) => {
      const produced = await produceSpread(broker.port, topic, { ...LARGE, total: plan.atLevelRecords, partitions: 1, connections: 1 });
      log.bytes += produced.bytes;
      log.endOffset += produced.records;
      // A different old range each run, from the start of the log on.
      const oldFrom = run * plan.atLevelRecords;
      evictRecords(partitionDir, oldFrom, plan.atLevelRecords, log.batchBytes);
      const old = await consumeRaw(broker.port, topic, oldFrom + plan.atLevelRecords, FETCH_BYTES, oldFrom);
      const tail = await consumeRaw(broker.port, topic, log.endOffset, FETCH_BYTES, log.endOffset - plan.atLevelRecords);
      return { produce: produced.records / produced.seconds, old: old.records / old.seconds, tail: tail.records / tail.seconds, rss: broker.rssMiB() };
    });
    rows.push({ label, cells: [fmt(fill), f.produce, f.old, f.tail, f.rss, startSamples.length >= MIN_RUNS ? figure(startSamples) : null] });
  }
  return {
    id: 'growth.retained',
    title: 'Broker cost growth: retained data',
    notes: [
      `One topic with one partition filled to each level (1 GB = 10^9 bytes of record batches) with records of ${LARGE.recordBytes} B in pre-built batches of ${fmt(LARGE.batchRecords)}, ${LARGE.inFlight} in flight, acks=1; segment.bytes is the default 1 GiB. Fill: the one pass that took the topic from the level before to this one.`,
      `At each level the broker is first stopped with SIGTERM and started again on its data (start-up: spawn to ready line, Node's own start included; ${restarts < MIN_RUNS ? 'one restart per level, to keep within the time budget, so the start-up column is left empty: the full run times 5' : `${restarts} restarts per level`}); then each run produces ${fmt(plan.atLevelRecords)} records, reads ${fmt(plan.atLevelRecords)} from an old offset (a different range each run from offset 0 on, dropped from the page cache first with dd iflag=nocache, so read from disk) and ${fmt(plan.atLevelRecords)} from the tail (in the page cache), with Fetch requests of up to ${FETCH_BYTES / MiB} MiB.`,
      'Broker RSS: read right after each run, on the broker restarted at that level.',
      ...notes,
    ],
    columns: [
      { name: 'fill MB/s (one pass)' },
      { name: 'produce records/s' },
      { name: 'consume old records/s' },
      { name: 'consume tail records/s' },
      { name: 'broker RSS, MiB' },
      { name: 'start-up, s', digits: 2 },
    ],
    rows,
  };
}

export const growth: Section = async (opts) => {
  const plan = opts.quick ? QUICK : FULL;
  const broker = new GrowthBroker(opts);
  try {
    const emptyStart = await broker.start();
    progress(`growth: broker on 127.0.0.1:${broker.port} (started in ${fmt(emptyStart, 2)} s with no data); ${os.cpus().length} cores, node ${process.version}`);
    const connections = await connectionsCurve(broker, plan, opts.runs);
    const partitions = await partitionsCurve(broker, plan, opts.runs);
    // The retained-data restarts should time that data alone, not the topics of the curves before.
    await deleteTopics(broker.port, ['growth-connections', ...plan.partitions.map((p) => `growth-partitions-${p}`)]);
    const retained = await retainedCurve(broker, plan, opts.runs);
    retained.notes.push(`For comparison, the same broker started with an empty data directory in ${fmt(emptyStart, 2)} s.`);
    const shared = [
      `One broker process (\`tributary broker\`, single node) and the load generator (bench/growth/multi-partition-load.ts, pre-built batches, every response checked) share this machine's ${os.cpus().length} cores (${os.cpus()[0].model}); node ${process.version}.`,
      'Durability: flush.ms at its default of 1000 (fsync once a second in the background), acks=1: an ack means written to the log, not yet fsynced.',
      `Every figure: median of ${opts.runs} runs (min–max).`,
    ];
    for (const t of [partitions, connections, retained]) t.notes.push(...shared);
    return { tables: [partitions, connections, retained], peers: {} };
  } finally {
    await broker.close();
  }
};
