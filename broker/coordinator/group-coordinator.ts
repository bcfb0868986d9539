import { Gauge, type Registry } from 'prom-client';
import type { LogManager } from '../storage/log-manager.ts';
import type { Log } from '../storage/log.ts';
import { buildRecordBatch, forEachRecord } from '../protocol/record-batch/records.ts';
import { LOG_OVERHEAD, BATCH_LENGTH } from '../protocol/record-batch/batch-header.ts';
import type { Logger } from '../server/logger.ts';
import { Group, type GroupTimeouts } from './group.ts';
import {
  decodeGroupValue,
  decodeKey,
  decodeOffsetValue,
  encodeGroupValue,
  encodeKey,
  encodeOffsetValue,
  type OffsetCommitValue,
} from './offsets-topic-records.ts';

export const OFFSETS_TOPIC = '__consumer_offsets';

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

export interface CommittedOffset extends OffsetCommitValue {
  topic: string;
  partition: number;
}

/** Java's String.hashCode, so a group maps to the same __consumer_offsets partition as in Kafka. */
function javaHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

const offsetKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/**
 * Kafka's group coordinator for this broker: owns every consumer group, keeps committed offsets and group
 * membership in the compacted `__consumer_offsets` topic, and rebuilds both from it on start.
 */
export class GroupCoordinator {
  private readonly logs: LogManager;
  private readonly config: CoordinatorConfig;
  private readonly log: Logger;
  private readonly groups = new Map<string, Group>();
  private readonly offsets = new Map<string, Map<string, CommittedOffset>>();
  /** When each group last became empty (for offset expiry). */
  private readonly emptySince = new Map<string, number>();
  private retentionTimer: NodeJS.Timeout | null = null;

  constructor(logs: LogManager, config: CoordinatorConfig, log: Logger) {
    this.logs = logs;
    this.config = config;
    this.log = log;
  }

  start(): void {
    if (!this.logs.topic(OFFSETS_TOPIC)) {
      this.logs.createTopic(OFFSETS_TOPIC, this.config.offsetsTopicPartitions, { 'cleanup.policy': 'compact', 'segment.bytes': String(100 * 1024 * 1024) });
    }
    const partitions = this.logs.topic(OFFSETS_TOPIC)!.partitions;
    let records = 0;
    for (let p = 0; p < partitions; p++) records += this.replay(this.logs.getLog(OFFSETS_TOPIC, p)!);
    const now = Date.now();
    // Offset expiry counts from when a group became empty; across a restart, from the restart.
    for (const id of this.groupIds()) if ((this.groups.get(id)?.state ?? 'Empty') === 'Empty') this.emptySince.set(id, now);
    if (records > 0) this.log.info(`group coordinator loaded ${this.groups.size} group(s) and ${records} offset record(s)`);
    this.retentionTimer = setInterval(() => this.expireOffsets(Date.now()), this.config.retentionCheckIntervalMs);
    this.retentionTimer.unref();
  }

  private replay(log: Log): number {
    let offset = log.logStartOffset;
    let count = 0;
    while (offset < log.logEndOffset) {
      const read = log.read(offset, 4 * 1024 * 1024);
      if (read.records.length === 0) break;
      for (const chunk of read.records) {
        let pos = 0;
        while (pos < chunk.length) {
          const size = LOG_OVERHEAD + chunk.readInt32BE(pos + BATCH_LENGTH);
          forEachRecord(chunk.subarray(pos, pos + size), (r) => {
            count++;
            offset = r.offset + 1;
            if (r.key) this.apply(r.key, r.value);
          });
          pos += size;
        }
      }
    }
    return count;
  }

  private apply(keyBytes: Buffer, value: Buffer | null): void {
    const key = decodeKey(keyBytes);
    if (!key) return;
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

  partitionFor(groupId: string): number {
    return Math.abs(javaHash(groupId)) % this.logs.topic(OFFSETS_TOPIC)!.partitions;
  }

  private append(groupId: string, records: { key: Buffer; value: Buffer | null }[]): void {
    const log = this.logs.getLog(OFFSETS_TOPIC, this.partitionFor(groupId))!;
    log.append(buildRecordBatch({ records }), 0);
  }

  private persistGroup(group: Group): void {
    this.append(group.groupId, [{ key: encodeKey({ kind: 'group', group: group.groupId }), value: encodeGroupValue(group.toStored()) }]);
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

  /** Stores offsets durably (one batch in __consumer_offsets), then makes them visible. */
  commitOffsets(groupId: string, entries: { topic: string; partition: number; offset: number; leaderEpoch: number; metadata: string }[]): void {
    if (entries.length === 0) return;
    const now = Date.now();
    const values = entries.map((e) => ({ ...e, commitTimestamp: now }));
    this.append(
      groupId,
      values.map((e) => ({ key: encodeKey({ kind: 'offset', group: groupId, topic: e.topic, partition: e.partition }), value: encodeOffsetValue(e) })),
    );
    const offsets = this.offsetsOf(groupId, true)!;
    for (const e of values) offsets.set(offsetKey(e.topic, e.partition), e);
    if (!this.groups.has(groupId)) this.emptySince.set(groupId, now);
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
    const group = this.groups.get(groupId);
    if (!group && !this.offsets.has(groupId)) return 69; // GROUP_ID_NOT_FOUND
    if (group && group.state !== 'Empty' && group.state !== 'Dead') return 68; // NON_EMPTY_GROUP
    const tombstones = this.committedAll(groupId).map((o) => ({ key: encodeKey({ kind: 'offset', group: groupId, topic: o.topic, partition: o.partition }), value: null }));
    tombstones.push({ key: encodeKey({ kind: 'group', group: groupId }), value: null });
    this.append(groupId, tombstones);
    group?.close();
    this.groups.delete(groupId);
    this.offsets.delete(groupId);
    this.emptySince.delete(groupId);
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
      this.append(groupId, stale.map((o) => ({ key: encodeKey({ kind: 'offset', group: groupId, topic: o.topic, partition: o.partition }), value: null })));
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
