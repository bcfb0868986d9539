import { KafkaWireClient } from '../client/kafka-wire-client.ts';
import type { FetchRequest, FetchResponse, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse } from '../protocol/messages/index.ts';
import type { PartitionData } from '../protocol/messages/FetchResponse.ts';
import type { EpochEndOffset } from '../protocol/messages/OffsetForLeaderEpochResponse.ts';
import { BATCH_LENGTH, HEADER_SIZE, LAST_OFFSET_DELTA, LOG_OVERHEAD, readInt64 } from '../protocol/record-batch/batch-header.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { Log } from '../storage/log.ts';
import type { Logger } from '../server/logger.ts';

const FETCH = 1;
const FETCH_VERSION = 12;
const OFFSET_FOR_LEADER_EPOCH = 23;
const OFFSET_FOR_LEADER_EPOCH_VERSION = 4;
/** After an error only new metadata can fix (fenced epoch, not the leader...), the same request waits this long. */
const STALLED_RETRY_MS = 1000;
/**
 * Errors that mean the leader has not applied the metadata this follower already has (it learned of the topic or
 * the epoch first): a matter of milliseconds, so the follower asks again soon instead of stalling acks=all.
 */
const LEADER_BEHIND = new Set<number>([ErrorCode.UNKNOWN_LEADER_EPOCH, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.NOT_LEADER_OR_FOLLOWER]);
const LEADER_BEHIND_RETRY_MS = 100;
/** How long such an error may last before it is worth a warning (then something else is wrong). */
const LEADER_BEHIND_QUIET_MS = 3000;
const BACKOFF_INITIAL_MS = 100;
const BACKOFF_MAX_MS = 2000;

export interface FollowedPartition {
  topic: string;
  partition: number;
  log: Log;
  leaderEpoch: number;
}

export interface ReplicaFetcherOptions {
  selfId: number;
  leaderId: number;
  /** From cluster metadata; asked again on every (re)connect, so a moved leader is found. */
  leaderAddress: () => { host: string; port: number } | null;
  log: Logger;
  maxWaitMs?: number;
  maxBytes?: number;
  partitionMaxBytes?: number;
  /** Bounds connects and the leader's answer on top of maxWaitMs (replica.socket.timeout.ms). */
  requestTimeoutMs?: number;
  /** The follower's log or high watermark moved: wake parked consumer fetches etc. */
  onAppended?: (topic: string, partition: number) => void;
}

type Phase = 'truncating' | 'fetching';

interface PartitionFetchState {
  readonly key: string;
  readonly topic: string;
  readonly partition: number;
  readonly log: Log;
  readonly leaderEpoch: number;
  phase: Phase;
  /** No request for this partition before this time (0: ready). */
  retryAtMs: number;
  /** The error the partition is stalled on, so each new one is logged once. */
  stalledOn: number;
  /** When the current stall began, and whether it was reported. */
  stalledSinceMs: number;
  stallReported: boolean;
  /** Truncating because the leader refused our fetch offset. */
  outOfRange: boolean;
}

const keyOf = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/**
 * A follower's fetch loop towards one leader broker (Kafka's ReplicaFetcherThread). Each partition first
 * truncates its log to where it agrees with the leader (OffsetForLeaderEpoch, KIP-279), then fetches from its
 * log end; all partitions of the leader share one connection and one Fetch request per round. The leader's
 * batches are appended as they arrive, byte for byte, and the follower's high watermark follows the leader's.
 */
export class ReplicaFetcher {
  private readonly o: Required<Omit<ReplicaFetcherOptions, 'onAppended'>> & Pick<ReplicaFetcherOptions, 'onAppended'>;
  private readonly partitions = new Map<string, PartitionFetchState>();
  private client: KafkaWireClient | null = null;
  private running: Promise<void> | null = null;
  private stopping = false;
  private wakeUp: (() => void) | null = null;
  private backoffMs = BACKOFF_INITIAL_MS;
  private connectionState: 'idle' | 'connected' | 'failing' = 'idle';

  constructor(o: ReplicaFetcherOptions) {
    this.o = {
      maxWaitMs: 500,
      maxBytes: 8 * 1024 * 1024,
      partitionMaxBytes: 1024 * 1024,
      requestTimeoutMs: 30_000,
      ...o,
    };
  }

  get partitionCount(): number {
    return this.partitions.size;
  }

  start(): void {
    if (this.running) return;
    this.stopping = false;
    this.running = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.client?.close();
    this.wake();
    await this.running;
    this.running = null;
    this.client = null;
  }

  /** Follows a partition from scratch: truncation first, as after any leader or epoch change. */
  addPartition(p: FollowedPartition): void {
    const key = keyOf(p.topic, p.partition);
    this.partitions.set(key, { key, topic: p.topic, partition: p.partition, log: p.log, leaderEpoch: p.leaderEpoch, phase: 'truncating', retryAtMs: 0, stalledOn: ErrorCode.NONE, stalledSinceMs: 0, stallReported: false, outOfRange: false });
    this.wake();
  }

  removePartition(topic: string, partition: number): void {
    this.partitions.delete(keyOf(topic, partition));
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const now = Date.now();
      let ready = 0;
      let nextRetry = Infinity;
      for (const p of this.partitions.values()) {
        if (p.retryAtMs <= now) ready++;
        else nextRetry = Math.min(nextRetry, p.retryAtMs);
      }
      if (ready === 0) {
        // Idle or every partition stalled: no requests until one is added or a retry is due.
        await this.sleep(nextRetry - now, true);
        continue;
      }
      const client = await this.connect();
      if (!client) continue;
      try {
        await this.truncateDiverged(client);
        await this.fetchOnce(client);
        this.backoffMs = BACKOFF_INITIAL_MS;
      } catch (err) {
        if (this.stopping) break;
        client.close();
        this.client = null;
        this.noteConnection('failing', `lost leader ${this.o.leaderId}: ${(err as Error).message}; reconnecting`);
        await this.backoff();
      }
    }
  }

  private async connect(): Promise<KafkaWireClient | null> {
    if (this.client && !this.client.closed) return this.client;
    this.client = null;
    const address = this.o.leaderAddress();
    if (!address) {
      this.noteConnection('failing', `no address known for leader ${this.o.leaderId}; waiting`);
      await this.backoff();
      return null;
    }
    try {
      const client = await KafkaWireClient.connect(address.host, address.port, {
        timeoutMs: this.o.requestTimeoutMs,
        clientId: `replica-fetcher-${this.o.selfId}-${this.o.leaderId}`,
      });
      if (this.stopping) {
        client.close();
        return null;
      }
      this.client = client;
      this.noteConnection('connected', `fetching from leader ${this.o.leaderId} at ${address.host}:${address.port}`);
      return client;
    } catch (err) {
      this.noteConnection('failing', `cannot reach leader ${this.o.leaderId} at ${address.host}:${address.port}: ${(err as Error).message}; retrying`);
      await this.backoff();
      return null;
    }
  }

  /** Truncating phase: one OffsetForLeaderEpoch for every partition that needs it. */
  private async truncateDiverged(client: KafkaWireClient): Promise<void> {
    const now = Date.now();
    const asked = new Map<string, { p: PartitionFetchState; epoch: number }>();
    const topics = new Map<string, { partition: number; currentLeaderEpoch: number; leaderEpoch: number }[]>();
    for (const p of this.partitions.values()) {
      if (p.phase !== 'truncating' || p.retryAtMs > now) continue;
      const epoch = p.log.latestEpoch();
      if (epoch < 0) {
        // Nothing stored that could diverge.
        this.startFetching(p);
        continue;
      }
      asked.set(p.key, { p, epoch });
      let list = topics.get(p.topic);
      if (!list) topics.set(p.topic, (list = []));
      list.push({ partition: p.partition, currentLeaderEpoch: p.leaderEpoch, leaderEpoch: epoch });
    }
    if (asked.size === 0) return;
    const request: OffsetForLeaderEpochRequest = {
      replicaId: this.o.selfId,
      topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
    };
    const res = await client.request<OffsetForLeaderEpochResponse>(OFFSET_FOR_LEADER_EPOCH, OFFSET_FOR_LEADER_EPOCH_VERSION, request, this.o.requestTimeoutMs);
    for (const t of res.topics) {
      for (const r of t.partitions) {
        const entry = asked.get(keyOf(t.topic, r.partition));
        // Removed or re-added meanwhile: the answer is for a state that no longer exists.
        if (!entry || this.partitions.get(entry.p.key) !== entry.p) continue;
        const { p, epoch } = entry;
        if (r.errorCode !== ErrorCode.NONE) {
          this.stall(p, r.errorCode, 'OffsetForLeaderEpoch');
          continue;
        }
        const target = truncationPoint(p.log, epoch, r);
        if (target.offset < p.log.logEndOffset) {
          this.recovered(p);
          this.o.log.info(`${p.topic}-${p.partition}: truncating from ${p.log.logEndOffset} to ${target.offset} (leader ${this.o.leaderId} has epoch ${r.leaderEpoch} ending at ${r.endOffset})`);
          p.log.truncateTo(target.offset);
        } else if (!target.complete) {
          // Nothing to cut, but epochs starting at our end must go so the next question is about an older one.
          p.log.truncateTo(target.offset);
        } else if (p.outOfRange) {
          // The leader refused our offset yet finds nothing to drop: let it settle instead of spinning.
          this.stall(p, ErrorCode.OFFSET_OUT_OF_RANGE, 'Fetch');
        } else {
          this.recovered(p);
        }
        p.outOfRange = false;
        if (target.complete) this.startFetching(p);
      }
    }
  }

  /** Fetching phase: one Fetch for every fetching partition, long-polled by the leader. */
  private async fetchOnce(client: KafkaWireClient): Promise<void> {
    const now = Date.now();
    const fetched = new Map<string, PartitionFetchState>();
    const topics = new Map<string, FetchRequest['topics'][number]['partitions']>();
    for (const p of this.partitions.values()) {
      if (p.phase !== 'fetching' || p.retryAtMs > now) continue;
      fetched.set(p.key, p);
      let list = topics.get(p.topic);
      if (!list) topics.set(p.topic, (list = []));
      list.push({
        partition: p.partition,
        currentLeaderEpoch: p.leaderEpoch,
        fetchOffset: p.log.logEndOffset,
        lastFetchedEpoch: -1,
        logStartOffset: p.log.logStartOffset,
        partitionMaxBytes: this.o.partitionMaxBytes,
      });
    }
    if (fetched.size === 0) return;
    const request: FetchRequest = {
      replicaId: this.o.selfId,
      maxWaitMs: this.o.maxWaitMs,
      minBytes: 1,
      maxBytes: this.o.maxBytes,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
      forgottenTopicsData: [],
      rackId: '',
    };
    const res = await client.request<FetchResponse>(FETCH, FETCH_VERSION, request, this.o.maxWaitMs + this.o.requestTimeoutMs);
    if (res.errorCode !== undefined && res.errorCode !== ErrorCode.NONE) {
      for (const p of fetched.values()) this.stall(p, res.errorCode, 'Fetch');
      return;
    }
    for (const t of res.responses) {
      for (const r of t.partitions) {
        const p = fetched.get(keyOf(t.topic ?? '', r.partitionIndex));
        if (!p || this.partitions.get(p.key) !== p) continue;
        try {
          this.onPartitionData(p, r);
        } catch (err) {
          // A local failure (bad batch, disk): start over from truncation, not in a tight loop.
          this.o.log.warn(`${p.topic}-${p.partition}: applying fetched data failed: ${(err as Error).message}; retrying from truncation`);
          p.phase = 'truncating';
          p.retryAtMs = Date.now() + STALLED_RETRY_MS;
        }
      }
    }
  }

  private onPartitionData(p: PartitionFetchState, r: PartitionData): void {
    const log = p.log;
    switch (r.errorCode) {
      case ErrorCode.NONE:
        break;
      case ErrorCode.OFFSET_OUT_OF_RANGE: {
        const leaderStart = r.logStartOffset ?? -1;
        // Behind the leader's log start (retention, DeleteRecords), or nothing stored that truncation could
        // reconcile: start over at the leader's start.
        if (leaderStart >= 0 && (log.logEndOffset < leaderStart || log.latestEpoch() < 0)) {
          this.o.log.info(`${p.topic}-${p.partition}: log end ${log.logEndOffset} is outside the leader's log; restarting at its log start ${leaderStart}`);
          log.truncateFullyAndStartAt(leaderStart);
        } else {
          if (p.stalledOn !== ErrorCode.OFFSET_OUT_OF_RANGE) this.o.log.info(`${p.topic}-${p.partition}: fetch offset ${log.logEndOffset} out of range on leader ${this.o.leaderId}; truncating`);
          p.phase = 'truncating';
          p.outOfRange = true;
        }
        return;
      }
      default:
        this.stall(p, r.errorCode, 'Fetch');
        return;
    }
    this.recovered(p);
    p.outOfRange = false;
    let changed = false;
    const batches = wholeBatchesFrom(recordBytes(r.records), log.logEndOffset);
    if (batches) {
      if (batches.firstBaseOffset < log.logEndOffset) {
        // The leader's log start lies inside its first batch (DeleteRecords mid-batch) and we hold nothing yet:
        // start at the batch's base so it can be stored whole, as Kafka does.
        if (log.logStartOffset !== log.logEndOffset) throw new Error(`leader sent a batch at ${batches.firstBaseOffset} overlapping our log end ${log.logEndOffset}`);
        log.truncateFullyAndStartAt(batches.firstBaseOffset);
      }
      log.appendAsFollower(batches.bytes);
      changed = true;
    }
    const hw = Math.min(r.highWatermark, log.logEndOffset);
    if (hw !== log.highWatermark) {
      log.setHighWatermark(hw);
      changed = true;
    }
    // Follow the leader's log start once it is committed here too (Kafka's maybeIncrementLogStartOffset).
    const leaderStart = Math.min(r.logStartOffset ?? -1, log.highWatermark);
    if (leaderStart > log.logStartOffset) log.deleteRecordsBefore(leaderStart);
    if (changed) this.o.onAppended?.(p.topic, p.partition);
  }

  private startFetching(p: PartitionFetchState): void {
    p.phase = 'fetching';
    // No line here: the ReplicaManager logs one line per leader for all the partitions that start following it.
  }

  private stall(p: PartitionFetchState, code: number, api: string): void {
    const now = Date.now();
    const leaderBehind = LEADER_BEHIND.has(code);
    const retryMs = leaderBehind ? LEADER_BEHIND_RETRY_MS : STALLED_RETRY_MS;
    p.retryAtMs = now + retryMs;
    if (p.stalledOn !== code) {
      p.stalledOn = code;
      p.stalledSinceMs = now;
      p.stallReported = false;
    }
    // The usual moment after a topic is created or a leader elected is not worth a warning; a lasting one is.
    if (p.stallReported || (leaderBehind && now - p.stalledSinceMs < LEADER_BEHIND_QUIET_MS)) return;
    p.stallReported = true;
    this.o.log.warn(`${p.topic}-${p.partition}: ${api} to leader ${this.o.leaderId} failed with error ${code} (leader epoch ${p.leaderEpoch}); retrying every ${retryMs} ms until metadata changes`);
  }

  private recovered(p: PartitionFetchState): void {
    if (p.stalledOn === ErrorCode.NONE) return;
    const wasReported = p.stallReported;
    p.stalledOn = ErrorCode.NONE;
    p.stallReported = false;
    if (wasReported) this.o.log.info(`${p.topic}-${p.partition}: leader ${this.o.leaderId} answers again`);
  }

  private noteConnection(state: 'connected' | 'failing', message: string): void {
    if (state === this.connectionState) return;
    this.connectionState = state;
    if (state === 'connected') this.o.log.info(message);
    else this.o.log.warn(message);
  }

  private async backoff(): Promise<void> {
    await this.sleep(this.backoffMs, false);
    this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
  }

  /** Waits ms (forever if Infinity); stop() always cuts it short, addPartition only when `wakeable`. */
  private sleep(ms: number, wakeable: boolean): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(done, Math.max(0, ms)) : null;
      const self = this;
      function done(): void {
        if (timer) clearTimeout(timer);
        if (self.wakeUp === wake) self.wakeUp = null;
        resolve();
      }
      const wake = () => {
        if (wakeable || self.stopping) done();
      };
      this.wakeUp = wake;
    });
  }

  private wake(): void {
    this.wakeUp?.();
  }
}

/**
 * Where a follower's log stops agreeing with the leader's (Kafka's AbstractFetcherThread, KIP-279), given the
 * leader's answer for the follower's latest epoch. `complete: false` means the follower did not know the
 * leader's epoch: it truncates to its own end of the epoch below, then asks again.
 */
export function truncationPoint(log: Pick<Log, 'logEndOffset' | 'highWatermark' | 'endOffsetForEpoch'>, requestedEpoch: number, leader: Pick<EpochEndOffset, 'leaderEpoch' | 'endOffset'>): { offset: number; complete: boolean } {
  const leo = log.logEndOffset;
  // The leader has nothing as old as our epochs: keep only what we know is committed.
  if (leader.endOffset < 0) return { offset: Math.min(log.highWatermark, leo), complete: true };
  const leaderEpoch = leader.leaderEpoch ?? -1;
  if (leaderEpoch < 0 || leaderEpoch === requestedEpoch) return { offset: Math.min(leader.endOffset, leo), complete: true };
  const ours = log.endOffsetForEpoch(leaderEpoch);
  // We never saw an epoch that old: the leader's end offset is all we can go by.
  if (ours.leaderEpoch < 0 || ours.endOffset < 0) return { offset: Math.min(leader.endOffset, leo), complete: true };
  if (ours.leaderEpoch !== leaderEpoch) return { offset: Math.min(ours.endOffset, leo), complete: false };
  return { offset: Math.min(ours.endOffset, leader.endOffset, leo), complete: true };
}

function recordBytes(records: PartitionData['records']): Buffer {
  if (records === null || records === undefined) return Buffer.alloc(0);
  if (Buffer.isBuffer(records)) return records;
  return records.length === 1 ? records[0] : Buffer.concat(records as Buffer[]);
}

/**
 * The leader's batches that reach `fromOffset` or beyond, whole, as one view (no copy): batches wholly below
 * it are skipped and a trailing partial batch (cut by max bytes) is left for the next fetch.
 */
function wholeBatchesFrom(buf: Buffer, fromOffset: number): { bytes: Buffer; firstBaseOffset: number } | null {
  let pos = 0;
  let start = -1;
  let firstBaseOffset = -1;
  while (pos + HEADER_SIZE <= buf.length) {
    const size = LOG_OVERHEAD + buf.readInt32BE(pos + BATCH_LENGTH);
    if (size < HEADER_SIZE || pos + size > buf.length) break;
    if (start < 0) {
      const base = readInt64(buf, pos);
      if (base + buf.readInt32BE(pos + LAST_OFFSET_DELTA) >= fromOffset) {
        start = pos;
        firstBaseOffset = base;
      }
    }
    pos += size;
  }
  return start < 0 ? null : { bytes: buf.subarray(start, pos), firstBaseOffset };
}
