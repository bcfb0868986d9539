import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KafkaError } from '../protocol/error-codes.ts';
import { writeFileAtomic } from './write-file-atomic.ts';

/** Kafka keeps the metadata of each idempotent producer's last five batches per partition. */
const BATCHES_KEPT = 5;
const SNAPSHOT_FILE = 'producer-state.json';

export interface ProducerBatch {
  firstSeq: number;
  lastSeq: number;
  firstOffset: number;
  lastOffset: number;
}

interface ProducerEntry {
  epoch: number;
  batches: ProducerBatch[];
}

const OUT_OF_ORDER_SEQUENCE_NUMBER = 45;
const INVALID_PRODUCER_EPOCH = 47;

/** The sequence after `seq`: sequences wrap from int32 max to 0. */
function nextSeq(seq: number): number {
  return seq === 2147483647 ? 0 : seq + 1;
}

/**
 * Per-partition state of idempotent producers: for each producer id its epoch and last batches, so a
 * retried batch is recognised (answered with its original offset) and a gap or reordering is refused.
 * Saved as a snapshot with the offset it covers; on open the log after that offset is replayed.
 */
export class ProducerStateManager {
  private readonly entries = new Map<number, ProducerEntry>();
  private readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  get producerCount(): number {
    return this.entries.size;
  }

  /**
   * Checks a batch before it is appended. Returns the original batch when this one is a retry of it,
   * null when it may be appended, and throws OUT_OF_ORDER_SEQUENCE_NUMBER / INVALID_PRODUCER_EPOCH.
   */
  check(producerId: number, epoch: number, firstSeq: number, lastSeq: number): ProducerBatch | null {
    const entry = this.entries.get(producerId);
    if (!entry) {
      if (firstSeq !== 0) throw new KafkaError(OUT_OF_ORDER_SEQUENCE_NUMBER, `producer ${producerId} is unknown here; its first sequence must be 0, got ${firstSeq}`);
      return null;
    }
    if (epoch < entry.epoch) throw new KafkaError(INVALID_PRODUCER_EPOCH, `producer ${producerId} epoch ${epoch} is older than the current ${entry.epoch}`);
    if (epoch > entry.epoch) {
      if (firstSeq !== 0) throw new KafkaError(OUT_OF_ORDER_SEQUENCE_NUMBER, `a new epoch of producer ${producerId} must start at sequence 0, got ${firstSeq}`);
      return null;
    }
    const duplicate = entry.batches.find((b) => b.firstSeq === firstSeq && b.lastSeq === lastSeq);
    if (duplicate) return duplicate;
    const last = entry.batches[entry.batches.length - 1];
    const expected = last ? nextSeq(last.lastSeq) : 0;
    if (firstSeq !== expected) {
      throw new KafkaError(OUT_OF_ORDER_SEQUENCE_NUMBER, `producer ${producerId} sent sequence ${firstSeq}, expected ${expected}`);
    }
    return null;
  }

  /** Records an appended (or replayed) batch. */
  update(producerId: number, epoch: number, batch: ProducerBatch): void {
    let entry = this.entries.get(producerId);
    if (!entry || epoch > entry.epoch) {
      entry = { epoch, batches: [] };
      this.entries.set(producerId, entry);
    }
    entry.batches.push(batch);
    if (entry.batches.length > BATCHES_KEPT) entry.batches.shift();
  }

  /** Forgets producers whose batches all lie below the log start (their data is gone). */
  truncateHead(logStartOffset: number): void {
    for (const [pid, e] of this.entries) if (e.batches.every((b) => b.lastOffset < logStartOffset)) this.entries.delete(pid);
  }

  /** Forgets batches at or after `offset` (the log was truncated). */
  truncateTail(offset: number): void {
    for (const [pid, e] of this.entries) {
      e.batches = e.batches.filter((b) => b.lastOffset < offset);
      if (e.batches.length === 0) this.entries.delete(pid);
    }
  }

  saveSnapshot(offset: number): void {
    const producers = [...this.entries].map(([producerId, e]) => ({ producerId, ...e }));
    writeFileAtomic(join(this.dir, SNAPSHOT_FILE), JSON.stringify({ offset, producers }));
  }

  /** Loads the snapshot if it covers no more than the log holds; returns the offset replay starts at. */
  loadSnapshot(logStartOffset: number, logEndOffset: number): number {
    const path = join(this.dir, SNAPSHOT_FILE);
    if (!existsSync(path)) return logStartOffset;
    try {
      const snap = JSON.parse(readFileSync(path, 'utf8')) as { offset: number; producers: ({ producerId: number } & ProducerEntry)[] };
      if (snap.offset > logEndOffset) return logStartOffset; // the log lost its tail: rebuild from scratch
      for (const p of snap.producers) this.entries.set(p.producerId, { epoch: p.epoch, batches: p.batches });
      return Math.max(snap.offset, logStartOffset);
    } catch {
      this.entries.clear();
      return logStartOffset;
    }
  }
}

