// The Raft RPCs as plain values. Requests and responses are separate one-way messages so the host's transport
// can lose, duplicate, delay and reorder them freely; every message carries the sender's term.
import type { LogEntry, NodeId, Snapshot } from './types.ts';

interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

/**
 * RequestVote, or its pre-vote probe. A pre-vote carries the term the sender *would* campaign in
 * (its term + 1) without having moved to it, so asking never disturbs anyone (Ongaro's thesis §9.6).
 */
export interface VoteRequest extends Envelope {
  readonly type: 'vote-request';
  readonly preVote: boolean;
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
}

/** A granted pre-vote echoes the request's term; a refusal carries the voter's own term. */
export interface VoteResponse extends Envelope {
  readonly type: 'vote-response';
  readonly preVote: boolean;
  readonly granted: boolean;
}

/** AppendEntries; with no entries it is a heartbeat that also carries the commit index. */
export interface AppendEntries extends Envelope {
  readonly type: 'append-entries';
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly LogEntry[];
  readonly leaderCommit: number;
}

/**
 * The answer to AppendEntries and InstallSnapshot. On success `matchIndex` is the last index known to equal the
 * leader's log. On a refusal `rejectedIndex` is the prevIndex that did not match, and the hint lets the leader skip
 * a whole conflicting term at once instead of one index per round trip: `hintTerm` is the follower's term at
 * rejectedIndex (null when its log is simply shorter) and `hintIndex` the first index the leader should try.
 */
export interface AppendResponse extends Envelope {
  readonly type: 'append-response';
  readonly success: boolean;
  readonly matchIndex: number;
  readonly rejectedIndex: number;
  readonly hintIndex: number;
  readonly hintTerm: number | null;
}

/** The leader's snapshot, for a follower whose next entry the leader has already compacted away. One chunk. */
export interface InstallSnapshot extends Envelope {
  readonly type: 'install-snapshot';
  readonly snapshot: Snapshot;
}

export type RaftMessage = VoteRequest | VoteResponse | AppendEntries | AppendResponse | InstallSnapshot;
