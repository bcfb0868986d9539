import { closeSync, fstatSync, fsync, fsyncSync, ftruncateSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { ATTRIBUTES, BATCH_LENGTH, CRC, HEADER_SIZE, LAST_OFFSET_DELTA, LOG_OVERHEAD, MAGIC, MAX_TIMESTAMP, readInt64 } from '../protocol/record-batch/batch-header.ts';
import type { BatchSummary } from '../protocol/record-batch/validate.ts';
import { forEachRecord } from '../protocol/record-batch/records.ts';
import { OffsetIndex } from './offset-index.ts';
import { ErrorCode, KafkaError } from '../protocol/error-codes.ts';
import { TimeIndex } from './time-index.ts';

export function segmentName(baseOffset: number): string {
  return String(baseOffset).padStart(20, '0');
}

/** The smallest batchLength a v2 batch can have (its header after the length field). */
const MIN_BATCH_LENGTH = HEADER_SIZE - LOG_OVERHEAD;

/** A segment whose bytes do not parse as batches where its index says they start. */
export class CorruptSegmentError extends KafkaError {
  constructor(path: string, position: number) {
    super(ErrorCode.CORRUPT_MESSAGE, `${path} has no valid batch at byte ${position}: the segment or its index is damaged`);
  }
}

/** Bytes read per step when scanning a segment (recovery, header walks). */
const SCAN_CHUNK = 4 * 1024 * 1024;

export interface SegmentRead {
  /** Whole batches; empty when the first one did not fit in maxBytes (and minOneBatch was false). */
  buffer: Buffer;
  /** Base offset of the first batch returned. */
  firstOffset: number;
  /** Batches below maxOffset may remain in this segment after `buffer`: a reader must not skip to the next segment. */
  more: boolean;
}

/**
 * One `<baseOffset>.log` file and its two indexes. Batches are appended exactly as validated (offsets
 * stamped in), read back as whole batches, and scanned only at recovery or to find a timestamp.
 */
export class LogSegment {
  readonly baseOffset: number;
  readonly dir: string;
  readonly logPath: string;
  private readonly fd: number;
  readonly offsetIndex: OffsetIndex;
  readonly timeIndex: TimeIndex;
  private readonly indexIntervalBytes: number;
  size: number;
  nextOffset: number;
  /** When the segment was created (for segment.ms), from its first append. */
  createdMs: number;
  private bytesSinceIndexEntry = 0;

  private constructor(dir: string, baseOffset: number, indexIntervalBytes: number, trustIndexes: boolean) {
    this.dir = dir;
    this.baseOffset = baseOffset;
    this.indexIntervalBytes = indexIntervalBytes;
    const name = segmentName(baseOffset);
    this.logPath = join(dir, `${name}.log`);
    // Created with 'a', then opened 'r+': O_APPEND would make Linux ignore the positions we write at.
    closeSync(openSync(this.logPath, 'a'));
    this.fd = openSync(this.logPath, 'r+');
    this.size = fstatSync(this.fd).size;
    this.offsetIndex = OffsetIndex.open(join(dir, `${name}.index`), trustIndexes);
    this.timeIndex = TimeIndex.open(join(dir, `${name}.timeindex`), trustIndexes);
    this.nextOffset = baseOffset;
    this.createdMs = Date.now();
  }

  static create(dir: string, baseOffset: number, indexIntervalBytes: number): LogSegment {
    return new LogSegment(dir, baseOffset, indexIntervalBytes, false);
  }

  /**
   * Opens an existing segment. With `recover` the whole file is validated and the indexes rebuilt, cutting
   * off a torn or corrupt tail; without it the indexes are trusted and only the end offset is found.
   */
  static open(dir: string, baseOffset: number, indexIntervalBytes: number, recover: boolean, maxBatchBytes: number): { segment: LogSegment; truncatedBytes: number } {
    const segment = new LogSegment(dir, baseOffset, indexIntervalBytes, !recover);
    if (recover) return { segment, truncatedBytes: segment.recover(maxBatchBytes) };
    segment.nextOffset = segment.findEndOffset();
    return { segment, truncatedBytes: 0 };
  }

  private readAt(position: number, length: number): Buffer {
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, buf, done, length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done === length ? buf : buf.subarray(0, done);
  }

  /** Walks batch headers from the last index entry to the end: the offset after the last batch. */
  private findEndOffset(): number {
    let pos = this.offsetIndex.entries > 0 ? this.offsetIndex.lookup(Number.MAX_SAFE_INTEGER) : 0;
    let next = this.baseOffset;
    const header = Buffer.allocUnsafe(LAST_OFFSET_DELTA + 4);
    while (pos + HEADER_SIZE <= this.size) {
      if (readSync(this.fd, header, 0, header.length, pos) < header.length) break;
      const length = header.readInt32BE(BATCH_LENGTH);
      if (length < MIN_BATCH_LENGTH) throw new CorruptSegmentError(this.logPath, pos);
      next = readInt64(header, 0) + header.readInt32BE(LAST_OFFSET_DELTA) + 1;
      pos += LOG_OVERHEAD + length;
    }
    return next;
  }

  /** Validates every batch (length, magic, CRC32C, offset order), rebuilds the indexes, truncates bad tails. */
  recover(maxBatchBytes: number): number {
    this.offsetIndex.truncateToPosition(0);
    this.timeIndex.truncateToRelativeOffset(0);
    this.bytesSinceIndexEntry = 0;
    let pos = 0;
    let next = this.baseOffset;
    let chunk: Buffer = Buffer.alloc(0);
    let chunkStart = 0;
    const fileSize = fstatSync(this.fd).size;
    while (pos + HEADER_SIZE <= fileSize) {
      if (pos + HEADER_SIZE > chunkStart + chunk.length) {
        chunkStart = pos;
        chunk = this.readAt(pos, Math.min(SCAN_CHUNK, fileSize - pos));
      }
      const at = pos - chunkStart;
      const length = chunk.readInt32BE(at + BATCH_LENGTH);
      const size = LOG_OVERHEAD + length;
      if (chunk[at + MAGIC] !== 2 || length < HEADER_SIZE - LOG_OVERHEAD || size > Math.max(maxBatchBytes, SCAN_CHUNK) * 2 || pos + size > fileSize) break;
      if (at + size > chunk.length) {
        chunkStart = pos;
        chunk = this.readAt(pos, Math.max(size, Math.min(SCAN_CHUNK, fileSize - pos)));
        continue;
      }
      const batch = chunk.subarray(pos - chunkStart, pos - chunkStart + size);
      if ((crc32c(batch.subarray(ATTRIBUTES)) >>> 0) !== batch.readUInt32BE(CRC)) break;
      const base = readInt64(batch, 0);
      if (base < next) break;
      this.indexBatch(base, pos, readInt64(batch, MAX_TIMESTAMP), size);
      next = base + batch.readInt32BE(LAST_OFFSET_DELTA) + 1;
      pos += size;
    }
    const truncated = fileSize - pos;
    if (truncated > 0) ftruncateSync(this.fd, pos);
    this.size = pos;
    this.nextOffset = next;
    return truncated;
  }

  private indexBatch(baseOffset: number, position: number, maxTimestamp: number, size: number): void {
    if (position === 0 || this.bytesSinceIndexEntry >= this.indexIntervalBytes) {
      if (position > 0) this.offsetIndex.append(baseOffset - this.baseOffset, position);
      this.bytesSinceIndexEntry = 0;
    }
    this.bytesSinceIndexEntry += size;
    this.timeIndex.maybeAppend(maxTimestamp, baseOffset - this.baseOffset);
  }

  /**
   * Appends validated batches whose base offsets are already in their headers (stamped by the leader's
   * append, or as the leader wrote them for a follower's): the headers, not a running count, say where
   * each batch starts, so a follower copying a compacted log keeps its gaps.
   */
  append(records: Buffer, summary: BatchSummary): void {
    if (this.size === 0) this.createdMs = Date.now();
    const start = this.size;
    let written = 0;
    while (written < records.length) written += writeSync(this.fd, records, written, records.length - written, start + written);
    let next = this.nextOffset;
    for (let i = 0; i < summary.batchCount; i++) {
      const pos = summary.positions[i];
      const size = LOG_OVERHEAD + records.readInt32BE(pos + BATCH_LENGTH);
      const base = readInt64(records, pos);
      this.indexBatch(base, start + pos, readInt64(records, pos + MAX_TIMESTAMP), size);
      next = base + records.readInt32BE(pos + LAST_OFFSET_DELTA) + 1;
    }
    this.size += records.length;
    this.nextOffset = next;
  }

  /** Byte position of the batch containing `offset` (or the first batch after it); -1 if past the end. */
  private positionOf(offset: number): number {
    let pos = this.offsetIndex.lookup(Math.max(0, offset - this.baseOffset));
    const header = Buffer.allocUnsafe(LAST_OFFSET_DELTA + 4);
    while (pos + HEADER_SIZE <= this.size) {
      readSync(this.fd, header, 0, header.length, pos);
      const length = header.readInt32BE(BATCH_LENGTH);
      // A damaged index can point into the middle of a batch: never walk on garbage (it could loop forever).
      if (length < MIN_BATCH_LENGTH) throw new CorruptSegmentError(this.logPath, pos);
      if (readInt64(header, 0) + header.readInt32BE(LAST_OFFSET_DELTA) >= offset) return pos;
      pos += LOG_OVERHEAD + length;
    }
    return -1;
  }

  /**
   * Whole batches starting with the one that contains `offset`, at most maxBytes of them, but at least one
   * whole batch when minOneBatch (KIP-74: a batch above the limit must not stall a consumer), and none whose
   * base offset is at or past maxOffset (the high watermark for consumers: it always lies on a batch
   * boundary). One file read in the common case, headers walked only; null when nothing below maxOffset lies
   * at or after `offset`.
   */
  read(offset: number, maxBytes: number, minOneBatch: boolean, maxOffset = Infinity): SegmentRead | null {
    const start = this.positionOf(offset);
    if (start < 0) return null;
    const available = this.size - start;
    let buf = this.readAt(start, Math.min(available, Math.max(maxBytes, HEADER_SIZE)));
    let end = 0;
    let more = true;
    while (true) {
      if (end + LOG_OVERHEAD > buf.length) {
        more = start + end < this.size;
        break;
      }
      if (readInt64(buf, end) >= maxOffset) {
        more = false;
        break;
      }
      const size = LOG_OVERHEAD + buf.readInt32BE(end + BATCH_LENGTH);
      if (size < LOG_OVERHEAD + MIN_BATCH_LENGTH) throw new CorruptSegmentError(this.logPath, start + end);
      if (end + size > buf.length) {
        if (end === 0 && minOneBatch && size <= available) {
          buf = this.readAt(start, size);
          end = size;
          more = size < available;
        } else if (end === 0 && minOneBatch) return null;
        break;
      }
      end += size;
    }
    if (end === 0) return more ? { buffer: buf.subarray(0, 0), firstOffset: readInt64(buf, 0), more } : null;
    return { buffer: buf.subarray(0, end), firstOffset: readInt64(buf, 0), more };
  }

  /** First record at or after `timestamp` in this segment, decoding only the batch that holds it. */
  findOffsetByTimestamp(timestamp: number, minOffset = 0): { offset: number; timestamp: number } | null {
    if (this.timeIndex.maxTimestamp < timestamp) return null;
    let pos = this.offsetIndex.lookup(this.timeIndex.lookup(timestamp));
    const header = Buffer.allocUnsafe(HEADER_SIZE);
    while (pos + HEADER_SIZE <= this.size) {
      readSync(this.fd, header, 0, HEADER_SIZE, pos);
      if (header.readInt32BE(BATCH_LENGTH) < MIN_BATCH_LENGTH) throw new CorruptSegmentError(this.logPath, pos);
      const size = LOG_OVERHEAD + header.readInt32BE(BATCH_LENGTH);
      if (readInt64(header, MAX_TIMESTAMP) >= timestamp) {
        let found: { offset: number; timestamp: number } | null = null;
        forEachRecord(this.readAt(pos, size), (r) => {
          if (found === null && r.timestamp >= timestamp && r.offset >= minOffset) found = { offset: r.offset, timestamp: r.timestamp };
        });
        if (found) return found;
      }
      pos += size;
    }
    return null;
  }

  /** Removes every batch at or after `offset` (whole batches; used to repair and, later, by replication). */
  truncateTo(offset: number): void {
    const pos = this.positionOf(offset);
    if (pos < 0) return;
    // A batch that spans `offset` goes whole: batches are never split.
    const header = Buffer.allocUnsafe(8);
    readSync(this.fd, header, 0, 8, pos);
    const firstRemoved = readInt64(header, 0);
    ftruncateSync(this.fd, pos);
    this.offsetIndex.truncateToPosition(pos);
    this.timeIndex.truncateToRelativeOffset(Math.max(0, firstRemoved - this.baseOffset));
    this.size = pos;
    this.nextOffset = pos === 0 ? this.baseOffset : firstRemoved;
  }

  /**
   * fsync on libuv's thread pool, so the event loop keeps serving while the disk works. Resolves false when
   * the segment was closed meanwhile (it was flushed synchronously on close then).
   */
  flushAsync(): Promise<boolean> {
    return new Promise((resolve) => fsync(this.fd, (err) => resolve(!err)));
  }

  flush(): void {
    fsyncSync(this.fd);
    this.offsetIndex.flush();
    this.timeIndex.flush();
  }

  close(): void {
    closeSync(this.fd);
    this.offsetIndex.close();
    this.timeIndex.close();
  }

  /** Closes and removes the segment's files (retention, topic deletion). */
  delete(): void {
    this.close();
    for (const path of [this.logPath, this.offsetIndex.path, this.timeIndex.path]) {
      try {
        unlinkSync(path);
      } catch {
        /* already gone */
      }
    }
  }
}
