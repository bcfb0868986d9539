/**
 * Cluster metadata records: what the controller quorum's Raft log carries, in the spirit of KRaft's metadata
 * records (RegisterBrokerRecord, TopicRecord, PartitionRecord, PartitionChangeRecord, ...). Replaying them in
 * order builds a MetadataImage; a Raft snapshot is the same records describing one image.
 *
 * Differences from KRaft, on purpose:
 * - PartitionChange carries the partition's whole new leader/ISR state and both new epochs rather than a
 *   delta with "no change" sentinels. A replayed, duplicated or reordered change then fails the image's
 *   epoch check instead of being silently re-applied, and a record can be read without the image.
 * - Broker liveness is one state per registration (fenced, active, shutting down) instead of flags.
 *
 * Their wire form is in record-codec.ts.
 */
import { ZERO_UUID } from '../../protocol/primitives.ts';

/** `leader` of a partition with no leader (offline: no eligible replica in the ISR). Kafka's value. */
export const NO_LEADER = -1;

/** Kafka's SecurityProtocol ids, as BrokerRegistrationRequest carries them. */
export const SecurityProtocol = { PLAINTEXT: 0, SSL: 1, SASL_PLAINTEXT: 2, SASL_SSL: 3 } as const;

export interface BrokerEndpoint {
  /** Listener name, e.g. PLAINTEXT. Distinct within one registration. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly securityProtocol: number;
}

/** A broker (re)registers: a new incarnation with a new, cluster-wide increasing epoch. */
export interface RegisterBrokerRecord {
  readonly type: 'RegisterBroker';
  readonly brokerId: number;
  readonly incarnationId: string;
  readonly brokerEpoch: number;
  readonly endpoints: readonly BrokerEndpoint[];
  readonly rack: string | null;
  /** Registrations start fenced (KRaft's default): a broker leads nothing until it has caught up. */
  readonly fenced: boolean;
}

/** The broker stopped heart-beating (or was replaced): it may lead nothing and join no ISR. */
export interface FenceBrokerRecord {
  readonly type: 'FenceBroker';
  readonly brokerId: number;
  readonly brokerEpoch: number;
}

/** The broker caught up with the metadata log: it may lead and join ISRs again. */
export interface UnfenceBrokerRecord {
  readonly type: 'UnfenceBroker';
  readonly brokerId: number;
  readonly brokerEpoch: number;
}

/** The broker asked to stop: it is no longer eligible as a leader or new ISR member, but keeps serving. */
export interface BrokerShutdownRecord {
  readonly type: 'BrokerShutdown';
  readonly brokerId: number;
  readonly brokerEpoch: number;
}

export interface TopicRecord {
  readonly type: 'Topic';
  readonly name: string;
  readonly topicId: string;
  /** Explicit per-topic overrides given at creation (Kafka names: retention.ms, ...). */
  readonly configs: ReadonlyMap<string, string>;
}

/** A partition's initial assignment and state, also how a snapshot states a partition. */
export interface PartitionRecord {
  readonly type: 'Partition';
  readonly topicId: string;
  readonly partitionId: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
}

/** A new leader and/or ISR for an existing partition, with the epochs it moves the partition to. */
export interface PartitionChangeRecord {
  readonly type: 'PartitionChange';
  readonly topicId: string;
  readonly partitionId: number;
  readonly leader: number;
  readonly isr: readonly number[];
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
}

export interface RemoveTopicRecord {
  readonly type: 'RemoveTopic';
  readonly topicId: string;
}

/**
 * Sets (value a string) or removes (value null) one config of a topic (resourceName: its name) or of a
 * broker (resourceName: its id, or '' for the cluster-wide default, as in Kafka's ConfigResource).
 */
export interface ConfigRecord {
  readonly type: 'Config';
  readonly resourceType: 'topic' | 'broker';
  readonly resourceName: string;
  readonly name: string;
  readonly value: string | null;
}

export type MetadataRecord =
  | RegisterBrokerRecord
  | FenceBrokerRecord
  | UnfenceBrokerRecord
  | BrokerShutdownRecord
  | TopicRecord
  | PartitionRecord
  | PartitionChangeRecord
  | RemoveTopicRecord
  | ConfigRecord;

export type MetadataRecordType = MetadataRecord['type'];

/** A record whose fields are out of range (a caller bug when encoding, corruption when decoding). */
export class MetadataRecordError extends Error {
  override name = 'MetadataRecordError';
}

// ---- shape checks: what every record must satisfy before it is written or after it is read ----

const INT32_MAX = 2147483647;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function int(value: unknown, min: number, max: number, what: string): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new MetadataRecordError(`${what} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
}
function brokerId(value: unknown, what: string): void {
  int(value, 0, INT32_MAX, what);
}
function brokerEpoch(value: unknown): void {
  int(value, 0, Number.MAX_SAFE_INTEGER, 'brokerEpoch');
}
function uuid(value: unknown, what: string): void {
  if (typeof value !== 'string' || !UUID_PATTERN.test(value) || value === ZERO_UUID) {
    throw new MetadataRecordError(`${what} must be a non-zero lower-case uuid, got ${JSON.stringify(value)}`);
  }
}
function text(value: unknown, what: string, allowEmpty: boolean): void {
  if (typeof value !== 'string' || (!allowEmpty && value.length === 0)) {
    throw new MetadataRecordError(`${what} must be a ${allowEmpty ? '' : 'non-empty '}string, got ${JSON.stringify(value)}`);
  }
  // A lone surrogate has no UTF-8 form: it would be written as U+FFFD and read back as another string.
  if (!value.isWellFormed()) throw new MetadataRecordError(`${what} is not well-formed Unicode (lone surrogate)`);
}
function brokerList(value: unknown, what: string): void {
  if (!Array.isArray(value)) throw new MetadataRecordError(`${what} must be an array of broker ids`);
  value.forEach((id, i) => brokerId(id, `${what}[${i}]`));
  if (new Set(value).size !== value.length) throw new MetadataRecordError(`${what} lists a broker twice: [${value.join(', ')}]`);
}
function leaderAndEpochs(r: PartitionRecord | PartitionChangeRecord): void {
  uuid(r.topicId, 'topicId');
  int(r.partitionId, 0, INT32_MAX, 'partitionId');
  brokerList(r.isr, 'isr');
  int(r.leader, NO_LEADER, INT32_MAX, 'leader');
  int(r.leaderEpoch, 0, INT32_MAX, 'leaderEpoch');
  int(r.partitionEpoch, 0, INT32_MAX, 'partitionEpoch');
}

/** Throws MetadataRecordError unless every field of `r` is of its type and range (not whether it applies). */
export function checkRecordShape(r: MetadataRecord): void {
  switch (r.type) {
    case 'RegisterBroker': {
      brokerId(r.brokerId, 'brokerId');
      uuid(r.incarnationId, 'incarnationId');
      brokerEpoch(r.brokerEpoch);
      if (!Array.isArray(r.endpoints) || r.endpoints.length === 0) throw new MetadataRecordError('a broker registers at least one endpoint');
      r.endpoints.forEach((e, i) => {
        text(e.name, `endpoints[${i}].name`, false);
        text(e.host, `endpoints[${i}].host`, false);
        int(e.port, 0, 65535, `endpoints[${i}].port`);
        int(e.securityProtocol, 0, 32767, `endpoints[${i}].securityProtocol`);
      });
      if (new Set(r.endpoints.map((e) => e.name)).size !== r.endpoints.length) throw new MetadataRecordError('endpoint names must be distinct');
      if (r.rack !== null) text(r.rack, 'rack', false);
      if (typeof r.fenced !== 'boolean') throw new MetadataRecordError('fenced must be a boolean');
      return;
    }
    case 'FenceBroker':
    case 'UnfenceBroker':
    case 'BrokerShutdown':
      brokerId(r.brokerId, 'brokerId');
      brokerEpoch(r.brokerEpoch);
      return;
    case 'Topic':
      text(r.name, 'topic name', false);
      uuid(r.topicId, 'topicId');
      if (!(r.configs instanceof Map)) throw new MetadataRecordError('configs must be a Map');
      for (const [k, v] of r.configs) {
        text(k, 'config name', false);
        text(v, `config ${k}`, true);
      }
      return;
    case 'Partition':
      leaderAndEpochs(r);
      brokerList(r.replicas, 'replicas');
      return;
    case 'PartitionChange':
      leaderAndEpochs(r);
      return;
    case 'RemoveTopic':
      uuid(r.topicId, 'topicId');
      return;
    case 'Config':
      if (r.resourceType !== 'topic' && r.resourceType !== 'broker') throw new MetadataRecordError(`unknown config resource type ${String(r.resourceType)}`);
      text(r.resourceName, 'resourceName', r.resourceType === 'broker');
      text(r.name, 'config name', false);
      if (r.value !== null) text(r.value, `config ${r.name}`, true);
      return;
    default:
      throw new MetadataRecordError(`unknown record type ${JSON.stringify((r as { type: unknown }).type)}`);
  }
}
