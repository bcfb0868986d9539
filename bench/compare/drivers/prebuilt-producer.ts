// What the pre-built peer drivers (raw RESP, raw NATS protocol) share: batches encoded once and re-sent as is,
// written to one connection whose server answers each record in order, the batches in flight counting those
// replies; creating, deleting and reading streams left to the peer's client driver.
import type { Socket } from 'node:net';
import { plainValue, stampedValue, type Consumption, type OnRecords, type StreamDriver } from './stream-driver.ts';

const CLOSE_TIMEOUT_MS = 5000;

/** Encodes `count` records of `value` bound for one partition as the bytes to write. */
export type EncodeBatch = (stream: string, partition: number, count: number, value: Buffer) => Buffer;

/**
 * The bytes that send a batch: for plain values encoded once per (stream, partition, count, size) and re-sent;
 * never written to after encoding, so every batch in flight can share them.
 */
export class PrebuiltBatches {
  private readonly encoded = new Map<string, Buffer>();
  private readonly encode: EncodeBatch;

  constructor(encode: EncodeBatch) {
    this.encode = encode;
  }

  bytesFor(stream: string, partition: number, count: number, recordBytes: number, sentAtMs: number | undefined): Buffer {
    // The send time travels in the values, so a stamped batch cannot be a re-sent one.
    if (sentAtMs !== undefined) return this.encode(stream, partition, count, stampedValue(recordBytes, sentAtMs));
    const key = `${stream}\0${partition}\0${count}\0${recordBytes}`;
    let bytes = this.encoded.get(key);
    if (!bytes) this.encoded.set(key, (bytes = this.encode(stream, partition, count, plainValue(recordBytes))));
    return bytes;
  }

  /** Drops the stream's batches, whose memory a deleted stream no longer needs. */
  forget(stream: string): void {
    for (const key of this.encoded.keys()) if (key.startsWith(`${stream}\0`)) this.encoded.delete(key);
  }
}

interface PendingBatch {
  /** Where the batch went, for its error: a stream key, a subject. */
  target: string;
  remaining: number;
  /** The first error among the batch's replies: the batch is rejected with it once all replies are in. */
  error: string | null;
  sentAt: number;
  resolve(): void;
  reject(err: Error): void;
}

/**
 * The batches sent on one ordered reply stream (a Redis connection, a JetStream reply subject), oldest first:
 * the server answers each record in the order it got them, so the oldest batch owns the next reply.
 */
export class PendingBatches {
  private readonly batches: PendingBatch[] = [];
  /** What the replies answer, for errors: `XADD`. */
  private readonly request: string;

  constructor(request: string) {
    this.request = request;
  }

  get size(): number {
    return this.batches.length;
  }

  /** Settles once a reply for each of the `records` of a batch sent to `target` is in; call it before sending. */
  settled(target: string, records: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.batches.push({ target, remaining: records, error: null, sentAt: performance.now(), resolve, reject });
    });
  }

  /** Counts one reply, `error` its error text if it is one; false when no batch was waiting for it. */
  reply(error: string | null): boolean {
    const batch = this.batches[0];
    if (!batch) return false;
    if (error !== null) batch.error ??= error;
    if (--batch.remaining > 0) return true;
    this.batches.shift();
    if (batch.error === null) batch.resolve();
    else batch.reject(new Error(`${this.request} to ${batch.target}: ${batch.error}`));
    return true;
  }

  /** The oldest batch, if it has waited more than `ms` for its replies. */
  overdue(ms: number): { target: string; remaining: number } | undefined {
    const oldest = this.batches[0];
    return oldest && performance.now() - oldest.sentAt > ms ? oldest : undefined;
  }

  rejectAll(err: Error): void {
    for (const batch of this.batches.splice(0)) batch.reject(err);
  }
}

/**
 * The connection a pre-built driver produces on. Its first failure (a reply the reader cannot parse, a socket
 * error, the server closing it) is kept, handed to `onFailure` to reject the batches in flight, and destroys it.
 */
export class ProducerConnection {
  private readonly socket: Socket;
  private readonly onFailure: (err: Error) => void;
  private failure: Error | null = null;

  /** `read` parses the server's bytes as they arrive; `server` names it in messages: `redis-server`. */
  constructor(socket: Socket, server: string, read: (chunk: Buffer) => void, onFailure: (err: Error) => void) {
    this.socket = socket;
    this.onFailure = onFailure;
    socket.on('data', (chunk: Buffer) => {
      try {
        read(chunk);
      } catch (err) {
        this.fail(err as Error);
      }
    });
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error(`${server} closed the producer connection`)));
  }

  /** Writes a batch of `records` records to `target`; settles once `pending` has counted their replies. */
  send(bytes: Buffer, pending: PendingBatches, target: string, records: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (records === 0) return Promise.resolve(); // no reply would ever settle it
    const settled = pending.settled(target, records);
    this.socket.write(bytes);
    return settled;
  }

  fail(err: Error): void {
    this.failure ??= err;
    this.onFailure(this.failure);
    this.socket.destroy();
  }

  /** Ends the connection, destroying it if the server has not closed it within 5 s. */
  async close(): Promise<void> {
    if (this.socket.destroyed) return;
    const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), CLOSE_TIMEOUT_MS);
    await closed;
    clearTimeout(timer);
  }
}

/**
 * A peer driver that produces pre-built bytes on a ProducerConnection of its own and delegates everything else
 * to the peer's client driver (node-redis, nats.js), so the rows differ only in how records are sent.
 */
export abstract class PrebuiltPeerDriver implements StreamDriver {
  abstract readonly name: string;
  abstract readonly client: string;
  /** The server's, whichever client sends. */
  readonly durability: string;
  /** The client driver, for everything but producing. */
  protected readonly delegate: StreamDriver;
  protected abstract readonly connection: ProducerConnection;
  protected abstract readonly batches: PrebuiltBatches;

  protected constructor(delegate: StreamDriver) {
    this.delegate = delegate;
    this.durability = delegate.durability;
  }

  abstract produceBatch(stream: string, partition: number, count: number, recordBytes: number, sentAtMs?: number): Promise<void>;

  createStreams(stream: string, partitions: number): Promise<void> {
    return this.delegate.createStreams(stream, partitions);
  }

  deleteStreams(stream: string, partitions: number): Promise<void> {
    this.batches.forget(stream);
    return this.delegate.deleteStreams(stream, partitions);
  }

  consume(stream: string, partitions: number, onRecords: OnRecords): Promise<Consumption> {
    return this.delegate.consume(stream, partitions, onRecords);
  }

  async close(): Promise<void> {
    try {
      await this.connection.close();
    } finally {
      await this.delegate.close();
    }
  }
}

/** Builds a pre-built driver on the client driver `connecting` resolves to; closes that if building fails. */
export async function onDelegate<D extends StreamDriver, T>(connecting: Promise<D>, build: (delegate: D) => Promise<T>): Promise<T> {
  const delegate = await connecting;
  try {
    return await build(delegate);
  } catch (err) {
    await delegate.close();
    throw err;
  }
}
