/**
 * The ClickHouse sink: loads the derived topics into their tables, exactly once.
 *
 * ClickHouse is the source of truth for progress; the consumer group's commit only feeds lag monitoring.
 * - On every partition assignment the sink asks ClickHouse how far that partition got (resumePositions:
 *   max(_offset) + 1) and drops re-delivered records below it. The stream itself starts at the group's
 *   committed offset (else the earliest): offsets are committed only after their rows were inserted, so
 *   the commit is never ahead of ClickHouse and any stretch between the two is filtered out, never skipped.
 *   (A commit ahead of ClickHouse means rows were deleted there by hand: reset the group's offsets.)
 * - Per partition it keeps the next offset it expects and drops anything below it, so the rewinds and
 *   stale fetches a rebalance causes in the client never reach ClickHouse twice.
 * - Rows go out per table with insertRows (consumption order, so a partly stored insert is a prefix),
 *   batched by size and time. A failed insert may still have stored a prefix, so before each retry the
 *   batch is cut down to what ClickHouse does not hold yet; retries back off without limit while the sink
 *   runs (nothing is committed meanwhile, and the bounded buffer pauses consumption).
 *
 * Records whose JSON does not match their table go to `<topic>.dlq` (original key and value; the reason
 * and source position in headers), counted and logged. They have no row, so if the sink dies after
 * dead-lettering one and before any later row of that partition is stored, the record is dead-lettered
 * again on restart: the DLQ is at-least-once, the tables exactly-once.
 *
 * Limit: with several sink instances in one group, an insert in flight when its partition is revoked can
 * race the new owner's resume query (the classic group protocol has no fence). Run one instance per
 * group for strict exactly-once, or accept rare duplicates on rebalance.
 */
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { Consumer, MessagesStreamFallbackModes, MessagesStreamModes, ProduceAcks, Producer, type Message, type MessagesStream } from '@platformatic/kafka';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, type Logger } from '../../../broker/server/logger.ts';
import { insertRows, resumePositions, rowsAfter, type SourcePosition } from './exactly-once.ts';
import { migrate } from './migrations.ts';
import { MIGRATIONS, TOPIC_TABLES, migratedColumns, type SinkTopic } from './schema.ts';

export const CLICKHOUSE_SINK_GROUP = 'tributary-sink-clickhouse';

const FETCH_MAX_BYTES = 1 << 20;
const FETCH_MAX_BYTES_PER_PARTITION = 256 << 10;

export interface ClickHouseSinkOptions {
  brokers: string[];
  clickhouseUrl: string;
  /** Default: all six derived topics. */
  topics?: SinkTopic[];
  /** A table's buffer is inserted once it holds this many rows. Default 10,000. */
  batchMaxRows?: number;
  /** …or once its oldest row waited this long. Default 1,000 ms. */
  flushIntervalMs?: number;
  registry?: Registry;
  log?: Logger;
  /** Consumer group session timeout: how soon a crashed sink's partitions move. Default 10,000 ms. */
  sessionTimeoutMs?: number;
}

export interface ClickHouseSink {
  stop(): Promise<void>;
  registry: Registry;
}

type Row = SourcePosition & Record<string, unknown>;

// ---- rows from records ---------------------------------------------------------------------------

type ColumnType = 'String' | 'UInt8' | 'UInt32' | 'UInt64' | 'Float64' | 'DateTime' | 'Array(String)';
interface Column {
  name: string;
  type: ColumnType;
  /** Added later with a default: a record from before that migration may lack it (ClickHouse fills the default). */
  optional: boolean;
}

const KNOWN_TYPES = new Set<string>(['String', 'UInt8', 'UInt32', 'UInt64', 'Float64', 'DateTime', 'Array(String)']);
const SOURCE_COLUMNS = new Set(['_topic', '_partition', '_offset']);

/** The value columns of each table, from schema.ts. A type this file cannot check fails at load, not per record. */
export function tableColumns(): Map<string, Column[]> {
  const tables = new Map<string, Column[]>();
  for (const [table, all] of migratedColumns()) {
    const columns: Column[] = [];
    for (const { name, type: written, added } of all) {
      const type = written.replace(/^DateTime\('UTC'\)$/, 'DateTime');
      if (!KNOWN_TYPES.has(type)) throw new Error(`clickhouse sink: column ${table}.${name} has type ${type}, which the sink cannot check`);
      if (!SOURCE_COLUMNS.has(name)) columns.push({ name, type: type as ColumnType, optional: added === true });
    }
    tables.set(table, columns);
  }
  return tables;
}

const UINT_MAX: Record<string, number> = { UInt8: 255, UInt32: 2 ** 32 - 1, UInt64: Number.MAX_SAFE_INTEGER };
const DATETIME_MAX_MS = (2 ** 32 - 1) * 1000;

function checkValue(type: ColumnType, v: unknown): string | undefined {
  switch (type) {
    case 'String':
      // JSON.stringify writes a lone surrogate as \udxxx, which ClickHouse rejects: the whole insert would fail.
      return typeof v === 'string' && v.isWellFormed() ? undefined : 'a well-formed string';
    case 'Array(String)':
      return Array.isArray(v) && v.every((s) => typeof s === 'string' && s.isWellFormed()) ? undefined : 'an array of strings';
    case 'Float64':
      return typeof v === 'number' && Number.isFinite(v) ? undefined : 'a finite number';
    case 'DateTime':
      return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= DATETIME_MAX_MS ? undefined : 'epoch milliseconds within DateTime (1970 … 2106)';
    default:
      return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= UINT_MAX[type] ? undefined : `an integer within ${type}`;
  }
}

/** 'YYYY-MM-DD hh:mm:ss' in UTC, the text JSONEachRow reads into a DateTime('UTC'); milliseconds floored. */
export function dateTimeText(ms: number): string {
  // Consecutive rows mostly fall in the same second: formatting a Date is the costly part.
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    lastSecondText = new Date(second * 1000).toISOString().slice(0, 19).replace('T', ' ');
  }
  return lastSecondText;
}
let lastSecond = NaN;
let lastSecondText = '';

/**
 * The row for one record, or the reason it does not match the table. Strict both ways: a missing or
 * mistyped column, and also a key the table lacks (its value would be silently lost), make it invalid.
 */
export function recordToRow(columns: readonly Column[], topic: string, partition: number, offset: bigint, value: Buffer | undefined): Row | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value?.toString('utf8') ?? '');
  } catch (err) {
    return `value is not JSON: ${(err as Error).message}`;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'value is not a JSON object';
  const record = parsed as Record<string, unknown>;
  const row: Row = { _topic: topic, _partition: partition, _offset: offset.toString() };
  let present = 0;
  for (const c of columns) {
    const v = record[c.name];
    if (v === undefined) {
      if (c.optional) continue;
      return `missing column ${c.name}`;
    }
    present++;
    const expected = checkValue(c.type, v);
    if (expected) return `column ${c.name} must be ${expected}, got ${JSON.stringify(v)?.slice(0, 100)}`;
    row[c.name] = c.type === 'DateTime' ? dateTimeText(v as number) : v;
  }
  if (Object.keys(record).length !== present) {
    const known = new Set(columns.map((c) => c.name));
    return `unknown field ${Object.keys(record).find((k) => !known.has(k))}`;
  }
  return row;
}

// ---- the sink ---------------------------------------------------------------------------------------

class StoppedError extends Error {}

interface PartitionState {
  /** The next offset to accept; below it, records are already stored or buffered. Undefined: accept any. */
  next: bigint | undefined;
  /** False until the resume position was read from ClickHouse; records wait in `held` meanwhile. */
  ready: boolean;
  held: Message[];
  leaderEpoch: number;
  /** The offset after the last record whose row (or dead letter) is stored. */
  loaded: bigint | undefined;
}

interface DeadLetter {
  message: Message;
  reason: string;
}

/** What one topic has consumed but not yet stored, in consumption order. */
class TopicBuffer {
  rows: Row[] = [];
  deadLetters: DeadLetter[] = [];
  /** Partition → offset to commit once the above are stored. */
  commits = new Map<number, bigint>();
  since = 0;

  get empty(): boolean {
    return this.commits.size === 0;
  }

  take(): { rows: Row[]; deadLetters: DeadLetter[]; commits: Map<number, bigint> } {
    const taken = { rows: this.rows, deadLetters: this.deadLetters, commits: this.commits };
    this.rows = [];
    this.deadLetters = [];
    this.commits = new Map();
    return taken;
  }

  /** Returns how many rows it dropped. */
  dropPartition(partition: number): number {
    const before = this.rows.length;
    this.rows = this.rows.filter((r) => r._partition !== partition);
    this.deadLetters = this.deadLetters.filter((d) => d.message.partition !== partition);
    this.commits.delete(partition);
    return before - this.rows.length;
  }
}

function sinkMetrics(registry: Registry) {
  const registers = [registry];
  return {
    rowsInserted: new Counter({ name: 'tributary_sink_clickhouse_rows_inserted_total', help: 'Rows inserted, by table', labelNames: ['table'], registers }),
    insertSeconds: new Histogram({ name: 'tributary_sink_clickhouse_insert_duration_seconds', help: 'Time for one successful batch insert, by table', labelNames: ['table'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers }),
    errors: new Counter({ name: 'tributary_sink_clickhouse_errors_total', help: 'Failed operations (each is retried), by kind', labelNames: ['kind'], registers }),
    invalid: new Counter({ name: 'tributary_sink_clickhouse_invalid_records_total', help: 'Records whose JSON does not match their table, sent to <topic>.dlq', labelNames: ['topic'], registers }),
    duplicates: new Counter({ name: 'tributary_sink_clickhouse_redelivered_records_total', help: 'Records delivered again that were already stored or buffered, and dropped', labelNames: ['topic'], registers }),
    buffered: new Gauge({ name: 'tributary_sink_clickhouse_buffered_records', help: 'Records consumed and not yet stored', registers }),
    lag: new Gauge({ name: 'tributary_sink_clickhouse_lag_records', help: 'Records in the partition not yet stored in ClickHouse', labelNames: ['topic', 'partition'], registers }),
  };
}

export async function startClickHouseSink(opts: ClickHouseSinkOptions): Promise<ClickHouseSink> {
  const sink = new ClickHouseSinkRunner(opts);
  await sink.start();
  return { stop: () => sink.stop(), registry: sink.registry };
}

class ClickHouseSinkRunner {
  readonly registry: Registry;
  readonly #log: Logger;
  readonly #topics: SinkTopic[];
  readonly #batchMaxRows: number;
  readonly #flushIntervalMs: number;
  readonly #maxBuffered: number;
  readonly #metrics: ReturnType<typeof sinkMetrics>;
  readonly #columns = tableColumns();
  readonly #client: ClickHouseClient;
  readonly #consumer: Consumer;
  readonly #producer: Producer;
  #stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
  readonly #partitions = new Map<string, PartitionState>();
  readonly #buffers = new Map<string, TopicBuffer>();
  #buffered = 0;
  #paused = false;
  #stopping = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #flushing: Promise<void> = Promise.resolve();
  #lagTimer: NodeJS.Timeout | undefined;

  constructor(opts: ClickHouseSinkOptions) {
    this.registry = opts.registry ?? new Registry();
    this.#log = opts.log ?? createLogger('sink-clickhouse');
    this.#topics = opts.topics ?? (Object.keys(TOPIC_TABLES) as SinkTopic[]);
    this.#batchMaxRows = opts.batchMaxRows ?? 10_000;
    this.#flushIntervalMs = opts.flushIntervalMs ?? 1_000;
    // Room for one batch being inserted and the next filling up; beyond that, consumption pauses.
    this.#maxBuffered = this.#batchMaxRows * 3;
    this.#metrics = sinkMetrics(this.registry);
    for (const t of this.#topics) this.#buffers.set(t, new TopicBuffer());
    this.#client = createClient({ url: opts.clickhouseUrl, log: { level: ClickHouseLogLevel.OFF } });
    const sessionTimeout = opts.sessionTimeoutMs ?? 10_000;
    this.#consumer = new Consumer({
      clientId: 'tributary-sink-clickhouse',
      groupId: CLICKHOUSE_SINK_GROUP,
      bootstrapBrokers: opts.brokers,
      sessionTimeout,
      rebalanceTimeout: sessionTimeout,
      heartbeatInterval: Math.max(100, Math.floor(sessionTimeout / 10)),
      maxWaitTime: 200,
      // Small fetches: the client reads a response through a chunk list searched from its start on every
      // read, so decoding costs grow with the square of the response size (50 MB by default).
      maxBytes: FETCH_MAX_BYTES,
      maxBytesPerPartition: FETCH_MAX_BYTES_PER_PARTITION,
      autocommit: false,
    });
    this.#producer = new Producer({ clientId: 'tributary-sink-clickhouse-dlq', bootstrapBrokers: opts.brokers, acks: ProduceAcks.ALL, autocreateTopics: true });
  }

  async start(): Promise<void> {
    await this.#retry('migrate', async () => {
      await migrate(this.#client, MIGRATIONS);
    });
    this.#consumer.on('consumer:group:join', (payload) => this.#onAssignment(payload.assignments ?? []));
    this.#stream = await this.#consumer.consume({
      topics: this.#topics,
      mode: MessagesStreamModes.COMMITTED,
      fallbackMode: MessagesStreamFallbackModes.EARLIEST,
      autocommit: false,
    });
    this.#stream.on('data', (m) => this.#onMessage(m));
    this.#stream.on('error', (err) => {
      this.#metrics.errors.inc({ kind: 'consume' });
      this.#log.error(`consuming failed: ${err.message}`);
    });
    this.#loop = this.#flushLoop();
    this.#lagTimer = setInterval(() => void this.#updateLag(), 5_000).unref();
    this.#log.info(`loading ${this.#topics.join(', ')} into ClickHouse`);
  }

  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearInterval(this.#lagTimer);
    this.#wake?.();
    await this.#loop;
    await this.#stream?.close().catch(() => {});
    await this.#consumer.close(true).catch(() => {});
    await this.#producer.close().catch(() => {});
    await this.#client.close();
  }

  // -- assignment ----------------------------------------------------------------------------------

  #onAssignment(assignments: { topic: string; partitions: number[] }[]): void {
    const assigned = new Set<string>();
    for (const a of assignments) for (const p of a.partitions) assigned.add(`${a.topic}:${p}`);
    for (const [key, st] of this.#partitions) {
      if (assigned.has(key)) continue;
      // Revoked: the new owner resumes from ClickHouse, so whatever is buffered here is not ours to store.
      this.#partitions.delete(key);
      const [topic, partition] = splitKey(key);
      const buffer = this.#buffers.get(topic)!;
      this.#buffered -= buffer.dropPartition(partition) + st.held.length;
      this.#recount();
    }
    const fresh: string[] = [];
    for (const key of assigned) {
      if (this.#partitions.has(key)) continue;
      this.#partitions.set(key, { next: undefined, ready: false, held: [], leaderEpoch: -1, loaded: undefined });
      fresh.push(key);
    }
    if (fresh.length > 0) void this.#loadPositions(fresh);
  }

  async #loadPositions(keys: string[]): Promise<void> {
    const states = new Map(keys.map((k) => [k, this.#partitions.get(k)!]));
    const topics = new Set(keys.map((k) => splitKey(k)[0]));
    let positions: Map<string, Map<number, bigint>>;
    try {
      positions = await this.#retry('resume', async () => {
        // An insert of ours still in flight for a partition we lost and got back must land first.
        await this.#flushing;
        const out = new Map<string, Map<number, bigint>>();
        for (const t of topics) out.set(t, await resumePositions(this.#client, TOPIC_TABLES[t as SinkTopic], t));
        return out;
      });
    } catch (err) {
      if (err instanceof StoppedError) return;
      throw err;
    }
    for (const [key, st] of states) {
      if (this.#partitions.get(key) !== st) continue; // revoked meanwhile
      const [topic, partition] = splitKey(key);
      st.next = positions.get(topic)?.get(partition);
      st.loaded = st.next;
      st.ready = true;
      const held = st.held;
      st.held = [];
      this.#buffered -= held.length;
      for (const m of held) this.#accept(st, m);
      this.#log.info(`${key}: resuming at ${st.next ?? 'the group offset or earliest'}`);
    }
    this.#recount();
  }

  // -- consuming -----------------------------------------------------------------------------------

  #onMessage(m: Message): void {
    const st = this.#partitions.get(`${m.topic}:${m.partition}`);
    if (!st) return; // a stale fetch for a partition revoked meanwhile
    if (!st.ready) {
      st.held.push(m);
      this.#buffered++;
    } else {
      this.#accept(st, m);
    }
    this.#recount();
  }

  #accept(st: PartitionState, m: Message): void {
    if (st.next !== undefined && m.offset < st.next) {
      this.#metrics.duplicates.inc({ topic: m.topic });
      return;
    }
    st.next = m.offset + 1n;
    st.leaderEpoch = m.leaderEpoch;
    const buffer = this.#buffers.get(m.topic)!;
    if (buffer.empty) buffer.since = Date.now();
    const table = TOPIC_TABLES[m.topic as SinkTopic];
    const row = recordToRow(this.#columns.get(table)!, m.topic, m.partition, m.offset, m.value);
    if (typeof row === 'string') {
      this.#metrics.invalid.inc({ topic: m.topic });
      this.#log.warn(`${m.topic}/${m.partition}@${m.offset} does not match table ${table}: ${row}; sent to ${m.topic}.dlq`);
      buffer.deadLetters.push({ message: m, reason: row });
    } else {
      buffer.rows.push(row);
      this.#buffered++;
      if (buffer.rows.length >= this.#batchMaxRows) this.#wake?.();
    }
    buffer.commits.set(m.partition, st.next);
  }

  /** Bounded buffering: the stream pauses while too much waits to be stored. */
  #recount(): void {
    this.#metrics.buffered.set(this.#buffered);
    if (!this.#paused && this.#buffered >= this.#maxBuffered) {
      this.#paused = true;
      this.#stream?.pause();
    } else if (this.#paused && this.#buffered < this.#maxBuffered / 2) {
      this.#paused = false;
      this.#stream?.resume();
    }
  }

  // -- storing -------------------------------------------------------------------------------------

  async #flushLoop(): Promise<void> {
    while (!this.#stopping) {
      // A full batch that filled up during the last insert goes out at once: its wake-up came and went
      // while nothing waited for it, and with consumption paused no new record would bring another.
      if (!this.#fullBatch()) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          setTimeout(resolve, Math.max(10, Math.floor(this.#flushIntervalMs / 4))).unref();
        });
        this.#wake = undefined;
      }
      const flush = this.#flushDue(false);
      this.#flushing = flush.catch(() => {});
      try {
        await flush;
      } catch (err) {
        if (!(err instanceof StoppedError)) this.#log.error(`flush failed: ${(err as Error).stack}`);
      }
    }
    // One last try on the way out; anything not stored stays uncommitted and is read again next start.
    await this.#flushDue(true).catch(() => {});
  }

  #fullBatch(): boolean {
    for (const buffer of this.#buffers.values()) if (buffer.rows.length >= this.#batchMaxRows) return true;
    return false;
  }

  async #flushDue(all: boolean): Promise<void> {
    const now = Date.now();
    for (const [topic, buffer] of this.#buffers) {
      if (buffer.empty) continue;
      if (!all && buffer.rows.length < this.#batchMaxRows && now - buffer.since < this.#flushIntervalMs) continue;
      await this.#flushTopic(topic as SinkTopic, buffer);
    }
  }

  async #flushTopic(topic: SinkTopic, buffer: TopicBuffer): Promise<void> {
    const table = TOPIC_TABLES[topic];
    const { rows, deadLetters, commits } = buffer.take();
    try {
      if (deadLetters.length > 0) await this.#retry('dlq', () => this.#deadLetter(topic, deadLetters));
      let pending = rows;
      let failed = false;
      await this.#retry('insert', async () => {
        // A failed insert may have stored a prefix of the batch: send only what ClickHouse lacks.
        if (failed) pending = rowsAfter(await resumePositions(this.#client, table, topic), pending);
        failed = true;
        const started = performance.now();
        await insertRows(this.#client, table, pending, { maxRowsPerInsert: this.#batchMaxRows });
        this.#metrics.insertSeconds.observe({ table }, (performance.now() - started) / 1000);
        this.#metrics.rowsInserted.inc({ table }, pending.length);
      }, table);
    } finally {
      this.#buffered -= rows.length;
      this.#recount();
    }
    await this.#commit(topic, commits);
  }

  async #deadLetter(topic: string, letters: DeadLetter[]): Promise<void> {
    await this.#producer.send({
      messages: letters.map(({ message: m, reason }) => ({
        topic: `${topic}.dlq`,
        key: m.key,
        value: m.value,
        headers: new Map([
          [Buffer.from('tributary.error'), Buffer.from(reason)],
          [Buffer.from('tributary.source'), Buffer.from(`${m.topic}/${m.partition}@${m.offset}`)],
        ]),
      })),
    });
  }

  /** Only for lag monitoring: a failed commit costs nothing but a stale lag figure. */
  async #commit(topic: string, commits: Map<number, bigint>): Promise<void> {
    const offsets = [];
    for (const [partition, offset] of commits) {
      const st = this.#partitions.get(`${topic}:${partition}`);
      if (!st) continue;
      st.loaded = offset;
      offsets.push({ topic, partition, offset, leaderEpoch: st.leaderEpoch });
    }
    if (offsets.length === 0) return;
    try {
      await this.#consumer.commit({ offsets });
    } catch (err) {
      this.#metrics.errors.inc({ kind: 'commit' });
      this.#log.warn(`committing ${topic} offsets failed (lag figures only): ${(err as Error).message}`);
    }
  }

  /** Runs `op` until it succeeds, backing off from 100 ms to 5 s; gives up only when the sink stops. */
  async #retry<T>(kind: string, op: () => Promise<T>, what = kind): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (this.#stopping && kind !== 'insert' && kind !== 'dlq') throw new StoppedError();
      try {
        return await op();
      } catch (err) {
        this.#metrics.errors.inc({ kind });
        if (this.#stopping) throw new StoppedError();
        const delay = Math.min(5_000, 100 * 2 ** Math.min(attempt - 1, 6));
        this.#log.warn(`${what}: ${(err as Error).message.trim().split('\n')[0]} (attempt ${attempt}, retrying in ${delay} ms)`);
        await sleep(delay / 2 + (Math.random() * delay) / 2);
      }
    }
  }

  async #updateLag(): Promise<void> {
    try {
      const ends = await this.#consumer.listOffsets({ topics: this.#topics });
      for (const [key, st] of this.#partitions) {
        const [topic, partition] = splitKey(key);
        const end = ends.get(topic)?.[partition];
        if (end === undefined) continue;
        this.#metrics.lag.set({ topic, partition: String(partition) }, Number(end - (st.loaded ?? 0n)));
      }
    } catch (err) {
      this.#metrics.errors.inc({ kind: 'lag' });
    }
  }
}

function splitKey(key: string): [string, number] {
  const i = key.lastIndexOf(':');
  return [key.slice(0, i), Number(key.slice(i + 1))];
}
