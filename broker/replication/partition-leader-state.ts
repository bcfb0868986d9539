import { ErrorCode } from '../protocol/error-codes.ts';


/** The part of a Log the leader's bookkeeping needs. */
export interface LeaderLog {
  readonly logEndOffset: number;
  readonly highWatermark: number;
  setHighWatermark(offset: number): void;
}

/**
 * Asks the controller to change the ISR (Kafka's AlterPartition). Resolves when the controller accepted it —
 * the committed change then arrives via applyPartitionChange — and rejects when refused or failed.
 */
export type IsrProposal = (newIsr: number[], partitionEpoch: number) => Promise<void>;

export interface PartitionLeaderOptions {
  selfId: number;
  log: LeaderLog;
  leaderEpoch: number;
  partitionEpoch: number;
  replicas: number[];
  isr: number[];
  /** LEO when this leader epoch started: a follower must reach it before it may (re)join the ISR. */
  leaderEpochStartOffset: number;
  replicaLagTimeMaxMs: number;
  now: () => number;
  proposeIsr: IsrProposal;
}

interface FollowerState {
  /** The follower's log end offset as of its last fetch, -1 before the first. */
  leo: number;
  lastCaughtUpTimeMs: number;
  lastFetchTimeMs: number;
  /** The leader's LEO when that last fetch arrived. */
  lastFetchLeaderLeo: number;
}

interface ReplicationWaiter {
  requiredOffset: number;
  minInsyncReplicas: number;
  resolve(code: number): void;
  timer: NodeJS.Timeout;
  done: boolean;
}

/**
 * The leader's view of one partition, as in Kafka's Partition: follower fetch positions, the high watermark
 * over the maximal ISR, ISR expansion/shrink proposals, and acks=all produce waiters. Pure bookkeeping: the
 * fetch handler reports follower positions, a timer calls maybeShrinkIsr, the controller's decisions come
 * back through applyPartitionChange.
 *
 * While an ISR change is in flight the high watermark is computed over the *maximal* ISR (KIP-497): a
 * replica being added counts at once (it has caught up) and one being removed still counts until the removal
 * is committed, so the HW never advances past what a possible future ISR holds.
 */
export class PartitionLeaderState {
  readonly leaderEpoch: number;
  private readonly selfId: number;
  private readonly log: LeaderLog;
  private readonly replicas: readonly number[];
  private readonly leaderEpochStartOffset: number;
  private readonly replicaLagTimeMaxMs: number;
  private readonly proposeIsr: IsrProposal;
  private partitionEpoch: number;
  private committedIsr: number[];
  /** The ISR we proposed and the controller has not yet committed (or refused). */
  private pendingIsr: number[] | null = null;
  private readonly followers = new Map<number, FollowerState>();
  /** Min-heap on requiredOffset; timed-out entries stay (marked done) until they surface or a compaction. */
  private waiters: ReplicationWaiter[] = [];
  private deadWaiters = 0;
  private resigned = false;

  constructor(o: PartitionLeaderOptions) {
    this.selfId = o.selfId;
    this.log = o.log;
    this.leaderEpoch = o.leaderEpoch;
    this.partitionEpoch = o.partitionEpoch;
    this.replicas = [...o.replicas];
    this.committedIsr = [...o.isr];
    this.leaderEpochStartOffset = o.leaderEpochStartOffset;
    this.replicaLagTimeMaxMs = o.replicaLagTimeMaxMs;
    this.proposeIsr = o.proposeIsr;
    const now = o.now();
    for (const id of this.replicas) {
      if (id === this.selfId) continue;
      // ISR members get a full lag window to show up; others must catch up before they count.
      this.followers.set(id, {
        leo: -1,
        lastCaughtUpTimeMs: this.committedIsr.includes(id) ? now : 0,
        lastFetchTimeMs: now,
        lastFetchLeaderLeo: o.log.logEndOffset,
      });
    }
  }

  get isr(): readonly number[] {
    return this.committedIsr;
  }

  get maximalIsr(): readonly number[] {
    if (this.pendingIsr === null) return this.committedIsr;
    const union = [...this.committedIsr];
    for (const id of this.pendingIsr) if (!union.includes(id)) union.push(id);
    return union;
  }

  followerLeo(replicaId: number): number {
    if (replicaId === this.selfId) return this.log.logEndOffset;
    return this.followers.get(replicaId)?.leo ?? -1;
  }

  /** A follower fetched from fetchOffset (its LEO): Kafka's Replica.updateFetchState, then HW and ISR. */
  followerFetched(replicaId: number, fetchOffset: number, now: number): void {
    if (this.resigned) return;
    const f = this.followers.get(replicaId);
    if (!f) return;
    const leaderLeo = this.log.logEndOffset;
    if (fetchOffset >= leaderLeo) f.lastCaughtUpTimeMs = Math.max(f.lastCaughtUpTimeMs, now);
    else if (fetchOffset >= f.lastFetchLeaderLeo) f.lastCaughtUpTimeMs = Math.max(f.lastCaughtUpTimeMs, f.lastFetchTimeMs);
    f.lastFetchLeaderLeo = leaderLeo;
    f.lastFetchTimeMs = now;
    f.leo = fetchOffset;
    this.maybeExpandIsr(replicaId, f);
    this.maybeIncrementHighWatermark();
  }

  onLocalAppend(): void {
    if (!this.resigned) this.maybeIncrementHighWatermark();
  }

  maybeShrinkIsr(now: number): void {
    if (this.resigned || this.pendingIsr !== null) return;
    const lagging = this.committedIsr.filter((id) => {
      if (id === this.selfId) return false;
      const f = this.followers.get(id);
      return f !== undefined && now - f.lastCaughtUpTimeMs > this.replicaLagTimeMaxMs;
    });
    if (lagging.length === 0) return;
    this.propose(this.committedIsr.filter((id) => !lagging.includes(id)));
  }

  applyPartitionChange(isr: number[], partitionEpoch: number): void {
    this.committedIsr = [...isr];
    this.partitionEpoch = partitionEpoch;
    this.pendingIsr = null;
    if (this.resigned) return;
    // A smaller ISR may let the HW advance; a waiter whose offset is already covered is re-judged then too.
    this.maybeIncrementHighWatermark();
  }

  waitForReplication(requiredOffset: number, minInsyncReplicas: number, timeoutMs: number): Promise<number> {
    if (this.resigned) return Promise.resolve(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    if (this.log.highWatermark >= requiredOffset) return Promise.resolve(this.outcome(minInsyncReplicas));
    return new Promise((resolve) => {
      const waiter: ReplicationWaiter = {
        requiredOffset,
        minInsyncReplicas,
        resolve,
        done: false,
        timer: setTimeout(() => {
          waiter.done = true;
          this.deadWaiters++;
          resolve(ErrorCode.REQUEST_TIMED_OUT);
          this.maybeCompactWaiters();
        }, timeoutMs),
      };
      heapPush(this.waiters, waiter);
    });
  }

  resign(): void {
    if (this.resigned) return;
    this.resigned = true;
    this.pendingIsr = null;
    for (const w of this.waiters) {
      if (w.done) continue;
      w.done = true;
      clearTimeout(w.timer);
      w.resolve(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    }
    this.waiters = [];
    this.deadWaiters = 0;
  }

  private outcome(minInsyncReplicas: number): number {
    return this.committedIsr.length >= minInsyncReplicas ? ErrorCode.NONE : ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND;
  }

  private maybeExpandIsr(replicaId: number, f: FollowerState): void {
    if (this.pendingIsr !== null || this.committedIsr.includes(replicaId)) return;
    if (f.leo < this.log.highWatermark || f.leo < this.leaderEpochStartOffset) return;
    this.propose([...this.committedIsr, replicaId]);
  }

  /** One proposal in flight; a refusal clears it so the next fetch or shrink check tries again. */
  private propose(newIsr: number[]): void {
    const proposal = newIsr;
    this.pendingIsr = proposal;
    let sent: Promise<void>;
    try {
      sent = this.proposeIsr([...newIsr], this.partitionEpoch);
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent.then(
      () => {},
      () => {
        if (this.pendingIsr === proposal) this.pendingIsr = null;
      },
    );
  }

  private maybeIncrementHighWatermark(): void {
    let hw = this.log.logEndOffset;
    for (const id of this.maximalIsr) {
      if (id === this.selfId) continue;
      const leo = this.followers.get(id)?.leo ?? -1;
      if (leo < hw) hw = leo;
    }
    if (hw > this.log.highWatermark) this.log.setHighWatermark(hw);
    this.completeWaiters();
  }

  private completeWaiters(): void {
    const hw = this.log.highWatermark;
    while (this.waiters.length > 0 && this.waiters[0].requiredOffset <= hw) {
      const w = heapPop(this.waiters)!;
      if (w.done) {
        this.deadWaiters--;
        continue;
      }
      w.done = true;
      clearTimeout(w.timer);
      w.resolve(this.outcome(w.minInsyncReplicas));
    }
  }

  /** Timed-out waiters behind a stuck HW would pile up: drop them once they outnumber the live ones. */
  private maybeCompactWaiters(): void {
    if (this.deadWaiters < 64 || this.deadWaiters * 2 < this.waiters.length) return;
    const live = this.waiters.filter((w) => !w.done);
    this.waiters = [];
    for (const w of live) heapPush(this.waiters, w);
    this.deadWaiters = 0;
  }
}

function heapPush(heap: ReplicationWaiter[], w: ReplicationWaiter): void {
  heap.push(w);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent].requiredOffset <= heap[i].requiredOffset) break;
    [heap[parent], heap[i]] = [heap[i], heap[parent]];
    i = parent;
  }
}

function heapPop(heap: ReplicationWaiter[]): ReplicationWaiter | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (heap.length > 0 && last) {
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && heap[l].requiredOffset < heap[m].requiredOffset) m = l;
      if (r < heap.length && heap[r].requiredOffset < heap[m].requiredOffset) m = r;
      if (m === i) break;
      [heap[m], heap[i]] = [heap[i], heap[m]];
      i = m;
    }
  }
  return top;
}
