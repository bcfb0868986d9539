import { closeSync, openSync, readFileSync, writeSync, ftruncateSync, fsyncSync } from 'node:fs';

/**
 * A segment's time index (`.timeindex`): 12-byte entries of (max timestamp so far, relative offset of the
 * batch that reached it), appended only when the timestamp grows, so timestamps are monotonic and binary
 * search finds where to start scanning for "the first offset at or after time T".
 */
export class TimeIndex {
  readonly path: string;
  private fd: number;
  private timestamps: Float64Array;
  private relOffsets: Int32Array;
  private count: number;

  constructor(path: string, fd: number, ts: Float64Array, rel: Int32Array, count: number) {
    this.path = path;
    this.fd = fd;
    this.timestamps = ts;
    this.relOffsets = rel;
    this.count = count;
  }

  static open(path: string, trust: boolean): TimeIndex {
    const fd = openSync(path, 'a+');
    let count = 0;
    let ts = new Float64Array(256);
    let rel = new Int32Array(256);
    if (trust) {
      const data = readFileSync(path);
      count = Math.floor(data.length / 12);
      ts = new Float64Array(Math.max(256, count * 2));
      rel = new Int32Array(Math.max(256, count * 2));
      for (let i = 0; i < count; i++) {
        ts[i] = Number(data.readBigInt64BE(i * 12));
        rel[i] = data.readInt32BE(i * 12 + 8);
      }
    } else {
      ftruncateSync(fd, 0);
    }
    return new TimeIndex(path, fd, ts, rel, count);
  }

  /** Largest timestamp indexed so far (-1 when empty). */
  get maxTimestamp(): number {
    return this.count === 0 ? -1 : this.timestamps[this.count - 1];
  }

  /** The relative offset of the batch that holds maxTimestamp. */
  get maxTimestampRelativeOffset(): number {
    return this.count === 0 ? -1 : this.relOffsets[this.count - 1];
  }

  maybeAppend(timestamp: number, relativeOffset: number): void {
    if (timestamp <= this.maxTimestamp) return;
    if (this.count === this.timestamps.length) {
      const ts = new Float64Array(this.count * 2);
      ts.set(this.timestamps);
      const rel = new Int32Array(this.count * 2);
      rel.set(this.relOffsets);
      this.timestamps = ts;
      this.relOffsets = rel;
    }
    this.timestamps[this.count] = timestamp;
    this.relOffsets[this.count] = relativeOffset;
    this.count++;
    const entry = Buffer.allocUnsafe(12);
    entry.writeBigInt64BE(BigInt(timestamp), 0);
    entry.writeInt32BE(relativeOffset, 8);
    writeSync(this.fd, entry);
  }

  /**
   * A relative offset from which scanning forward finds the first batch with max timestamp >= target:
   * the entry before the first entry reaching target (batches in between may hold later timestamps).
   */
  lookup(target: number): number {
    let lo = 0;
    let hi = this.count - 1;
    let first = this.count;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.timestamps[mid] >= target) {
        first = mid;
        hi = mid - 1;
      } else lo = mid + 1;
    }
    return first === 0 || this.count === 0 ? 0 : this.relOffsets[first - 1];
  }

  truncateToRelativeOffset(relativeOffset: number): void {
    let n = this.count;
    while (n > 0 && this.relOffsets[n - 1] >= relativeOffset) n--;
    if (n === this.count) return;
    this.count = n;
    ftruncateSync(this.fd, n * 12);
  }

  flush(): void {
    fsyncSync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
  }
}
