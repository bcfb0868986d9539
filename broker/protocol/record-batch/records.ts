import { crc32c } from '@node-rs/crc32';
import { ATTRIBUTES, BATCH_LENGTH, BASE_TIMESTAMP, CONTROL_MASK, CRC, HEADER_SIZE, LOG_OVERHEAD, RECORD_COUNT, TIMESTAMP_TYPE_MASK, TRANSACTIONAL_MASK, compressionOf, readBatchHeader, readInt64, writeInt64 } from './batch-header.ts';
import { compress, decompress } from './compression.ts';
import { readVarint, varintSize, writeVarint } from './varint.ts';

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface DecodedRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

/**
 * Decodes the records of one batch (decompressing when needed). Only for the places that must look inside:
 * timestamps for ListOffsets, keys for compaction, internal topics, tests. The hot paths never call it.
 */
export function forEachRecord(batch: Buffer, fn: (record: DecodedRecord) => void): void {
  const h = readBatchHeader(batch, 0);
  const end = LOG_OVERHEAD + h.batchLength;
  const data = decompress(compressionOf(h.attributes), batch.subarray(HEADER_SIZE, end));
  let pos = 0;
  for (let i = 0; i < h.recordCount; i++) {
    let length: number;
    [length, pos] = readVarint(data, pos);
    const recordEnd = pos + length;
    if (recordEnd > data.length) throw new RangeError('record runs past the end of its batch');
    pos += 1; // attributes (unused)
    let timestampDelta: number, offsetDelta: number, keyLength: number, valueLength: number, headerCount: number;
    [timestampDelta, pos] = readVarint(data, pos);
    [offsetDelta, pos] = readVarint(data, pos);
    [keyLength, pos] = readVarint(data, pos);
    const key = keyLength < 0 ? null : data.subarray(pos, pos + keyLength);
    pos += Math.max(0, keyLength);
    [valueLength, pos] = readVarint(data, pos);
    const value = valueLength < 0 ? null : data.subarray(pos, pos + valueLength);
    pos += Math.max(0, valueLength);
    [headerCount, pos] = readVarint(data, pos);
    const headers: RecordHeader[] = [];
    for (let j = 0; j < headerCount; j++) {
      let hk: number, hv: number;
      [hk, pos] = readVarint(data, pos);
      const hkey = data.toString('utf8', pos, pos + hk);
      pos += hk;
      [hv, pos] = readVarint(data, pos);
      headers.push({ key: hkey, value: hv < 0 ? null : data.subarray(pos, pos + hv) });
      pos += Math.max(0, hv);
    }
    if (pos !== recordEnd) throw new RangeError('record length does not match its fields');
    fn({ offset: h.baseOffset + offsetDelta, timestamp: h.baseTimestamp + timestampDelta, key, value, headers });
  }
}

export function decodeRecords(batch: Buffer): DecodedRecord[] {
  const out: DecodedRecord[] = [];
  forEachRecord(batch, (r) => out.push(r));
  return out;
}

export interface RecordToBuild {
  key: Buffer | null;
  value: Buffer | null;
  headers?: RecordHeader[];
  timestamp?: number;
  /** Offset relative to the batch's base; defaults to the record's index (the cleaner keeps gaps). */
  offsetDelta?: number;
}

export interface BatchToBuild {
  records: RecordToBuild[];
  compression?: number;
  baseOffset?: number;
  partitionLeaderEpoch?: number;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  isTransactional?: boolean;
  isControl?: boolean;
  /** 0 CreateTime, 1 LogAppendTime */
  timestampType?: 0 | 1;
  /** Defaults to the last record's offset delta. */
  lastOffsetDelta?: number;
  baseTimestamp?: number;
}

function recordSize(r: RecordToBuild, timestampDelta: number, offsetDelta: number): number {
  let body = 1 + varintSize(timestampDelta) + varintSize(offsetDelta);
  body += r.key === null ? varintSize(-1) : varintSize(r.key.length) + r.key.length;
  body += r.value === null ? varintSize(-1) : varintSize(r.value.length) + r.value.length;
  const headers = r.headers ?? [];
  body += varintSize(headers.length);
  for (const h of headers) {
    const k = Buffer.byteLength(h.key);
    body += varintSize(k) + k + (h.value === null ? varintSize(-1) : varintSize(h.value.length) + h.value.length);
  }
  return body;
}

/** Builds a valid RecordBatch v2 (CRC32C included): for tests, load generators and internal topics. */
export function buildRecordBatch(b: BatchToBuild): Buffer {
  const now = Date.now();
  const baseTimestamp = b.baseTimestamp ?? (b.records.length > 0 ? (b.records[0].timestamp ?? now) : now);
  let maxTimestamp = baseTimestamp;
  const sizes = b.records.map((r, i) => {
    const ts = r.timestamp ?? now;
    if (ts > maxTimestamp) maxTimestamp = ts;
    return recordSize(r, ts - baseTimestamp, r.offsetDelta ?? i);
  });
  let total = 0;
  for (const s of sizes) total += varintSize(s) + s;
  let data: Buffer = Buffer.allocUnsafe(total);
  let pos = 0;
  b.records.forEach((r, i) => {
    pos = writeVarint(data, pos, sizes[i]);
    data[pos++] = 0;
    pos = writeVarint(data, pos, (r.timestamp ?? now) - baseTimestamp);
    pos = writeVarint(data, pos, r.offsetDelta ?? i);
    if (r.key === null) pos = writeVarint(data, pos, -1);
    else {
      pos = writeVarint(data, pos, r.key.length);
      pos += r.key.copy(data, pos);
    }
    if (r.value === null) pos = writeVarint(data, pos, -1);
    else {
      pos = writeVarint(data, pos, r.value.length);
      pos += r.value.copy(data, pos);
    }
    const headers = r.headers ?? [];
    pos = writeVarint(data, pos, headers.length);
    for (const h of headers) {
      const k = Buffer.from(h.key);
      pos = writeVarint(data, pos, k.length);
      pos += k.copy(data, pos);
      if (h.value === null) pos = writeVarint(data, pos, -1);
      else {
        pos = writeVarint(data, pos, h.value.length);
        pos += h.value.copy(data, pos);
      }
    }
  });
  const codec = b.compression ?? 0;
  if (codec !== 0) data = compress(codec, data);
  const batch = Buffer.alloc(HEADER_SIZE + data.length);
  writeInt64(batch, 0, b.baseOffset ?? 0);
  batch.writeInt32BE(HEADER_SIZE + data.length - LOG_OVERHEAD, BATCH_LENGTH);
  batch.writeInt32BE(b.partitionLeaderEpoch ?? -1, 12);
  batch.writeInt8(2, 16);
  let attributes = codec;
  if (b.timestampType === 1) attributes |= TIMESTAMP_TYPE_MASK;
  if (b.isTransactional) attributes |= TRANSACTIONAL_MASK;
  if (b.isControl) attributes |= CONTROL_MASK;
  batch.writeInt16BE(attributes, ATTRIBUTES);
  const lastDelta = b.lastOffsetDelta ?? (b.records.length > 0 ? (b.records[b.records.length - 1].offsetDelta ?? b.records.length - 1) : 0);
  batch.writeInt32BE(lastDelta, 23);
  writeInt64(batch, BASE_TIMESTAMP, baseTimestamp);
  writeInt64(batch, 35, maxTimestamp);
  writeInt64(batch, 43, b.producerId ?? -1);
  batch.writeInt16BE(b.producerEpoch ?? -1, 51);
  batch.writeInt32BE(b.baseSequence ?? -1, 53);
  batch.writeInt32BE(b.records.length, RECORD_COUNT);
  data.copy(batch, HEADER_SIZE);
  batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES)) >>> 0, CRC);
  return batch;
}

export { readInt64 };
