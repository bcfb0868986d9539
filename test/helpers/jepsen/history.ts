// What a fault run records: every operation the clients attempted and what they were told, in the order it
// happened (the array order is the real-time order: one process appends), plus the reads taken after healing.
// Plain JSON-friendly data so a failed run's history can be written out and checked again.

/** A producer handed a value to its client library. */
export interface SendEvent {
  type: 'send';
  client: string;
  value: string;
  partition: number;
  atMs: number;
}

/** The broker acknowledged the value (acks=all) at this offset. */
export interface AckEvent {
  type: 'ack';
  client: string;
  value: string;
  partition: number;
  offset: number;
  atMs: number;
}

/** The client gave up on the value. Indeterminate: it may or may not have been written. */
export interface FailEvent {
  type: 'fail';
  client: string;
  value: string;
  error: string;
  atMs: number;
}

/** The send was still outstanding when the workload stopped. Indeterminate too. */
export interface UnknownEvent {
  type: 'unknown';
  client: string;
  value: string;
  atMs: number;
}

/** A consumer was handed this record. */
export interface ObserveEvent {
  type: 'observe';
  consumer: string;
  partition: number;
  offset: number;
  value: string;
  atMs: number;
}

/** The group coordinator acknowledged an offset commit (offset = the next record to read). */
export interface CommitEvent {
  type: 'commit';
  group: string;
  partition: number;
  offset: number;
  atMs: number;
}

/**
 * A consumer (re)joined its group. It then resumes from the group's committed offsets, so only commits
 * acknowledged before this point bound where it may start reading again.
 */
export interface JoinEvent {
  type: 'join';
  consumer: string;
  group: string;
  atMs: number;
}

export type HistoryEvent = SendEvent | AckEvent | FailEvent | UnknownEvent | ObserveEvent | CommitEvent | JoinEvent;

export interface StoredRecord {
  partition: number;
  offset: number;
  value: string;
}

/** One replica's log for one partition, read from its data directory after a clean stop. */
export interface ReplicaLog {
  nodeId: number;
  partition: number;
  logStartOffset: number;
  logEndOffset: number;
  records: StoredRecord[];
}

/** The reads taken once the cluster healed and the clients stopped. */
export interface FinalReads {
  /** A full read of every partition through the leader. */
  records: StoredRecord[];
  /** Each partition's high watermark at the time of the final read. */
  highWatermarks: Record<number, number>;
  /** The group's committed offsets (OffsetFetch); -1 or absent for none. */
  committed: { group: string; partition: number; offset: number }[];
  replicas: ReplicaLog[];
}

export interface History {
  topic: string;
  partitions: number;
  events: HistoryEvent[];
  final: FinalReads;
}

/** Acks recorded in [fromMs, toMs): used to show a run made progress before and after its fault. */
export function acksBetween(events: HistoryEvent[], fromMs: number, toMs: number): number {
  return events.filter((e) => e.type === 'ack' && e.atMs >= fromMs && e.atMs < toMs).length;
}
