// The Tributary agent beside rsyslog (imfile -> omkafka), the shipper most Linux hosts already have. Both
// tail the same two files into the same broker, one shipper at a time: (1) a backlog of pre-written lines
// read at full speed, (2) lines appended at a fixed rate, with the shipper's CPU and RSS sampled from /proc.
import { appendFileSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBroker, removeDir, tempDir, type BrokerProcess } from '../../test/helpers/broker-process.ts';
import { startAgent } from '../../test/helpers/agent-process.ts';
import { kcat } from '../../test/helpers/kcat.ts';
import { RawKafkaClient } from '../lib/raw-kafka-client.ts';
import { ProcessUsage, cpuSeconds, rssMiB } from '../lib/process-usage.ts';
import { repeatRuns, type Figure, type ResultTable, type Section, type SectionOptions } from '../lib/results.ts';
import { fmt, progress } from '../lib/stats.ts';
import { OMKAFKA_SETTINGS, librdkafkaVersion, rsyslogVersion, startRsyslog } from './rsyslog-process.ts';

const LINE_BYTES = 200; // newline included
const FILES = ['a.log', 'b.log'];
const LIST_OFFSETS = 2;
const CREATE_TOPICS = 19;
const LATEST = -1;
const SHIP_TIMEOUT_MS = 180_000;
/** How long a fixed-rate run waits for the shipper to catch up after the writer stopped. */
const DRAIN_TIMEOUT_MS = 30_000;
const POLL_MS = 20;
const WRITE_TICK_MS = 50;

interface Workloads {
  /** Lines pre-written (half per file) before each saturation run. */
  backlogLines: number;
  rates: number[];
  warmupSeconds: number;
  /** Length of one fixed-rate run; the runs follow each other on one running shipper. */
  windowSeconds: number;
}

function workloads(quick: boolean): Workloads {
  return quick
    ? { backlogLines: 25_000, rates: [5_000], warmupSeconds: 0.5, windowSeconds: 1 }
    : { backlogLines: 200_000, rates: [1_000, 20_000], warmupSeconds: 3, windowSeconds: 8 };
}

/** A shipper under test, running: the pid whose CPU and RSS count, and a clean stop. */
interface RunningShipper {
  pid: number;
  stop(): Promise<unknown>;
  logs(): string;
}

interface Shipper {
  label: string;
  /** Starts tailing `<logsDir>/*.log` into `topic`; resolves once the shipper says it is up. */
  start(logsDir: string, topic: string, workDir: string): Promise<RunningShipper>;
}

function agentShipper(brokerPort: number, opts: SectionOptions): Shipper {
  return {
    label: 'Tributary agent',
    async start(logsDir, topic, workDir) {
      mkdirSync(workDir, { recursive: true });
      const agent = await startAgent(
        workDir,
        {
          brokers: [`127.0.0.1:${brokerPort}`],
          state_dir: join(workDir, 'state'),
          host_name: 'bench-host',
          // Plain lines, no parser: rsyslog's imfile does not parse either.
          files: [{ include: [join(logsDir, '*.log')], service: 'bench' }],
          shipping: { logs_topic: topic },
        },
        opts.cpuProfile ? ['--cpu-prof', '--cpu-prof-dir', opts.profileDir] : [],
      );
      return { pid: agent.child.pid!, stop: () => agent.stop(), logs: () => agent.output() };
    },
  };
}

function rsyslogShipper(brokerPort: number, label: string): Shipper {
  return {
    label,
    async start(logsDir, topic, workDir) {
      const rsyslog = await startRsyslog({ files: [join(logsDir, '*.log')], brokerPort, topic, workDir });
      return { pid: rsyslog.pid, stop: () => rsyslog.stop(), logs: () => rsyslog.logs() };
    },
  };
}

const WORDS = ['user', 'order', 'cache', 'miss', 'hit', 'query', 'took', 'region=eu-west-1', 'retry', 'ok', 'session', 'upstream', 'bytes', 'GET', 'POST', 'tenant'];

/**
 * `count` plain-text lines of exactly LINE_BYTES each (so a slice of whole lines is a byte range), built
 * once and written as slices: the writer allocates nothing per line. A trace id and words picked by a
 * fixed pseudo-random sequence keep zstd from shrinking the lines to nothing, as it would a run of one
 * padding character.
 */
function buildLines(count: number, first = 0): Buffer {
  const out = Buffer.alloc(count * LINE_BYTES);
  const time = new Date().toISOString();
  let x = 0x2545f491 ^ first;
  const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
  for (let i = 0; i < count; i++) {
    const id = first + i;
    let line = `${time} INFO request handled id=${id} trace=${next().toString(16).padStart(8, '0')}${next().toString(16).padStart(8, '0')} path=/api/orders/${id % 1000} status=200 msg=`;
    while (line.length < LINE_BYTES - 1) line += `${WORDS[next() >>> 28]} ${next() % 10_000} `;
    out.write(line.slice(0, LINE_BYTES - 1) + '\n', i * LINE_BYTES, 'latin1');
  }
  return out;
}

async function createTopic(client: RawKafkaClient, name: string): Promise<void> {
  const res = await client.request(CREATE_TOPICS, 7, { topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false });
  if (res.topics[0].errorCode !== 0) throw new Error(`create ${name}: ${res.topics[0].errorMessage}`);
}

async function endOffset(client: RawKafkaClient, topic: string): Promise<number> {
  const res = await client.request(LIST_OFFSETS, 1, { replicaId: -1, topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: LATEST }] }] });
  const p = res.topics[0].partitions[0];
  if (p.errorCode !== 0) throw new Error(`ListOffsets ${topic}: error ${p.errorCode}`);
  return Number(p.offset);
}

/** Polls the topic's end offset until it reaches `lines`; `onPoll` runs between polls (RSS sampling). */
async function waitShipped(client: RawKafkaClient, topic: string, lines: number, timeoutMs: number, onPoll = () => {}): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const shipped = await endOffset(client, topic);
    if (shipped >= lines || Date.now() > deadline) return shipped;
    onPoll();
    await sleep(POLL_MS);
  }
}

/** The topic's log segments on disk per record: what one line costs in the broker, batch overhead and compression included. */
function brokerBytesPerRecord(broker: BrokerProcess, topic: string, records: number): number {
  const dir = join(broker.dataDir, 'topics', topic, '0');
  const bytes = readdirSync(dir).filter((f) => f.endsWith('.log')).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
  return bytes / records;
}

/** Key and value size of the topic's first record, uncompressed, as a consumer sees them. */
async function firstRecordShape(port: number, topic: string): Promise<string> {
  const res = await kcat(['-C', '-b', `127.0.0.1:${port}`, '-t', topic, '-o', 'beginning', '-c', '1', '-q', '-f', '%K\\t%S\\t%h'], undefined, 30_000);
  const [key, value, headers] = res.stdout.toString().split('\t');
  const headerCount = headers && headers.trim() ? headers.split(',').length : 0;
  return `value ${value} B, key ${Math.max(0, Number(key))} B, ${headerCount} header(s)`;
}

interface SaturationFigures {
  startupSeconds: Figure;
  linesPerSecond: Figure;
  linesPerCpuSecond: Figure;
  rssMaxMiB: Figure;
  brokerBytesPerRecord: Figure;
  recordShape: string;
}

async function saturation(shipper: Shipper, broker: BrokerProcess, client: RawKafkaClient, w: Workloads, runs: number, key: string): Promise<SaturationFigures> {
  const half = w.backlogLines / 2;
  const files = [buildLines(half, 0), buildLines(half, half)];
  let lastTopic = '';
  const figures = await repeatRuns(`${shipper.label}, ${fmt(w.backlogLines)} lines backlog`, runs, async (run) => {
    const topic = `vs-rsyslog.saturation.${key}.${run}`;
    await createTopic(client, topic);
    const dir = tempDir(`vs-rsyslog-${key}`);
    let running: RunningShipper | undefined;
    try {
      const logsDir = join(dir, 'logs');
      mkdirSync(logsDir);
      FILES.forEach((f, i) => writeFileSync(join(logsDir, f), files[i]));
      const started = performance.now();
      running = await shipper.start(logsDir, topic, join(dir, 'shipper'));
      const ready = performance.now();
      const startupSeconds = (ready - started) / 1000;
      const pid = running.pid;
      // Start-up (Node loading the agent's modules, ~2-4 s) is its own column: the rates are about shipping.
      const cpuAtReady = cpuSeconds(pid);
      let rssMax = rssMiB(pid);
      const shipped = await waitShipped(client, topic, w.backlogLines, SHIP_TIMEOUT_MS, () => (rssMax = Math.max(rssMax, rssMiB(pid))));
      const seconds = (performance.now() - ready) / 1000;
      const cpu = cpuSeconds(pid) - cpuAtReady;
      if (shipped < w.backlogLines) throw new Error(`${shipper.label} shipped ${shipped} of ${w.backlogLines} lines within ${SHIP_TIMEOUT_MS} ms:\n${running.logs().slice(-4000)}`);
      lastTopic = topic;
      return { startupSeconds, linesPerSecond: w.backlogLines / seconds, linesPerCpuSecond: w.backlogLines / cpu, rssMaxMiB: rssMax, brokerBytesPerRecord: brokerBytesPerRecord(broker, topic, w.backlogLines) };
    } finally {
      await running?.stop();
      removeDir(dir);
    }
  });
  return { ...figures, recordShape: await firstRecordShape(broker.port, lastTopic) };
}

interface FixedRateFigures {
  cpuPercent: Figure;
  rssAvgMiB: Figure;
  rssMaxMiB: Figure;
  shippedOfWritten: string;
}

/**
 * Appends whole lines to the files every WRITE_TICK_MS, half to each, at `rate` lines/s on average; a late
 * tick is caught up by the next rather than drifting.
 */
class RateWriter {
  written = 0;
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(paths: string[], lines: Buffer, rate: number) {
    const poolLines = lines.length / LINE_BYTES;
    const started = performance.now();
    this.done = (async () => {
      while (!this.stopped) {
        const due = Math.floor(((performance.now() - started) / 1000) * rate);
        for (let f = 0; f < paths.length && this.written < due; f++) {
          const n = Math.ceil((due - this.written) / (paths.length - f));
          const from = this.written % poolLines;
          const to = Math.min(poolLines, from + n);
          appendFileSync(paths[f], lines.subarray(from * LINE_BYTES, to * LINE_BYTES));
          this.written += to - from;
        }
        await sleep(WRITE_TICK_MS);
      }
    })();
  }

  async stop(): Promise<number> {
    this.stopped = true;
    await this.done;
    return this.written;
  }
}

async function fixedRate(shipper: Shipper, client: RawKafkaClient, w: Workloads, rate: number, runs: number, key: string): Promise<FixedRateFigures> {
  const topic = `vs-rsyslog.rate-${rate}.${key}`;
  await createTopic(client, topic);
  const dir = tempDir(`vs-rsyslog-${key}`);
  let running: RunningShipper | undefined;
  let writer: RateWriter | undefined;
  try {
    const logsDir = join(dir, 'logs');
    mkdirSync(logsDir);
    const paths = FILES.map((f) => join(logsDir, f));
    for (const p of paths) writeFileSync(p, '');
    running = await shipper.start(logsDir, topic, join(dir, 'shipper'));
    const pid = running.pid;
    writer = new RateWriter(paths, buildLines(Math.max(rate, 10_000)), rate);
    progress(`  ${shipper.label}, ${fmt(rate)} lines/s: warming up ${w.warmupSeconds} s`);
    await sleep(w.warmupSeconds * 1000);
    const figures = await repeatRuns(`${shipper.label}, ${fmt(rate)} lines/s for ${w.windowSeconds} s`, runs, async () => {
      const usage = new ProcessUsage(pid, 250);
      await sleep(w.windowSeconds * 1000);
      return usage.stop();
    });
    const written = await writer.stop();
    writer = undefined;
    const shipped = await waitShipped(client, topic, written, DRAIN_TIMEOUT_MS);
    if (shipped < written) progress(`  ${shipper.label} shipped only ${fmt(shipped)} of ${fmt(written)} lines within ${DRAIN_TIMEOUT_MS / 1000} s`);
    return { cpuPercent: figures.cpuPercent, rssAvgMiB: figures.rssAvgMiB, rssMaxMiB: figures.rssMaxMiB, shippedOfWritten: `${fmt(shipped)} / ${fmt(written)}` };
  } finally {
    await writer?.stop();
    await running?.stop();
    removeDir(dir);
  }
}

export const agentVersusRsyslog: Section = async (opts) => {
  const w = workloads(opts.quick);
  const peers = { rsyslogd: rsyslogVersion(), librdkafka: librdkafkaVersion() };
  const broker = await startBroker({ nodeArgs: opts.cpuProfile ? ['--cpu-prof', '--cpu-prof-dir', opts.profileDir] : [] });
  let client: RawKafkaClient | undefined;
  try {
    client = await RawKafkaClient.connect(broker.port);
    const rsyslogLabel = `rsyslog ${peers.rsyslogd.split('.').slice(0, 2).join('.')} + omkafka (librdkafka ${peers.librdkafka})`;
    const shippers: [string, Shipper][] = [
      ['agent', agentShipper(broker.port, opts)],
      ['rsyslog', rsyslogShipper(broker.port, rsyslogLabel)],
    ];

    progress(`agent vs rsyslog: saturation, ${fmt(w.backlogLines)} pre-written lines`);
    const sat: [string, SaturationFigures][] = [];
    for (const [key, shipper] of shippers) sat.push([shipper.label, await saturation(shipper, broker, client, w, opts.runs, key)]);

    const rateTables: ResultTable[] = [];
    for (const rate of w.rates) {
      progress(`agent vs rsyslog: ${fmt(rate)} lines/s`);
      const rows: [string, FixedRateFigures][] = [];
      for (const [key, shipper] of shippers) rows.push([shipper.label, await fixedRate(shipper, client, w, rate, opts.runs, key)]);
      rateTables.push({
        id: `agent.versus-rsyslog.rate-${rate}`,
        title: `Host agent vs rsyslog: ${fmt(rate)} lines/s appended`,
        notes: [
          `${fmt(rate)} plain-text lines of ${LINE_BYTES} B per second appended to 2 files (half each, every ${WRITE_TICK_MS} ms), the shipper started on the empty files; ${w.warmupSeconds} s warm-up, then ${opts.runs} consecutive runs of ${w.windowSeconds} s on the same shipper process.`,
          'CPU: user + system time of the shipper process (all threads) over the run from /proc/<pid>/stat, as % of one core. RSS sampled every 250 ms from /proc/<pid>/status.',
          `shipped / written: the topic's end offset, up to ${DRAIN_TIMEOUT_MS / 1000} s after the writer stopped, against the lines written; anything short of all is a shipper that fell behind or lost lines.`,
        ],
        columns: [{ name: 'CPU (% of one core)', digits: 1 }, { name: 'RSS avg (MiB)', digits: 1 }, { name: 'RSS max (MiB)', digits: 1 }, { name: 'shipped / written' }],
        rows: rows.map(([label, f]) => ({ label, cells: [f.cpuPercent, f.rssAvgMiB, f.rssMaxMiB, f.shippedOfWritten] })),
      });
    }

    const settings = Object.entries(OMKAFKA_SETTINGS).map(([k, v]) => `${k}=${v}`).join(', ');
    const saturationTable: ResultTable = {
      id: 'agent.versus-rsyslog.saturation',
      title: `Host agent vs rsyslog: ${fmt(w.backlogLines)} pre-written lines, shipped at full speed`,
      notes: [
        `${fmt(w.backlogLines)} plain-text lines of ${LINE_BYTES} B (${fmt((w.backlogLines * LINE_BYTES) / 1e6, 1)} MB) pre-written into 2 files; each run starts a fresh shipper (no saved read position) on a fresh one-partition topic of the same broker, one shipper at a time.`,
        'start-up: spawn until the shipper said it is up (the agent\'s ready line, rsyslogd\'s start message); lines/s: from then until the topic\'s end offset (ListOffsets, polled every 20 ms) reaches the line count.',
        'lines per CPU-second: lines / (user + system CPU seconds of the shipper process, all threads, after start-up), i.e. lines/s per core. RSS max sampled at every poll.',
        'broker bytes/record: the topic\'s log segment bytes on disk / lines (record batches, compressed); ' + sat.map(([label, f]) => `${label}: first record ${f.recordShape}`).join('; ') + '.',
        'Tributary agent: `tributary agent` as bench/agent/run.ts starts it, no parser (plain lines; rsyslog does not parse either), service `bench`, host_name `bench-host`; shipping defaults: @platformatic/kafka, acks=all, idempotent, zstd, batches of up to 5,000 records / 1 MiB, linger 100 ms, lines pass through its on-disk buffer; each record is a LogRecord JSON (timestamp, observedTimestamp, body, file path attribute, resource host/service, source file/offset), keyed by host, with agent-id and sequence headers.',
        `rsyslog: rsyslogd ${peers.rsyslogd} -n with only imfile (inotify, from the beginning) and omkafka loaded, default in-memory main queue and direct action queue; each line as a JSON object {message, file, host} (template with option.jsonf), no key; librdkafka ${peers.librdkafka}: ${settings}.`,
      ],
      columns: [{ name: 'start-up (s)', digits: 2 }, { name: 'lines/s' }, { name: 'lines per CPU-second' }, { name: 'RSS max (MiB)', digits: 1 }, { name: 'broker bytes/record', digits: 1 }],
      rows: sat.map(([label, f]) => ({ label, cells: [f.startupSeconds, f.linesPerSecond, f.linesPerCpuSecond, f.rssMaxMiB, f.brokerBytesPerRecord] })),
    };
    return { tables: [saturationTable, ...rateTables], peers };
  } finally {
    client?.close();
    await broker.stop();
    removeDir(broker.dataDir);
  }
};
