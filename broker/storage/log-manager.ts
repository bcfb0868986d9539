import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { ErrorCode, KafkaError } from '../protocol/error-codes.ts';
import { Log } from './log.ts';
import { writeFileAtomic } from './write-file-atomic.ts';
import { describeConfigEntries, resolveLogConfig, type LogConfig, type TopicConfigEntry } from './log-config.ts';
import type { Logger } from '../server/logger.ts';
import { LogCleaner, type CleanerOptions } from './log-cleaner.ts';

export interface TopicInfo {
  name: string;
  topicId: string;
  partitions: number;
  /** Explicit per-topic overrides, as given at creation. */
  overrides: Record<string, string>;
  config: LogConfig;
  /** Every config with its effective value, for DescribeConfigs / CreateTopics responses. */
  configs: TopicConfigEntry[];
}

interface TopicFile {
  topicId: string;
  partitions: number;
  configs: Record<string, string>;
}

const FLUSH_TICK_MS = 100;

export interface LogManagerOptions {
  /** Every partition is replicated: its high watermark moves only by Log.setHighWatermark (see LogOpenOptions). */
  replicated?: boolean;
}

/** Kafka's rule for topic names: legal characters, length, and not "." or "..". */
export function validateTopicName(name: string): void {
  if (name.length === 0) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, 'topic name is empty');
  if (name === '.' || name === '..') throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `topic name cannot be '${name}'`);
  if (name.length > 249) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `topic name is longer than 249 characters`);
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) {
    throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `topic name '${name}' has characters other than ASCII letters, digits, '.', '_' and '-'`);
  }
}

/**
 * Owns the data directory: broker identity (meta.properties), one folder per topic with its metadata
 * (topic.json, written atomically) and one Log per partition.
 */
export class LogManager {
  readonly dataDir: string;
  readonly clusterId: string;
  private readonly topicDefaults: Record<string, string>;
  private readonly topicsByName = new Map<string, TopicInfo>();
  private readonly topicsById = new Map<string, TopicInfo>();
  /** Per topic, indexed by partition; a replicated broker holds only the partitions assigned to it (holes elsewhere). */
  private readonly logs = new Map<string, (Log | undefined)[]>();
  private readonly flushTimer: NodeJS.Timeout;
  private retentionTimer: NodeJS.Timeout | null = null;
  private cleanerTimer: NodeJS.Timeout | null = null;
  private cleaning: Promise<void> | null = null;
  private readonly logger: Logger | undefined;
  readonly replicated: boolean;

  private constructor(dataDir: string, clusterId: string, topicDefaults: Record<string, string>, logger?: Logger, options: LogManagerOptions = {}) {
    this.dataDir = dataDir;
    this.clusterId = clusterId;
    this.topicDefaults = topicDefaults;
    this.logger = logger;
    this.replicated = options.replicated ?? false;
    this.flushTimer = setInterval(() => {
      const now = Date.now();
      for (const logs of this.logs.values()) for (const log of logs) log?.flushIfDue(now);
    }, FLUSH_TICK_MS);
    this.flushTimer.unref();
  }

  static async open(dataDir: string, nodeId: number, topicDefaults: Record<string, string>, logger?: Logger, options: LogManagerOptions = {}): Promise<LogManager> {
    resolveLogConfig({}, topicDefaults); // refuse bad broker defaults before touching the disk
    mkdirSync(join(dataDir, 'topics'), { recursive: true });
    const metaPath = join(dataDir, 'meta.properties');
    let clusterId: string;
    if (existsSync(metaPath)) {
      const props = Object.fromEntries(
        readFileSync(metaPath, 'utf8')
          .split('\n')
          .filter((l) => l.includes('='))
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      );
      if (props['node.id'] !== String(nodeId)) {
        throw new Error(`${dataDir} belongs to node ${props['node.id']}, not ${nodeId}`);
      }
      clusterId = props['cluster.id'];
    } else {
      clusterId = randomBytes(16).toString('base64url').slice(0, 22);
      writeFileAtomic(metaPath, `node.id=${nodeId}\ncluster.id=${clusterId}\nversion=1\n`);
    }
    const manager = new LogManager(dataDir, clusterId, topicDefaults, logger, options);
    manager.loadTopics();
    return manager;
  }

  private topicDir(name: string): string {
    return join(this.dataDir, 'topics', name);
  }

  private loadTopics(): void {
    for (const name of readdirSync(join(this.dataDir, 'topics')).sort()) {
      const file = join(this.topicDir(name), 'topic.json');
      if (!existsSync(file)) {
        // A creation that crashed before its metadata was written: nothing was ever acknowledged there.
        rmSync(this.topicDir(name), { recursive: true, force: true });
        continue;
      }
      const meta = JSON.parse(readFileSync(file, 'utf8')) as TopicFile;
      const info = this.register(name, meta);
      const logs: (Log | undefined)[] = [];
      for (let p = 0; p < info.partitions; p++) {
        const assignedHere = !this.replicated || existsSync(join(this.topicDir(name), String(p)));
        logs.push(assignedHere ? this.openLog(name, p, info.config) : undefined);
      }
      this.logs.set(name, logs);
    }
  }

  private openLog(topic: string, partition: number, config: LogConfig): Log {
    const { log, report } = Log.open(join(this.topicDir(topic), String(partition)), config, { replicated: this.replicated });
    if (report.truncatedBytes > 0 || report.removedSegments > 0) {
      this.logger?.warn(
        `recovered ${topic}-${partition}: truncated ${report.truncatedBytes} byte(s) of torn or corrupt data` +
          (report.removedSegments ? ` and removed ${report.removedSegments} later segment(s)` : '') +
          `; log end offset now ${log.logEndOffset}`,
      );
    }
    return log;
  }

  private register(name: string, meta: TopicFile): TopicInfo {
    const info: TopicInfo = {
      name,
      topicId: meta.topicId,
      partitions: meta.partitions,
      overrides: meta.configs,
      config: resolveLogConfig(meta.configs, this.topicDefaults),
      configs: describeConfigEntries(meta.configs, this.topicDefaults),
    };
    this.topicsByName.set(name, info);
    this.topicsById.set(info.topicId, info);
    return info;
  }

  topics(): TopicInfo[] {
    return [...this.topicsByName.values()];
  }

  topic(name: string): TopicInfo | undefined {
    return this.topicsByName.get(name);
  }

  topicById(id: string): TopicInfo | undefined {
    return this.topicsById.get(id);
  }

  getLog(topic: string, partition: number): Log | undefined {
    return this.logs.get(topic)?.[partition];
  }

  /** Checks a creation without doing it (CreateTopics validateOnly); returns what would be created. */
  validateTopic(name: string, partitions: number, configs: Record<string, string>): TopicInfo {
    validateTopicName(name);
    if (this.topicsByName.has(name)) throw new KafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic '${name}' already exists`);
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > 100_000) {
      throw new KafkaError(ErrorCode.INVALID_PARTITIONS, `number of partitions must be between 1 and 100000, got ${partitions}`);
    }
    return {
      name,
      topicId: '00000000-0000-0000-0000-000000000000',
      partitions,
      overrides: configs,
      config: resolveLogConfig(configs, this.topicDefaults),
      configs: describeConfigEntries(configs, this.topicDefaults),
    };
  }

  createTopic(name: string, partitions: number, configs: Record<string, string>): TopicInfo {
    const checked = this.validateTopic(name, partitions, configs);
    const dir = this.topicDir(name);
    mkdirSync(dir, { recursive: true });
    const meta: TopicFile = { topicId: randomUUID(), partitions, configs };
    const logs: Log[] = [];
    for (let p = 0; p < partitions; p++) logs.push(this.openLog(name, p, checked.config));
    // The metadata file is written last: a topic exists once topic.json does.
    writeFileAtomic(join(dir, 'topic.json'), JSON.stringify(meta, null, 2));
    this.logs.set(name, logs);
    return this.register(name, meta);
  }

  deleteTopic(name: string): void {
    const info = this.topicsByName.get(name);
    if (!info) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${name}' does not exist`);
    this.topicsByName.delete(name);
    this.topicsById.delete(info.topicId);
    for (const log of this.logs.get(name) ?? []) log?.delete();
    this.logs.delete(name);
    rmSync(this.topicDir(name), { recursive: true, force: true });
  }

  /**
   * A replicated broker's copy of one partition the cluster metadata assigns to it: the topic's folder and
   * topic.json are created on first use (with the cluster's topic id), then the partition's log is opened.
   */
  ensurePartitionLog(name: string, topicId: string, partition: number, partitionCount: number, configs: Record<string, string>): Log {
    let info = this.topicsByName.get(name);
    if (!info) {
      validateTopicName(name);
      mkdirSync(this.topicDir(name), { recursive: true });
      const meta: TopicFile = { topicId, partitions: partitionCount, configs };
      writeFileAtomic(join(this.topicDir(name), 'topic.json'), JSON.stringify(meta, null, 2));
      info = this.register(name, meta);
      this.logs.set(name, []);
    } else if (info.topicId !== topicId) {
      throw new Error(`topic ${name} here has id ${info.topicId}, the cluster's has ${topicId}: delete the old one first`);
    } else if (info.partitions < partitionCount) {
      writeFileAtomic(join(this.topicDir(name), 'topic.json'), JSON.stringify({ topicId, partitions: partitionCount, configs: info.overrides } satisfies TopicFile, null, 2));
      info.partitions = partitionCount;
    }
    const logs = this.logs.get(name)!;
    return (logs[partition] ??= this.openLog(name, partition, info.config));
  }

  createPartitions(name: string, total: number): void {
    const info = this.topicsByName.get(name);
    if (!info) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${name}' does not exist`);
    if (total <= info.partitions) throw new KafkaError(ErrorCode.INVALID_PARTITIONS, `topic has ${info.partitions} partitions; the new count must be larger, got ${total}`);
    const logs = this.logs.get(name)!;
    for (let p = info.partitions; p < total; p++) logs.push(this.openLog(name, p, info.config));
    const meta: TopicFile = { topicId: info.topicId, partitions: total, configs: info.overrides };
    writeFileAtomic(join(this.topicDir(name), 'topic.json'), JSON.stringify(meta, null, 2));
    info.partitions = total;
  }

  /** Runs time/size retention over every log now and then every intervalMs (log.retention.check.interval.ms). */
  startRetention(intervalMs: number): void {
    this.retentionTimer = setInterval(() => this.applyRetention(Date.now()), intervalMs);
    this.retentionTimer.unref();
  }

  applyRetention(now: number): number {
    let deleted = 0;
    for (const [topic, logs] of this.logs) {
      logs.forEach((log, partition) => {
        if (!log) return;
        const n = log.applyRetention(now);
        if (n > 0) this.logger?.info(`retention deleted ${n} segment(s) of ${topic}-${partition}; log start offset now ${log.logStartOffset}`);
        deleted += n;
      });
    }
    return deleted;
  }

  /** Compacts logs with cleanup.policy=compact every intervalMs, one log at a time, in the background. */
  startCleaner(intervalMs: number, options: CleanerOptions): void {
    const cleaner = new LogCleaner(options);
    this.cleanerTimer = setInterval(() => {
      if (!this.cleaning) this.cleaning = this.runCleaner(cleaner).finally(() => (this.cleaning = null));
    }, intervalMs);
    this.cleanerTimer.unref();
  }

  private async runCleaner(cleaner: LogCleaner): Promise<void> {
    for (const [topic, logs] of [...this.logs]) {
      for (const [partition, log] of logs.entries()) {
        if (!log || this.logs.get(topic)?.[partition] !== log || !cleaner.needsCleaning(log)) continue;
        try {
          const r = await cleaner.clean(log, Date.now());
          if (r.segmentsCleaned > 0) {
            this.logger?.info(`compacted ${topic}-${partition}: ${r.segmentsCleaned} segment(s), ${r.recordsRemoved} record(s) removed, ${r.bytesBefore} → ${r.bytesAfter} bytes`);
          }
        } catch (err) {
          if (this.logs.get(topic)?.[partition] === log) this.logger?.error(`compacting ${topic}-${partition} failed: ${(err as Error).message}`);
        }
      }
    }
  }

  /** Flushes and closes every log; each writes its recovery point and clean-shutdown marker. */
  async close(): Promise<void> {
    if (this.cleanerTimer) clearInterval(this.cleanerTimer);
    await this.cleaning;
    clearInterval(this.flushTimer);
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    for (const logs of this.logs.values()) for (const log of logs) log?.close();
    this.logs.clear();
  }
}
