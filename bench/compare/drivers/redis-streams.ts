// Redis Streams through node-redis: one stream key per partition, a batch is `count` XADDs sent as one
// pipeline (multi().execAsPipeline(), no transaction), read back with XREADGROUP over all
// keys by one consumer of one group, which XACKs each read.
import { createClient, RESP_TYPES, type RedisClientType } from 'redis';
import { consumptionOf, packageVersion, SentAtGrouper, sentAtOf, valueFor, type Consumption, type OnRecords, type StreamDriver } from './stream-driver.ts';

const GROUP = 'compare';
const CONSUMER = 'compare-1';
export const FIELD = 'v';
/** Entries per key per XREADGROUP: the size of one produced batch. */
const READ_COUNT = 1000;
const READ_BLOCK_MS = 1000;

/** Redis 7.0's AOF with `appendfsync everysec`, as read in its source (src/aof.c, src/server.c beforeSleep). */
export const REDIS_DURABILITY =
  'AOF, appendfsync everysec: the AOF buffer is written (write(2)) in the event loop before replies go out ' +
  '(unless a background fsync is still running, then up to 2 s later), and fsynced by a background thread once a second; no RDB snapshots';

export function keyOf(stream: string, partition: number): string {
  return `${stream}:${partition}`;
}

export class RedisStreamsDriver implements StreamDriver {
  readonly name = 'Redis Streams';
  readonly client = packageVersion('redis');
  readonly durability = REDIS_DURABILITY;
  private readonly url: string;
  private readonly writer: RedisClientType;

  private constructor(url: string, writer: RedisClientType) {
    this.url = url;
    this.writer = writer;
  }

  static async connect(port: number): Promise<RedisStreamsDriver> {
    const url = `redis://127.0.0.1:${port}`;
    const writer = createClient({ url }) as RedisClientType;
    writer.on('error', () => {}); // a failed command rejects its own promise; this only keeps 'error' from throwing
    await writer.connect();
    return new RedisStreamsDriver(url, writer);
  }

  async createStreams(stream: string, partitions: number): Promise<void> {
    for (let p = 0; p < partitions; p++) await this.writer.xGroupCreate(keyOf(stream, p), GROUP, '0', { MKSTREAM: true });
  }

  async deleteStreams(stream: string, partitions: number): Promise<void> {
    await this.writer.del(Array.from({ length: partitions }, (_, p) => keyOf(stream, p)));
  }

  async produceBatch(stream: string, partition: number, count: number, recordBytes: number, sentAtMs?: number): Promise<void> {
    const key = keyOf(stream, partition);
    const message = { [FIELD]: valueFor(recordBytes, sentAtMs) };
    // One XADD per record, sent as one pipeline (no MULTI/EXEC): node-redis's documented way to send many
    // commands at once, ~1.5x the rate of `count` separate xAdd promises here. Rejects if any XADD failed.
    const pipeline = this.writer.multi();
    for (let i = 0; i < count; i++) pipeline.xAdd(key, '*', message);
    await pipeline.execAsPipeline();
  }

  async consume(stream: string, partitions: number, onRecords: OnRecords): Promise<Consumption> {
    // XREADGROUP BLOCK holds its connection, so the reader has its own.
    const connection = createClient({ url: this.url });
    connection.on('error', () => {});
    await connection.connect();
    const reader = connection.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
    const streams = Array.from({ length: partitions }, (_, p) => ({ key: keyOf(stream, p), id: '>' }));
    const partitionOfKey = new Map(streams.map((s, p) => [s.key, p]));
    const grouper = new SentAtGrouper(onRecords);
    let ackFailure: Error | null = null;
    const readLoop = async (stopped: () => boolean) => {
      while (!stopped()) {
        if (ackFailure) throw ackFailure;
        const reply = await reader.xReadGroup(GROUP, CONSUMER, streams, { COUNT: READ_COUNT, BLOCK: READ_BLOCK_MS });
        if (stopped()) return;
        if (!reply) continue;
        for (const { name, messages } of reply as { name: Buffer; messages: { id: Buffer; message: Record<string, Buffer> }[] }[]) {
          if (messages.length === 0) continue;
          const partition = partitionOfKey.get(name.toString())!;
          const ids: Buffer[] = new Array(messages.length);
          for (let i = 0; i < messages.length; i++) {
            ids[i] = messages[i].id;
            grouper.add(partition, sentAtOf(messages[i].message[FIELD]));
          }
          grouper.flush();
          // Sent ahead of the next XREADGROUP on the same connection; its failure ends the loop.
          reader.xAck(name, GROUP, ids).catch((err: Error) => (ackFailure ??= err));
        }
      }
    };
    return consumptionOf(readLoop, () => connection.destroy());
  }

  async close(): Promise<void> {
    await this.writer.close();
  }
}
