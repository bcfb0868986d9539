import { crc32c } from '@node-rs/crc32';

/** Where a tailed record ended in its file: the agent resumes there after a restart. */
export interface FileMark {
  file: string;
  position: number;
}

/** One record waiting in the disk buffer for the broker to acknowledge it. */
export interface BufferedRecord {
  /** The agent's own sequence number: increasing, never reused; shipped as a header to detect duplicates. */
  seq: number;
  timestamp: number;
  topic: string;
  key: string;
  value: Buffer;
  mark?: FileMark;
  /** Bytes the record takes in the buffer, frame included. */
  frameBytes: number;
}

export type NewRecord = Omit<BufferedRecord, 'seq' | 'frameBytes'>;

/**
 * Frame: length (u32, of what follows), CRC-32C of the payload (u32), payload. Payload: seq (f64),
 * timestamp (f64), topic (u8 length + UTF-8), key (u16 + UTF-8), mark file (u16 + UTF-8, empty when
 * none), mark position (f64), value (u32 + bytes). A torn or corrupt frame ends the readable log.
 */
export const FRAME_HEADER_BYTES = 8;
const FIXED_PAYLOAD_BYTES = 8 + 8 + 1 + 2 + 2 + 8 + 4;

export function encodedFrameBytes(r: NewRecord): number {
  return FRAME_HEADER_BYTES + FIXED_PAYLOAD_BYTES + Buffer.byteLength(r.topic) + Buffer.byteLength(r.key) + (r.mark ? Buffer.byteLength(r.mark.file) : 0) + r.value.length;
}

/** Writes the frame of `r` at `at` in `out` (which has room for encodedFrameBytes(r)); returns the end. */
export function writeFrame(out: Buffer, at: number, seq: number, r: NewRecord): number {
  let p = at + FRAME_HEADER_BYTES;
  p = out.writeDoubleBE(seq, p);
  p = out.writeDoubleBE(r.timestamp, p);
  const topicLen = out.write(r.topic, p + 1);
  if (topicLen > 255) throw new RangeError(`topic name too long for the buffer: ${r.topic}`);
  out.writeUInt8(topicLen, p);
  p += 1 + topicLen;
  const keyLen = out.write(r.key, p + 2);
  out.writeUInt16BE(keyLen, p);
  p += 2 + keyLen;
  const fileLen = r.mark ? out.write(r.mark.file, p + 2) : 0;
  out.writeUInt16BE(fileLen, p);
  p += 2 + fileLen;
  p = out.writeDoubleBE(r.mark ? r.mark.position : -1, p);
  p = out.writeUInt32BE(r.value.length, p);
  p += r.value.copy(out, p);
  out.writeUInt32BE(p - at - 4, at);
  out.writeUInt32BE(crc32c(out.subarray(at + FRAME_HEADER_BYTES, p)), at + 4);
  return p;
}

export type FrameRead = { record: BufferedRecord; end: number } | { incomplete: true } | { corrupt: string };

/** Reads the frame at `at` in `buf`. `value` is a copy, so `buf` may be reused. */
export function readFrame(buf: Buffer, at: number): FrameRead {
  if (buf.length - at < FRAME_HEADER_BYTES) return { incomplete: true };
  const length = buf.readUInt32BE(at);
  if (length < 4 + FIXED_PAYLOAD_BYTES) return { corrupt: `frame length ${length} is too small` };
  const end = at + 4 + length;
  if (end > buf.length) return { incomplete: true };
  const payload = buf.subarray(at + FRAME_HEADER_BYTES, end);
  if (crc32c(payload) !== buf.readUInt32BE(at + 4)) return { corrupt: 'checksum mismatch' };
  let p = 0;
  const seq = payload.readDoubleBE(p);
  const timestamp = payload.readDoubleBE(p + 8);
  p += 16;
  const topicLen = payload.readUInt8(p);
  const topic = payload.toString('utf8', p + 1, p + 1 + topicLen);
  p += 1 + topicLen;
  const keyLen = payload.readUInt16BE(p);
  const key = payload.toString('utf8', p + 2, p + 2 + keyLen);
  p += 2 + keyLen;
  const fileLen = payload.readUInt16BE(p);
  const file = fileLen > 0 ? payload.toString('utf8', p + 2, p + 2 + fileLen) : '';
  p += 2 + fileLen;
  const position = payload.readDoubleBE(p);
  p += 8;
  const valueLen = payload.readUInt32BE(p);
  p += 4;
  if (p + valueLen !== payload.length) return { corrupt: 'value length does not match the frame' };
  const value = Buffer.from(payload.subarray(p, p + valueLen));
  const record: BufferedRecord = { seq, timestamp, topic, key, value, frameBytes: end - at };
  if (fileLen > 0) record.mark = { file, position };
  return { record, end };
}
