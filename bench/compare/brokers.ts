// The side-by-side broker section: Tributary, Redis Streams and NATS JetStream, each on its own server on this
// machine, each driven twice: by pre-built requests re-sent on one connection (the server's capacity) and by its
// Node client (what an application gets); over the same workloads (bench/compare/workloads.ts): produce at
// saturation, read everything back, fixed offered load.
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import { startBroker, removeDir } from '../../test/helpers/broker-process.ts';
import { figure, repeatRuns, type Cell, type Figure, type ResultTable, type Section, type SectionOptions } from '../lib/results.ts';
import { fmt, progress } from '../lib/stats.ts';
import { NatsJetStreamDriver } from './drivers/nats-jetstream.ts';
import { NatsPrebuiltDriver } from './drivers/nats-prebuilt.ts';
import { RedisPrebuiltDriver } from './drivers/redis-prebuilt.ts';
import { RedisStreamsDriver } from './drivers/redis-streams.ts';
import { packageVersion, type StreamDriver } from './drivers/stream-driver.ts';
import { TributaryPlatformaticDriver } from './drivers/tributary-platformatic.ts';
import { TributaryPrebuiltDriver } from './drivers/tributary-prebuilt.ts';
import { natsVersion, startNats } from './servers/nats-server.ts';
import { redisVersion, startRedis } from './servers/redis-server.ts';
import { consumeEverything, fixedLoad, produceAtSaturation, TICK_MS } from './workloads.ts';

/** Every system gets the same batches and the same number of them in flight. */
const BATCH_RECORDS = 1000;
const IN_FLIGHT = 8;
const DRAIN_TIMEOUT_MS = 120_000;

interface Plan {
  partitions: number[];
  recordSizes: number[];
  /** Records per saturation run by record size. */
  total: (recordBytes: number) => number;
  /** A saturation run starts no batch after this: the slowest system sends fewer records, not more time. */
  maxSeconds: number;
  rates: number[];
  fixedSeconds: number;
}

// Six systems (three brokers, each driven two ways) × two partition counts × runs: half-second runs keep the
// quick section near 70 s here.
const QUICK: Plan = { partitions: [1, 6], recordSizes: [100], total: () => 100_000, maxSeconds: 0.5, rates: [10_000], fixedSeconds: 0.5 };
const FULL: Plan = { partitions: [1, 6], recordSizes: [100, 1024], total: (b) => (b <= 100 ? 1_000_000 : 300_000), maxSeconds: 3, rates: [10_000, 50_000], fixedSeconds: 3 };

/** A system under test: its server started once, a driver connected to it. */
interface RunningSystem {
  driver: StreamDriver;
  /** What the server logged, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** How a system is driven: pre-built requests re-sent (the server's capacity) or its Node client. */
type Driving = 'pre-built' | 'client';

interface System {
  /** Short name for the ratios table. */
  short: string;
  isTributary: boolean;
  driving: Driving;
  start(opts: SectionOptions): Promise<RunningSystem>;
}

async function startTributary(opts: SectionOptions, connect: (port: number) => Promise<StreamDriver>): Promise<RunningSystem> {
  if (opts.cpuProfile) mkdirSync(opts.profileDir, { recursive: true });
  const broker = await startBroker({ nodeArgs: opts.cpuProfile ? ['--cpu-prof', '--cpu-prof-dir', opts.profileDir] : [] });
  try {
    const driver = await connect(broker.port);
    return {
      driver,
      output: () => broker.output(),
      async stop() {
        try {
          await driver.close();
        } finally {
          await broker.stop(); // SIGTERM, so a CPU profile is written
          removeDir(broker.dataDir);
        }
      },
    };
  } catch (err) {
    await broker.stop();
    removeDir(broker.dataDir);
    throw err;
  }
}

async function startPeer<S extends { port: number; output(): string; stop(): Promise<void> }>(server: S, connect: (port: number) => Promise<StreamDriver>): Promise<RunningSystem> {
  try {
    const driver = await connect(server.port);
    return {
      driver,
      output: () => server.output(),
      async stop() {
        try {
          await driver.close();
        } finally {
          await server.stop();
        }
      },
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

const SYSTEMS: System[] = [
  { short: 'Tributary pre-built', isTributary: true, driving: 'pre-built', start: (o) => startTributary(o, (port) => TributaryPrebuiltDriver.connect(port)) },
  { short: 'Tributary platformatic', isTributary: true, driving: 'client', start: (o) => startTributary(o, async (port) => new TributaryPlatformaticDriver(port)) },
  { short: 'Redis pre-built', isTributary: false, driving: 'pre-built', start: async () => startPeer(await startRedis(), (port) => RedisPrebuiltDriver.connect(port)) },
  { short: 'Redis node-redis', isTributary: false, driving: 'client', start: async () => startPeer(await startRedis(), (port) => RedisStreamsDriver.connect(port)) },
  { short: 'NATS pre-built', isTributary: false, driving: 'pre-built', start: async () => startPeer(await startNats(), (port) => NatsPrebuiltDriver.connect(port)) },
  { short: 'NATS nats.js', isTributary: false, driving: 'client', start: async () => startPeer(await startNats(), (port) => NatsJetStreamDriver.connect(port)) },
];

interface ComboResult {
  produce: Record<'records' | 'recordsPerSec' | 'mbPerSec' | 'ackP50' | 'ackP99' | 'ackP999', Figure>;
  consume: Record<'recordsPerSec' | 'mbPerSec', Figure>;
  fixed: Map<number, Record<'achievedRate' | 'ackP50' | 'ackP99' | 'ackP999' | 'e2eP50' | 'e2eP99' | 'e2eP999', Figure>>;
}

function sizeLabel(bytes: number): string {
  return bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`;
}

function comboKey(partitions: number, recordBytes: number): string {
  return `${partitions}p/${recordBytes}`;
}

/**
 * Runs every workload of the plan against one system; names are unique per run, so every run starts fresh, and
 * a run's streams are deleted right after it (whatever a failed run leaves goes with its server's directory).
 */
async function measureSystem(system: System, driver: StreamDriver, plan: Plan, runs: number): Promise<Map<string, ComboResult>> {
  const results = new Map<string, ComboResult>();
  for (const partitions of plan.partitions) {
    for (const recordBytes of plan.recordSizes) {
      const tag = `${partitions}p-${recordBytes}b`;
      const label = `${system.short}, ${partitions} partition(s), ${sizeLabel(recordBytes)}`;
      // Each run reads back what it produced: the consume figures come from the same runs.
      const consumed = { recordsPerSec: [] as number[], mbPerSec: [] as number[] };
      const produce = await repeatRuns(`${label}: produce + consume`, runs, async (run) => {
        const stream = `cmp-${tag}-${run}`;
        await driver.createStreams(stream, partitions);
        const p = await produceAtSaturation(driver, { stream, partitions, total: plan.total(recordBytes), maxSeconds: plan.maxSeconds, batchRecords: BATCH_RECORDS, inFlight: IN_FLIGHT, recordBytes });
        const c = await consumeEverything(driver, { stream, recordBytes, produced: p.produced, timeoutMs: DRAIN_TIMEOUT_MS });
        consumed.recordsPerSec.push(c.recordsPerSec);
        consumed.mbPerSec.push(c.mbPerSec);
        await driver.deleteStreams(stream, partitions);
        return { records: p.records, recordsPerSec: p.recordsPerSec, mbPerSec: p.mbPerSec, ackP50: p.ackP50, ackP99: p.ackP99, ackP999: p.ackP999 };
      });
      const consume = { recordsPerSec: figure(consumed.recordsPerSec), mbPerSec: figure(consumed.mbPerSec) };
      const fixed: ComboResult['fixed'] = new Map();
      for (const rate of plan.rates) {
        fixed.set(rate, await repeatRuns(`${label}: fixed load ${fmt(rate)} records/s`, runs, async (run) => {
          const stream = `cmpf-${tag}-${rate}-${run}`;
          await driver.createStreams(stream, partitions);
          const f = await fixedLoad(driver, { stream, partitions, rate, seconds: plan.fixedSeconds, recordBytes, drainTimeoutMs: DRAIN_TIMEOUT_MS });
          await driver.deleteStreams(stream, partitions);
          return f;
        }));
      }
      results.set(comboKey(partitions, recordBytes), { produce, consume, fixed });
    }
  }
  return results;
}

/** A ratio of two medians is derived, not measured: it is printed, and kept in the JSON, as text. */
function ratio(tributary: number, peer: number): string {
  return fmt(tributary / peer, 2);
}

export const brokers: Section = async (opts) => {
  const plan = opts.quick ? QUICK : FULL;
  const measured = new Map<System, Map<string, ComboResult>>();
  const drivers = new Map<System, StreamDriver>();
  const peers: Record<string, string> = {};
  for (const system of SYSTEMS) {
    progress(`brokers: starting ${system.short}`);
    const running = await system.start(opts);
    try {
      drivers.set(system, running.driver);
      measured.set(system, await measureSystem(system, running.driver, plan, opts.runs));
    } catch (err) {
      throw new Error(`brokers: ${system.short} failed: ${(err as Error).message}\n--- its server's log (tail):\n${running.output().slice(-4000)}`, { cause: err });
    } finally {
      await running.stop();
    }
  }
  peers['redis-server'] = redisVersion();
  peers['nats-server'] = natsVersion();
  for (const pkg of ['redis', '@nats-io/transport-node', '@nats-io/jetstream', '@platformatic/kafka']) {
    const id = packageVersion(pkg);
    peers[pkg] = id.slice(id.lastIndexOf('@') + 1);
  }

  const rowsOf = (pick: (r: ComboResult, rate?: number) => Cell[], withRate = false) => {
    const rows: { label: string; cells: Cell[] }[] = [];
    for (const system of SYSTEMS) {
      for (const partitions of plan.partitions) {
        for (const recordBytes of plan.recordSizes) {
          const r = measured.get(system)!.get(comboKey(partitions, recordBytes))!;
          const base = `${drivers.get(system)!.name}, ${partitions} partition${partitions > 1 ? 's' : ''}, ${sizeLabel(recordBytes)}`;
          if (!withRate) rows.push({ label: base, cells: pick(r) });
          else for (const rate of plan.rates) rows.push({ label: `${base}, ${fmt(rate)} records/s`, cells: pick(r, rate) });
        }
      }
    }
    return rows;
  };

  const machine = `${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), node ${process.version}; every server on 127.0.0.1 on this machine, the client in the bench process`;
  const systemNotes = SYSTEMS.map((s) => {
    const d = drivers.get(s)!;
    return `${d.name}: client ${d.client}; durability: ${d.durability}.`;
  });
  const batchNote = `Batches of ${fmt(BATCH_RECORDS)} records, ${IN_FLIGHT} batches in flight, round robin over the partitions, for every system. ` +
    `Tributary: one Produce request per batch (acks=1), a single node. Redis: one XADD per record, a batch's XADDs sent together (node-redis: one multi().execAsPipeline(), no MULTI/EXEC). ` +
    `NATS: one publish per record, each acknowledged by a PubAck (nats.js: js.publish with the connection's noAsyncTraces on, a batch's publishes awaited together).`;
  const prebuiltNote = 'Pre-built rows measure each server with a client that costs next to nothing, built the same way for all three: a batch is encoded once ' +
    '(Tributary: a Produce v9 frame, only the correlation id patched per send; Redis: one RESP buffer of the batch\'s XADD commands; NATS: one buffer of the batch\'s PUBs with a reply subject per partition) ' +
    'and re-sent, pipelined on one TCP connection, replies only counted (an error reply fails its batch). Stamped batches (fixed load) are encoded per send.';
  const saturationNote = `Each run sends ${fmt(plan.total(plan.recordSizes[0]))}${plan.recordSizes.length > 1 ? ` (${sizeLabel(plan.recordSizes[0])}) / ${fmt(plan.total(plan.recordSizes[1]))} (${sizeLabel(plan.recordSizes[1])})` : ''} records ` +
    `but starts no batch after ${plan.maxSeconds} s, so a slow system sends fewer (column "records"); a fresh topic / set of streams per run, deleted right after it.`;

  const produceTable: ResultTable = {
    id: 'brokers.produce',
    title: 'Brokers side by side: produce at saturation',
    notes: [batchNote, prebuiltNote, saturationNote, 'MB/s counts payload bytes only; ack latency is per batch, from send to acknowledgement.', machine, ...systemNotes],
    columns: [{ name: 'records' }, { name: 'records/s' }, { name: 'MB/s', digits: 1 }, { name: 'ack p50 ms', digits: 1 }, { name: 'ack p99 ms', digits: 1 }, { name: 'ack p99.9 ms', digits: 1 }],
    rows: rowsOf((r) => [r.produce.records, r.produce.recordsPerSec, r.produce.mbPerSec, r.produce.ackP50, r.produce.ackP99, r.produce.ackP999]),
  };
  const consumeTable: ResultTable = {
    id: 'brokers.consume',
    title: 'Brokers side by side: read back everything just produced',
    notes: [
      'One consumer reads all partitions from the start until it has every record the produce run had acknowledged (exact counts per partition are checked). The time includes opening the consumer.',
      'Tributary pre-built: raw Fetch v12 of up to 8 MiB over all partitions, walking batch headers only. Tributary @platformatic/kafka: its Consumer.fetch (1 MiB per partition), records decoded by the client. ' +
        'Redis and NATS read with their Node clients in both rows (the pre-built rows only produce differently). Redis: XREADGROUP COUNT 1000 BLOCK 1000 over all stream keys, one group, one consumer, XACK of each read. NATS: one durable pull consumer per stream (consume(), 1,000 messages per pull), AckPolicy.All, the last message of each received batch acked.',
      machine,
    ],
    columns: [{ name: 'records/s' }, { name: 'MB/s', digits: 1 }],
    rows: rowsOf((r) => [r.consume.recordsPerSec, r.consume.mbPerSec]),
  };
  const fixedTable: ResultTable = {
    id: 'brokers.fixed',
    title: 'Brokers side by side: fixed offered load with a live consumer',
    notes: [
      `For ${plan.fixedSeconds} s, every ${TICK_MS} ms one small batch per partition (rate × ${TICK_MS} ms records split over the partitions) carrying its send time in the first 8 bytes of every value; a consumer reads all partitions at the same time in the same process.`,
      'Achieved = records acknowledged per second from the first send to the last acknowledgement; a tick is skipped while a second\'s worth of records is unacknowledged, so a system that cannot keep up shows a lower achieved rate.',
      'Ack latency: per batch, send to acknowledgement. End-to-end: one sample per record, send to the consumer\'s callback (same clock).',
      machine,
    ],
    columns: [
      { name: 'achieved records/s' },
      { name: 'ack p50 ms', digits: 1 }, { name: 'ack p99 ms', digits: 1 }, { name: 'ack p99.9 ms', digits: 1 },
      { name: 'e2e p50 ms', digits: 1 }, { name: 'e2e p99 ms', digits: 1 }, { name: 'e2e p99.9 ms', digits: 1 },
    ],
    rows: rowsOf((r, rate) => {
      const f = r.fixed.get(rate!)!;
      return [f.achievedRate, f.ackP50, f.ackP99, f.ackP999, f.e2eP50, f.e2eP99, f.e2eP999];
    }, true),
  };

  // Ratios of medians, like against like: Tributary pre-built over the best pre-built peer, Tributary's client
  // row over the best client peer; best = highest throughput, lowest e2e p99.
  const best = (driving: Driving, key: string, value: (r: ComboResult) => number, higherIsBetter: boolean) => {
    const peerSystems = SYSTEMS.filter((s) => !s.isTributary && s.driving === driving);
    let winner = peerSystems[0];
    for (const s of peerSystems) {
      const v = value(measured.get(s)!.get(key)!);
      const w = value(measured.get(winner)!.get(key)!);
      if (higherIsBetter ? v > w : v < w) winner = s;
    }
    return { system: winner, value: value(measured.get(winner)!.get(key)!) };
  };
  const ratioColumns = [{ name: 'produce records/s', digits: 2 }, { name: 'best peer' }, { name: 'consume records/s', digits: 2 }, { name: 'best peer' }];
  for (const rate of plan.rates) ratioColumns.push({ name: `e2e p99 at ${fmt(rate)}/s`, digits: 2 }, { name: 'best peer' });
  const ratioRows: { label: string; cells: Cell[] }[] = [];
  for (const [driving, comparison] of [['pre-built', 'pre-built vs pre-built'], ['client', 'client vs client']] as const) {
    const tributary = SYSTEMS.find((s) => s.isTributary && s.driving === driving)!;
    for (const partitions of plan.partitions) {
      for (const recordBytes of plan.recordSizes) {
        const key = comboKey(partitions, recordBytes);
        const mine = measured.get(tributary)!.get(key)!;
        const produce = best(driving, key, (r) => r.produce.recordsPerSec.median, true);
        const consume = best(driving, key, (r) => r.consume.recordsPerSec.median, true);
        const cells: Cell[] = [ratio(mine.produce.recordsPerSec.median, produce.value), produce.system.short, ratio(mine.consume.recordsPerSec.median, consume.value), consume.system.short];
        for (const rate of plan.rates) {
          const e2e = best(driving, key, (r) => r.fixed.get(rate)!.e2eP99.median, false);
          cells.push(ratio(mine.fixed.get(rate)!.e2eP99.median, e2e.value), e2e.system.short);
        }
        ratioRows.push({ label: `${comparison}, ${partitions} partition${partitions > 1 ? 's' : ''}, ${sizeLabel(recordBytes)}`, cells });
      }
    }
  }
  const ratiosTable: ResultTable = {
    id: 'brokers.ratios',
    title: 'Brokers side by side: Tributary / best peer',
    notes: [
      'Ratio of medians, Tributary over the best of Redis Streams and NATS JetStream for that figure and configuration, like against like: ' +
        '"pre-built vs pre-built" is Tributary (pre-built batches) over the better of the peers\' pre-built rows, the servers\' capacity; ' +
        '"client vs client" is Tributary through @platformatic/kafka over the better of node-redis and nats.js, what a Node application gets.',
      'Throughput: above 1 means Tributary is faster. End-to-end p99: below 1 means Tributary\'s latency is lower.',
      'The peers read with their Node clients in both comparisons (only producing is pre-built for them), so the pre-built consume and end-to-end ratios compare Tributary\'s raw Fetch with a client-bound reader.',
      'Durability differs and is stated per system under the produce table: Tributary fsyncs at most 1 s after an append, Redis once a second, NATS 2.9 every 2 minutes; all three write acknowledged data to the page cache first.',
    ],
    columns: ratioColumns,
    rows: ratioRows,
  };
  return { tables: [produceTable, consumeTable, fixedTable, ratiosTable], peers };
};
