import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MetricPoint } from '../events/metric-point.ts';
import { serveMetrics, type MetricsEndpoint } from '../../lib/metrics-endpoint.ts';
import { AgentMetrics } from './agent-metrics.ts';
import { loadState, StateWriter, type AgentState } from './agent-state.ts';
import type { AgentConfig } from './config.ts';
import { DiskBuffer } from './buffer/disk-buffer.ts';
import type { NewRecord } from './buffer/buffer-frame.ts';
import { FileTailer } from './tail/file-tailer.ts';
import { Shipper } from './ship/shipper.ts';
import { metricCollectors, type MetricCollector } from './metrics/metric-collectors.ts';

export interface AgentLog {
  info(message: string): void;
  warn(message: string): void;
}

export class AgentLockedError extends Error {
  override name = 'AgentLockedError';
}

/** One agent per state directory: two would ship the same lines twice and fight over checkpoints. */
function lockStateDir(dir: string): string {
  const lock = join(dir, 'agent.lock');
  try {
    writeFileSync(lock, String(process.pid), { flag: 'wx' });
    return lock;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const pid = Number(readFileSync(lock, 'utf8'));
  let alive = false;
  try {
    process.kill(pid, 0);
    alive = pid !== process.pid;
  } catch {
    // no such process: the lock is left over from a crash
  }
  if (alive) throw new AgentLockedError(`another agent (pid ${pid}) is using ${dir}`);
  writeFileSync(lock, String(process.pid));
  return lock;
}

/**
 * The host agent: tails files, collects host metrics and scrapes Prometheus endpoints into a bounded
 * disk buffer, and ships the buffer to the broker. Every record goes through the buffer, so a broker
 * outage or a crash of the agent loses nothing, and checkpoints move only after acknowledgement.
 */
export class Agent {
  private readonly timers: NodeJS.Timeout[] = [];
  private endpoint: MetricsEndpoint | null = null;
  metricsPort = 0;

  readonly config: AgentConfig;
  private readonly log: AgentLog;
  private readonly lock: string;
  private readonly state: AgentState;
  private readonly buffer: DiskBuffer;
  private readonly metrics: AgentMetrics;
  private readonly stateWriter: StateWriter;
  private readonly tailer: FileTailer | null;
  private readonly shipper: Shipper;
  private readonly collectors: MetricCollector[];

  private constructor(
    config: AgentConfig,
    log: AgentLog,
    lock: string,
    state: AgentState,
    buffer: DiskBuffer,
    metrics: AgentMetrics,
    stateWriter: StateWriter,
    tailer: FileTailer | null,
    shipper: Shipper,
    collectors: MetricCollector[],
  ) {
    this.config = config;
    this.log = log;
    this.lock = lock;
    this.state = state;
    this.buffer = buffer;
    this.metrics = metrics;
    this.stateWriter = stateWriter;
    this.tailer = tailer;
    this.shipper = shipper;
    this.collectors = collectors;}
  static async start(config: AgentConfig, log: AgentLog): Promise<Agent> {
    mkdirSync(config.stateDir, { recursive: true });
    const lock = lockStateDir(config.stateDir);
    const statePath = join(config.stateDir, 'state.json');
    const state = loadState(statePath);
    const { buffer, recovered } = DiskBuffer.open(join(config.stateDir, 'buffer'), { maxBytes: config.buffer.maxBytes, segmentBytes: config.buffer.segmentBytes, ackedSeq: state.ackedSeq });
    if (recovered.truncatedBytes > 0) log.warn(`disk buffer: cut a torn tail of ${recovered.truncatedBytes} bytes left by a crash`);
    if (recovered.records > 0) log.info(`disk buffer: ${recovered.records} records (${recovered.bytes} bytes) waiting from the last run`);
    const metrics = new AgentMetrics();
    metrics.bufferMaxBytes.set(config.buffer.maxBytes);
    const stateWriter = new StateWriter(statePath, () => state);
    const save = () => stateWriter.save().catch((err) => {
      metrics.errors.inc({ kind: 'state' });
      log.warn(`cannot save the state file: ${(err as Error).message}`);
    });
    const tailer = config.files.length > 0 ? new FileTailer(config, buffer, state, recovered.marks, metrics, log, save) : null;
    const shipper = new Shipper(config, buffer, state, metrics, log, {
      saveState: () => stateWriter.save(),
      acknowledged: (file, position) => tailer?.acknowledge(file, position),
      drained: () => tailer?.nudge(),
    });
    const reported = new Set<string>();
    const collectors = await metricCollectors(config, {
      partialFailure: (kind, message) => {
        metrics.errors.inc({ kind });
        // Every interval would repeat it: say it once, count it always.
        if (!reported.has(message)) log.warn(`${kind}: ${message} (reported once; counted in tributary_agent_errors_total)`);
        reported.add(message);
      },
      skipped: (kind, count) => metrics.dropped.inc({ source: kind, reason: 'unrepresentable_sample' }, count),
    });
    const agent = new Agent(config, log, lock, state, buffer, metrics, stateWriter, tailer, shipper, collectors);
    await agent.begin();
    return agent;
  }

  private async begin(): Promise<void> {
    if (this.config.metricsListen) await this.serveMetrics(this.config.metricsListen);
    await this.tailer?.start();
    this.shipper.start();
    for (const c of this.collectors) {
      const tick = () => void this.collect(c);
      tick();
      this.timers.push(setInterval(tick, c.intervalMs));
    }
    // Appends are plain writes (page cache): push them to disk each second, off the event loop.
    this.timers.push(setInterval(() => void this.buffer.sync(), 1000));
    this.timers.push(setInterval(() => this.shipper.nudge(), 200));
    this.log.info(
      `ready: agent ${this.state.agentId} on ${this.config.hostName}, ${this.config.files.length} file sources, ${this.collectors.length} metric sources, shipping to ${this.config.brokers.join(',')}` +
        (this.endpoint ? `, metrics on http://${this.config.metricsListen!.host}:${this.metricsPort}/metrics` : ''),
    );
  }

  private async collect(c: MetricCollector): Promise<void> {
    let points: MetricPoint[];
    try {
      points = await c.collect(Date.now());
    } catch (err) {
      this.metrics.errors.inc({ kind: c.kind });
      this.log.warn(`${c.name}: ${(err as Error).message}`);
      return;
    }
    if (points.length === 0) return;
    if (this.buffer.full && this.config.buffer.metricsWhenFull === 'drop_newest') {
      // Time does not wait: a metric that cannot be buffered is dropped, counted, never silently.
      this.metrics.dropped.inc({ source: c.kind, reason: 'buffer_full' }, points.length);
      return;
    }
    const topic = this.config.shipping.metricsTopic;
    const key = this.config.hostName;
    const records: NewRecord[] = points.map((p) => ({ timestamp: p.timestamp, topic, key, value: Buffer.from(JSON.stringify(p)) }));
    this.buffer.append(records);
    this.metrics.metricPoints.inc({ source: c.kind }, points.length);
    this.metrics.recordsBuffered.inc({ topic }, records.length);
    this.shipper.nudge();
  }

  private async serveMetrics(listen: { host: string; port: number }): Promise<void> {
    this.endpoint = await serveMetrics(
      this.metrics.registry,
      listen,
      () => ({ status: 'ok', bufferRecords: this.buffer.records }),
      () => {
        this.metrics.bufferBytes.set(this.buffer.bytes);
        this.metrics.bufferRecords.set(this.buffer.records);
        this.metrics.backpressure.set(this.buffer.full ? 1 : 0);
      },
    );
    this.metricsPort = this.endpoint.port;
  }

  /** Stops reading, lets the shipper finish its current attempt, saves the state. Buffered records stay for the next run. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.tailer?.stop();
    await this.shipper.stop();
    await this.stateWriter.save();
    await this.buffer.sync();
    this.buffer.close();
    await this.endpoint?.close();
    rmSync(this.lock, { force: true });
    this.log.info('stopped');
  }
}
