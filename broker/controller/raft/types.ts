// Value types shared by the Raft node, its log and its host.

/** A voter's id, as in `--controller-quorum 1@h:p,2@h:p` (a positive integer). */
export type NodeId = number;

/**
 * One log entry. A `noop` entry is what a new leader appends in its own term so that entries from earlier
 * terms can be committed (Raft §5.4.2); hosts skip it when applying, but it still occupies its index.
 */
export interface LogEntry {
  readonly index: number;
  readonly term: number;
  readonly kind: 'command' | 'noop';
  readonly data: Uint8Array;
}

/** What must survive a crash besides the log: the term and whom this node voted for in it. */
export interface HardState {
  readonly currentTerm: number;
  readonly votedFor: NodeId | null;
}

/** The compacted prefix of the log: everything up to `index` is summarised by the host's state-machine image `data`. */
export interface Snapshot {
  readonly index: number;
  readonly term: number;
  readonly data: Uint8Array;
}

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** Volatile state a host usually reports or acts on (route requests to the leader, expose metrics). */
export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly leaderId: NodeId | null;
  readonly commitIndex: number;
}

export const EMPTY_HARD_STATE: HardState = { currentTerm: 0, votedFor: null };
