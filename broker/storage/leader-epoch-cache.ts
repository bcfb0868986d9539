import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './write-file-atomic.ts';

/** Kafka's name and format (LeaderEpochCheckpointFile): a version line, a count line, `epoch startOffset` lines. */
export const LEADER_EPOCH_CHECKPOINT_FILE = 'leader-epoch-checkpoint';
const FORMAT_VERSION = 0;

/** OffsetForLeaderEpoch's answer when the epoch is unknown here (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET). */
export const UNDEFINED_EPOCH = -1;
export const UNDEFINED_EPOCH_OFFSET = -1;

export interface EpochEntry {
  epoch: number;
  /** The first offset written in this epoch. */
  startOffset: number;
}

export interface EpochEndOffset {
  leaderEpoch: number;
  endOffset: number;
}

/** Parses a checkpoint; null when it is not one (torn, edited, or entries out of order). */
function parseCheckpoint(text: string): EpochEntry[] | null {
  if (!text.endsWith('\n')) return null;
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 2 || lines[0] !== String(FORMAT_VERSION)) return null;
  const count = Number(lines[1]);
  if (!Number.isInteger(count) || count !== lines.length - 2) return null;
  const entries: EpochEntry[] = [];
  for (const line of lines.slice(2)) {
    const m = /^(\d+) (\d+)$/.exec(line);
    if (!m) return null;
    const entry = { epoch: Number(m[1]), startOffset: Number(m[2]) };
    const last = entries[entries.length - 1];
    if (last && (entry.epoch <= last.epoch || entry.startOffset < last.startOffset)) return null;
    entries.push(entry);
  }
  return entries;
}

/**
 * A partition's leader epoch history: for each epoch that wrote to the log, the offset its first batch got.
 * Followers compare it with the leader's (OffsetForLeaderEpoch) to find where their logs diverge. Epochs
 * strictly increase and start offsets never decrease. The file is rewritten only when an entry changes
 * (a new epoch, a truncation), so appends in the current epoch do no I/O here.
 */
export class LeaderEpochCache {
  readonly path: string;
  private entries: EpochEntry[];

  private constructor(path: string, entries: EpochEntry[]) {
    this.path = path;
    this.entries = entries;
  }

  /**
   * Loads `dir`'s checkpoint. `loaded` is false when it is missing or unreadable: the cache is then empty
   * and the caller rebuilds it from the batch headers of the log.
   */
  static open(dir: string): { cache: LeaderEpochCache; loaded: boolean } {
    const path = join(dir, LEADER_EPOCH_CHECKPOINT_FILE);
    const entries = existsSync(path) ? parseCheckpoint(readFileSync(path, 'utf8')) : null;
    return { cache: new LeaderEpochCache(path, entries ?? []), loaded: entries !== null };
  }

  /** A copy of the entries, oldest first. */
  list(): EpochEntry[] {
    return this.entries.map((e) => ({ ...e }));
  }

  get latestEpoch(): number {
    return this.entries.length > 0 ? this.entries[this.entries.length - 1].epoch : UNDEFINED_EPOCH;
  }

  /**
   * Records that `epoch` starts at `startOffset`. The same epoch again (every batch of it) or an older one
   * is ignored. A new epoch starting below a later entry's start means the log was truncated without this
   * cache being told: those entries are dropped first, as Kafka does, so the order invariants hold.
   */
  assign(epoch: number, startOffset: number): boolean {
    if (epoch < 0 || startOffset < 0) throw new RangeError(`invalid leader epoch entry (${epoch}, ${startOffset})`);
    if (epoch <= this.latestEpoch) return false;
    let keep = this.entries.length;
    while (keep > 0 && this.entries[keep - 1].startOffset >= startOffset) keep--;
    this.entries.length = keep;
    this.entries.push({ epoch, startOffset });
    this.flush();
    return true;
  }

  /** Removes the entries starting at or after `offset` (the log was truncated to `offset`). */
  truncateFromEnd(offset: number): void {
    if (offset < 0) return;
    let keep = this.entries.length;
    while (keep > 0 && this.entries[keep - 1].startOffset >= offset) keep--;
    if (keep === this.entries.length) return;
    this.entries.length = keep;
    this.flush();
  }

  /**
   * The log now starts at `offset` (retention, DeleteRecords): entries wholly below it go, and the epoch
   * that covers `offset` is kept with its start moved up to `offset`.
   */
  truncateFromStart(offset: number): void {
    let covering = -1;
    while (covering + 1 < this.entries.length && this.entries[covering + 1].startOffset <= offset) covering++;
    if (covering < 0 || (covering === 0 && this.entries[0].startOffset === offset)) return;
    this.entries = [{ epoch: this.entries[covering].epoch, startOffset: offset }, ...this.entries.slice(covering + 1)];
    this.flush();
  }

  /** Forgets every entry (the log was emptied). */
  clear(): void {
    if (this.entries.length === 0 && existsSync(this.path)) return;
    this.entries = [];
    this.flush();
  }

  /**
   * OffsetForLeaderEpoch (Kafka's LeaderEpochFileCache.endOffsetFor): the end of `epoch` is the start of the
   * next larger epoch this log knows, reported with the largest epoch at or below the requested one; the
   * latest epoch ends at the log end. An epoch below every known one, above the latest, or with nothing
   * cached is UNDEFINED (-1, -1).
   */
  endOffsetFor(epoch: number, logEndOffset: number): EpochEndOffset {
    const undefinedEnd = { leaderEpoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
    if (epoch < 0 || this.entries.length === 0) return undefinedEnd;
    if (epoch === this.latestEpoch) return { leaderEpoch: epoch, endOffset: logEndOffset };
    let floor = -1;
    while (floor + 1 < this.entries.length && this.entries[floor + 1].epoch <= epoch) floor++;
    if (floor < 0 || floor === this.entries.length - 1) return undefinedEnd;
    return { leaderEpoch: this.entries[floor].epoch, endOffset: this.entries[floor + 1].startOffset };
  }

  /** Writes the checkpoint (atomically: a crash leaves the old or the new one). */
  flush(): void {
    const lines = [String(FORMAT_VERSION), String(this.entries.length), ...this.entries.map((e) => `${e.epoch} ${e.startOffset}`)];
    writeFileAtomic(this.path, `${lines.join('\n')}\n`);
  }
}
