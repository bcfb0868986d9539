import { closeSync, fdatasync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { encodedFrameBytes, readFrame, writeFrame, type BufferedRecord, type FileMark, type NewRecord } from './buffer-frame.ts';

interface Segment {
  baseSeq: number;
  path: string;
  fd: number;
  size: number;
  /** Highest seq in the segment, or baseSeq - 1 while empty. */
  lastSeq: number;
}

export interface DiskBufferOptions {
  maxBytes: number;
  segmentBytes: number;
  /** Everything up to this seq was acknowledged by the broker (from the agent's state file). */
  ackedSeq: number;
}

export interface RecoveredBuffer {
  records: number;
  bytes: number;
  /** Per tailed file, the furthest position already in the buffer: tailing resumes after it. */
  marks: Map<string, number>;
  truncatedBytes: number;
}

const SEGMENT_SUFFIX = '.buf';
const READ_CHUNK = 1 << 20;

/**
 * The agent's write-ahead buffer: every record goes to disk before it is shipped, so a broker outage or
 * an agent crash loses nothing that was read. Records are appended to segment files and read back in
 * order by the shipper; segments are deleted once the broker acknowledged every record in them.
 * Bounded: `full` tells sources to stop reading (files) or to drop by policy (metrics).
 */
export class DiskBuffer {
  private readonly segments: Segment[] = [];
  private nextSeq: number;
  private ackedSeq: number;
  private unackedBytes = 0;
  private unackedRecords = 0;
  /** The shipper's read cursor: segment index and byte offset. */
  private readSegment = 0;
  private readOffset = 0;
  private scratch = Buffer.allocUnsafe(64 << 10);
  private readBuf = Buffer.allocUnsafe(READ_CHUNK);
  private syncing = false;
  private readonly dir: string;
  private readonly options: DiskBufferOptions;

  private constructor(
    dir: string,
    options: DiskBufferOptions,
  ) {
    this.dir = dir;
    this.options = options;
    this.ackedSeq = options.ackedSeq;
    this.nextSeq = options.ackedSeq + 1;
  }

  /** Opens the buffer, cutting a torn tail left by a crash and skipping what was already acknowledged. */
  static open(dir: string, options: DiskBufferOptions): { buffer: DiskBuffer; recovered: RecoveredBuffer } {
    mkdirSync(dir, { recursive: true });
    const buffer = new DiskBuffer(dir, options);
    const recovered = buffer.recover();
    return { buffer, recovered };
  }

  private recover(): RecoveredBuffer {
    const names = readdirSync(this.dir).filter((n) => n.endsWith(SEGMENT_SUFFIX)).sort((a, b) => Number.parseInt(a) - Number.parseInt(b));
    const marks = new Map<string, number>();
    let truncatedBytes = 0;
    for (const name of names) {
      const path = join(this.dir, name);
      const fd = openSync(path, 'r+');
      const size = fstatSync(fd).size;
      const segment: Segment = { baseSeq: Number.parseInt(name), path, fd, size, lastSeq: Number.parseInt(name) - 1 };
      let offset = 0;
      let carry = Buffer.alloc(0);
      // Walk frames chunk by chunk; a frame may straddle chunks, so unread bytes carry over.
      for (;;) {
        const chunk = this.readAt(fd, offset + carry.length, READ_CHUNK);
        const data = carry.length ? Buffer.concat([carry, chunk]) : chunk;
        if (data.length === 0) break;
        let at = 0;
        let stop = false;
        for (;;) {
          const frame = readFrame(data, at);
          if ('record' in frame) {
            const r = frame.record;
            segment.lastSeq = r.seq;
            if (r.seq > this.ackedSeq) {
              this.unackedBytes += r.frameBytes;
              this.unackedRecords++;
              if (r.mark) marks.set(r.mark.file, Math.max(marks.get(r.mark.file) ?? 0, r.mark.position));
            }
            at = frame.end;
            continue;
          }
          if ('corrupt' in frame || chunk.length === 0) stop = true;
          break;
        }
        offset += at;
        carry = Buffer.from(data.subarray(at));
        if (stop || chunk.length === 0) break;
      }
      if (offset < size) {
        // A crash mid-write leaves a partial frame at the end: cut it, it was never acknowledged to anyone.
        truncatedBytes += size - offset;
        ftruncateSync(fd, offset);
        segment.size = offset;
      }
      this.nextSeq = Math.max(this.nextSeq, segment.lastSeq + 1);
      this.segments.push(segment);
    }
    // Fully acknowledged leading segments are garbage; the read cursor starts at the first unacknowledged record.
    while (this.segments.length > 0 && this.segments[0].lastSeq <= this.ackedSeq) {
      const s = this.segments.shift()!;
      closeSync(s.fd);
      rmSync(s.path, { force: true });
    }
    this.readSegment = 0;
    this.readOffset = this.segments.length > 0 ? this.findOffsetOf(0, this.ackedSeq + 1) : 0;
    return { records: this.unackedRecords, bytes: this.unackedBytes, marks, truncatedBytes };
  }

  /** The byte offset of the first frame with seq ≥ `seq` in segment `index` (recovery only). */
  private findOffsetOf(index: number, seq: number): number {
    const s = this.segments[index];
    const data = this.readAt(s.fd, 0, s.size);
    let at = 0;
    for (;;) {
      const frame = readFrame(data, at);
      if (!('record' in frame) || frame.record.seq >= seq) return at;
      at = frame.end;
    }
  }

  private readAt(fd: number, position: number, length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    return out.subarray(0, this.readInto(fd, out, length, position));
  }

  get bytes(): number {
    return this.unackedBytes;
  }

  get records(): number {
    return this.unackedRecords;
  }

  get full(): boolean {
    return this.unackedBytes >= this.options.maxBytes;
  }

  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  /**
   * Appends records in one write and returns their sequence numbers' range. The caller checks `full`
   * first; a single append may overshoot the bound by one batch, which keeps sources simple.
   */
  append(records: NewRecord[]): { firstSeq: number; lastSeq: number } {
    let total = 0;
    for (const r of records) total += encodedFrameBytes(r);
    if (this.scratch.length < total) this.scratch = Buffer.allocUnsafe(Math.max(total, this.scratch.length * 2));
    let segment = this.activeSegment();
    if (segment.size > 0 && segment.size + total > this.options.segmentBytes) segment = this.roll();
    const firstSeq = this.nextSeq;
    let end = 0;
    for (const r of records) end = writeFrame(this.scratch, end, this.nextSeq++, r);
    let written = 0;
    while (written < end) written += writeSync(segment.fd, this.scratch, written, end - written, segment.size + written);
    segment.size += end;
    segment.lastSeq = this.nextSeq - 1;
    this.unackedBytes += end;
    this.unackedRecords += records.length;
    return { firstSeq, lastSeq: this.nextSeq - 1 };
  }

  private activeSegment(): Segment {
    return this.segments.at(-1) ?? this.roll();
  }

  private roll(): Segment {
    const baseSeq = this.nextSeq;
    const path = join(this.dir, `${String(baseSeq).padStart(20, '0')}${SEGMENT_SUFFIX}`);
    const fd = openSync(path, 'w+');
    const segment: Segment = { baseSeq, path, fd, size: 0, lastSeq: baseSeq - 1 };
    this.segments.push(segment);
    return segment;
  }

  /** Reads the next records after the read cursor, in order, up to the limits (at least one record). */
  read(maxRecords: number, maxBytes: number): BufferedRecord[] {
    const out: BufferedRecord[] = [];
    let bytes = 0;
    let minRead = 64 << 10;
    while (out.length < maxRecords && this.readSegment < this.segments.length) {
      const s = this.segments[this.readSegment];
      if (this.readOffset >= s.size) {
        if (this.readSegment === this.segments.length - 1) break;
        this.readSegment++;
        this.readOffset = 0;
        continue;
      }
      const want = Math.min(s.size - this.readOffset, Math.max(maxBytes - bytes, minRead));
      if (this.readBuf.length < want) this.readBuf = Buffer.allocUnsafe(want);
      const data = this.readBuf.subarray(0, this.readInto(s.fd, this.readBuf, want, this.readOffset));
      let at = 0;
      let frameTooBig = false;
      while (out.length < maxRecords) {
        const frame = readFrame(data, at);
        if (!('record' in frame)) {
          if ('corrupt' in frame) throw new Error(`disk buffer ${s.path} is corrupt at byte ${this.readOffset + at}: ${frame.corrupt}`);
          // A frame larger than this read: read at least that much next time round.
          if (at === 0) {
            minRead = data.readUInt32BE(0) + 4;
            frameTooBig = true;
          }
          break;
        }
        if (out.length > 0 && bytes + frame.record.frameBytes > maxBytes) break;
        out.push(frame.record);
        bytes += frame.record.frameBytes;
        at = frame.end;
      }
      this.readOffset += at;
      if (frameTooBig) continue;
      if (bytes >= maxBytes || at === 0 || at < data.length) break;
    }
    return out;
  }

  private readInto(fd: number, buf: Buffer, length: number, position: number): number {
    let got = 0;
    while (got < length) {
      const n = readSync(fd, buf, got, length - got, position + got);
      if (n === 0) break;
      got += n;
    }
    return got;
  }

  /** The broker acknowledged every record up to `seq` (they were read, in order): free their space. */
  ack(records: BufferedRecord[]): void {
    for (const r of records) {
      if (r.seq <= this.ackedSeq) continue;
      this.unackedBytes -= r.frameBytes;
      this.unackedRecords--;
      this.ackedSeq = r.seq;
    }
    this.dropAckedSegments();
  }

  get acknowledgedSeq(): number {
    return this.ackedSeq;
  }

  private dropAckedSegments(): void {
    // Only segments the read cursor has left behind; the active one stays open for appends.
    while (this.readSegment > 0 && this.segments[0].lastSeq <= this.ackedSeq) {
      const s = this.segments.shift()!;
      closeSync(s.fd);
      rmSync(s.path, { force: true });
      this.readSegment--;
    }
  }

  /** Flushes the active segment to disk on the thread pool; overlapping calls coalesce. */
  sync(): Promise<void> {
    const s = this.segments.at(-1);
    if (!s || this.syncing) return Promise.resolve();
    this.syncing = true;
    return new Promise((resolve) => {
      fdatasync(s.fd, () => {
        this.syncing = false;
        resolve();
      });
    });
  }

  close(): void {
    for (const s of this.segments) closeSync(s.fd);
    this.segments.length = 0;
  }
}

export type { BufferedRecord, FileMark, NewRecord };
