/**
 * Live tail of the enriched logs: `GET /api/logs/tail?service=&severity=&host=&text=` streams the records
 * that reach `logs.enriched` from now on as server-sent events.
 *
 * Each tail is one @platformatic/kafka Consumer used only for Fetch and ListOffsets: it never joins a
 * consumer group and commits nothing, so watching logs leaves no trace on the broker and never takes
 * partitions from the pipelines. It starts at every partition's end offset, follows new data, and picks
 * up partitions (or the topic itself) that appear later from their first offset, as all of that is new.
 *
 * Filters are applied here, on the server, with the logs dashboard's semantics: service, severity and host
 * are exact matches, text is a case-insensitive substring of the body; an empty filter matches everything.
 *
 * Events: `ready` (`{partitions}`) once the start offsets are known — anything produced after it is
 * shown; `log` (`{partition, offset, record}`, SSE id `partition:offset`) per matching record, in offset
 * order within a partition; `tail-error` (`{message}`) when the broker cannot be read (the tail retries);
 * a comment line as heartbeat so proxies and clients see a live connection.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { Consumer } from '@platformatic/kafka';
import { Type, type Static } from '@sinclair/typebox';
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '../broker/server/logger.ts';
import { FETCH_OFFSET_OUT_OF_RANGE, PartitionFetcher } from '../pipelines/runtime/partition-fetcher.ts';
import { LOGS_ENRICHED } from '../pipelines/stages/logs-stage.ts';
import { httpError } from '../agents/collector/http-errors.ts';

export const SEVERITIES = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL', 'UNSPECIFIED'] as const;

const Filter = Type.String({ maxLength: 1024 });
export const TailQuery = Type.Object({
  service: Type.Optional(Filter),
  severity: Type.Optional(Type.Union([Type.Literal(''), ...SEVERITIES.map((s) => Type.Literal(s))])),
  host: Type.Optional(Filter),
  text: Type.Optional(Filter),
});
export type TailFilter = Static<typeof TailQuery>;

/** The fields of a logs.enriched record the tail filters on and shows (see pipelines/stages/logs-stage.ts). */
export interface EnrichedLog {
  time: number;
  service: string;
  host: string;
  severity: string;
  body: string;
  [field: string]: unknown;
}

export function matchesFilter(filter: TailFilter, record: EnrichedLog): boolean {
  if (filter.service && record.service !== filter.service) return false;
  if (filter.severity && record.severity !== filter.severity) return false;
  if (filter.host && record.host !== filter.host) return false;
  if (filter.text && !String(record.body).toLowerCase().includes(filter.text.toLowerCase())) return false;
  return true;
}

export interface TailedRecord {
  partition: number;
  offset: number;
  record: EnrichedLog;
}

export interface TopicFollowerOptions {
  brokers: string[];
  topic: string;
  /** How long one Fetch waits at the broker for new data. */
  maxWaitMs?: number;
  onReady(partitions: number): void;
  onRecord(record: TailedRecord): void;
  onError(err: Error): void;
}

/** Follows a topic from its end offsets with Fetch requests; no group, no commits. */
export class TopicFollower {
  private readonly opts: TopicFollowerOptions;
  private readonly consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  private readonly fetcher: PartitionFetcher;
  /** Next offset per partition. */
  private readonly positions = new Map<number, number>();
  private stopped = false;
  private loop: Promise<void> | null = null;

  constructor(opts: TopicFollowerOptions) {
    this.opts = opts;
    // A group id is required by the client's constructor; it is never used: no JoinGroup, no OffsetCommit.
    this.consumer = new Consumer({ clientId: `tributary-dashboards-tail`, groupId: `tributary-dashboards-tail-${randomUUID()}`, bootstrapBrokers: opts.brokers, autocommit: false, retries: 1, retryDelay: 200, metadataMaxAge: 5_000 });
    this.fetcher = new PartitionFetcher(this.consumer);
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await this.consumer.close(true).catch(() => {});
  }

  /** Partitions not seen before: at their end offset on the first look, from 0 when they appear later. */
  private async discover(first: boolean): Promise<boolean> {
    const metadata = await this.consumer.metadata({ topics: [this.opts.topic], forceUpdate: true });
    const topic = metadata.topics.get(this.opts.topic);
    if (!topic) return false;
    const fresh = topic.partitions.map((_, i) => i).filter((p) => !this.positions.has(p));
    if (fresh.length === 0) return true;
    if (first) {
      const ends = await this.consumer.listOffsets({ topics: [this.opts.topic] });
      const end = ends.get(this.opts.topic) ?? [];
      for (const p of fresh) this.positions.set(p, Number(end[p] ?? 0n));
    } else for (const p of fresh) this.positions.set(p, 0);
    return true;
  }

  private async run(): Promise<void> {
    let ready = false;
    let lastDiscovery = 0;
    while (!this.stopped) {
      try {
        if (!ready || Date.now() - lastDiscovery > 5_000) {
          lastDiscovery = Date.now();
          let known: boolean;
          try {
            known = await this.discover(!ready);
          } catch (err) {
            // An unknown topic is not an error for a tail: it shows records once the topic exists.
            if (!/unknown|does not exist|UNKNOWN_TOPIC/i.test((err as Error).message)) throw err;
            known = false;
          }
          if (!ready) {
            ready = true;
            this.opts.onReady(this.positions.size);
          }
          if (!known) {
            await sleep(1_000);
            continue;
          }
        }
        const started = Date.now();
        const requests = [...this.positions].map(([partition, offset]) => ({ topic: this.opts.topic, partition, offset }));
        const answers = await this.fetcher.fetch(requests, this.opts.maxWaitMs ?? 500);
        let got = 0;
        for (const [partition, offset] of this.positions) {
          const data = answers.get(`${this.opts.topic}/${partition}`);
          if (!data) continue;
          if (data.errorCode === FETCH_OFFSET_OUT_OF_RANGE) {
            // Retention removed what we were about to read, or the partition was recreated: go on from what exists.
            this.positions.set(partition, offset < data.logStartOffset ? data.logStartOffset : data.highWatermark);
            continue;
          }
          if (data.errorCode !== 0) throw new Error(`fetching ${this.opts.topic}/${partition} failed with Kafka error code ${data.errorCode}`);
          for (const r of data.records) {
            got++;
            if (this.stopped) return;
            const record = parseRecord(r.value);
            if (record) this.opts.onRecord({ partition, offset: r.offset, record });
          }
          this.positions.set(partition, Math.max(offset, data.nextOffset));
        }
        // A broker answering an empty fetch at once (no long polling) must not make this a busy loop.
        if (got === 0 && Date.now() - started < 100) await sleep(200);
      } catch (err) {
        if (this.stopped) return;
        this.opts.onError(err as Error);
        await sleep(1_000);
      }
    }
  }
}

function parseRecord(value: Buffer | null): EnrichedLog | null {
  if (!value) return null;
  try {
    const parsed = JSON.parse(value.toString('utf8'));
    return parsed && typeof parsed === 'object' ? (parsed as EnrichedLog) : null;
  } catch {
    return null;
  }
}

export interface LogTailOptions {
  brokers: string[];
  /** Concurrent tails allowed; more get 429. Each holds a broker connection and a fetch loop. */
  maxTails?: number;
  heartbeatMs?: number;
  topic?: string;
  registry: Registry;
  log: Logger;
}

const sse = (event: string, data: unknown, id?: string) => `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/** The tail route, as a fastify plugin. */
export async function logTailPlugin(app: FastifyInstance, opts: LogTailOptions): Promise<void> {
  const maxTails = opts.maxTails ?? 16;
  const heartbeatMs = opts.heartbeatMs ?? 15_000;
  const active = new Set<TopicFollower>();
  new Gauge({
    name: 'tributary_dashboards_active_tails',
    help: 'Live log tails streaming now (one broker consumer each)',
    registers: [opts.registry],
    collect() {
      this.set(active.size);
    },
  });

  const streams = new Set<import('node:http').ServerResponse>();
  // Open streams would hold the server's close forever: end them first, which stops their followers.
  app.addHook('preClose', async () => {
    for (const res of streams) res.end();
  });
  app.addHook('onClose', async () => {
    await Promise.all([...active].map((f) => f.stop()));
  });

  app.get<{ Querystring: TailFilter }>('/api/logs/tail', { schema: { querystring: TailQuery } }, async (req, reply) => {
    for (const key of Object.keys(req.query)) {
      if (!['service', 'severity', 'host', 'text'].includes(key)) throw httpError(400, 'UNKNOWN_PARAMETER', `unknown filter ${JSON.stringify(key)}: use service, severity, host or text`);
    }
    if (opts.brokers.length === 0) throw httpError(503, 'NO_BROKER', 'no broker is configured for the live tail (--brokers)');
    if (active.size >= maxTails) throw httpError(429, 'TOO_MANY_TAILS', `at most ${maxTails} live tails may run at once; close one and retry`);
    const filter = req.query;
    let lastError = '';
    reply.hijack();
    const res = reply.raw;
    streams.add(res);
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(`retry: 2000\n\n`);
    const follower = new TopicFollower({
      brokers: opts.brokers,
      topic: opts.topic ?? LOGS_ENRICHED,
      onReady: (partitions) => res.write(sse('ready', { partitions })),
      onRecord: (r) => {
        if (matchesFilter(filter, r.record)) res.write(sse('log', r, `${r.partition}:${r.offset}`));
      },
      onError: (err) => {
        // The follower retries every second: log a failure once, not once per retry.
        if (err.message !== lastError) opts.log.warn(`live tail: ${err.message}`);
        lastError = err.message;
        res.write(sse('tail-error', { message: err.message }));
      },
    });
    active.add(follower);
    opts.log.info(`live tail started (${active.size} active) ${JSON.stringify(filter)}`);
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), heartbeatMs);
    follower.start();
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      streams.delete(res);
      await follower.stop();
      active.delete(follower);
      opts.log.info(`live tail stopped (${active.size} active)`);
    };
    req.raw.once('close', () => void close());
    res.once('close', () => void close());
  });
}
