/**
 * The cluster metadata as of some point of the metadata log: brokers, topics, partitions, configs. Built by
 * replaying records in order (Kafka's MetadataImage plays the same part in KRaft).
 *
 * Images are immutable: apply() returns a new image and leaves the receiver as it was, so a rejected record
 * (or a rejected record of a batch: applyAll) changes nothing, and the controller can try a decision's records
 * against its current image before proposing them. Unchanged topics and brokers are shared between images,
 * so one apply costs a copy of the maps it touches, not of the whole cluster.
 *
 * apply() validates each record against the image. The rules are the cluster's invariants, so an image built
 * only through apply() always satisfies them:
 * - replicas are distinct registered brokers; the ISR is a non-empty subset of the replicas; the leader is in
 *   the ISR or there is none (NO_LEADER). The ISR never empties: its last member stays in it while offline,
 *   because without unclean election it is the only replica known to hold every acknowledged record;
 * - a new leader, or a broker newly added to an ISR, is registered, unfenced and not shutting down;
 * - every change moves the partition epoch on by exactly one; the leader epoch moves on by exactly one when
 *   the leader changes and stays put otherwise;
 * - a fenced broker leads nothing; broker epochs only grow, across the whole cluster;
 * - a record about an unknown broker, topic or partition, or with a stale broker epoch, is refused.
 */
import { validateTopicName } from '../../storage/log-manager.ts';
import {
  NO_LEADER,
  type BrokerEndpoint,
  type MetadataRecord,
  type PartitionChangeRecord,
  type PartitionRecord,
  type RegisterBrokerRecord,
  checkRecordShape,
} from './records.ts';
import { encodeSnapshot, decodeSnapshot } from './metadata-snapshot.ts';

/** fenced: may lead nothing; active: eligible; shutting-down: keeps what it has, takes nothing new. */
export type BrokerState = 'fenced' | 'active' | 'shutting-down';

export interface BrokerRegistration {
  readonly brokerId: number;
  readonly incarnationId: string;
  readonly brokerEpoch: number;
  readonly endpoints: readonly BrokerEndpoint[];
  readonly rack: string | null;
  readonly state: BrokerState;
}

/** A partition as the image holds it: the fields of its PartitionRecord, as changed since. */
export type PartitionState = Omit<PartitionRecord, 'type'>;

export interface TopicImage {
  readonly name: string;
  readonly topicId: string;
  /** Indexed by partition id: partitions are added in order, 0, 1, 2, ... */
  readonly partitions: readonly PartitionState[];
  readonly configs: ReadonlyMap<string, string>;
}

export interface TopicPartitionRef {
  readonly topicId: string;
  readonly topicName: string;
  readonly partitionId: number;
}

export type ApplyResult = { readonly ok: true; readonly image: MetadataImage } | { readonly ok: false; readonly reason: string };

/** A committed record the image refuses: the log or snapshot is corrupt, or a decision had a bug. */
export class MetadataValidationError extends Error {
  override name = 'MetadataValidationError';
}

class Rejection extends Error {}
function reject(reason: string): never {
  throw new Rejection(reason);
}

interface ImageParts {
  readonly brokers: ReadonlyMap<number, BrokerRegistration>;
  readonly topics: ReadonlyMap<string, TopicImage>;
  readonly topicIdsByName: ReadonlyMap<string, string>;
  readonly brokerConfigs: ReadonlyMap<string, ReadonlyMap<string, string>>;
  readonly highestBrokerEpoch: number;
}

export class MetadataImage {
  static readonly EMPTY = new MetadataImage({
    brokers: new Map(),
    topics: new Map(),
    topicIdsByName: new Map(),
    brokerConfigs: new Map(),
    highestBrokerEpoch: 0,
  });

  private readonly parts: ImageParts;

  private constructor(parts: ImageParts) {
    this.parts = parts;
  }

  // ---- queries ----

  /** The highest broker epoch ever registered; the next registration needs a higher one. */
  get highestBrokerEpoch(): number {
    return this.parts.highestBrokerEpoch;
  }

  /** Every registered broker, fenced or not, by id. */
  brokers(): BrokerRegistration[] {
    return [...this.parts.brokers.values()].sort((a, b) => a.brokerId - b.brokerId);
  }

  broker(brokerId: number): BrokerRegistration | undefined {
    return this.parts.brokers.get(brokerId);
  }

  /** Brokers that may become leaders or join ISRs (registered, unfenced, not shutting down), by id. */
  eligibleBrokerIds(): number[] {
    return this.brokers().filter((b) => b.state === 'active').map((b) => b.brokerId);
  }

  isEligible(brokerId: number): boolean {
    return this.parts.brokers.get(brokerId)?.state === 'active';
  }

  /** Topics by name. */
  topics(): TopicImage[] {
    return [...this.parts.topicIdsByName.keys()].sort().map((name) => this.topic(name)!);
  }

  topic(name: string): TopicImage | undefined {
    const id = this.parts.topicIdsByName.get(name);
    return id === undefined ? undefined : this.parts.topics.get(id);
  }

  topicById(topicId: string): TopicImage | undefined {
    return this.parts.topics.get(topicId);
  }

  partition(topicId: string, partitionId: number): PartitionState | undefined {
    return this.parts.topics.get(topicId)?.partitions[partitionId];
  }

  /** Every partition of every topic, topics by name. */
  allPartitions(): { topic: TopicImage; partition: PartitionState }[] {
    return this.topics().flatMap((topic) => topic.partitions.map((partition) => ({ topic, partition })));
  }

  /** The partitions `brokerId` leads now. */
  partitionsLedBy(brokerId: number): TopicPartitionRef[] {
    return this.allPartitions()
      .filter(({ partition }) => partition.leader === brokerId)
      .map(({ topic, partition }) => ({ topicId: topic.topicId, topicName: topic.name, partitionId: partition.partitionId }));
  }

  /** A broker's config overrides (brokerId as a string), or the cluster-wide defaults for ''. */
  brokerConfigs(resourceName: string): ReadonlyMap<string, string> {
    return this.parts.brokerConfigs.get(resourceName) ?? new Map();
  }

  /** Every resource name ('' or a broker id) that has broker config overrides. */
  brokerConfigResources(): string[] {
    return [...this.parts.brokerConfigs.keys()].sort();
  }

  // ---- applying records ----

  /** The image after `record`, or why the record does not apply (this image is never changed). */
  apply(record: MetadataRecord): ApplyResult {
    try {
      return { ok: true, image: new MetadataImage(this.next(record)) };
    } catch (err) {
      if (err instanceof Rejection) return { ok: false, reason: `${record.type}: ${err.message}` };
      throw err;
    }
  }

  /** All records in order, or none of them: the first refusal is returned, with its position. */
  applyAll(records: readonly MetadataRecord[]): ApplyResult {
    let image: MetadataImage = this;
    for (let i = 0; i < records.length; i++) {
      const result = image.apply(records[i]);
      if (!result.ok) return { ok: false, reason: `record ${i} of ${records.length}: ${result.reason}` };
      image = result.image;
    }
    return { ok: true, image };
  }

  /** applyAll for records already committed: a refusal means corruption, so it throws MetadataValidationError. */
  replay(records: readonly MetadataRecord[]): MetadataImage {
    const result = this.applyAll(records);
    if (!result.ok) throw new MetadataValidationError(result.reason);
    return result.image;
  }

  private next(r: MetadataRecord): ImageParts {
    try {
      checkRecordShape(r);
    } catch (err) {
      reject((err as Error).message);
    }
    const p = this.parts;
    switch (r.type) {
      case 'RegisterBroker':
        return this.register(r);
      case 'FenceBroker':
      case 'UnfenceBroker':
      case 'BrokerShutdown': {
        const broker = this.currentBroker(r.brokerId, r.brokerEpoch);
        let state: BrokerState;
        if (r.type === 'FenceBroker') {
          if (broker.state === 'fenced') reject(`broker ${r.brokerId} is already fenced`);
          const led = this.partitionsLedBy(r.brokerId);
          if (led.length > 0) reject(`broker ${r.brokerId} still leads ${led.length} partition(s), e.g. ${led[0].topicName}-${led[0].partitionId}`);
          state = 'fenced';
        } else if (r.type === 'UnfenceBroker') {
          if (broker.state !== 'fenced') reject(`broker ${r.brokerId} is not fenced (${broker.state})`);
          state = 'active';
        } else {
          if (broker.state !== 'active') reject(`broker ${r.brokerId} cannot begin a controlled shutdown while ${broker.state}`);
          state = 'shutting-down';
        }
        return { ...p, brokers: withEntry(p.brokers, r.brokerId, Object.freeze({ ...broker, state })) };
      }
      case 'Topic': {
        try {
          validateTopicName(r.name);
        } catch (err) {
          reject((err as Error).message);
        }
        if (p.topicIdsByName.has(r.name)) reject(`topic '${r.name}' already exists`);
        if (p.topics.has(r.topicId)) reject(`topic id ${r.topicId} is already used by '${p.topics.get(r.topicId)!.name}'`);
        const topic: TopicImage = Object.freeze({ name: r.name, topicId: r.topicId, partitions: Object.freeze([]), configs: new Map(r.configs) });
        return { ...p, topics: withEntry(p.topics, r.topicId, topic), topicIdsByName: withEntry(p.topicIdsByName, r.name, r.topicId) };
      }
      case 'Partition':
        return this.withPartition(this.checkNewPartition(r));
      case 'PartitionChange':
        return this.withPartition(this.checkPartitionChange(r));
      case 'RemoveTopic': {
        const topic = p.topics.get(r.topicId) ?? reject(`unknown topic id ${r.topicId}`);
        return { ...p, topics: withoutEntry(p.topics, r.topicId), topicIdsByName: withoutEntry(p.topicIdsByName, topic.name) };
      }
      case 'Config': {
        const change = (configs: ReadonlyMap<string, string>) => {
          const next = new Map(configs);
          if (r.value === null) next.delete(r.name);
          else next.set(r.name, r.value);
          return next;
        };
        if (r.resourceType === 'topic') {
          const topic = this.topic(r.resourceName) ?? reject(`unknown topic '${r.resourceName}'`);
          return { ...p, topics: withEntry(p.topics, topic.topicId, Object.freeze({ ...topic, configs: change(topic.configs) })) };
        }
        if (r.resourceName !== '' && !(String(Number(r.resourceName)) === r.resourceName && p.brokers.has(Number(r.resourceName)))) {
          reject(`unknown broker '${r.resourceName}' (a broker id, or '' for the cluster default)`);
        }
        const configs = change(p.brokerConfigs.get(r.resourceName) ?? new Map());
        return { ...p, brokerConfigs: configs.size > 0 ? withEntry(p.brokerConfigs, r.resourceName, configs) : withoutEntry(p.brokerConfigs, r.resourceName) };
      }
    }
  }

  private register(r: RegisterBrokerRecord): ImageParts {
    const p = this.parts;
    if (r.brokerEpoch <= p.highestBrokerEpoch) reject(`broker epoch ${r.brokerEpoch} is not above the highest so far, ${p.highestBrokerEpoch}`);
    const previous = p.brokers.get(r.brokerId);
    // The old incarnation must have been fenced first, so nothing is still led by a process that is gone.
    if (previous && previous.state !== 'fenced') reject(`broker ${r.brokerId} is registered and ${previous.state}; fence it before it registers again`);
    const registration: BrokerRegistration = Object.freeze({
      brokerId: r.brokerId,
      incarnationId: r.incarnationId,
      brokerEpoch: r.brokerEpoch,
      endpoints: Object.freeze(r.endpoints.map((e) => Object.freeze({ ...e }))),
      rack: r.rack,
      state: r.fenced ? 'fenced' : 'active',
    });
    return { ...p, brokers: withEntry(p.brokers, r.brokerId, registration), highestBrokerEpoch: r.brokerEpoch };
  }

  private currentBroker(brokerId: number, brokerEpoch: number): BrokerRegistration {
    const broker = this.parts.brokers.get(brokerId) ?? reject(`unknown broker ${brokerId}`);
    if (broker.brokerEpoch !== brokerEpoch) reject(`broker ${brokerId} epoch ${brokerEpoch} is stale (current ${broker.brokerEpoch})`);
    return broker;
  }

  /** Leader in ISR (or none), ISR non-empty and within the replicas. */
  private checkLeaderAndIsr(where: string, replicas: readonly number[], isr: readonly number[], leader: number): void {
    if (isr.length === 0) reject(`${where}: the ISR cannot be empty`);
    const outside = isr.filter((id) => !replicas.includes(id));
    if (outside.length > 0) reject(`${where}: ISR [${isr.join(', ')}] has broker(s) ${outside.join(', ')} that are not replicas [${replicas.join(', ')}]`);
    if (leader !== NO_LEADER && !isr.includes(leader)) reject(`${where}: leader ${leader} is not in the ISR [${isr.join(', ')}]`);
  }

  private checkNewPartition(r: PartitionRecord): PartitionState {
    const topic = this.parts.topics.get(r.topicId) ?? reject(`unknown topic id ${r.topicId}`);
    const where = `${topic.name}-${r.partitionId}`;
    if (r.partitionId !== topic.partitions.length) reject(`${where}: partitions are added in order; the next one is ${topic.partitions.length}`);
    if (r.replicas.length === 0) reject(`${where}: a partition has at least one replica`);
    const unknown = r.replicas.filter((id) => !this.parts.brokers.has(id));
    if (unknown.length > 0) reject(`${where}: replica(s) ${unknown.join(', ')} are not registered brokers`);
    this.checkLeaderAndIsr(where, r.replicas, r.isr, r.leader);
    if (r.leader !== NO_LEADER && this.parts.brokers.get(r.leader)!.state === 'fenced') reject(`${where}: leader ${r.leader} is fenced`);
    return freezePartition({ ...r });
  }

  private checkPartitionChange(r: PartitionChangeRecord): PartitionState {
    const topic = this.parts.topics.get(r.topicId) ?? reject(`unknown topic id ${r.topicId}`);
    const current = topic.partitions[r.partitionId] ?? reject(`unknown partition ${topic.name}-${r.partitionId}`);
    const where = `${topic.name}-${r.partitionId}`;
    if (r.partitionEpoch !== current.partitionEpoch + 1) reject(`${where}: partition epoch ${r.partitionEpoch} does not follow ${current.partitionEpoch}`);
    const leaderChanged = r.leader !== current.leader;
    const expectedLeaderEpoch = leaderChanged ? current.leaderEpoch + 1 : current.leaderEpoch;
    if (r.leaderEpoch !== expectedLeaderEpoch) {
      reject(`${where}: leader epoch ${r.leaderEpoch} should be ${expectedLeaderEpoch} (current ${current.leaderEpoch}, leader ${leaderChanged ? 'changes' : 'unchanged'})`);
    }
    if (!leaderChanged && sameMembers(r.isr, current.isr)) reject(`${where}: changes neither the leader nor the ISR`);
    this.checkLeaderAndIsr(where, current.replicas, r.isr, r.leader);
    if (leaderChanged && r.leader !== NO_LEADER && !this.isEligible(r.leader)) reject(`${where}: new leader ${r.leader} is ${this.stateOf(r.leader)}`);
    for (const id of r.isr) {
      if (!current.isr.includes(id) && !this.isEligible(id)) reject(`${where}: broker ${id} cannot join the ISR while ${this.stateOf(id)}`);
    }
    return freezePartition({ ...current, isr: r.isr, leader: r.leader, leaderEpoch: r.leaderEpoch, partitionEpoch: r.partitionEpoch });
  }

  private stateOf(brokerId: number): string {
    return this.parts.brokers.get(brokerId)?.state ?? 'not registered';
  }

  private withPartition(partition: PartitionState): ImageParts {
    const p = this.parts;
    const topic = p.topics.get(partition.topicId)!;
    const partitions = [...topic.partitions];
    partitions[partition.partitionId] = partition;
    return { ...p, topics: withEntry(p.topics, topic.topicId, Object.freeze({ ...topic, partitions: Object.freeze(partitions) })) };
  }

  // ---- snapshots ----

  /** The whole image as bytes, for a Raft snapshot. Equal images give equal bytes. */
  snapshot(): Buffer {
    return encodeSnapshot(this);
  }

  /** The image a snapshot describes; throws MetadataDecodeError or MetadataValidationError, never half-loads. */
  static load(bytes: Uint8Array): MetadataImage {
    const { highestBrokerEpoch, records } = decodeSnapshot(bytes);
    const image = MetadataImage.EMPTY.replay(records);
    if (highestBrokerEpoch < image.highestBrokerEpoch) {
      throw new MetadataValidationError(`snapshot says the highest broker epoch is ${highestBrokerEpoch}, but a broker has ${image.highestBrokerEpoch}`);
    }
    return new MetadataImage({ ...image.parts, highestBrokerEpoch });
  }
}

function freezePartition(p: PartitionState): PartitionState {
  return Object.freeze({
    topicId: p.topicId,
    partitionId: p.partitionId,
    replicas: Object.freeze([...p.replicas]),
    isr: Object.freeze([...p.isr]),
    leader: p.leader,
    leaderEpoch: p.leaderEpoch,
    partitionEpoch: p.partitionEpoch,
  });
}

function sameMembers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id) => b.includes(id));
}

function withEntry<K, V>(map: ReadonlyMap<K, V>, key: K, value: V): Map<K, V> {
  return new Map(map).set(key, value);
}

function withoutEntry<K, V>(map: ReadonlyMap<K, V>, key: K): Map<K, V> {
  const next = new Map(map);
  next.delete(key);
  return next;
}
