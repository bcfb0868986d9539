import { Gauge, type Registry } from 'prom-client';
import type { LogManager } from '../storage/log-manager.ts';
import type { Log } from '../storage/log.ts';
import { buildRecordBatch, forEachRecord } from '../protocol/record-batch/records.ts';
import { batchSize, lastOffsetOf } from '../protocol/record-batch/batch-header.ts';
import { ErrorCode, errorCodeOf } from '../protocol/error-codes.ts';
import type { Logger } from '../server/logger.ts';
import { Group, type GroupTimeouts } from './group.ts';
import { groupPartition } from './group-partition.ts';
import { commitErrorFor, localOffsetsAccess, OFFSETS_TOPIC, type OffsetsPartitionAccess } from './offsets-partition-access.ts';
import {
  decodeGroupValue,
  decodeKey,
  decodeOffsetValue,
  encodeGroupValue,
  encodeKey,
  encodeOffsetValue,
  type OffsetCommitValue,
} from './offsets-topic-records.ts';

export { OFFSETS_TOPIC };

/** offsets.commit.timeout.ms: how long an OffsetCommit waits for its record to reach the ISR. */
const OFFSET_COMMIT_TIMEOUT_MS = 5000;

export interface CoordinatorConfig extends GroupTimeouts {
  /** offsets.topic.num.partitions */
  offsetsTopicPartitions: number;
  /** offsets.retention.minutes, in ms: offsets of a group that stays empty this long are removed. */
  offsetsRetentionMs: number;
  /** How often expired offsets are looked for (offsets.retention.check.interval.ms). */
  retentionCheckIntervalMs: number;
}

export const DEFAULT_COORDINATOR_CONFIG: CoordinatorConfig = {
  minSessionTimeoutMs: 6000,
  maxSessionTimeoutMs: 1_800_000,
  initialRebalanceDelayMs: 3000,
  offsetsTopicPartitions: 50,
  offsetsRetentionMs: 7 * 24 * 3600 * 1000,
  retentionCheckIntervalMs: 600_000,
};

export interface CoordinatorOptions {
  /** How __consumer_offsets partitions are reached; by default all of them are local (single node). */
  access?: OffsetsPartitionAccess;
  /** Partitions of __consumer_offsets; by default those of the local topic. */
  partitionCount?: number;
  /**
   * true (default): start() creates __consumer_offsets if missing and coordinates every partition of it.
   * false (cluster): the ReplicaManager calls loadPartition / unloadPartition as leadership moves.
   */
  manageTopic?: boolean;
}

export type CoordinatorStatus = 'active' | 'loading' | 'not-coordinator';

export interface CommittedOffset extends OffsetCommitValue {
  topic: string;
  partition: number;
}

export interface OffsetCommitEntry {
  topic: string;
  partition: number;
  offset: number;
  leaderEpoch: number;
  metadata: string;
}

const offsetKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/** A __consumer_offsets partition this broker coordinates; its identity tells a finished commit whether it still does. */
interface CoordinatedPartition {
  state: 'loading' | 'active';
}

/**
 * Kafka's group coordinator for this broker: owns the consumer groups whose `__consumer_offsets` partition it
 * coordinates (every partition on a single node; the partitions it leads in a cluster), keeps their committed
 * offsets and membership in that compacted topic, and rebuilds both from it when it takes a partition over.
 */
export class GroupCoordinator {
  private readonly logs: LogManager;
  private readonly config: CoordinatorConfig;
  private readonly log: Logger;
  private readonly access: OffsetsPartitionAccess;
  private readonly partitionCountOption: number | undefined;
  private readonly manageTopic: boolean;
  /** Only groups and offsets of coordinated partitions are in memory. */
  private readonly groups = new Map<string, Group>();
  private readonly offsets = new Map<string, Map<string, CommittedOffset>>();
  private readonly coordinated = new Map<number, CoordinatedPartition>();
  /** When each group last became empty (for offset expiry). */
  private readonly emptySince = new Map<string, number>();
  private retentionTimer: NodeJS.Timeout | null = null;

  constructor(logs: LogManager, config: CoordinatorConfig, log: Logger, options: CoordinatorOptions = {}) {
    this.logs = logs;
    this.config = config;
    this.log = log;
    this.access = options.access ?? localOffsetsAccess(logs);
    this.partitionCountOption = options.partitionCount;
    this.manageTopic = options.manageTopic ?? true;
  }

  start(): void {
    if (this.manageTopic) {
      if (!this.logs.topic(OFFSETS_TOPIC)) {
        this.logs.createTopic(OFFSETS_TOPIC, this.config.offsetsTopicPartitions, { 'cleanup.policy': 'compact', 'segment.bytes': String(100 * 1024 * 1024) });
      }
      let records = 0;
      for (let p = 0; p < this.partitionCount; p++) records += this.load(p);
      if (records > 0) this.log.info(`group coordinator loaded ${this.groups.size} group(s) and ${records} offset record(s)`);
    }
    this.retentionTimer = setInterval(() => this.expireOffsets(Date.now()), this.config.retentionCheckIntervalMs);
    this.retentionTimer.unref();
  }

  private get partitionCount(): number {
    return this.partitionCountOption ?? this.logs.topic(OFFSETS_TOPIC)?.partitions ?? this.config.offsetsTopicPartitions;
  }

  partitionFor(groupId: string): number {
    return groupPartition(groupId, this.partitionCount);
  }

  /** This broker became leader of the offsets partition: it coordinates that partition's groups from now on. */
  loadPartition(partition: number): void {
    // Already coordinated: a new leader epoch of the same leader changes nothing in memory (Kafka skips it too).
    if (this.coordinated.has(partition)) return;
    const records = this.load(partition);
    if (records > 0) this.log.info(`group coordinator loaded ${this.groupIdsOf(partition).length} group(s) and ${records} offset record(s) of ${OFFSETS_TOPIC}-${partition}`);
  }

  /** This broker lost leadership of the offsets partition: its groups are closed and forgotten here. */
  unloadPartition(partition: number): void {
    if (!this.coordinated.delete(partition)) return;
    const groupIds = this.groupIdsOf(partition);
    for (const groupId of groupIds) {
      // Members waiting in JoinGroup/SyncGroup are told to find the new coordinator.
      this.groups.get(groupId)?.close(ErrorCode.NOT_COORDINATOR);
      this.forget(groupId);
    }
    if (groupIds.length > 0) this.log.info(`group coordinator unloaded ${groupIds.length} group(s) of ${OFFSETS_TOPIC}-${partition}`);
  }

  coordinatorStatus(groupId: string): CoordinatorStatus {
    return this.coordinated.get(this.partitionFor(groupId))?.state ?? 'not-coordinator';
  }

  /** The error a group request gets when this broker cannot answer for the group now; NONE when it can. */
  coordinatorError(groupId: string): number {
    const status = this.coordinatorStatus(groupId);
    return status === 'active' ? ErrorCode.NONE : status === 'loading' ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS : ErrorCode.NOT_COORDINATOR;
  }

  /** True while some partition is still being loaded (ListGroups then answers ErrorCode.COORDINATOR_LOAD_IN_PROGRESS). */
  isLoading(): boolean {
    for (const p of this.coordinated.values()) if (p.state === 'loading') return true;
    return false;
  }

  private load(partition: number): number {
    const leader = this.access.leaderLog(partition);
    if (!leader) {
      this.log.warn(`cannot coordinate ${OFFSETS_TOPIC}-${partition}: this broker does not lead it`);
      return 0;
    }
    const coordinated: CoordinatedPartition = { state: 'loading' };
    this.coordinated.set(partition, coordinated);
    const records = this.replay(leader.log, partition);
    // Offset expiry counts from when a group became empty; for groups just taken over, from now.
    const now = Date.now();
    for (const id of this.groupIdsOf(partition)) if ((this.groups.get(id)?.state ?? 'Empty') === 'Empty') this.emptySince.set(id, now);
    coordinated.state = 'active';
    return records;
  }

  /** Applies the partition's records up to its log end: on a new leader, everything its predecessor appended. */
  private replay(log: Log, partition: number): number {
    let offset = log.logStartOffset;
    let count = 0;
    while (offset < log.logEndOffset) {
      const read = readToLogEnd(log, offset);
      if (read.length === 0) break;
      for (const chunk of read) {
        for (let pos = 0; pos < chunk.length; ) {
          const size = batchSize(chunk, pos);
          forEachRecord(chunk.subarray(pos, pos + size), (r) => {
            count++;
            if (r.key) this.apply(r.key, r.value, partition);
          });
          // Past the whole batch, even one compaction emptied.
          offset = lastOffsetOf(chunk, pos) + 1;
          pos += size;
        }
      }
    }
    return count;
  }

  private apply(keyBytes: Buffer, value: Buffer | null, partition: number): void {
    const key = decodeKey(keyBytes);
    if (!key || this.partitionFor(key.group) !== partition) return;
    if (key.kind === 'offset') {
      const offsets = this.offsetsOf(key.group, value !== null);
      if (!offsets) return;
      if (value === null) {
        offsets.delete(offsetKey(key.topic, key.partition));
        if (offsets.size === 0) this.offsets.delete(key.group);
      }
      else offsets.set(offsetKey(key.topic, key.partition), { topic: key.topic, partition: key.partition, ...decodeOffsetValue(value) });
      return;
    }
    this.groups.get(key.group)?.close();
    this.groups.delete(key.group);
    if (value === null) return;
    const group = this.newGroup(key.group);
    group.restore(decodeGroupValue(value));
  }

  private newGroup(groupId: string): Group {
    const group = new Group(groupId, this.config, (g) => this.persistGroup(g));
    this.groups.set(groupId, group);
    return group;
  }

  private offsetsOf(groupId: string, create: boolean): Map<string, CommittedOffset> | undefined {
    let offsets = this.offsets.get(groupId);
    if (!offsets && create) this.offsets.set(groupId, (offsets = new Map()));
    return offsets;
  }

  private groupIdsOf(partition: number): string[] {
    return this.groupIds().filter((id) => this.partitionFor(id) === partition);
  }

  private forget(groupId: string): void {
    this.groups.delete(groupId);
    this.offsets.delete(groupId);
    this.emptySince.delete(groupId);
  }

  /** Appends to the group's offsets partition as its leader, stamped with the leader epoch; an error code if it cannot. */
  private appendToLeader(groupId: string, records: { key: Buffer; value: Buffer | null }[]): { partition: number; lastOffset: number } | number {
    const partition = this.partitionFor(groupId);
    const leader = this.access.leaderLog(partition);
    if (!leader) return ErrorCode.NOT_LEADER_OR_FOLLOWER;
    try {
      return { partition, lastOffset: leader.log.append(buildRecordBatch({ records }), leader.leaderEpoch).lastOffset };
    } catch (err) {
      return errorCodeOf(err);
    }
  }

  /**
   * Membership, tombstones and expiry are not waited on (as in Kafka's group metadata writes): a record lost
   * in a failover only costs the group a rebalance, never a committed offset.
   */
  private appendUnacknowledged(groupId: string, records: { key: Buffer; value: Buffer | null }[]): number {
    const appended = this.appendToLeader(groupId, records);
    if (typeof appended === 'number') {
      this.log.warn(`could not write group ${groupId} to ${OFFSETS_TOPIC}-${this.partitionFor(groupId)}: error ${appended}`);
      return appended;
    }
    // Not awaited, but still announced: the replication layer learns of the append there (HW, parked follower fetches).
    const waiting = this.access.waitReplicated(appended.partition, appended.lastOffset, OFFSET_COMMIT_TIMEOUT_MS);
    if (typeof waiting !== 'number') waiting.catch(() => {});
    return ErrorCode.NONE;
  }

  private persistGroup(group: Group): void {
    this.appendUnacknowledged(group.groupId, [{ key: encodeKey({ kind: 'group', group: group.groupId }), value: encodeGroupValue(group.toStored()) }]);
    if (group.state === 'Empty') this.emptySince.set(group.groupId, Date.now());
    else this.emptySince.delete(group.groupId);
  }

  /** The group, created (Empty) when it does not exist yet. */
  group(groupId: string): Group {
    return this.groups.get(groupId) ?? this.newGroup(groupId);
  }

  existingGroup(groupId: string): Group | undefined {
    return this.groups.get(groupId);
  }

  allGroups(): Group[] {
    return [...this.groups.values()];
  }

  /**
   * Stores offsets durably (one batch in the group's __consumer_offsets partition), waits until the batch is
   * replicated to the ISR, and only then makes them visible: a commit the client saw succeed survives a failover.
   * Resolves with NONE or the error code for the client.
   */
  async commitOffsets(groupId: string, entries: OffsetCommitEntry[]): Promise<number> {
    if (entries.length === 0) return ErrorCode.NONE;
    const notCoordinating = this.coordinatorError(groupId);
    if (notCoordinating !== ErrorCode.NONE) return notCoordinating;
    const coordinated = this.coordinated.get(this.partitionFor(groupId));
    const now = Date.now();
    const values = entries.map((e) => ({ ...e, commitTimestamp: now }));
    const appended = this.appendToLeader(
      groupId,
      values.map((e) => ({ key: encodeKey({ kind: 'offset', group: groupId, topic: e.topic, partition: e.partition }), value: encodeOffsetValue(e) })),
    );
    if (typeof appended === 'number') return commitErrorFor(appended);
    let replicated: number;
    try {
      const waiting = this.access.waitReplicated(appended.partition, appended.lastOffset, OFFSET_COMMIT_TIMEOUT_MS);
      // A single node answers at once: the offsets are visible before commitOffsets returns, as they always were.
      replicated = typeof waiting === 'number' ? waiting : await waiting;
    } catch (err) {
      replicated = errorCodeOf(err);
    }
    if (replicated !== ErrorCode.NONE) return commitErrorFor(replicated);
    // Replicated, so the commit stands even if this broker stopped coordinating meanwhile: the new coordinator
    // loads it from the log. Only a partition still coordinated by the same load shows it here.
    if (this.coordinated.get(appended.partition) !== coordinated) return ErrorCode.NONE;
    const offsets = this.offsetsOf(groupId, true)!;
    for (const e of values) offsets.set(offsetKey(e.topic, e.partition), e);
    if (!this.groups.has(groupId)) this.emptySince.set(groupId, now);
    return ErrorCode.NONE;
  }

  committed(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.offsets.get(groupId)?.get(offsetKey(topic, partition));
  }

  committedAll(groupId: string): CommittedOffset[] {
    return [...(this.offsets.get(groupId)?.values() ?? [])];
  }

  /** Groups known only through their offsets (admin commits) count as groups too, as in Kafka. */
  groupIds(): string[] {
    return [...new Set([...this.groups.keys(), ...this.offsets.keys()])];
  }

  /** DeleteGroups: only an empty group; its membership and offsets get tombstones. */
  deleteGroup(groupId: string): number {
    const notCoordinating = this.coordinatorError(groupId);
    if (notCoordinating !== ErrorCode.NONE) return notCoordinating;
    const group = this.groups.get(groupId);
    if (!group && !this.offsets.has(groupId)) return 69; // GROUP_ID_NOT_FOUND
    if (group && group.state !== 'Empty' && group.state !== 'Dead') return 68; // NON_EMPTY_GROUP
    const tombstones = this.committedAll(groupId).map((o) => ({ key: encodeKey({ kind: 'offset', group: groupId, topic: o.topic, partition: o.partition }), value: null }));
    tombstones.push({ key: encodeKey({ kind: 'group', group: groupId }), value: null });
    const appendError = this.appendUnacknowledged(groupId, tombstones);
    if (appendError !== ErrorCode.NONE) return commitErrorFor(appendError);
    group?.close();
    this.forget(groupId);
    return 0;
  }

  /** Removes offsets of groups that have been empty for offsets.retention.minutes (Kafka 2.1+ semantics). */
  expireOffsets(now: number): number {
    let expired = 0;
    for (const [groupId, offsets] of this.offsets) {
      const group = this.groups.get(groupId);
      if (group && group.state !== 'Empty') continue;
      const since = this.emptySince.get(groupId) ?? now;
      const stale = [...offsets.values()].filter((o) => Math.max(o.commitTimestamp, since) + this.config.offsetsRetentionMs <= now);
      if (stale.length === 0) continue;
      const tombstones = stale.map((o) => ({ key: encodeKey({ kind: 'offset', group: groupId, topic: o.topic, partition: o.partition }), value: null }));
      if (this.appendUnacknowledged(groupId, tombstones) !== ErrorCode.NONE) continue;
      for (const o of stale) offsets.delete(offsetKey(o.topic, o.partition));
      if (offsets.size === 0) this.offsets.delete(groupId);
      expired += stale.length;
    }
    if (expired > 0) this.log.info(`expired ${expired} committed offset(s) past offsets.retention.minutes`);
    return expired;
  }

  /** Consumer lag per group, topic and partition (log end offset minus committed offset) at /metrics. */
  registerMetrics(registry: Registry): void {
    const logs = this.logs;
    const coordinator = this;
    new Gauge({
      name: 'tributary_broker_consumer_group_lag',
      help: 'Records between a consumer group\'s committed offset and the partition\'s log end, by group, topic and partition',
      labelNames: ['group', 'topic', 'partition'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [groupId, offsets] of coordinator.offsets) {
          for (const o of offsets.values()) {
            const log = logs.getLog(o.topic, o.partition);
            if (log) this.set({ group: groupId, topic: o.topic, partition: String(o.partition) }, Math.max(0, log.highWatermark - o.offset));
          }
        }
      },
    });
    new Gauge({
      name: 'tributary_broker_consumer_group_members',
      help: 'Members of each consumer group',
      labelNames: ['group', 'state'],
      registers: [registry],
      collect() {
        this.reset();
        for (const g of coordinator.groups.values()) this.set({ group: g.groupId, state: g.state }, g.members.size);
      },
    });
  }

  close(): void {
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    for (const g of this.groups.values()) g.close();
  }
}

/**
 * Batches from fetchOffset up to the log end, not just the high watermark: a new leader's HW may still trail
 * records its predecessor appended and that it will commit, and Kafka loads groups up to the log end as well.
 */
function readToLogEnd(log: Log, fetchOffset: number): Buffer[] {
  return log.read(fetchOffset, 4 * 1024 * 1024, true, log.logEndOffset).records;
}
