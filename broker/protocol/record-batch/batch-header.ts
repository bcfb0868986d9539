/**
 * RecordBatch v2 header layout (Kafka implementation docs, 5.3.1). Everything from `attributes` to the end
 * of the batch is covered by the CRC32C; baseOffset, batchLength, partitionLeaderEpoch and magic are not,
 * which is what lets the broker stamp offsets and epochs into a stored batch without re-encoding it.
 */
export const BASE_OFFSET = 0;
export const BATCH_LENGTH = 8;
export const PARTITION_LEADER_EPOCH = 12;
export const MAGIC = 16;
export const CRC = 17;
export const ATTRIBUTES = 21;
export const LAST_OFFSET_DELTA = 23;
export const BASE_TIMESTAMP = 27;
export const MAX_TIMESTAMP = 35;
export const PRODUCER_ID = 43;
export const PRODUCER_EPOCH = 51;
export const BASE_SEQUENCE = 53;
export const RECORD_COUNT = 57;
export const RECORDS = 61;
export const HEADER_SIZE = 61;
/** Bytes before the part counted by batchLength (baseOffset + batchLength). */
export const LOG_OVERHEAD = 12;

export const COMPRESSION_MASK = 0x07;
export const TIMESTAMP_TYPE_MASK = 0x08;
export const TRANSACTIONAL_MASK = 0x10;
export const CONTROL_MASK = 0x20;

export interface BatchHeader {
  baseOffset: number;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

export function readInt64(buf: Buffer, pos: number): number {
  return buf.readInt32BE(pos) * 4294967296 + buf.readUInt32BE(pos + 4);
}

export function writeInt64(buf: Buffer, pos: number, v: number): void {
  const hi = Math.floor(v / 4294967296);
  buf.writeInt32BE(hi, pos);
  buf.writeUInt32BE(v - hi * 4294967296, pos + 4);
}

/** Reads the header of the batch at `pos`; the caller has checked that HEADER_SIZE bytes are there. */
export function readBatchHeader(buf: Buffer, pos = 0): BatchHeader {
  return {
    baseOffset: readInt64(buf, pos + BASE_OFFSET),
    batchLength: buf.readInt32BE(pos + BATCH_LENGTH),
    partitionLeaderEpoch: buf.readInt32BE(pos + PARTITION_LEADER_EPOCH),
    magic: buf.readInt8(pos + MAGIC),
    crc: buf.readUInt32BE(pos + CRC),
    attributes: buf.readInt16BE(pos + ATTRIBUTES),
    lastOffsetDelta: buf.readInt32BE(pos + LAST_OFFSET_DELTA),
    baseTimestamp: readInt64(buf, pos + BASE_TIMESTAMP),
    maxTimestamp: readInt64(buf, pos + MAX_TIMESTAMP),
    producerId: readInt64(buf, pos + PRODUCER_ID),
    producerEpoch: buf.readInt16BE(pos + PRODUCER_EPOCH),
    baseSequence: buf.readInt32BE(pos + BASE_SEQUENCE),
    recordCount: buf.readInt32BE(pos + RECORD_COUNT),
  };
}

export function compressionOf(attributes: number): number {
  return attributes & COMPRESSION_MASK;
}

export function isControlBatch(attributes: number): boolean {
  return (attributes & CONTROL_MASK) !== 0;
}

export function isTransactionalBatch(attributes: number): boolean {
  return (attributes & TRANSACTIONAL_MASK) !== 0;
}

/** Total size of the batch at pos (its batchLength plus the 12 bytes before it). */
export function batchSize(buf: Buffer, pos: number): number {
  return LOG_OVERHEAD + buf.readInt32BE(pos + BATCH_LENGTH);
}

/** Offset of the last record of the batch at pos. */
export function lastOffsetOf(buf: Buffer, pos: number): number {
  return readInt64(buf, pos + BASE_OFFSET) + buf.readInt32BE(pos + LAST_OFFSET_DELTA);
}
