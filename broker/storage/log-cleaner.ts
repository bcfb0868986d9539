import { closeSync, existsSync, fsyncSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { BATCH_LENGTH, LOG_OVERHEAD, ATTRIBUTES, isControlBatch, compressionOf, readBatchHeader } from '../protocol/record-batch/batch-header.ts';
import { buildRecordBatch, forEachRecord, type DecodedRecord } from '../protocol/record-batch/records.ts';
import { segmentName, type LogSegment } from './log-segment.ts';
import type { Log } from './log.ts';
import { writeFileAtomic } from './write-file-atomic.ts';

const CHECKPOINT_FILE = 'cleaner-checkpoint';
const READ_CHUNK = 1024 * 1024;

export interface CleanerOptions {
  /** Most distinct keys held in memory per pass (Kafka's log.cleaner.dedupe.buffer.size, in keys). */
  maxKeysPerPass: number;
}

export interface CleanResult {
  segmentsCleaned: number;
  recordsRemoved: number;
  bytesBefore: number;
  bytesAfter: number;
}

const keyOf = (key: Buffer) => key.toString('latin1');

/**
 * Log compaction for cleanup.policy=compact: keeps the latest record per key (and drops tombstones once
 * older than delete.retention.ms), keeping offsets, so gaps appear. One pass: (1) map each key of the
 * not-yet-cleaned ("dirty") closed segments to its latest offset, bounded in keys; (2) rewrite every closed
 * segment up to there, batch by batch, leaving untouched batches byte for byte as they were. The pass
 * yields to the event loop between batches, so produce and fetch go on; segment swaps are crash-safe.
 */
export class LogCleaner {
  private readonly options: CleanerOptions;

  constructor(options: CleanerOptions) {
    this.options = options;
  }

  private readCheckpoint(log: Log): number {
    const path = join(log.dir, CHECKPOINT_FILE);
    return existsSync(path) ? Number(readFileSync(path, 'utf8')) || 0 : 0;
  }

  /** Whether enough of the closed log is dirty to be worth a pass. */
  needsCleaning(log: Log): boolean {
    if (!log.config.cleanupPolicy.includes('compact')) return false;
    const closed = log.closedSegments();
    if (closed.length === 0) return false;
    const firstDirty = this.readCheckpoint(log);
    let total = 0;
    let dirty = 0;
    for (const s of closed) {
      total += s.size;
      if (s.nextOffset > firstDirty) dirty += s.size;
    }
    return total > 0 && dirty > 0 && dirty / total >= log.config.minCleanableDirtyRatio;
  }

  async clean(log: Log, now: number): Promise<CleanResult> {
    const result: CleanResult = { segmentsCleaned: 0, recordsRemoved: 0, bytesBefore: 0, bytesAfter: 0 };
    const closed = log.closedSegments();
    if (closed.length === 0) return result;
    const firstDirty = Math.max(this.readCheckpoint(log), log.logStartOffset);
    const { latest, endOffset } = await this.buildOffsetMap(closed, firstDirty);
    const deleteHorizon = now - log.config.deleteRetentionMs;
    for (const segment of closed) {
      if (segment.baseOffset >= endOffset) break;
      if (!log.closedSegments().includes(segment)) continue; // deleted by retention meanwhile
      result.bytesBefore += segment.size;
      const cleanedPath = join(log.dir, `${segmentName(segment.baseOffset)}.log.cleaned`);
      let removed: number;
      let bytes: number;
      try {
        ({ removed, bytes } = await this.rewrite(segment, cleanedPath, latest, endOffset, deleteHorizon));
        if (removed > 0) log.swapInCleaned(segment, cleanedPath);
      } catch (err) {
        // Retention or topic deletion removed the segment while it was being rewritten.
        rmSync(cleanedPath, { force: true });
        if (!log.closedSegments().includes(segment)) continue;
        throw err;
      }
      if (removed === 0) {
        rmSync(cleanedPath, { force: true });
        result.bytesAfter += segment.size;
        continue;
      }
      result.segmentsCleaned++;
      result.recordsRemoved += removed;
      result.bytesAfter += bytes;
    }
    writeFileAtomic(join(log.dir, CHECKPOINT_FILE), String(endOffset));
    return result;
  }

  /** key → latest offset over the dirty segments; stops early (and says where) when the map is full. */
  private async buildOffsetMap(closed: LogSegment[], firstDirty: number): Promise<{ latest: Map<string, number>; endOffset: number }> {
    const latest = new Map<string, number>();
    let endOffset = closed[closed.length - 1].nextOffset;
    outer: for (const segment of closed) {
      if (segment.nextOffset <= firstDirty) continue;
      let offset = Math.max(firstDirty, segment.baseOffset);
      while (offset < segment.nextOffset) {
        const read = segment.read(offset, READ_CHUNK, true);
        if (!read) break;
        const buf = read.buffer;
        for (let pos = 0; pos < buf.length; pos += LOG_OVERHEAD + buf.readInt32BE(pos + BATCH_LENGTH)) {
          const size = LOG_OVERHEAD + buf.readInt32BE(pos + BATCH_LENGTH);
          const batch = buf.subarray(pos, pos + size);
          const h = readBatchHeader(batch);
          if (latest.size >= this.options.maxKeysPerPass) {
            // Memory bound reached: this pass cleans up to here; the next pass continues.
            endOffset = Math.min(endOffset, segment.baseOffset);
            break outer;
          }
          if (!isControlBatch(h.attributes)) forEachRecord(batch, (r) => r.key && latest.set(keyOf(r.key), r.offset));
          offset = h.baseOffset + h.lastOffsetDelta + 1;
        }
        await yieldToEventLoop();
      }
    }
    return { latest, endOffset };
  }

  /** Writes the segment's surviving batches to cleanedPath (fsynced); returns records removed and bytes kept. */
  private async rewrite(segment: LogSegment, cleanedPath: string, latest: Map<string, number>, endOffset: number, deleteHorizon: number): Promise<{ removed: number; bytes: number }> {
    const fd = openSync(cleanedPath, 'w');
    let removed = 0;
    let bytes = 0;
    try {
      let offset = segment.baseOffset;
      while (offset < segment.nextOffset) {
        const read = segment.read(offset, READ_CHUNK, true);
        if (!read) break;
        const buf = read.buffer;
        for (let pos = 0; pos < buf.length; ) {
          const size = LOG_OVERHEAD + buf.readInt32BE(pos + BATCH_LENGTH);
          const batch = buf.subarray(pos, pos + size);
          pos += size;
          const h = readBatchHeader(batch);
          offset = h.baseOffset + h.lastOffsetDelta + 1;
          const kept: DecodedRecord[] = [];
          let total = 0;
          if (!isControlBatch(h.attributes)) {
            forEachRecord(batch, (r) => {
              total++;
              const newest = r.key ? latest.get(keyOf(r.key)) : undefined;
              const superseded = newest !== undefined && newest > r.offset;
              const expiredTombstone = r.value === null && r.offset < endOffset && r.timestamp < deleteHorizon;
              if (!superseded && !expiredTombstone) kept.push(r);
            });
          }
          if (isControlBatch(h.attributes) || kept.length === total) {
            writeSync(fd, batch); // untouched: byte for byte
            bytes += batch.length;
          } else if (kept.length > 0) {
            const rebuilt = buildRecordBatch({
              records: kept.map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp, offsetDelta: r.offset - h.baseOffset })),
              compression: compressionOf(batch.readInt16BE(ATTRIBUTES)),
              baseOffset: h.baseOffset,
              partitionLeaderEpoch: h.partitionLeaderEpoch,
              producerId: h.producerId,
              producerEpoch: h.producerEpoch,
              baseSequence: h.baseSequence,
              lastOffsetDelta: h.lastOffsetDelta,
              baseTimestamp: h.baseTimestamp,
            });
            writeSync(fd, rebuilt);
            bytes += rebuilt.length;
            removed += total - kept.length;
          } else {
            removed += total;
          }
        }
        await yieldToEventLoop();
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return { removed, bytes };
  }
}
