// RaftLogStorage on local files, for a controller's metadata log. Three files in one directory:
//
//   hard-state  one CRC frame {currentTerm, votedFor}, replaced atomically (temp file, fsync, rename, fsync dir)
//   snapshot    one CRC frame {index, term, data}, replaced the same way
//   log         CRC frames, one per entry, appended; truncated in place; rewritten (atomically) on compaction
//
// Durability contract: saveHardState and saveSnapshot are durable when they return; append and truncateSuffix are
// durable after the next sync() (one fsync of the log file), which persistReady calls before any message may be
// sent. After a crash, recovery keeps the log up to its first torn or corrupt frame: a write that was not synced may
// be lost wholly or partly (a prefix), which the Ready contract allows because none of it was acknowledged.
// The whole log is also cached in memory: the metadata log is bounded by snapshots, so it stays small.
import { crc32c } from '@node-rs/crc32';
import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { RaftLogStorage } from './log-storage.ts';
import { RaftLog } from './raft-log.ts';
import { EMPTY_HARD_STATE, type HardState, type LogEntry, type Snapshot } from './types.ts';

const FRAME_HEADER = 8; // u32 payload length, u32 CRC-32C of the payload

function frame(payload: Buffer): Buffer {
  const header = Buffer.alloc(FRAME_HEADER);
  header.writeUInt32BE(payload.length, 0);
  header.writeUInt32BE(crc32c(payload), 4);
  return Buffer.concat([header, payload]);
}

/** The payloads of the intact frames at the start of `bytes`, and where the intact part ends. */
function readFrames(bytes: Buffer): { payloads: Buffer[]; end: number } {
  const payloads: Buffer[] = [];
  let offset = 0;
  while (offset + FRAME_HEADER <= bytes.length) {
    const length = bytes.readUInt32BE(offset);
    const start = offset + FRAME_HEADER;
    if (start + length > bytes.length) break;
    const payload = bytes.subarray(start, start + length);
    if (crc32c(payload) !== bytes.readUInt32BE(offset + 4)) break;
    payloads.push(payload);
    offset = start + length;
  }
  return { payloads, end: offset };
}

function encodeEntry(entry: LogEntry): Buffer {
  const head = Buffer.alloc(13);
  head.writeUIntBE(entry.index, 0, 6);
  head.writeUIntBE(entry.term, 6, 6);
  head.writeUInt8(entry.kind === 'noop' ? 1 : 0, 12);
  return Buffer.concat([head, entry.data]);
}

function decodeEntry(payload: Buffer): LogEntry {
  return { index: payload.readUIntBE(0, 6), term: payload.readUIntBE(6, 6), kind: payload.readUInt8(12) === 1 ? 'noop' : 'command', data: new Uint8Array(payload.subarray(13)) };
}

/** Replaces `path` with `data` so that a crash leaves either the old or the new file, and the new one is durable. */
function writeFileDurably(dir: string, name: string, data: Buffer): void {
  const tmp = join(dir, `${name}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, name));
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd); // makes the rename itself durable
  } finally {
    closeSync(dirFd);
  }
}

function readSingleFrame(path: string): Buffer | null {
  if (!existsSync(path)) return null;
  const { payloads } = readFrames(readFileSync(path));
  if (payloads.length !== 1) throw new Error(`${path} is corrupt`); // written by rename, so never legitimately torn
  return payloads[0];
}

export class FileLogStorage implements RaftLogStorage {
  readonly #dir: string;
  #hardState: HardState = EMPTY_HARD_STATE;
  #snapshot: Snapshot | null = null;
  #log = new RaftLog();
  /** Byte offset in the log file where each cached entry's frame starts (same order as the entries). */
  #offsets: number[] = [];
  #size = 0;
  #fd: number;

  constructor(dir: string) {
    this.#dir = dir;
    mkdirSync(dir, { recursive: true });
    const hard = readSingleFrame(join(dir, 'hard-state'));
    if (hard) this.#hardState = JSON.parse(hard.toString('utf8')) as HardState;
    const snap = readSingleFrame(join(dir, 'snapshot'));
    if (snap) this.#snapshot = { index: snap.readUIntBE(0, 6), term: snap.readUIntBE(6, 6), data: new Uint8Array(snap.subarray(12)) };
    this.#fd = openSync(join(dir, 'log'), existsSync(join(dir, 'log')) ? 'r+' : 'w+');
    this.#recoverLog();
  }

  /** Reads the log file, drops a torn tail, and reconciles it with the snapshot (a crash may fall between them). */
  #recoverLog(): void {
    const bytes = readFileSync(join(this.#dir, 'log'));
    const { payloads, end } = readFrames(bytes);
    if (end < bytes.length) ftruncateSync(this.#fd, end);
    const entries = payloads.map(decodeEntry);
    const offsets: number[] = [];
    let offset = 0;
    for (const payload of payloads) {
      offsets.push(offset);
      offset += FRAME_HEADER + payload.length;
    }
    const snapshot = this.#snapshot;
    const base = snapshot?.index ?? 0;
    // Entries after the snapshot are valid if the log was rewritten for it (starts right after it) or agrees at it;
    // otherwise the crash came between saving an InstallSnapshot and discarding the conflicting log.
    const agrees = !snapshot || entries[0]?.index === base + 1 || entries.find((e) => e.index === base)?.term === snapshot.term;
    const keep = agrees ? entries.findIndex((e) => e.index > base) : -1;
    if (keep < 0) {
      this.#rewrite(snapshot, []);
      return;
    }
    this.#log = new RaftLog(base, snapshot?.term ?? 0, entries.slice(keep));
    this.#offsets = offsets.slice(keep);
    this.#size = end;
    if (keep > 0) this.#rewrite(snapshot, entries.slice(keep));
  }

  /** Replaces the log file by one holding exactly `entries`, durably. */
  #rewrite(snapshot: Snapshot | null, entries: readonly LogEntry[]): void {
    const frames = entries.map((e) => frame(encodeEntry(e)));
    closeSync(this.#fd);
    writeFileDurably(this.#dir, 'log', Buffer.concat(frames));
    this.#fd = openSync(join(this.#dir, 'log'), 'r+');
    this.#log = new RaftLog(snapshot?.index ?? 0, snapshot?.term ?? 0, entries);
    this.#offsets = [];
    let offset = 0;
    for (const f of frames) {
      this.#offsets.push(offset);
      offset += f.length;
    }
    this.#size = offset;
  }

  hardState(): HardState {
    return this.#hardState;
  }

  saveHardState(state: HardState): void {
    writeFileDurably(this.#dir, 'hard-state', frame(Buffer.from(JSON.stringify(state))));
    this.#hardState = state;
  }

  snapshot(): Snapshot | null {
    return this.#snapshot;
  }

  saveSnapshot(snapshot: Snapshot): void {
    if (snapshot.index <= this.#log.snapshotIndex) return;
    const agrees = this.#log.termAt(snapshot.index) === snapshot.term;
    const kept = agrees ? this.#log.slice(snapshot.index + 1, this.#log.lastIndex) : [];
    const head = Buffer.alloc(12);
    head.writeUIntBE(snapshot.index, 0, 6);
    head.writeUIntBE(snapshot.term, 6, 6);
    writeFileDurably(this.#dir, 'snapshot', frame(Buffer.concat([head, snapshot.data])));
    this.#snapshot = snapshot;
    this.#rewrite(snapshot, kept);
  }

  firstIndex(): number {
    return this.#log.firstIndex;
  }

  lastIndex(): number {
    return this.#log.lastIndex;
  }

  termAt(index: number): number | undefined {
    return this.#log.termAt(index);
  }

  entries(from: number, to: number): LogEntry[] {
    return this.#log.slice(from, to);
  }

  append(entries: readonly LogEntry[]): void {
    if (entries.length === 0) return;
    const frames = entries.map((e) => frame(encodeEntry(e)));
    for (const entry of entries) this.#log.append(entry); // throws on a gap before anything is written
    const bytes = Buffer.concat(frames);
    writeSync(this.#fd, bytes, 0, bytes.length, this.#size);
    for (const f of frames) {
      this.#offsets.push(this.#size);
      this.#size += f.length;
    }
  }

  truncateSuffix(fromIndex: number): void {
    if (fromIndex > this.#log.lastIndex) return;
    const position = fromIndex - this.#log.firstIndex;
    this.#log.truncateFrom(fromIndex);
    this.#size = this.#offsets[position];
    this.#offsets.length = position;
    ftruncateSync(this.#fd, this.#size);
  }

  sync(): void {
    fsyncSync(this.#fd);
  }

  close(): void {
    closeSync(this.#fd);
  }
}
