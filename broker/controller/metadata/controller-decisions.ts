/**
 * What the active controller decides, as pure functions from the current MetadataImage (and a request) to
 * the records to propose. Nothing here mutates the image or does I/O: the host proposes the records to Raft
 * as one batch and applies them once committed, so a decision taken on a stale image fails the image's own
 * checks instead of corrupting it. Kafka's ReplicationControlManager and ClusterControlManager play this
 * part in KRaft; the rules follow them:
 * - leaders come only from the ISR (unclean election off); with no eligible ISR member the partition goes
 *   offline (NO_LEADER) and its last ISR member stays in the ISR, so it can lead again when it returns;
 * - a fenced or shutting-down broker leaves every ISR it is in, except where it is the last member;
 * - every leader change bumps the leader epoch, every change the partition epoch (the image checks both).
 */
import { resolveLogConfig } from '../../storage/log-config.ts';
import { validateTopicName } from '../../storage/log-manager.ts';
import { ControllerErrorCode as Code, refuse, type Refusal } from './controller-errors.ts';
import type { MetadataImage, PartitionState } from './metadata-image.ts';
import { NO_LEADER, type BrokerEndpoint, type MetadataRecord, type PartitionChangeRecord } from './records.ts';
import { placeReplicas } from './replica-placement.ts';

export type Decision<T = object> = ({ readonly ok: true; readonly records: MetadataRecord[] } & T) | Refusal;

const MAX_PARTITIONS = 100_000; // as LogManager.validateTopic

/** The first replica (preferred order) that is in `isr` and passes `eligible`, or NO_LEADER. */
export function electLeader(replicas: readonly number[], isr: readonly number[], eligible: (id: number) => boolean): number {
  return replicas.find((id) => isr.includes(id) && eligible(id)) ?? NO_LEADER;
}

function change(p: PartitionState, leader: number, isr: readonly number[]): PartitionChangeRecord | null {
  const sameIsr = isr.length === p.isr.length && isr.every((id) => p.isr.includes(id));
  if (leader === p.leader && sameIsr) return null;
  return {
    type: 'PartitionChange',
    topicId: p.topicId,
    partitionId: p.partitionId,
    leader,
    isr: [...isr],
    leaderEpoch: leader === p.leader ? p.leaderEpoch : p.leaderEpoch + 1,
    partitionEpoch: p.partitionEpoch + 1,
  };
}

/**
 * Changes that take `brokerId` out of every ISR it is in (unless it is the last member) and move its
 * leaderships to the first eligible ISR replica. With `keepLeadershipIfAlone`, a partition with no other
 * eligible ISR member keeps `brokerId` as leader (controlled shutdown: it still serves until it stops);
 * without, it goes offline (the broker is gone).
 */
function leaveIsrs(image: MetadataImage, brokerId: number, keepLeadershipIfAlone: boolean): PartitionChangeRecord[] {
  const others = (id: number) => id !== brokerId && image.isEligible(id);
  const records: PartitionChangeRecord[] = [];
  for (const { partition: p } of image.allPartitions()) {
    if (!p.isr.includes(brokerId)) continue;
    const without = p.isr.filter((id) => id !== brokerId);
    let leader = p.leader;
    if (p.leader === brokerId) {
      leader = electLeader(p.replicas, without, others);
      if (leader === NO_LEADER && keepLeadershipIfAlone) leader = brokerId;
    }
    const isr = leader === brokerId || without.length === 0 ? p.isr : without;
    const record = change(p, leader, isr);
    if (record) records.push(record);
  }
  return records;
}

// ---- broker lifecycle ----

export interface BrokerRegistrationRequest {
  readonly brokerId: number;
  /** Random per process start: tells a retried registration from a restarted broker. */
  readonly incarnationId: string;
  readonly endpoints: readonly BrokerEndpoint[];
  readonly rack: string | null;
}

/**
 * A broker (re)registers. A retry of the current incarnation gets its epoch back and writes nothing. A new
 * incarnation gets the next cluster-wide epoch and starts fenced; if the old one was not fenced yet, it is
 * fenced first (its leaderships move, it leaves ISRs) since the process that held them is gone.
 */
export function registerBroker(image: MetadataImage, req: BrokerRegistrationRequest): Decision<{ brokerEpoch: number }> {
  if (!Number.isInteger(req.brokerId) || req.brokerId < 0) return refuse(Code.INVALID_REQUEST, `broker id must be a non-negative integer, got ${req.brokerId}`);
  const current = image.broker(req.brokerId);
  if (current && current.incarnationId === req.incarnationId) return { ok: true, records: [], brokerEpoch: current.brokerEpoch };
  const fencing = current ? fenceBroker(image, req.brokerId) : { ok: true as const, records: [] };
  if (!fencing.ok) return fencing;
  const brokerEpoch = image.highestBrokerEpoch + 1;
  return {
    ok: true,
    brokerEpoch,
    records: [...fencing.records, { type: 'RegisterBroker', brokerId: req.brokerId, incarnationId: req.incarnationId, brokerEpoch, endpoints: req.endpoints, rack: req.rack, fenced: true }],
  };
}

function checkEpoch(image: MetadataImage, brokerId: number, brokerEpoch: number): Refusal | null {
  const broker = image.broker(brokerId);
  if (!broker) return refuse(Code.BROKER_ID_NOT_REGISTERED, `broker ${brokerId} is not registered`);
  if (broker.brokerEpoch !== brokerEpoch) return refuse(Code.STALE_BROKER_EPOCH, `broker ${brokerId} epoch ${brokerEpoch} is stale (current ${broker.brokerEpoch})`);
  return null;
}

/**
 * A registered broker has caught up (in KRaft: its heartbeat reports the metadata offset): it becomes
 * eligible, and offline partitions whose ISR holds it get it as leader.
 */
export function unfenceBroker(image: MetadataImage, brokerId: number, brokerEpoch: number): Decision {
  const stale = checkEpoch(image, brokerId, brokerEpoch);
  if (stale) return stale;
  if (image.broker(brokerId)!.state !== 'fenced') return { ok: true, records: [] };
  const eligible = (id: number) => id === brokerId || image.isEligible(id);
  const records: MetadataRecord[] = [{ type: 'UnfenceBroker', brokerId, brokerEpoch }];
  for (const { partition: p } of image.allPartitions()) {
    if (p.leader !== NO_LEADER || !p.isr.includes(brokerId)) continue;
    const record = change(p, electLeader(p.replicas, p.isr, eligible), p.isr);
    if (record) records.push(record);
  }
  return { ok: true, records };
}

/**
 * A broker failed (missed heartbeats) or is replaced: it leaves ISRs, its leaderships move to other ISR
 * members or the partitions go offline, then it is fenced. Fencing a fenced broker writes nothing.
 */
export function fenceBroker(image: MetadataImage, brokerId: number): Decision {
  const broker = image.broker(brokerId);
  if (!broker) return refuse(Code.BROKER_ID_NOT_REGISTERED, `broker ${brokerId} is not registered`);
  if (broker.state === 'fenced') return { ok: true, records: [] };
  return { ok: true, records: [...leaveIsrs(image, brokerId, false), { type: 'FenceBroker', brokerId, brokerEpoch: broker.brokerEpoch }] };
}

/**
 * The broker asks to stop. It becomes ineligible, its leaderships move to other eligible ISR members and it
 * leaves the ISRs, so acks=all producers stop waiting for it. Partitions with nobody else to lead stay with
 * it until it is fenced; `remainingLeaderships` counts them, and the broker repeats the request (as
 * Kafka's heartbeats with wantShutDown do) until it is zero or it gives up waiting.
 */
export function controlledShutdown(image: MetadataImage, brokerId: number, brokerEpoch: number): Decision<{ remainingLeaderships: number }> {
  const stale = checkEpoch(image, brokerId, brokerEpoch);
  if (stale) return stale;
  const broker = image.broker(brokerId)!;
  if (broker.state === 'fenced') return { ok: true, records: [], remainingLeaderships: 0 };
  const records: MetadataRecord[] = [];
  if (broker.state === 'active') records.push({ type: 'BrokerShutdown', brokerId, brokerEpoch });
  const moves = leaveIsrs(image, brokerId, true);
  records.push(...moves);
  const remaining = image.partitionsLedBy(brokerId).filter((ref) => {
    const moved = moves.find((m) => m.topicId === ref.topicId && m.partitionId === ref.partitionId);
    return !moved || moved.leader === brokerId;
  });
  return { ok: true, records, remainingLeaderships: remaining.length };
}

// ---- topics ----

export interface CreateTopicRequest {
  readonly name: string;
  /** Chosen by the caller (randomUUID) so that this function stays pure. */
  readonly topicId: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly configs: ReadonlyMap<string, string>;
}

/** A topic with replicas spread over the eligible brokers; each partition led by its preferred replica. */
export function createTopic(image: MetadataImage, req: CreateTopicRequest): Decision<{ assignments: number[][] }> {
  try {
    validateTopicName(req.name);
  } catch (err) {
    return refuse(Code.INVALID_TOPIC_EXCEPTION, (err as Error).message);
  }
  if (image.topic(req.name)) return refuse(Code.TOPIC_ALREADY_EXISTS, `topic '${req.name}' already exists`);
  if (image.topicById(req.topicId)) return refuse(Code.INVALID_REQUEST, `topic id ${req.topicId} is already in use`);
  if (!Number.isInteger(req.partitions) || req.partitions < 1 || req.partitions > MAX_PARTITIONS) {
    return refuse(Code.INVALID_PARTITIONS, `number of partitions must be between 1 and ${MAX_PARTITIONS}, got ${req.partitions}`);
  }
  const brokers = image.eligibleBrokerIds();
  if (!Number.isInteger(req.replicationFactor) || req.replicationFactor < 1 || req.replicationFactor > brokers.length) {
    return refuse(Code.INVALID_REPLICATION_FACTOR, `replication factor ${req.replicationFactor} is not between 1 and the number of available brokers (${brokers.length})`);
  }
  try {
    resolveLogConfig(Object.fromEntries(req.configs));
  } catch (err) {
    return refuse(Code.INVALID_CONFIG, (err as Error).message);
  }
  const assignments = placeReplicas(image, brokers, req.partitions, req.replicationFactor);
  const records: MetadataRecord[] = [{ type: 'Topic', name: req.name, topicId: req.topicId, configs: new Map(req.configs) }];
  assignments.forEach((replicas, partitionId) => {
    records.push({ type: 'Partition', topicId: req.topicId, partitionId, replicas, isr: replicas, leader: replicas[0], leaderEpoch: 0, partitionEpoch: 0 });
  });
  return { ok: true, records, assignments };
}

export function deleteTopic(image: MetadataImage, name: string): Decision {
  const topic = image.topic(name);
  if (!topic) return refuse(Code.UNKNOWN_TOPIC_OR_PARTITION, `topic '${name}' does not exist`);
  return { ok: true, records: [{ type: 'RemoveTopic', topicId: topic.topicId }] };
}

/** Sets (or with null removes) one topic config, checked as LogManager checks configs. */
export function alterTopicConfig(image: MetadataImage, topicName: string, name: string, value: string | null): Decision {
  const topic = image.topic(topicName);
  if (!topic) return refuse(Code.UNKNOWN_TOPIC_OR_PARTITION, `topic '${topicName}' does not exist`);
  const next = new Map(topic.configs);
  if (value === null) next.delete(name);
  else next.set(name, value);
  try {
    resolveLogConfig(Object.fromEntries(next));
  } catch (err) {
    return refuse(Code.INVALID_CONFIG, (err as Error).message);
  }
  return { ok: true, records: [{ type: 'Config', resourceType: 'topic', resourceName: topicName, name, value }] };
}

// ---- partition leadership and ISR ----

/** One partition of an AlterPartition request (Kafka's AlterPartitionRequest v2, topic by id). */
export interface AlterPartitionRequest {
  readonly brokerId: number;
  readonly brokerEpoch: number;
  readonly topicId: string;
  readonly partitionId: number;
  /** The leader epoch and partition epoch the leader last saw: the request applies only to that state. */
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly newIsr: readonly number[];
}

/** The partition's state after the request, as AlterPartitionResponse reports it. */
export interface AlterPartitionResult {
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly isr: readonly number[];
  readonly partitionEpoch: number;
}

/**
 * A leader shrinks the ISR (a follower fell behind replica.lag.time.max.ms) or expands it (a follower caught
 * up). Validated as Kafka's controller does, in the same order and with the same error codes; the partition
 * epoch makes a request built on an older state fail instead of undoing a newer change.
 */
export function alterPartition(image: MetadataImage, req: AlterPartitionRequest): Decision<{ result: AlterPartitionResult }> {
  const stale = checkEpoch(image, req.brokerId, req.brokerEpoch);
  if (stale) return stale.code === Code.BROKER_ID_NOT_REGISTERED ? refuse(Code.STALE_BROKER_EPOCH, stale.message) : stale;
  const topic = image.topicById(req.topicId);
  if (!topic) return refuse(Code.UNKNOWN_TOPIC_ID, `unknown topic id ${req.topicId}`);
  const p = topic.partitions[req.partitionId];
  const where = `${topic.name}-${req.partitionId}`;
  if (!p) return refuse(Code.UNKNOWN_TOPIC_OR_PARTITION, `unknown partition ${where}`);
  // Epochs ahead of this image: the requester saw a newer controller's decision, so this one is stale.
  if (req.leaderEpoch > p.leaderEpoch || req.partitionEpoch > p.partitionEpoch) {
    return refuse(Code.NOT_CONTROLLER, `${where}: request epochs (leader ${req.leaderEpoch}, partition ${req.partitionEpoch}) are ahead of this controller's (${p.leaderEpoch}, ${p.partitionEpoch})`);
  }
  if (req.leaderEpoch < p.leaderEpoch) return refuse(Code.FENCED_LEADER_EPOCH, `${where}: leader epoch ${req.leaderEpoch} is older than ${p.leaderEpoch}`);
  if (req.brokerId !== p.leader) return refuse(Code.INVALID_REQUEST, `${where}: broker ${req.brokerId} is not the leader (${p.leader})`);
  if (req.partitionEpoch < p.partitionEpoch) return refuse(Code.INVALID_UPDATE_VERSION, `${where}: partition epoch ${req.partitionEpoch} is older than ${p.partitionEpoch}`);
  const isr = req.newIsr;
  if (new Set(isr).size !== isr.length || isr.some((id) => !p.replicas.includes(id))) {
    return refuse(Code.INVALID_REQUEST, `${where}: ISR [${isr.join(', ')}] must be distinct replicas of [${p.replicas.join(', ')}]`);
  }
  if (!isr.includes(p.leader)) return refuse(Code.INVALID_REQUEST, `${where}: ISR [${isr.join(', ')}] must include the leader ${p.leader}`);
  const ineligible = isr.filter((id) => !p.isr.includes(id) && !image.isEligible(id));
  if (ineligible.length > 0) return refuse(Code.INELIGIBLE_REPLICA, `${where}: broker(s) ${ineligible.join(', ')} cannot join the ISR (fenced, shutting down or unregistered)`);
  const record = change(p, p.leader, isr);
  const after = record ?? p;
  return { ok: true, records: record ? [record] : [], result: { leader: after.leader, leaderEpoch: after.leaderEpoch, isr: [...after.isr], partitionEpoch: after.partitionEpoch } };
}

export interface ElectionResult {
  readonly topicId: string;
  readonly partitionId: number;
  /** NONE (elected), ELECTION_NOT_NEEDED, PREFERRED_LEADER_NOT_AVAILABLE or UNKNOWN_TOPIC_OR_PARTITION. */
  readonly code: number;
}

/**
 * Preferred-leader election (Kafka's ElectLeaders with PREFERRED, or auto.leader.rebalance): each partition
 * whose first replica is eligible and in the ISR but not leading gets it back as leader. `partitions`
 * defaults to every partition.
 */
export function electPreferredLeaders(
  image: MetadataImage,
  partitions?: readonly { topicId: string; partitionId: number }[],
): Decision<{ results: ElectionResult[] }> {
  const wanted = partitions ?? image.allPartitions().map(({ partition: p }) => ({ topicId: p.topicId, partitionId: p.partitionId }));
  const records: MetadataRecord[] = [];
  const results: ElectionResult[] = [];
  for (const { topicId, partitionId } of wanted) {
    const p = image.partition(topicId, partitionId);
    let code: number = Code.NONE;
    if (!p) code = Code.UNKNOWN_TOPIC_OR_PARTITION;
    else if (p.leader === p.replicas[0]) code = Code.ELECTION_NOT_NEEDED;
    else if (!p.isr.includes(p.replicas[0]) || !image.isEligible(p.replicas[0])) code = Code.PREFERRED_LEADER_NOT_AVAILABLE;
    else if (records.some((r) => r.type === 'PartitionChange' && r.topicId === topicId && r.partitionId === partitionId)) code = Code.ELECTION_NOT_NEEDED;
    else records.push(change(p, p.replicas[0], p.isr)!);
    results.push({ topicId, partitionId, code });
  }
  return { ok: true, records, results };
}
