import { crc32c } from '@node-rs/crc32';
import { ErrorCode } from '../error-codes.ts';
import { ATTRIBUTES, BATCH_LENGTH, BASE_SEQUENCE, CRC, HEADER_SIZE, LAST_OFFSET_DELTA, LOG_OVERHEAD, MAGIC, MAX_TIMESTAMP, PRODUCER_EPOCH, PRODUCER_ID, RECORD_COUNT, compressionOf, readInt64 } from './batch-header.ts';

export class CorruptRecordError extends Error {
  readonly code = ErrorCode.CORRUPT_MESSAGE;
  override name = 'CorruptRecordError';
}
export class RecordTooLargeError extends Error {
  readonly code = ErrorCode.MESSAGE_TOO_LARGE;
  override name = 'RecordTooLargeError';
}
export class UnsupportedMessageFormatError extends Error {
  readonly code = ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT;
  override name = 'UnsupportedMessageFormatError';
}
export class InvalidRecordError extends Error {
  readonly code = ErrorCode.INVALID_RECORD;
  override name = 'InvalidRecordError';
}

/** What the log needs to know about a run of batches, gathered without decoding a single record. */
export interface BatchSummary {
  batchCount: number;
  /** Offsets the batches take: the sum of lastOffsetDelta + 1. */
  offsetCount: number;
  recordCount: number;
  maxTimestamp: number;
  /** Offset delta (from the first batch's first offset) of the record holding maxTimestamp's batch end. */
  maxTimestampOffsetDelta: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  /** Start position of each batch. */
  positions: Uint32Array;
}

/**
 * Checks every batch in `records` (a Produce payload may carry several, back to back): sizes, magic 2,
 * CRC32C (native, SIMD where the CPU has it), counts. Throws the error whose Kafka code the client should see.
 */
export function validateBatches(records: Buffer, maxBatchBytes: number): BatchSummary {
  let pos = 0;
  let batchCount = 0;
  let offsetCount = 0;
  let recordCount = 0;
  let maxTimestamp = -1;
  let maxTimestampOffsetDelta = 0;
  const positions: number[] = [];
  while (pos < records.length) {
    if (records.length - pos < HEADER_SIZE) {
      if (records.length - pos >= MAGIC + 1 && records[pos + MAGIC] !== 2) {
        throw new UnsupportedMessageFormatError(`message format v${records[pos + MAGIC]} is not supported; use RecordBatch v2`);
      }
      throw new CorruptRecordError(`truncated batch header at byte ${pos}: ${records.length - pos} bytes`);
    }
    const magic = records.readInt8(pos + MAGIC);
    if (magic !== 2) throw new UnsupportedMessageFormatError(`message format v${magic} is not supported; use RecordBatch v2 (Kafka 0.11+ clients)`);
    const batchLength = records.readInt32BE(pos + BATCH_LENGTH);
    const size = LOG_OVERHEAD + batchLength;
    if (batchLength < HEADER_SIZE - LOG_OVERHEAD) throw new CorruptRecordError(`batch length ${batchLength} is smaller than a batch header`);
    if (pos + size > records.length) throw new CorruptRecordError(`batch at byte ${pos} claims ${size} bytes, only ${records.length - pos} present`);
    if (size > maxBatchBytes) throw new RecordTooLargeError(`batch of ${size} bytes exceeds max.message.bytes (${maxBatchBytes})`);
    const expected = records.readUInt32BE(pos + CRC);
    const actual = crc32c(records.subarray(pos + ATTRIBUTES, pos + size)) >>> 0;
    if (expected !== actual) throw new CorruptRecordError(`batch at byte ${pos} fails its CRC32C check`);
    const lastOffsetDelta = records.readInt32BE(pos + LAST_OFFSET_DELTA);
    const count = records.readInt32BE(pos + RECORD_COUNT);
    if (lastOffsetDelta < 0 || count < 0 || (count > 0 && lastOffsetDelta < count - 1)) {
      throw new InvalidRecordError(`batch at byte ${pos} has lastOffsetDelta ${lastOffsetDelta} and ${count} records`);
    }
    if (compressionOf(records.readInt16BE(pos + ATTRIBUTES)) > 4) throw new CorruptRecordError(`unknown compression codec in batch at byte ${pos}`);
    const ts = readInt64(records, pos + MAX_TIMESTAMP);
    if (ts >= maxTimestamp) {
      maxTimestamp = ts;
      maxTimestampOffsetDelta = offsetCount + lastOffsetDelta;
    }
    positions.push(pos);
    offsetCount += lastOffsetDelta + 1;
    recordCount += count;
    batchCount++;
    pos += size;
  }
  if (batchCount === 0) throw new CorruptRecordError('no record batch in the request');
  return {
    batchCount,
    offsetCount,
    recordCount,
    maxTimestamp,
    maxTimestampOffsetDelta,
    producerId: readInt64(records, PRODUCER_ID),
    producerEpoch: records.readInt16BE(PRODUCER_EPOCH),
    baseSequence: records.readInt32BE(BASE_SEQUENCE),
    positions: Uint32Array.from(positions),
  };
}
