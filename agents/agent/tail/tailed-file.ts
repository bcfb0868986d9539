import { open, type FileHandle } from 'node:fs/promises';
import { FINGERPRINT_BYTES, fingerprintOf, type Fingerprint } from './file-fingerprint.ts';

/** Receives each complete line with its byte range in the file (end is after the newline). */
export type LineHandler = (text: string, start: number, end: number) => void;

export type PollOutcome = 'data' | 'eof' | 'truncated';

const NEWLINE = 0x0a;
const CR = 0x0d;

/**
 * One open file being tailed, by identity (the handle follows the inode through renames and deletion).
 * Reads from `position`, splits lines, keeps a partial last line for the next read, and notices
 * truncation (copytruncate): the file shrank, or its first bytes changed.
 */
export class TailedFile {
  /** Next byte to read. Lines before `lineStart` were handed out; bytes from it are the partial line. */
  position: number;
  private lineStart: number;
  private partial: Buffer | null = null;
  private lastSize = -1;
  size = 0;
  /** Set when the path no longer names this file (renamed away or deleted): read to the end, then close. */
  detachedAt: number | null = null;
  lastGrowthAt: number;

  readonly key: string;

  path: string;
  private readonly handle: FileHandle;
  fingerprint: Fingerprint;
  private readonly maxLineBytes: number;

  private constructor(
    key: string,
    path: string,
    handle: FileHandle,
    fingerprint: Fingerprint,
    position: number,
    now: number,
    maxLineBytes: number,
  ) {
    this.key = key;
    this.path = path;
    this.handle = handle;
    this.fingerprint = fingerprint;
    this.maxLineBytes = maxLineBytes;
    this.position = position;
    this.lineStart = position;
    this.lastGrowthAt = now;
  }

  static async open(key: string, path: string, position: number, now: number, maxLineBytes: number): Promise<TailedFile> {
    const handle = await open(path, 'r');
    const fingerprint = await fingerprintOf(handle, FINGERPRINT_BYTES);
    return new TailedFile(key, path, handle, fingerprint, position, now, maxLineBytes);
  }

  /** Opens an already-open handle's file (from a directory scan by inode). */
  static async fromHandle(key: string, path: string, handle: FileHandle, fingerprint: Fingerprint, position: number, now: number, maxLineBytes: number): Promise<TailedFile> {
    return new TailedFile(key, path, handle, fingerprint, position, now, maxLineBytes);
  }

  /** The position from which a restart must re-read: the start of the partial line. */
  get checkpointPosition(): number {
    return this.lineStart;
  }

  /** Checks size and identity; resets to the start if the file was truncated or rewritten in place. */
  async refresh(now: number): Promise<'truncated' | 'ok'> {
    const st = await this.handle.stat();
    this.size = st.size;
    if (st.size === this.lastSize) return 'ok';
    const grew = st.size > this.lastSize;
    this.lastSize = st.size;
    if (grew) this.lastGrowthAt = now;
    let truncated = st.size < this.position;
    if (!truncated && this.fingerprint.bytes > 0) {
      const now2 = await fingerprintOf(this.handle, this.fingerprint.bytes);
      truncated = now2.hash !== this.fingerprint.hash;
    }
    if (truncated) {
      this.position = 0;
      this.lineStart = 0;
      this.partial = null;
      this.fingerprint = await fingerprintOf(this.handle, FINGERPRINT_BYTES);
      this.lastGrowthAt = now;
      return 'truncated';
    }
    if (this.fingerprint.bytes < FINGERPRINT_BYTES && st.size > this.fingerprint.bytes) {
      this.fingerprint = await fingerprintOf(this.handle, FINGERPRINT_BYTES);
    }
    return 'ok';
  }

  /**
   * Reads up to `chunk.length` bytes from `position` and hands every complete line to `onLine`.
   * Returns the number of bytes read (0 at the end of the file).
   */
  async readChunk(chunk: Buffer, onLine: LineHandler, onSplit: () => void): Promise<number> {
    const want = Math.min(chunk.length, this.size - this.position);
    if (want <= 0) return 0;
    const { bytesRead } = await this.handle.read(chunk, 0, want, this.position);
    if (bytesRead === 0) return 0;
    let data = chunk.subarray(0, bytesRead);
    let base = this.position;
    if (this.partial) {
      data = Buffer.concat([this.partial, data]);
      base = this.lineStart;
      this.partial = null;
    }
    let start = 0;
    for (;;) {
      const nl = data.indexOf(NEWLINE, start);
      if (nl === -1) break;
      const textEnd = nl > start && data[nl - 1] === CR ? nl - 1 : nl;
      this.emit(data, start, textEnd, base, nl + 1, onLine, onSplit);
      start = nl + 1;
    }
    // A line longer than the limit with no newline yet: ship it in pieces rather than hold it forever.
    while (data.length - start >= this.maxLineBytes) {
      onSplit();
      const end = start + this.maxLineBytes;
      onLine(data.toString('utf8', start, end), base + start, base + end);
      start = end;
    }
    this.position += bytesRead;
    this.lineStart = base + start;
    if (start < data.length) this.partial = Buffer.from(data.subarray(start));
    return bytesRead;
  }

  private emit(data: Buffer, start: number, textEnd: number, base: number, end: number, onLine: LineHandler, onSplit: () => void): void {
    if (textEnd - start <= this.maxLineBytes) {
      onLine(data.toString('utf8', start, textEnd), base + start, base + end);
      return;
    }
    onSplit();
    for (let s = start; s < textEnd; s += this.maxLineBytes) {
      const e = Math.min(textEnd, s + this.maxLineBytes);
      onLine(data.toString('utf8', s, e), base + s, e === textEnd ? base + end : base + e);
    }
  }

  /** A file that will never grow again (rotated away and quiet): its partial last line is a line too. */
  flushPartial(onLine: LineHandler): void {
    if (!this.partial) return;
    onLine(this.partial.toString('utf8'), this.lineStart, this.lineStart + this.partial.length);
    this.lineStart += this.partial.length;
    this.partial = null;
  }

  get atEnd(): boolean {
    return this.position >= this.size;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
