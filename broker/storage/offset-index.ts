import { closeSync, openSync, readFileSync, writeSync, ftruncateSync, fsyncSync } from 'node:fs';

/**
 * A segment's sparse offset index (`.index`): 8-byte entries of (offset relative to the segment's base,
 * byte position in the .log), one every index.interval.bytes of appended data. Held in memory as typed
 * arrays for binary search and appended to its file. It is derived data: recovery rebuilds it from the log.
 */
export class OffsetIndex {
  readonly path: string;
  private fd: number;
  private relOffsets: Int32Array;
  private positions: Int32Array;
  private count = 0;

  constructor(path: string, fd: number, rel: Int32Array, pos: Int32Array, count: number) {
    this.path = path;
    this.fd = fd;
    this.relOffsets = rel;
    this.positions = pos;
    this.count = count;
  }

  /** Opens (or creates) the index; `trust` false empties it so the caller rebuilds it. */
  static open(path: string, trust: boolean): OffsetIndex {
    const fd = openSync(path, 'a+');
    let count = 0;
    let rel = new Int32Array(1024);
    let pos = new Int32Array(1024);
    if (trust) {
      const data = readFileSync(path);
      count = Math.floor(data.length / 8);
      rel = new Int32Array(Math.max(1024, count * 2));
      pos = new Int32Array(Math.max(1024, count * 2));
      for (let i = 0; i < count; i++) {
        rel[i] = data.readInt32BE(i * 8);
        pos[i] = data.readInt32BE(i * 8 + 4);
      }
    } else {
      ftruncateSync(fd, 0);
    }
    return new OffsetIndex(path, fd, rel, pos, count);
  }

  get entries(): number {
    return this.count;
  }

  append(relativeOffset: number, position: number): void {
    if (this.count > 0 && relativeOffset <= this.relOffsets[this.count - 1]) return;
    if (this.count === this.relOffsets.length) {
      const rel = new Int32Array(this.count * 2);
      rel.set(this.relOffsets);
      const pos = new Int32Array(this.count * 2);
      pos.set(this.positions);
      this.relOffsets = rel;
      this.positions = pos;
    }
    this.relOffsets[this.count] = relativeOffset;
    this.positions[this.count] = position;
    this.count++;
    const entry = Buffer.allocUnsafe(8);
    entry.writeInt32BE(relativeOffset, 0);
    entry.writeInt32BE(position, 4);
    writeSync(this.fd, entry);
  }

  /** Position of the last indexed batch starting at or before relativeOffset (0 when none is). */
  lookup(relativeOffset: number): number {
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.relOffsets[mid] <= relativeOffset) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? 0 : this.positions[found];
  }

  /** Drops entries at or after the given byte position (the log was truncated there). */
  truncateToPosition(position: number): void {
    let n = this.count;
    while (n > 0 && this.positions[n - 1] >= position) n--;
    if (n === this.count) return;
    this.count = n;
    ftruncateSync(this.fd, n * 8);
  }

  flush(): void {
    fsyncSync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
  }
}
