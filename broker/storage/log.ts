import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { segmentName } from './log-segment.ts';
import { writeFileAtomic } from './write-file-atomic.ts';
import { ProducerStateManager } from './producer-state.ts';
import { BATCH_LENGTH, BASE_SEQUENCE, LAST_OFFSET_DELTA, LOG_OVERHEAD, PARTITION_LEADER_EPOCH, PRODUCER_EPOCH, PRODUCER_ID, readInt64 } from '../protocol/record-batch/batch-header.ts';
import { InvalidRecordError } from '../protocol/record-batch/validate.ts';
import { join } from 'node:path';
import { ErrorCode, KafkaError } from '../protocol/error-codes.ts';
import { validateBatches } from '../protocol/record-batch/validate.ts';
import { assignOffsets } from '../protocol/record-batch/assign-offsets.ts';
import { LogSegment } from './log-segment.ts';
import { LeaderEpochCache, type EpochEndOffset, type EpochEntry } from './leader-epoch-cache.ts';
import type { LogConfig } from './log-config.ts';

const RECOVERY_POINT_FILE = 'recovery-point';
const CLEAN_SHUTDOWN_FILE = '.clean-shutdown';
const LOG_START_OFFSET_FILE = 'log-start-offset';
const HIGH_WATERMARK_FILE = 'high-watermark';
/** log.flush.offset.checkpoint.interval.ms: how often the recovery point is written outside shutdown. */
const RECOVERY_POINT_INTERVAL_MS = 60_000;

export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
  logAppendTimeMs: number;
  recordCount: number;
}

export interface LogRead {
  records: Buffer[];
  highWatermark: number;
  logStartOffset: number;
  logEndOffset: number;
}

export interface LogOpenOptions {
  /**
   * The partition is replicated: the high watermark moves only by setHighWatermark (the leader, from its
   * ISR's log ends; a follower, from the leader's) and is checkpointed to survive a restart. Otherwise every
   * append commits at once (HW = LEO), as on a single node.
   */
  replicated?: boolean;
}

export interface LogOpenReport {
  cleanShutdown: boolean;
  recoveredSegments: number;
  truncatedBytes: number;
  removedSegments: number;
}

function readNumberFile(path: string): number {
  return existsSync(path) ? Number(readFileSync(path, 'utf8')) || 0 : 0;
}

/**
 * The cleaner writes `<base>.log.cleaned`, renames it to `<base>.log.swap` once complete and fsynced, then
 * renames that over `<base>.log`. After a crash a `.cleaned` file is an unfinished pass (deleted: the
 * original is intact) and a `.swap` file is a finished one whose last rename did not happen (completed).
 */
function completeInterruptedCleaning(dir: string): void {
  for (const f of readdirSync(dir)) {
    if (f.endsWith('.log.cleaned')) rmSync(join(dir, f), { force: true });
    else if (f.endsWith('.log.swap')) {
      const base = f.slice(0, -'.log.swap'.length);
      renameSync(join(dir, f), join(dir, `${base}.log`));
      // The old indexes describe the old file: drop them so recovery rebuilds them.
      rmSync(join(dir, `${base}.index`), { force: true });
      rmSync(join(dir, `${base}.timeindex`), { force: true });
      rmSync(join(dir, '.clean-shutdown'), { force: true });
    }
  }
}

/**
 * One partition: an ordered list of segments, the last one active. Appends go to the active segment,
 * rolling a new one by size or age; reads may span segments.
 *
 * Durability: an append returns once its bytes are written to the file (the page cache), so a crash of
 * the process (kill -9) loses nothing acknowledged. fsync happens after flush.messages appended records or
 * flush.ms since the last fsync (checked by the log manager's timer) and on close; only a crash of the
 * machine can lose what was written since the last fsync. The recovery point (the log end at the last
 * fsync) bounds how much must be re-validated after a crash.
 */
export class Log {
  readonly dir: string;
  config: LogConfig;
  private segments: LogSegment[] = [];
  logStartOffset = 0;
  /** The end of what is committed: consumers read below it. Equal to the LEO unless the log is replicated. */
  highWatermark = 0;
  readonly replicated: boolean;
  private recoveryPoint = 0;
  private unflushedMessages = 0;
  private lastFlushMs = Date.now();
  private dirty = false;
  private flushing = false;
  /** Closed or deleted: a background fsync finishing later must not touch the (maybe removed) directory. */
  private closed = false;
  private lastCheckpointMs = 0;
  private checkpointedHighWatermark = -1;
  /** Counts truncations, so a background fsync that began before one does not vouch for the new tail. */
  private truncations = 0;
  readonly producers: ProducerStateManager;
  private readonly epochs: LeaderEpochCache;
  /** The checkpoint was missing or unreadable: rebuild it from the batch headers on open. */
  private readonly rebuildEpochs: boolean;

  private constructor(dir: string, config: LogConfig, replicated: boolean) {
    this.dir = dir;
    this.config = config;
    this.replicated = replicated;
    this.producers = new ProducerStateManager(dir);
    const { cache, loaded } = LeaderEpochCache.open(dir);
    this.epochs = cache;
    this.rebuildEpochs = !loaded;
  }

  static open(dir: string, config: LogConfig, options: LogOpenOptions = {}): { log: Log; report: LogOpenReport } {
    mkdirSync(dir, { recursive: true });
    const log = new Log(dir, config, options.replicated ?? false);
    const report: LogOpenReport = { cleanShutdown: false, recoveredSegments: 0, truncatedBytes: 0, removedSegments: 0 };
    report.cleanShutdown = existsSync(join(dir, CLEAN_SHUTDOWN_FILE));
    completeInterruptedCleaning(dir);
    const recoveryPoint = readNumberFile(join(dir, RECOVERY_POINT_FILE));
    const bases = readdirSync(dir)
      .filter((f) => /^\d{20}\.log$/.test(f))
      .map((f) => Number(f.slice(0, 20)))
      .sort((a, b) => a - b);
    for (let i = 0; i < bases.length; i++) {
      const isLast = i === bases.length - 1;
      const nextBase = isLast ? Infinity : bases[i + 1];
      // Segments wholly below the recovery point were fsynced and are trusted; the last one is always
      // checked, so even junk written after a clean shutdown is found.
      const recover = isLast || nextBase > recoveryPoint;
      const { segment, truncatedBytes } = LogSegment.open(dir, bases[i], config.indexIntervalBytes, recover, config.maxMessageBytes);
      if (recover) report.recoveredSegments++;
      log.segments.push(segment);
      if (truncatedBytes > 0) {
        report.truncatedBytes += truncatedBytes;
        // Anything after a damaged segment cannot be trusted to follow on from it.
        for (const later of bases.slice(i + 1)) {
          LogSegment.open(dir, later, config.indexIntervalBytes, false, config.maxMessageBytes).segment.delete();
          report.removedSegments++;
        }
        break;
      }
    }
    if (log.segments.length === 0) log.segments.push(LogSegment.create(dir, 0, config.indexIntervalBytes));
    rmSync(join(dir, CLEAN_SHUTDOWN_FILE), { force: true });
    // DeleteRecords may have moved the start inside the first segment.
    const storedStart = readNumberFile(join(dir, LOG_START_OFFSET_FILE));
    log.logStartOffset = Math.min(Math.max(log.segments[0].baseOffset, storedStart), log.logEndOffset);
    log.recoveryPoint = Math.min(recoveryPoint, log.logEndOffset);
    log.replayBatchHeaders();
    // The checkpoint may name epochs whose batches recovery just cut off, or that retention removed.
    log.epochs.truncateFromEnd(log.logEndOffset);
    log.epochs.truncateFromStart(log.logStartOffset);
    // A checkpointed HW is never above one that was committed; recovery may have cut below it.
    const storedHighWatermark = options.replicated ? readNumberFile(join(dir, HIGH_WATERMARK_FILE)) : log.logEndOffset;
    log.highWatermark = Math.min(Math.max(storedHighWatermark, log.logStartOffset), log.logEndOffset);
    return { log, report };
  }

  get logEndOffset(): number {
    return this.active.nextOffset;
  }

  private get active(): LogSegment {
    return this.segments[this.segments.length - 1];
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  get sizeInBytes(): number {
    let total = 0;
    for (const s of this.segments) total += s.size;
    return total;
  }

  /**
   * Producer state = the last snapshot plus the batches after it, read header by header. When the leader
   * epoch checkpoint is missing the walk starts at the log start instead, rebuilding that too.
   */
  private replayBatchHeaders(): void {
    const snapshotOffset = this.producers.loadSnapshot(this.logStartOffset, this.logEndOffset);
    let offset = this.rebuildEpochs ? this.logStartOffset : snapshotOffset;
    while (offset < this.logEndOffset) {
      const { records } = this.read(offset, 4 * 1024 * 1024, true, this.logEndOffset);
      if (records.length === 0) break;
      for (const chunk of records) {
        for (let pos = 0; pos < chunk.length; pos += LOG_OVERHEAD + chunk.readInt32BE(pos + BATCH_LENGTH)) {
          const base = readInt64(chunk, pos);
          const last = base + chunk.readInt32BE(pos + LAST_OFFSET_DELTA);
          if (last < offset) continue;
          if (this.rebuildEpochs) this.recordEpochOf(chunk, pos, base);
          if (last >= snapshotOffset) this.updateProducerStateFrom(chunk, pos, base, last);
          offset = last + 1;
        }
      }
    }
    if (this.rebuildEpochs) this.epochs.flush();
  }

  /** Producer state after a batch that is in the log already (replayed, or copied from the leader). */
  private updateProducerStateFrom(batches: Buffer, pos: number, base: number, last: number): void {
    const pid = readInt64(batches, pos + PRODUCER_ID);
    if (pid < 0) return;
    const firstSeq = batches.readInt32BE(pos + BASE_SEQUENCE);
    this.producers.update(pid, batches.readInt16BE(pos + PRODUCER_EPOCH), { firstSeq, lastSeq: firstSeq + (last - base), firstOffset: base, lastOffset: last });
  }

  /** A batch stamped with a leader epoch starts that epoch if it is new (batches from before epochs carry -1). */
  private recordEpochOf(batches: Buffer, pos: number, base: number): void {
    const epoch = batches.readInt32BE(pos + PARTITION_LEADER_EPOCH);
    if (epoch >= 0) this.epochs.assign(epoch, base);
  }

  /**
   * Validates, stamps offsets and leader epoch in place, appends. Throws errors that carry Kafka codes.
   * A retried idempotent batch (same producer, epoch and sequences as one of its last five) is not
   * appended again: the original offsets are returned.
   */
  append(records: Buffer, leaderEpoch: number): AppendResult {
    const summary = validateBatches(records, this.config.maxMessageBytes);
    const idempotent = summary.producerId >= 0 && summary.baseSequence >= 0;
    let lastSeq = -1;
    if (idempotent) {
      if (summary.batchCount !== 1) throw new InvalidRecordError('an idempotent produce request carries exactly one batch per partition');
      lastSeq = summary.baseSequence + summary.offsetCount - 1;
      const duplicate = this.producers.check(summary.producerId, summary.producerEpoch, summary.baseSequence, lastSeq);
      if (duplicate) return { baseOffset: duplicate.firstOffset, lastOffset: duplicate.lastOffset, logAppendTimeMs: -1, recordCount: 0 };
    }
    this.maybeRoll(records.length);
    const baseOffset = this.logEndOffset;
    const lastOffset = assignOffsets(records, summary, baseOffset, leaderEpoch);
    // Before the bytes: a crash may leave an entry past the log end (dropped on open), never a batch without one.
    if (leaderEpoch >= 0) this.epochs.assign(leaderEpoch, baseOffset);
    this.active.append(records, summary);
    if (idempotent) this.producers.update(summary.producerId, summary.producerEpoch, { firstSeq: summary.baseSequence, lastSeq, firstOffset: baseOffset, lastOffset });
    this.afterAppend(summary.recordCount);
    return { baseOffset, lastOffset, logAppendTimeMs: -1, recordCount: summary.recordCount };
  }

  /**
   * A follower's append: batches read from the leader's log, offsets and leader epochs already in them,
   * written byte for byte. They must continue this log: the first at or after the log end, each next one after
   * the previous (gaps are what compaction leaves on the leader, as Kafka allows); sequence checks were the
   * leader's job, so producer state is just updated.
   * Throws, leaving the log unchanged, on anything else or on a batch that fails validation.
   */
  appendAsFollower(records: Buffer): AppendResult {
    const summary = validateBatches(records, this.config.maxMessageBytes);
    const baseOffset = readInt64(records, 0);
    if (baseOffset < this.logEndOffset) {
      throw new KafkaError(ErrorCode.OFFSET_OUT_OF_RANGE, `the leader's batches start at offset ${baseOffset}, below this log's end ${this.logEndOffset}`);
    }
    let next = baseOffset;
    for (let i = 0; i < summary.batchCount; i++) {
      const pos = summary.positions[i];
      const base = readInt64(records, pos);
      if (base < next) throw new InvalidRecordError(`batch ${i} of the leader's data starts at offset ${base}, below ${next}`);
      next = base + records.readInt32BE(pos + LAST_OFFSET_DELTA) + 1;
    }
    this.maybeRoll(records.length);
    for (let i = 0; i < summary.batchCount; i++) this.recordEpochOf(records, summary.positions[i], readInt64(records, summary.positions[i]));
    this.active.append(records, summary);
    for (let i = 0; i < summary.batchCount; i++) {
      const pos = summary.positions[i];
      const base = readInt64(records, pos);
      this.updateProducerStateFrom(records, pos, base, base + records.readInt32BE(pos + LAST_OFFSET_DELTA));
    }
    this.afterAppend(summary.recordCount);
    return { baseOffset, lastOffset: next - 1, logAppendTimeMs: -1, recordCount: summary.recordCount };
  }

  private afterAppend(recordCount: number): void {
    if (!this.replicated) this.highWatermark = this.logEndOffset;
    this.dirty = true;
    this.unflushedMessages += recordCount;
    if (this.unflushedMessages >= this.config.flushMessages) this.flush();
  }

  /**
   * Moves the high watermark (clamped to [logStartOffset, logEndOffset]): the leader, to the smallest log end
   * of its ISR; a follower, to the leader's. The only way a replicated log's HW moves forward.
   */
  setHighWatermark(offset: number): void {
    this.highWatermark = Math.min(Math.max(offset, this.logStartOffset), this.logEndOffset);
  }

  /** The epoch of the newest epoch entry; -1 when none was recorded. */
  latestEpoch(): number {
    return this.epochs.latestEpoch;
  }

  /** OffsetForLeaderEpoch: where `epoch` ends in this log, per Kafka's LeaderEpochFileCache.endOffsetFor. */
  endOffsetForEpoch(epoch: number): EpochEndOffset {
    return this.epochs.endOffsetFor(epoch, this.logEndOffset);
  }

  /**
   * A new leader records its epoch at its log end before it appends anything (Kafka's
   * maybeAssignEpochStartOffset), so followers asking about the previous epoch learn where it ended.
   */
  assignEpochStartOffset(epoch: number, startOffset: number): void {
    this.epochs.assign(epoch, startOffset);
  }

  /** The leader epoch history, oldest first (for tests and diagnostics). */
  leaderEpochEntries(): EpochEntry[] {
    return this.epochs.list();
  }

  private maybeRoll(incomingBytes: number): void {
    const active = this.active;
    if (active.size === 0) return;
    const full = active.size + incomingBytes > this.config.segmentBytes;
    const old = Date.now() - active.createdMs >= this.config.segmentMs;
    if (!full && !old) return;
    this.roll();
  }

  private roll(): void {
    this.active.flush();
    // A snapshot per roll bounds how much of the log a restart after a crash replays.
    this.producers.saveSnapshot(this.logEndOffset);
    this.segments.push(LogSegment.create(this.dir, this.logEndOffset, this.config.indexIntervalBytes));
  }

  /**
   * Whole batches from the one containing fetchOffset, up to maxBytes (at least one batch if minOneBatch),
   * none starting at or past maxOffset: consumers read below the high watermark, followers up to the log end.
   */
  read(fetchOffset: number, maxBytes: number, minOneBatch = true, maxOffset = this.highWatermark): LogRead {
    const result: LogRead = { records: [], highWatermark: this.highWatermark, logStartOffset: this.logStartOffset, logEndOffset: this.logEndOffset };
    if (fetchOffset < this.logStartOffset || fetchOffset > this.logEndOffset) {
      throw new KafkaError(ErrorCode.OFFSET_OUT_OF_RANGE, `offset ${fetchOffset} is outside [${this.logStartOffset}, ${this.logEndOffset}]`);
    }
    let remaining = maxBytes;
    let offset = fetchOffset;
    let i = this.segmentIndexFor(offset);
    while (i < this.segments.length && offset < maxOffset) {
      const read = this.segments[i].read(offset, remaining, minOneBatch && result.records.length === 0, maxOffset);
      if (read) {
        if (read.buffer.length > 0) result.records.push(read.buffer);
        remaining -= read.buffer.length;
        // What this segment still holds did not fit: moving on to the next one would skip it.
        if (remaining <= 0 || read.more) break;
      } else if (result.records.length > 0) break;
      i++;
      offset = i < this.segments.length ? this.segments[i].baseOffset : offset;
    }
    return result;
  }

  private segmentIndexFor(offset: number): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.segments[mid].baseOffset <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** ListOffsets by time: the first record whose timestamp is at or after `timestamp`. */
  offsetForTimestamp(timestamp: number): { offset: number; timestamp: number } | null {
    for (const segment of this.segments) {
      const found = segment.findOffsetByTimestamp(timestamp);
      if (found && found.offset >= this.logStartOffset) return found;
      if (found) {
        // The first match lies below a DeleteRecords start: the first record at or after the start counts.
        const later = segment.findOffsetByTimestamp(timestamp, this.logStartOffset);
        if (later) return later;
      }
    }
    return null;
  }

  /** ListOffsets with MAX_TIMESTAMP (-3): the batch holding the largest timestamp. */
  offsetOfMaxTimestamp(): { offset: number; timestamp: number } | null {
    let best: { offset: number; timestamp: number } | null = null;
    for (const s of this.segments) {
      const ts = s.timeIndex.maxTimestamp;
      if (ts >= 0 && (best === null || ts > best.timestamp)) best = { offset: s.baseOffset + s.timeIndex.maxTimestampRelativeOffset, timestamp: ts };
    }
    return best;
  }

  /** Closed segments (all but the active one), oldest first: what the cleaner may rewrite. */
  closedSegments(): LogSegment[] {
    return this.segments.slice(0, -1);
  }

  /**
   * Replaces a closed segment by its cleaned copy, already complete and fsynced at `cleanedPath`: rename
   * to .swap (the commit point), rename over the .log, reopen with rebuilt indexes. Synchronous, so no
   * read or append can observe a half-swapped segment.
   */
  swapInCleaned(segment: LogSegment, cleanedPath: string): void {
    const i = this.segments.indexOf(segment);
    if (i < 0 || i === this.segments.length - 1) throw new Error(`segment ${segment.baseOffset} is not a closed segment of ${this.dir}`);
    const swapPath = join(this.dir, `${segmentName(segment.baseOffset)}.log.swap`);
    renameSync(cleanedPath, swapPath);
    segment.close();
    renameSync(swapPath, segment.logPath);
    const { segment: reopened } = LogSegment.open(this.dir, segment.baseOffset, this.config.indexIntervalBytes, true, this.config.maxMessageBytes);
    this.segments[i] = reopened;
  }

  /** Removes every record at or after `offset` (whole batches). */
  truncateTo(offset: number): void {
    this.truncations++;
    while (this.segments.length > 1 && this.active.baseOffset >= offset) this.segments.pop()!.delete();
    this.active.truncateTo(offset);
    this.producers.truncateTail(this.logEndOffset);
    // After the segments: a crash in between leaves entries past the log end, which open drops.
    this.epochs.truncateFromEnd(this.logEndOffset);
    this.highWatermark = Math.min(this.highWatermark, this.logEndOffset);
    this.recoveryPoint = Math.min(this.recoveryPoint, this.logEndOffset);
    this.forgetCleanerProgress();
  }

  /**
   * After a truncation the cleaner's checkpoint may cover offsets that now hold different, uncleaned data; the
   * next pass starts from the beginning instead (rare, and only extra work).
   */
  private forgetCleanerProgress(): void {
    rmSync(join(this.dir, 'cleaner-checkpoint'), { force: true });
  }

  /**
   * Empties the log and restarts it at `offset` (a follower whose log end is below the leader's log start,
   * or whose log has nothing in common with the leader's): log start = log end = HW = offset, no epochs,
   * no producers.
   */
  truncateFullyAndStartAt(offset: number): void {
    this.truncations++;
    for (const s of this.segments) s.delete();
    this.segments = [LogSegment.create(this.dir, offset, this.config.indexIntervalBytes)];
    this.setLogStartOffset(offset);
    this.producers.truncateTail(-1); // every batch lies at or after -1: forgets every producer
    this.producers.saveSnapshot(offset);
    this.epochs.clear();
    this.highWatermark = offset;
    this.recoveryPoint = offset;
    this.dirty = false;
    this.unflushedMessages = 0;
    // The old checkpoints may lie above the new log; a recovery point there would skip recovering it.
    this.checkpoint();
    this.forgetCleanerProgress();
  }

  /**
   * Deletes the oldest segment (never the active one); the log start moves to the next. Retention never
   * deletes past the high watermark: what is not committed may still be read by followers.
   */
  private deleteOldestSegment(): void {
    this.segments.shift()!.delete();
    this.setLogStartOffset(Math.max(this.logStartOffset, this.segments[0].baseOffset));
    this.producers.truncateHead(this.logStartOffset);
  }

  private setLogStartOffset(offset: number): void {
    if (offset === this.logStartOffset) return;
    this.logStartOffset = offset;
    writeFileAtomic(join(this.dir, LOG_START_OFFSET_FILE), String(offset));
    this.epochs.truncateFromStart(offset);
    if (this.highWatermark < offset) this.highWatermark = offset;
  }

  /**
   * Time and size retention (cleanup.policy=delete): deletes whole closed segments whose newest record is
   * older than retention.ms, then the oldest ones while the log is larger than retention.bytes. The active
   * segment is rolled first once it is older than the retention, so an idle topic's data expires too.
   * Returns the number of segments deleted.
   */
  applyRetention(now: number): number {
    if (!this.config.cleanupPolicy.includes('delete')) return 0;
    let deleted = 0;
    const { retentionMs, retentionBytes } = this.config;
    const newest = (s: LogSegment) => (s.timeIndex.maxTimestamp >= 0 ? s.timeIndex.maxTimestamp : s.createdMs);
    if (retentionMs >= 0 && this.active.size > 0 && now - newest(this.active) > retentionMs) this.roll();
    const committed = () => this.segments.length > 1 && this.segments[1].baseOffset <= this.highWatermark;
    while (committed() && retentionMs >= 0 && now - newest(this.segments[0]) > retentionMs) {
      this.deleteOldestSegment();
      deleted++;
    }
    if (retentionBytes >= 0) {
      let size = this.sizeInBytes;
      while (committed() && size - this.segments[0].size >= retentionBytes) {
        size -= this.segments[0].size;
        this.deleteOldestSegment();
        deleted++;
      }
    }
    return deleted;
  }

  /**
   * DeleteRecords: records below `offset` become unreadable at once (the log start moves) and the
   * segments wholly below it are deleted. -1 means the high watermark. Returns the new log start offset.
   */
  deleteRecordsBefore(offset: number): number {
    const target = offset === -1 ? this.highWatermark : offset;
    if (target < 0 || target > this.highWatermark) {
      throw new KafkaError(ErrorCode.OFFSET_OUT_OF_RANGE, `cannot delete records before ${offset}: the high watermark is ${this.highWatermark}`);
    }
    if (target > this.logStartOffset) this.setLogStartOffset(target);
    while (this.segments.length > 1 && this.segments[1].baseOffset <= this.logStartOffset) this.deleteOldestSegment();
    return this.logStartOffset;
  }

  /** fsync now (flush.messages reached, roll, shutdown). */
  flush(): void {
    if (!this.dirty) return;
    this.active.flush();
    this.dirty = false;
    this.unflushedMessages = 0;
    this.lastFlushMs = Date.now();
    this.recoveryPoint = this.logEndOffset;
  }

  /**
   * Writes the recovery point and, for a replicated log, the high watermark. The HW written is never above
   * one that was set: a restart may then serve a little less than was committed, never more.
   */
  private checkpoint(): void {
    this.lastCheckpointMs = Date.now();
    writeFileAtomic(join(this.dir, RECOVERY_POINT_FILE), String(this.recoveryPoint));
    if (!this.replicated) return;
    writeFileAtomic(join(this.dir, HIGH_WATERMARK_FILE), String(this.highWatermark));
    this.checkpointedHighWatermark = this.highWatermark;
  }

  /**
   * Called on the log manager's timer: once flush.ms has passed, fsync in the background. The recovery point
   * advances to what the fsync covered, and is checkpointed to disk at most once a minute (a crash then
   * re-validates a little more log on startup, which is cheap).
   */
  flushIfDue(now: number): void {
    if (this.closed) return;
    // A replicated HW also moves with no append of ours (followers catching up, the leader's HW reaching us).
    const hwMoved = this.replicated && this.highWatermark !== this.checkpointedHighWatermark;
    if (hwMoved && !this.dirty && !this.flushing && now - this.lastCheckpointMs >= RECOVERY_POINT_INTERVAL_MS) this.checkpoint();
    if (!this.dirty || this.flushing || now - this.lastFlushMs < this.config.flushMs) return;
    const covered = this.logEndOffset;
    const truncations = this.truncations;
    this.dirty = false;
    this.unflushedMessages = 0;
    this.lastFlushMs = now;
    this.flushing = true;
    this.active.flushAsync().then((ok) => {
      this.flushing = false;
      if (this.closed || !ok || covered < this.recoveryPoint || truncations !== this.truncations) return;
      this.recoveryPoint = covered;
      if (Date.now() - this.lastCheckpointMs >= RECOVERY_POINT_INTERVAL_MS) this.checkpoint();
    });
  }

  close(): void {
    this.closed = true;
    this.dirty = true;
    this.flush();
    this.checkpoint();
    this.producers.saveSnapshot(this.logEndOffset);
    for (const s of this.segments) s.close();
    writeFileAtomic(join(this.dir, CLEAN_SHUTDOWN_FILE), '');
  }

  /** Closes and removes the partition's directory (topic deletion). */
  delete(): void {
    this.closed = true;
    for (const s of this.segments) s.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
