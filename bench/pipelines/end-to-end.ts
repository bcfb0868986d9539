// Section `pipeline` of `npm run bench`: the whole path a log line takes, every part a real process: JSON lines
// appended to files → `tributary agent` (tailing them) → `tributary broker` → `tributary pipelines` (stages and
// ClickHouse sink in one process) → rows in ClickHouse 18.16's logs_enriched.
// (1) throughput: N lines appended at once, time until all N are rows; CPU of the agent and of pipelines meanwhile;
// (2) freshness: lines appended at a fixed rate, per line the time from its append to the first 50 ms poll that
//     finds its row.
// Everything is started once; each run writes lines tagged with its own run id (`t3-…`, `f3-…`) in the message,
// which becomes the row's body, so runs are told apart in ClickHouse.
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { removeDir, repoRoot, startBroker, tempDir } from '../../test/helpers/broker-process.ts';
import { startAgent, type AgentProcess } from '../../test/helpers/agent-process.ts';
import { startClickHouse, type ClickHouseServer } from '../../test/helpers/clickhouse.ts';
import { startCli, type CliProcess } from '../../test/helpers/cli-process.ts';
import { reapOnExit } from '../../test/helpers/server-processes.ts';
import { resolveConfig } from '../../agents/agent/config.ts';
import { ProcessUsage } from '../lib/process-usage.ts';
import { RawKafkaClient } from '../lib/raw-kafka-client.ts';
import { repeatRuns, type Cell, type Section, type SectionOptions } from '../lib/results.ts';
import { fmt, percentile, progress } from '../lib/stats.ts';

const PARTITIONS = 3;
/**
 * Kafka's own development config (server.properties) sets group.initial.rebalance.delay.ms to 0 too: the
 * 3 s default delays each of the four consumer groups of `tributary pipelines` at start-up, nothing else.
 */
const BROKER_ARGS = ['--num-partitions', String(PARTITIONS), '--group-initial-rebalance-delay-ms', '0'];
/** The stages' inputs; `tributary pipelines` waits for all of them. */
const INPUT_TOPICS = ['logs.raw', 'metrics.raw', 'pageviews.raw'];
/** One log file per service, as on a host running three applications. */
const SERVICES = ['checkout', 'search', 'accounts'];
const LINE_BYTES = 200;
const POLL_MS = 50;
const WRITE_TICK_MS = 10;
const WARMUP_LINES = 1_000;
/** How long the rows of a run may take to appear after its last line was written before the run fails. */
const DRAIN_TIMEOUT_MS = 60_000;

interface Workload {
  throughputLines: number;
  freshnessRate: number;
  freshnessSeconds: number;
}

const QUICK: Workload = { throughputLines: 20_000, freshnessRate: 2_000, freshnessSeconds: 3 };
const FULL: Workload = { throughputLines: 150_000, freshnessRate: 2_000, freshnessSeconds: 20 };

// The padding is built once; per line only the id, path and time change.
const PAD = 'x'.repeat(Math.max(0, LINE_BYTES - jsonLine('t0', 0, new Date(0).toISOString(), '').length));

function jsonLine(tag: string, id: number, iso: string, pad: string): string {
  return `{"time":"${iso}","level":"info","msg":"${tag}-${id}","path":"/api/orders/${id % 1000}","status":200,"pad":"${pad}"}\n`;
}

/** The three tailed files; line `id` goes to file `id % 3`, so every file grows alike. */
class LogFiles {
  readonly paths: string[];

  constructor(dir: string) {
    this.paths = SERVICES.map((s) => join(dir, `${s}.log`));
    for (const p of this.paths) writeFileSync(p, '');
  }

  /** Appends lines `from` … `to - 1` tagged `tag`; returns when every file's write() returned. */
  append(tag: string, from: number, to: number): void {
    const iso = new Date().toISOString();
    const chunks = this.paths.map(() => '');
    for (let id = from; id < to; id++) chunks[id % chunks.length] += jsonLine(tag, id, iso, PAD);
    for (let i = 0; i < chunks.length; i++) if (chunks[i]) appendFileSync(this.paths[i], chunks[i]);
  }
}

async function pollUntil(what: string, timeoutMs: number, done: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await done())) {
    if (performance.now() > deadline) throw new Error(`pipeline bench: timed out after ${fmt(timeoutMs)} ms waiting for ${what}`);
    await sleep(POLL_MS);
  }
}

async function taggedRows(clickhouse: ClickHouseServer, tag: string): Promise<number> {
  return Number((await clickhouse.query(`SELECT count() FROM logs_enriched WHERE body LIKE '${tag}-%'`)).trim());
}

/** Per partition of logs_enriched, the offset after its last row (0 for partitions with none yet). */
async function nextOffsets(clickhouse: ClickHouseServer): Promise<number[]> {
  const next = new Array<number>(PARTITIONS).fill(0);
  const rows = (await clickhouse.query('SELECT _partition, max(_offset) + 1 FROM logs_enriched GROUP BY _partition FORMAT TSV')).trim();
  for (const line of rows ? rows.split('\n') : []) {
    const [p, o] = line.split('\t').map(Number);
    next[p] = o;
  }
  return next;
}

async function throughputRun(files: LogFiles, clickhouse: ClickHouseServer, agent: AgentProcess, pipelines: CliProcess, lines: number, run: number) {
  const tag = `t${run}`;
  const agentUsage = new ProcessUsage(agent.child.pid!);
  const pipelinesUsage = new ProcessUsage(pipelines.child.pid!);
  const started = performance.now();
  files.append(tag, 0, lines);
  // Below 1,000 lines/s end to end the run fails rather than stretching the section without bound.
  await pollUntil(`${fmt(lines)} rows of run ${tag}`, DRAIN_TIMEOUT_MS + lines, async () => (await taggedRows(clickhouse, tag)) >= lines);
  const seconds = (performance.now() - started) / 1000;
  return { recordsPerSecond: lines / seconds, agentCpu: agentUsage.stop().cpuPercent, pipelinesCpu: pipelinesUsage.stop().cpuPercent };
}

interface FreshnessSample {
  p50: number;
  p99: number;
  max: number;
  seen: number;
  written: number;
}

/**
 * Writes `rate` lines/s for `seconds` in ticks of 10 ms while a poller reads the rows that arrived since the
 * last poll (by partition and offset: the sink inserts each partition's rows in offset order). A line's
 * latency ends at the moment the poll that returned its row got its answer.
 */
async function freshnessRun(files: LogFiles, clickhouse: ClickHouseServer, rate: number, seconds: number, run: number): Promise<FreshnessSample> {
  const tag = `f${run}`;
  const prefix = `${tag}-`;
  const total = rate * seconds;
  const writtenAt = new Float64Array(total);
  const seen = new Uint8Array(total);
  const latencies: number[] = [];
  const next = await nextOffsets(clickhouse);
  let written = 0;
  let writing = true;

  let pollFailure: unknown;
  const poller = (async () => {
    let drainDeadline = Infinity;
    while (latencies.length < total) {
      if (!writing && drainDeadline === Infinity) drainDeadline = performance.now() + DRAIN_TIMEOUT_MS;
      if (performance.now() > drainDeadline) return;
      const where = next.map((o, p) => `(_partition = ${p} AND _offset >= ${o})`).join(' OR ');
      const rows = (await clickhouse.query(`SELECT _partition, _offset, body FROM logs_enriched WHERE ${where} FORMAT TSV`)).trim();
      const now = performance.now();
      for (const line of rows ? rows.split('\n') : []) {
        const [p, o, body] = line.split('\t');
        next[Number(p)] = Math.max(next[Number(p)], Number(o) + 1);
        if (!body.startsWith(prefix)) continue;
        const id = Number(body.slice(prefix.length));
        if (!(id >= 0 && id < total) || seen[id]) continue;
        seen[id] = 1;
        latencies.push(now - writtenAt[id]);
      }
      await sleep(POLL_MS);
    }
  })().catch((err: unknown) => {
    pollFailure = err;
  });

  try {
    const started = performance.now();
    while (written < total) {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
      if (due > written) {
        files.append(tag, written, due);
        writtenAt.fill(performance.now(), written, due);
        written = due;
      }
      await sleep(WRITE_TICK_MS);
    }
  } finally {
    writing = false;
  }
  await poller;
  if (pollFailure !== undefined) throw pollFailure;
  if (latencies.length === 0) throw new Error(`pipeline bench: none of the ${fmt(total)} lines of run ${tag} became a row`);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.reduce((a, b) => Math.max(a, b), 0), seen: latencies.length, written: total };
}

/** The sink's batch settings as `tributary pipelines` runs it (it sets neither option), read from the sink's source. */
function sinkBatchSettings(): string {
  const source = readFileSync(join(repoRoot, 'pipelines/sinks/clickhouse/clickhouse-sink.ts'), 'utf8');
  const defaultOf = (option: string) => {
    const m = new RegExp(`opts\\.${option} \\?\\? ([\\d_]+)`).exec(source);
    return m ? fmt(Number(m[1].replaceAll('_', ''))) : '(not found in clickhouse-sink.ts)';
  };
  return `a table's buffer is inserted at ${defaultOf('batchMaxRows')} rows or once its oldest row waited ${defaultOf('flushIntervalMs')} ms`;
}

function packageVersion(path: string): string {
  return (JSON.parse(readFileSync(join(repoRoot, path, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * Awaits processes started side by side. Each start registers its own clean-up when it succeeds, so one
 * failing start leaves nothing running that the section's finally block does not know of.
 */
async function startSideBySide<T extends unknown[]>(starts: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(starts);
  for (const s of settled) if (s.status === 'rejected') throw s.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as T;
}

async function createTopics(port: number, names: string[]): Promise<void> {
  const client = await RawKafkaClient.connect(port);
  try {
    const topics = names.map((name) => ({ name, numPartitions: PARTITIONS, replicationFactor: 1, assignments: [], configs: [] }));
    const res = await client.request<{ topics: { name: string; errorCode: number; errorMessage: string | null }[] }>(19, 7, { topics, timeoutMs: 5000, validateOnly: false });
    for (const t of res.topics) if (t.errorCode !== 0) throw new Error(`pipeline bench: creating ${t.name}: ${t.errorMessage ?? `error ${t.errorCode}`}`);
  } finally {
    client.close();
  }
}

/**
 * Runs `steps` in reverse order, each even when an earlier one failed. Failures are reported, not thrown:
 * they must not hide the error that ended the section.
 */
async function cleanUp(steps: (() => Promise<unknown> | void)[]): Promise<void> {
  for (const step of steps.reverse()) {
    try {
      await step();
    } catch (err) {
      progress(`pipeline: clean-up step failed: ${(err as Error).message}`);
    }
  }
}

export const pipelineEndToEnd: Section = async (opts: SectionOptions) => {
  const workload = opts.quick ? QUICK : FULL;
  const profile = (name: string) => (opts.cpuProfile ? ['--cpu-prof', '--cpu-prof-dir', opts.profileDir, '--cpu-prof-name', `pipeline-${name}.cpuprofile`] : []);
  const cleanups: (() => Promise<unknown> | void)[] = [];
  const dir = tempDir('bench-pipeline');
  cleanups.push(() => removeDir(dir));
  try {
    progress('pipeline: starting broker and ClickHouse');
    const [broker, clickhouse] = await startSideBySide([
      startBroker({ args: BROKER_ARGS, nodeArgs: profile('broker') }).then((b) => {
        reapOnExit(b.child);
        cleanups.push(() => removeDir(b.dataDir), () => b.stop());
        return b;
      }),
      startClickHouse().then((c) => {
        cleanups.push(() => c.stop());
        return c;
      }),
    ]);
    const brokers = `127.0.0.1:${broker.port}`;
    const clickhouseVersion = (await clickhouse.query('SELECT version()')).trim();
    // `tributary pipelines` is ready only once every stage's input topic exists.
    await createTopics(broker.port, INPUT_TOPICS);

    const logsDir = join(dir, 'logs');
    mkdirSync(logsDir);
    const files = new LogFiles(logsDir);
    const agentConfig = {
      brokers: [brokers],
      state_dir: join(dir, 'state'),
      host_name: 'bench-host',
      files: SERVICES.map((service, i) => ({ include: [files.paths[i]], service, parser: { type: 'json' } })),
    };
    const agentSettings = resolveConfig(agentConfig, dir);
    progress('pipeline: starting the agent and tributary pipelines');
    const [agent, pipelines] = await startSideBySide([
      startAgent(dir, agentConfig, profile('agent')).then((a) => {
        reapOnExit(a.child);
        cleanups.push(() => a.stop());
        return a;
      }),
      startCli(['pipelines', '--brokers', brokers, '--clickhouse', clickhouse.url, '--metrics-listen', '127.0.0.1:0'], /ready: stages/, 60_000, profile('pipelines')).then((p) => {
        reapOnExit(p.child);
        cleanups.push(() => p.stop());
        return p;
      }),
    ]);
    progress('pipeline: warming up the whole path');
    files.append('w', 0, WARMUP_LINES);
    await pollUntil('the warm-up rows in ClickHouse', DRAIN_TIMEOUT_MS, async () => (await taggedRows(clickhouse, 'w').catch(() => 0)) >= WARMUP_LINES);

    const throughput = await repeatRuns(`pipeline: throughput, ${fmt(workload.throughputLines)} lines`, opts.runs, (run) =>
      throughputRun(files, clickhouse, agent, pipelines, workload.throughputLines, run),
    );

    const samples: FreshnessSample[] = [];
    const freshness = await repeatRuns(`pipeline: freshness, ${fmt(workload.freshnessRate)} lines/s for ${workload.freshnessSeconds} s`, opts.runs, async (run) => {
      const sample = await freshnessRun(files, clickhouse, workload.freshnessRate, workload.freshnessSeconds, run);
      samples.push(sample);
      return { p50: sample.p50, p99: sample.p99, max: sample.max };
    });
    const seen = samples.reduce((a, s) => a + s.seen, 0);
    const written = samples.reduce((a, s) => a + s.written, 0);
    const partitionsUsed = (await clickhouse.query(`SELECT groupUniqArray(_partition) FROM logs_enriched WHERE body LIKE 't%'`)).trim();

    const ship = agentSettings.shipping;
    const tail = agentSettings.tail;
    const rows: { label: string; cells: Cell[] }[] = [
      { label: `throughput, ${fmt(workload.throughputLines)} lines appended at once (log records/s)`, cells: [throughput.recordsPerSecond] },
      { label: `freshness at ${fmt(workload.freshnessRate)} lines/s, p50 (ms)`, cells: [freshness.p50] },
      { label: `freshness at ${fmt(workload.freshnessRate)} lines/s, p99 (ms)`, cells: [freshness.p99] },
      { label: `freshness at ${fmt(workload.freshnessRate)} lines/s, max (ms)`, cells: [freshness.max] },
      { label: 'agent CPU during the throughput run (% of one core)', cells: [throughput.agentCpu] },
      { label: 'pipelines CPU during the throughput run (% of one core)', cells: [throughput.pipelinesCpu] },
    ];
    return {
      tables: [
        {
          id: 'pipeline.end-to-end',
          title: 'Pipeline end to end: log files → agent → broker → pipelines → ClickHouse rows',
          columns: [{ name: 'Tributary' }],
          rows,
          notes: [
            `Path: JSON lines of about ${LINE_BYTES} bytes appended to ${SERVICES.length} files (one service each) → one \`tributary agent\` (json parser; tail poll ${tail.pollIntervalMs} ms; batches up to ${fmt(ship.batchMaxRecords)} records / ${fmt(ship.batchMaxBytes / 1024)} KiB, linger ${ship.lingerMs} ms, ${ship.compression}, acks=all, idempotent, one batch in flight from its disk buffer) → one broker node → \`tributary pipelines\` (logs, metrics and pageviews stages and the ClickHouse sink in one process) → logs_enriched in ClickHouse ${clickhouseVersion}. Agent, stages and sink on their defaults, as users run them; all processes on this machine.`,
            `Partitions: ${PARTITIONS} per topic (broker started with \`${BROKER_ARGS.join(' ')}\`; the rebalance delay only shortens start-up). The agent keys every record by its host name and a stage writes each output to its input's partition number, so one agent's records all travel one partition (logs_enriched _partition ${partitionsUsed}): one stage task and one sink partition do the work.`,
            `ClickHouse sink: ${sinkBatchSettings()}; one INSERT … FORMAT JSONEachRow over HTTP per batch (@clickhouse/client ${packageVersion('node_modules/@clickhouse/client')}), offsets committed after the insert (exactly-once resume from the rows' _partition/_offset).`,
            `Durability: the agent's disk buffer is fdatasync'd once a second; a row counts once ClickHouse acknowledged its INSERT, i.e. wrote it as a new MergeTree part (18.16 does not fsync inserted parts); the broker acknowledges acks=all on its single node without fsync (flush.messages default), like Kafka's default.`,
            `Throughput: from the append of all lines (write() returned) to the first poll (every ${POLL_MS} ms, \`SELECT count() … WHERE body LIKE 't<run>-%'\`) that counts all of them. The last, partial batch of a run waits for the sink's flush interval, a fixed cost that weighs more in the quick variant's shorter runs. CPU = CPU seconds (/proc/<pid>/stat) over that same window.`,
            `Freshness: lines appended every ${WRITE_TICK_MS} ms at ${fmt(workload.freshnessRate)} lines/s for ${workload.freshnessSeconds} s per run, each carrying its id; per line, from its append to the answer of the first ${POLL_MS} ms poll (new rows by _partition/_offset) that returned its row, so up to ${POLL_MS} ms plus a query's time are the poll's own; ${fmt(seen)} of ${fmt(written)} lines seen over all runs${seen < written ? ` (${fmt(written - seen)} not within ${DRAIN_TIMEOUT_MS / 1000} s of the run's end)` : ''}.`,
            `Each run writes new lines tagged with its run id; ${fmt(WARMUP_LINES)} warm-up lines went through the whole path first. Versions: Tributary ${packageVersion('.')}, Node ${process.version}, @platformatic/kafka ${packageVersion('node_modules/@platformatic/kafka')} (agent and pipelines clients), ClickHouse ${clickhouseVersion}.`,
          ],
        },
      ],
      peers: { 'clickhouse-server': clickhouseVersion },
    };
  } finally {
    await cleanUp(cleanups);
  }
};
