import { Reader, Writer } from '../protocol/primitives.ts';

/**
 * Records of the internal `__consumer_offsets` topic, in Kafka's own layouts so tools that read that topic
 * understand ours: key version 1 = an offset commit (group, topic, partition), key version 2 = group
 * metadata (group). A null value is a tombstone; compaction keeps the latest value per key.
 */
export interface OffsetCommitKey {
  kind: 'offset';
  group: string;
  topic: string;
  partition: number;
}
export interface GroupMetadataKey {
  kind: 'group';
  group: string;
}
export type OffsetsTopicKey = OffsetCommitKey | GroupMetadataKey;

export interface OffsetCommitValue {
  offset: number;
  leaderEpoch: number;
  metadata: string;
  commitTimestamp: number;
}

export interface StoredMember {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  subscription: Buffer;
  assignment: Buffer;
}

export interface GroupMetadataValue {
  protocolType: string;
  generationId: number;
  protocolName: string | null;
  leaderId: string | null;
  currentStateTimestamp: number;
  members: StoredMember[];
}

export function encodeKey(key: OffsetsTopicKey): Buffer {
  const w = new Writer(64);
  if (key.kind === 'offset') {
    w.int16(1);
    w.string(key.group);
    w.string(key.topic);
    w.int32(key.partition);
  } else {
    w.int16(2);
    w.string(key.group);
  }
  return w.finishSingle();
}

export function decodeKey(buf: Buffer): OffsetsTopicKey | null {
  const r = new Reader(buf);
  const version = r.int16();
  if (version === 0 || version === 1) return { kind: 'offset', group: r.string(), topic: r.string(), partition: r.int32() };
  if (version === 2) return { kind: 'group', group: r.string() };
  return null; // a newer record kind we do not know: skipped, as Kafka skips unknown versions
}

export function encodeOffsetValue(v: OffsetCommitValue): Buffer {
  const w = new Writer(64);
  w.int16(3);
  w.int64(v.offset);
  w.int32(v.leaderEpoch);
  w.string(v.metadata);
  w.int64(v.commitTimestamp);
  return w.finishSingle();
}

export function decodeOffsetValue(buf: Buffer): OffsetCommitValue {
  const r = new Reader(buf);
  const version = r.int16();
  const offset = r.int64();
  const leaderEpoch = version >= 3 ? r.int32() : -1;
  const metadata = r.string();
  const commitTimestamp = r.int64();
  return { offset, leaderEpoch, metadata, commitTimestamp };
}

export function encodeGroupValue(v: GroupMetadataValue): Buffer {
  const w = new Writer(256);
  w.int16(3);
  w.string(v.protocolType);
  w.int32(v.generationId);
  w.nullableString(v.protocolName);
  w.nullableString(v.leaderId);
  w.int64(v.currentStateTimestamp);
  w.arrayLength(v.members.length);
  for (const m of v.members) {
    w.string(m.memberId);
    w.nullableString(m.groupInstanceId);
    w.string(m.clientId);
    w.string(m.clientHost);
    w.int32(m.rebalanceTimeoutMs);
    w.int32(m.sessionTimeoutMs);
    w.bytes(m.subscription);
    w.bytes(m.assignment);
  }
  return w.finishSingle();
}

export function decodeGroupValue(buf: Buffer): GroupMetadataValue {
  const r = new Reader(buf);
  const version = r.int16();
  const protocolType = r.string();
  const generationId = r.int32();
  const protocolName = r.nullableString();
  const leaderId = r.nullableString();
  const currentStateTimestamp = version >= 2 ? r.int64() : -1;
  const n = r.arrayLength(false);
  const members: StoredMember[] = [];
  for (let i = 0; i < n; i++) {
    const memberId = r.string();
    const groupInstanceId = version >= 3 ? r.nullableString() : null;
    const clientId = r.string();
    const clientHost = r.string();
    const rebalanceTimeoutMs = version >= 1 ? r.int32() : 0;
    const sessionTimeoutMs = r.int32();
    members.push({ memberId, groupInstanceId, clientId, clientHost, rebalanceTimeoutMs, sessionTimeoutMs, subscription: Buffer.from(r.bytes()), assignment: Buffer.from(r.bytes()) });
  }
  return { protocolType, generationId, protocolName, leaderId, currentStateTimestamp, members };
}
