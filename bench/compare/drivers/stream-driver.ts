// The one interface every compared system implements, so the workloads are written once. A "stream" is a
// topic (Tributary), a set of stream keys (Redis) or a set of JetStream streams (NATS); each has `partitions`
// independent ordered logs, numbered from 0.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../../test/helpers/cli-process.ts';

/**
 * Records arrived: `count` records of `partition` that were sent together. `sentAtMs` is the
 * `performance.now()` the sender stamped into them (latency runs), undefined when they carry no send time
 * (throughput runs).
 */
export type OnRecords = (partition: number, count: number, sentAtMs: number | undefined) => void;

export interface Consumption {
  /** Resolves with the reason if the consumer stops reading on its own (a broken connection, a server error). */
  readonly failed: Promise<Error>;
  /** Stops reading and releases the consumer's connections. */
  stop(): Promise<void>;
}

export interface StreamDriver {
  /** What the tables call the system: `Redis Streams`. */
  readonly name: string;
  /** The client library and its version, read from node_modules: `redis@6.3.1`. */
  readonly client: string;
  /** One sentence: when an acknowledged record is written, and when it is fsynced. */
  readonly durability: string;
  createStreams(stream: string, partitions: number): Promise<void>;
  /** Frees what a run stored, so later runs start from the same memory and disk. */
  deleteStreams(stream: string, partitions: number): Promise<void>;
  /**
   * Sends `count` records of `recordBytes` bytes to one partition in one go; resolves once the system
   * acknowledged all of them. With `sentAtMs` each record carries it (see stampedValue).
   */
  produceBatch(stream: string, partition: number, count: number, recordBytes: number, sentAtMs?: number): Promise<void>;
  /**
   * Reads every partition from its beginning and keeps reading new records until stopped. Resolves once
   * the consumer is set up and reading.
   */
  consume(stream: string, partitions: number, onRecords: OnRecords): Promise<Consumption>;
  close(): Promise<void>;
}

/**
 * The Consumption of a consumer that reads until stopped: `read` runs at once and should return when
 * `stopped()` turns true; its error ends the consumption unless stop() caused it (closing a connection under
 * a pending read). stop() sets the flag, then `release` closes the consumer's connections.
 */
export function consumptionOf(read: (stopped: () => boolean) => Promise<void>, release: () => void | Promise<void>): Consumption {
  let stopped = false;
  const never = new Promise<Error>(() => {});
  const failed = read(() => stopped).then(
    () => never,
    (err: Error) => (stopped ? never : err),
  );
  return {
    failed,
    async stop() {
      stopped = true;
      await release();
    },
  };
}

// A record's value: 8 bytes of send time (float64 LE, 0 = none) then filler. Throughput runs reuse one zeroed
// value per size; latency runs build one value per batch, shared by the batch's records.
const SENT_AT_BYTES = 8;
const FILLER = 0x61;
const unstamped = new Map<number, Buffer>();

/** The value every record of a throughput run carries (one buffer per size, never written to). */
export function plainValue(recordBytes: number): Buffer {
  let value = unstamped.get(recordBytes);
  if (!value) {
    if (recordBytes < SENT_AT_BYTES) throw new RangeError(`records must have at least ${SENT_AT_BYTES} bytes to carry a send time`);
    value = Buffer.alloc(recordBytes, FILLER);
    value.fill(0, 0, SENT_AT_BYTES);
    unstamped.set(recordBytes, value);
  }
  return value;
}

/** A fresh value carrying `sentAtMs`. */
export function stampedValue(recordBytes: number, sentAtMs: number): Buffer {
  const value = Buffer.from(plainValue(recordBytes));
  value.writeDoubleLE(sentAtMs, 0);
  return value;
}

/** The value to send: the shared plain one, or a stamped copy when a send time must travel. */
export function valueFor(recordBytes: number, sentAtMs: number | undefined): Buffer {
  return sentAtMs === undefined ? plainValue(recordBytes) : stampedValue(recordBytes, sentAtMs);
}

/** The send time a value carries (at `offset` of `bytes`), undefined for a plain value. */
export function sentAtOf(bytes: Uint8Array, offset = 0): number | undefined {
  if (bytes.length - offset < SENT_AT_BYTES) return undefined;
  const sentAt = readDoubleLE(bytes, offset);
  return sentAt === 0 ? undefined : sentAt;
}

// Uint8Arrays (NATS payloads) have no readDoubleLE; a scratch view avoids one allocation per record.
const scratch = new Float64Array(1);
const scratchBytes = new Uint8Array(scratch.buffer);

function readDoubleLE(bytes: Uint8Array, offset: number): number {
  for (let i = 0; i < SENT_AT_BYTES; i++) scratchBytes[i] = bytes[offset + i];
  return scratch[0];
}

/** `name@version` of an installed package, for the notes. */
export function packageVersion(name: string): string {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
  return `${name}@${pkg.version}`;
}

/**
 * Calls `onRecords` once per run of consecutive records of one partition with the same send time, so
 * consumers that see records one by one report them in groups (one call per batch sent) without allocating.
 */
export class SentAtGrouper {
  private count = 0;
  private partition = -1;
  private sentAt: number | undefined = undefined;
  private readonly onRecords: OnRecords;

  constructor(onRecords: OnRecords) {
    this.onRecords = onRecords;
  }

  add(partition: number, sentAtMs: number | undefined): void {
    if (this.count > 0 && (sentAtMs !== this.sentAt || partition !== this.partition)) this.flush();
    this.partition = partition;
    this.sentAt = sentAtMs;
    this.count++;
  }

  flush(): void {
    if (this.count === 0) return;
    const count = this.count;
    this.count = 0;
    this.onRecords(this.partition, count, this.sentAt);
  }
}
