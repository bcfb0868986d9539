/**
 * Makes this broker's replicas follow the metadata image (Kafka's ReplicaManager reacting to metadata deltas):
 * for every partition assigned here it opens the log, and becomes its leader (with a PartitionLeaderState that
 * tracks followers, HW and ISR changes) or a follower (fetching from the leader through a ReplicaFetcher per
 * leader broker). Topics removed from the image are deleted here too; offsets-topic leadership moves the
 * consumer groups with it.
 */
import { ErrorCode } from '../protocol/error-codes.ts';
import type { LogManager } from '../storage/log-manager.ts';
import type { Log } from '../storage/log.ts';
import type { MetadataImage, TopicImage, PartitionState } from '../controller/metadata/metadata-image.ts';
import { NO_LEADER } from '../controller/metadata/records.ts';
import type { QuorumController } from '../controller/quorum-controller.ts';
import type { BrokerLifecycle } from '../controller/broker-lifecycle.ts';
import type { GroupCoordinator } from '../coordinator/group-coordinator.ts';
import { OFFSETS_TOPIC } from '../coordinator/group-coordinator.ts';
import type { AppendNotifier } from '../server/append-notifier.ts';
import type { Logger } from '../server/logger.ts';
import { PartitionLeaderState } from './partition-leader-state.ts';
import { ReplicaFetcher } from './replica-fetcher.ts';
import { checkLeaderEpoch, type LeaderPartition, type PartitionLeadership } from './partition-leadership.ts';
import type { OffsetsPartitionAccess } from '../coordinator/offsets-partition-access.ts';

export interface ReplicaManagerOptions {
  nodeId: number;
  logs: LogManager;
  controller: QuorumController;
  lifecycle: BrokerLifecycle;
  appends: AppendNotifier;
  log: Logger;
  /** replica.lag.time.max.ms */
  replicaLagTimeMaxMs: number;
  /** Where to reach another broker's Kafka listener for replica fetching (overrides, e.g. a fault proxy). */
  brokerAddressOverrides: ReadonlyMap<number, { host: string; port: number }>;
}

interface LocalReplica {
  topic: string;
  topicId: string;
  partition: number;
  log: Log;
  role: 'leader' | 'follower' | 'offline';
  leaderEpoch: number;
  partitionEpoch: number;
  leaderId: number;
  leaderState: PartitionLeaderState | null;
}

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export class ReplicaManager implements PartitionLeadership {
  private readonly opts: ReplicaManagerOptions;
  private readonly replicas = new Map<string, LocalReplica>();
  private readonly fetchers = new Map<number, ReplicaFetcher>();
  private groups: GroupCoordinator | null = null;
  private image: MetadataImage | null = null;
  private isrTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Role changes of the image being applied, logged as one line per kind (a topic may have hundreds of partitions). */
  private changes = { leading: [] as string[], following: new Map<number, string[]>() };

  constructor(opts: ReplicaManagerOptions) {
    this.opts = opts;
  }

  /** The group coordinator follows leadership of the offsets topic's partitions. */
  attachGroups(groups: GroupCoordinator): void {
    this.groups = groups;
    for (const r of this.replicas.values()) if (r.topic === OFFSETS_TOPIC && r.role === 'leader') groups.loadPartition(r.partition);
  }

  start(): void {
    const interval = Math.max(100, Math.floor(this.opts.replicaLagTimeMaxMs / 4));
    this.isrTimer = setInterval(() => {
      const now = Date.now();
      for (const r of this.replicas.values()) r.leaderState?.maybeShrinkIsr(now);
    }, interval);
    this.isrTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.isrTimer) clearInterval(this.isrTimer);
    for (const r of this.replicas.values()) r.leaderState?.resign();
    await Promise.all([...this.fetchers.values()].map((f) => f.stop()));
    this.fetchers.clear();
  }

  leader(topic: string, partition: number, currentLeaderEpoch?: number): LeaderPartition | number {
    const r = this.replicas.get(key(topic, partition));
    if (!r) {
      const known = this.image?.topic(topic)?.partitions[partition];
      return known ? ErrorCode.NOT_LEADER_OR_FOLLOWER : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (r.role !== 'leader' || !r.leaderState) {
      // A client that already knows a newer epoch than ours is ahead of this broker's metadata.
      const epochError = checkLeaderEpoch(currentLeaderEpoch, r.leaderEpoch);
      return epochError === ErrorCode.UNKNOWN_LEADER_EPOCH ? epochError : ErrorCode.NOT_LEADER_OR_FOLLOWER;
    }
    const epochError = checkLeaderEpoch(currentLeaderEpoch, r.leaderEpoch);
    if (epochError !== ErrorCode.NONE) return epochError;
    return { log: r.log, leaderEpoch: r.leaderEpoch, state: r.leaderState };
  }

  /** How the group coordinator writes to the offsets partitions this broker leads and waits for replication. */
  offsetsAccess(): OffsetsPartitionAccess {
    return {
      leaderLog: (partition) => {
        const l = this.leader(OFFSETS_TOPIC, partition);
        return typeof l === 'number' ? null : { log: l.log, leaderEpoch: l.leaderEpoch };
      },
      waitReplicated: async (partition, lastOffset, timeoutMs) => {
        const l = this.leader(OFFSETS_TOPIC, partition);
        if (typeof l === 'number') return l;
        // The coordinator appended straight to the log: tell the leader state and wake parked follower fetches.
        l.state?.onLocalAppend();
        this.opts.appends.notify(OFFSETS_TOPIC, partition);
        if (!l.state) return ErrorCode.NONE;
        return l.state.waitForReplication(lastOffset + 1, l.log.config.minInsyncReplicas, timeoutMs);
      },
    };
  }

  /** A follower's replica, for the leader's bookkeeping of follower fetches. */
  leaderStateOf(topic: string, partition: number): PartitionLeaderState | null {
    return this.replicas.get(key(topic, partition))?.leaderState ?? null;
  }

  /** Applies a new image. Nothing is deleted before this broker has caught up with the metadata log. */
  onImage(image: MetadataImage): void {
    this.image = image;
    if (this.stopped || !this.opts.lifecycle.caughtUp) return;
    const { nodeId, logs, log } = this.opts;
    const wanted = new Set<string>();
    for (const topic of image.topics()) {
      const local = logs.topic(topic.name);
      if (local && local.topicId !== topic.topicId) {
        log.warn(`topic ${topic.name} was deleted and created again while this broker was away: removing the old one here`);
        this.dropTopic(topic.name);
      }
      for (const p of topic.partitions) {
        if (!p.replicas.includes(nodeId)) continue;
        wanted.add(key(topic.name, p.partitionId));
        this.reconcile(topic, p);
      }
    }
    for (const local of logs.topics()) {
      if (!image.topic(local.name)) {
        log.info(`deleting topic ${local.name}: it is no longer in the cluster metadata`);
        this.dropTopic(local.name);
      }
    }
    for (const [k, r] of this.replicas) {
      if (!wanted.has(k) && image.topic(r.topic)) this.becomeOffline(r);
    }
    this.stopIdleFetchers();
    this.logChanges();
  }

  private logChanges(): void {
    const list = (names: string[]) => (names.length <= 6 ? names.join(', ') : `${names.slice(0, 6).join(', ')} and ${names.length - 6} more`);
    const { leading, following } = this.changes;
    if (leading.length > 0) this.opts.log.info(`became leader of ${leading.length} partition(s): ${list(leading)}`);
    for (const [leader, names] of following) this.opts.log.info(`following broker ${leader} for ${names.length} partition(s): ${list(names)}`);
    this.changes = { leading: [], following: new Map() };
  }

  private dropTopic(name: string): void {
    for (const [k, r] of this.replicas) {
      if (r.topic !== name) continue;
      this.becomeOffline(r);
      this.replicas.delete(k);
    }
    if (this.opts.logs.topic(name)) this.opts.logs.deleteTopic(name);
  }

  private reconcile(topic: TopicImage, p: PartitionState): void {
    const { nodeId, logs } = this.opts;
    const k = key(topic.name, p.partitionId);
    let r = this.replicas.get(k);
    if (!r) {
      const partitionLog = logs.ensurePartitionLog(topic.name, topic.topicId, p.partitionId, topic.partitions.length, Object.fromEntries(topic.configs));
      r = { topic: topic.name, topicId: topic.topicId, partition: p.partitionId, log: partitionLog, role: 'offline', leaderEpoch: -1, partitionEpoch: -1, leaderId: NO_LEADER, leaderState: null };
      this.replicas.set(k, r);
    }
    if (p.leader === nodeId) {
      if (r.role === 'leader' && r.leaderEpoch === p.leaderEpoch) {
        if (r.partitionEpoch !== p.partitionEpoch) r.leaderState!.applyPartitionChange([...p.isr], p.partitionEpoch);
        r.partitionEpoch = p.partitionEpoch;
        return;
      }
      this.becomeLeader(r, p);
    } else if (p.leader === NO_LEADER) {
      this.becomeOffline(r);
      r.leaderEpoch = p.leaderEpoch;
      r.partitionEpoch = p.partitionEpoch;
    } else {
      if (r.role === 'follower' && r.leaderEpoch === p.leaderEpoch && r.leaderId === p.leader) {
        r.partitionEpoch = p.partitionEpoch;
        return;
      }
      this.becomeFollower(r, p);
    }
  }

  private becomeLeader(r: LocalReplica, p: PartitionState): void {
    this.stopFollowing(r);
    r.leaderState?.resign();
    r.role = 'leader';
    r.leaderEpoch = p.leaderEpoch;
    r.partitionEpoch = p.partitionEpoch;
    r.leaderId = this.opts.nodeId;
    // The new epoch starts at this log end even before its first append, so OffsetForLeaderEpoch answers
    // followers of the previous epoch with where it ended here.
    r.log.assignEpochStartOffset(p.leaderEpoch, r.log.logEndOffset);
    const replica = r;
    r.leaderState = new PartitionLeaderState({
      selfId: this.opts.nodeId,
      log: r.log,
      leaderEpoch: p.leaderEpoch,
      partitionEpoch: p.partitionEpoch,
      replicas: [...p.replicas],
      isr: [...p.isr],
      leaderEpochStartOffset: r.log.logEndOffset,
      replicaLagTimeMaxMs: this.opts.replicaLagTimeMaxMs,
      now: Date.now,
      proposeIsr: (newIsr, partitionEpoch) => this.proposeIsr(replica, newIsr, partitionEpoch),
    });
    // A leader alone in its ISR commits what it has at once.
    r.leaderState.onLocalAppend();
    this.opts.appends.notify(r.topic, r.partition);
    this.changes.leading.push(`${r.topic}-${r.partition} (epoch ${p.leaderEpoch}, ISR [${p.isr.join(',')}], log end ${r.log.logEndOffset})`);
    if (r.topic === OFFSETS_TOPIC) this.groups?.loadPartition(r.partition);
  }

  private becomeFollower(r: LocalReplica, p: PartitionState): void {
    this.resignLeadership(r);
    this.stopFollowing(r);
    r.role = 'follower';
    r.leaderEpoch = p.leaderEpoch;
    r.partitionEpoch = p.partitionEpoch;
    r.leaderId = p.leader;
    this.fetcherFor(p.leader).addPartition({ topic: r.topic, partition: r.partition, log: r.log, leaderEpoch: p.leaderEpoch });
    const names = this.changes.following.get(p.leader) ?? [];
    names.push(`${r.topic}-${r.partition} (epoch ${p.leaderEpoch}, from ${r.log.logEndOffset})`);
    this.changes.following.set(p.leader, names);
  }

  private becomeOffline(r: LocalReplica): void {
    this.resignLeadership(r);
    this.stopFollowing(r);
    r.role = 'offline';
    r.leaderId = NO_LEADER;
  }

  private resignLeadership(r: LocalReplica): void {
    if (r.role !== 'leader') return;
    r.leaderState?.resign();
    r.leaderState = null;
    if (r.topic === OFFSETS_TOPIC) this.groups?.unloadPartition(r.partition);
    // Parked consumer fetches must learn at once that this broker no longer leads.
    this.opts.appends.notify(r.topic, r.partition);
  }

  private stopFollowing(r: LocalReplica): void {
    if (r.role !== 'follower') return;
    this.fetchers.get(r.leaderId)?.removePartition(r.topic, r.partition);
  }

  private fetcherFor(leaderId: number): ReplicaFetcher {
    let fetcher = this.fetchers.get(leaderId);
    if (!fetcher) {
      fetcher = new ReplicaFetcher({
        selfId: this.opts.nodeId,
        leaderId,
        leaderAddress: () => this.addressOf(leaderId),
        log: this.opts.log,
        onAppended: (topic, partition) => this.opts.appends.notify(topic, partition),
      });
      fetcher.start();
      this.fetchers.set(leaderId, fetcher);
    }
    return fetcher;
  }

  private stopIdleFetchers(): void {
    for (const [id, fetcher] of this.fetchers) {
      if (fetcher.partitionCount > 0) continue;
      this.fetchers.delete(id);
      void fetcher.stop();
    }
  }

  private addressOf(brokerId: number): { host: string; port: number } | null {
    const override = this.opts.brokerAddressOverrides.get(brokerId);
    if (override) return override;
    const endpoint = this.image?.broker(brokerId)?.endpoints[0];
    return endpoint ? { host: endpoint.host, port: endpoint.port } : null;
  }

  private async proposeIsr(r: LocalReplica, newIsr: number[], partitionEpoch: number): Promise<void> {
    const { controller, lifecycle, nodeId, log } = this.opts;
    const response = await controller.call(
      { type: 'alter-partition', brokerId: nodeId, brokerEpoch: lifecycle.brokerEpoch, topicId: r.topicId, partitionId: r.partition, leaderEpoch: r.leaderEpoch, partitionEpoch, newIsr },
      10_000,
    );
    if (response.code !== ErrorCode.NONE) throw new Error(`AlterPartition for ${r.topic}-${r.partition} refused: ${response.message}`);
    log.info(`ISR of ${r.topic}-${r.partition} is now [${newIsr.join(',')}]`);
  }
}
