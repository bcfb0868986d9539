// One Raft voter as a deterministic state machine (Ongaro & Ousterhout, "In Search of an Understandable Consensus
// Algorithm", plus pre-vote and check-quorum from Ongaro's thesis ch. 9). It owns no timer, socket or file: the host
// calls tick() at a fixed logical interval, feeds it messages with receive(), submits commands with propose(), and
// then drains ready() and carries it out in the order documented in ready.ts (persist, then send, then apply).
// Randomness (election jitter) comes from the injected RandomSource, so equal inputs give equal behaviour.
// One class on purpose: the role transitions and message handlers all read and write the same term, vote, log and
// commit state, and keeping that state private to one class is what keeps the invariants checkable.
import type { AppendEntries, AppendResponse, InstallSnapshot, RaftMessage, VoteRequest, VoteResponse } from './messages.ts';
import { Progress } from './progress.ts';
import { randomInt, type RandomSource } from './random.ts';
import { RaftLog } from './raft-log.ts';
import type { LogWrite, Ready } from './ready.ts';
import type { RaftLogStorage } from './log-storage.ts';
import { EMPTY_HARD_STATE, type HardState, type LogEntry, type NodeId, type RaftStatus, type Role, type Snapshot } from './types.ts';
import { quorumSize } from './voters.ts';

export interface RaftConfig {
  readonly id: NodeId;
  /** Every voter's id, this node's included; the same list on every node (static membership). */
  readonly voters: readonly NodeId[];
  readonly random: RandomSource;
  /** Minimum election timeout; each round waits a random number of ticks in [this, 2 * this). */
  readonly electionTimeoutTicks?: number;
  readonly heartbeatIntervalTicks?: number;
  readonly maxEntriesPerAppend?: number;
  /**
   * This voter starts without any Raft state (first start, or its data directory was emptied). Until a leader
   * has brought it up to the commit index it grants votes only to candidates that hold no entries either (a
   * cluster forming): after a disk loss its empty log would otherwise vote in a candidate that lacks entries
   * it had helped commit.
   */
  readonly recovering?: boolean;
}

export interface PersistedState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  readonly entries: readonly LogEntry[];
}

export type ProposeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | { readonly ok: false; readonly reason: 'not-leader'; readonly leaderId: NodeId | null };

/** The read-only part of the log a host or a test may inspect. */
export type RaftLogView = Pick<RaftLog, 'snapshotIndex' | 'snapshotTerm' | 'firstIndex' | 'lastIndex' | 'lastTerm' | 'termAt' | 'entry' | 'slice'>;

const EMPTY_STATE: PersistedState = { hardState: EMPTY_HARD_STATE, snapshot: null, entries: [] };

export class RaftNode {
  readonly id: NodeId;
  readonly #peers: readonly NodeId[];
  readonly #quorum: number;
  readonly #random: RandomSource;
  readonly #electionTimeout: number;
  readonly #heartbeatInterval: number;
  readonly #maxEntriesPerAppend: number;

  #term: number;
  #votedFor: NodeId | null;
  #role: Role = 'follower';
  #leaderId: NodeId | null = null;
  readonly #log: RaftLog;
  #snapshot: Snapshot | null;
  #commitIndex: number;
  /** Highest index handed to the host through ready() (as a snapshot or an entry). */
  #appliedIndex = 0;

  #electionElapsed = 0;
  #randomizedElectionTimeout = 0;
  #recovering: boolean;
  #heartbeatElapsed = 0;
  readonly #votes = new Map<NodeId, boolean>();
  readonly #progress = new Map<NodeId, Progress>();

  // Output accumulated since the last ready().
  #hardStateChanged = false;
  #logWrites: LogWrite[] = [];
  #messages: RaftMessage[] = [];
  #snapshotToApply: Snapshot | null;
  #reportedStatus = '';

  /** A node as it was when `storage` was last synced: what a restart after a crash sees. */
  static restore(config: RaftConfig, storage: RaftLogStorage): RaftNode {
    const entries = storage.entries(storage.firstIndex(), storage.lastIndex());
    return new RaftNode(config, { hardState: storage.hardState(), snapshot: storage.snapshot(), entries });
  }

  constructor(config: RaftConfig, persisted: PersistedState = EMPTY_STATE) {
    if (!config.voters.includes(config.id)) throw new Error(`node ${config.id} is not among the voters ${config.voters.join(',')}`);
    this.id = config.id;
    this.#peers = [...new Set(config.voters)].filter((v) => v !== config.id);
    this.#quorum = quorumSize(this.#peers.length + 1);
    this.#random = config.random;
    this.#electionTimeout = config.electionTimeoutTicks ?? 10;
    this.#heartbeatInterval = config.heartbeatIntervalTicks ?? 2;
    this.#maxEntriesPerAppend = config.maxEntriesPerAppend ?? 64;
    this.#recovering = config.recovering ?? false;
    // A heartbeat interval at or above the election timeout would let followers time out under a healthy leader.
    if (this.#heartbeatInterval >= this.#electionTimeout) throw new Error('heartbeat interval must be shorter than the election timeout');
    this.#term = persisted.hardState.currentTerm;
    this.#votedFor = persisted.hardState.votedFor;
    this.#snapshot = persisted.snapshot;
    this.#log = new RaftLog(persisted.snapshot?.index ?? 0, persisted.snapshot?.term ?? 0, persisted.entries);
    // Everything in the snapshot is committed; what follows is learned again from the leader.
    this.#commitIndex = this.#log.snapshotIndex;
    // The host rebuilds its state machine from the first Ready, the same way as after an InstallSnapshot.
    this.#snapshotToApply = persisted.snapshot;
    this.#resetElectionTimer();
  }

  status(): RaftStatus {
    return { id: this.id, role: this.#role, term: this.#term, leaderId: this.#leaderId, commitIndex: this.#commitIndex };
  }

  get log(): RaftLogView {
    return this.#log;
  }

  // ---- inputs ---------------------------------------------------------------------------------------------------

  tick(): void {
    if (this.#role === 'leader') {
      this.#heartbeatElapsed++;
      this.#electionElapsed++;
      if (this.#electionElapsed >= this.#electionTimeout) {
        this.#electionElapsed = 0;
        // Check-quorum: a leader that has not heard from a majority for a whole election timeout is probably cut off
        // and a newer leader may exist; stepping down stops it from serving stale reads or hoarding clients.
        if (!this.#heardFromQuorum()) return this.#becomeFollower(this.#term, null);
      }
      if (this.#heartbeatElapsed >= this.#heartbeatInterval) {
        this.#heartbeatElapsed = 0;
        this.#broadcastAppend();
      }
      return;
    }
    this.#electionElapsed++;
    if (this.#electionElapsed >= this.#randomizedElectionTimeout) this.#becomePreCandidate();
  }

  propose(data: Uint8Array): ProposeResult {
    if (this.#role !== 'leader') return { ok: false, reason: 'not-leader', leaderId: this.#leaderId };
    const entry: LogEntry = { index: this.#log.lastIndex + 1, term: this.#term, kind: 'command', data };
    this.#appendToLog([entry]);
    for (const peer of this.#peers) if (this.#progress.get(peer)!.state === 'replicate') this.#sendAppend(peer);
    this.#maybeCommit();
    return { ok: true, index: entry.index, term: entry.term };
  }

  /**
   * The host has a state-machine image `data` covering every entry up to `index` (at most what it has applied):
   * the log prefix up to there is replaced by it, bounding the log. Also what lagging followers will be sent.
   */
  snapshotTaken(index: number, data: Uint8Array): void {
    if (index > this.#appliedIndex) throw new Error(`cannot snapshot at ${index}: only ${this.#appliedIndex} has been applied`);
    if (index <= this.#log.snapshotIndex) return;
    this.#installSnapshot({ index, term: this.#log.termAt(index)!, data });
  }

  receive(m: RaftMessage): void {
    if (m.to !== this.id || m.from === this.id || !this.#peers.includes(m.from)) return;
    if (m.term > this.#term) {
      if (m.type === 'vote-request') {
        // Leader lease: while a leader is known to be alive, a higher-term campaign is someone who lost contact and
        // would only depose a healthy leader; ignoring it keeps the cluster stable (thesis §9.6).
        if (this.#inLease()) return;
        if (!m.preVote) this.#becomeFollower(m.term, null);
      } else if (m.type === 'vote-response' && m.preVote && m.granted) {
        // A granted pre-vote echoes the term we may campaign in; it is not a newer term we must adopt.
      } else {
        const fromLeader = m.type === 'append-entries' || m.type === 'install-snapshot';
        this.#becomeFollower(m.term, fromLeader ? m.from : null);
      }
    } else if (m.term < this.#term) {
      // Tell a stale leader or campaigner about the newer term so it steps down; other stale messages mean nothing.
      if (m.type === 'append-entries' || m.type === 'install-snapshot') this.#send(this.#refusal(m.from, 0, 0, null));
      else if (m.type === 'vote-request') this.#send({ type: 'vote-response', from: this.id, to: m.from, term: this.#term, preVote: m.preVote, granted: false });
      return;
    }
    switch (m.type) {
      case 'vote-request':
        return this.#onVoteRequest(m);
      case 'vote-response':
        return this.#onVoteResponse(m);
      case 'append-entries':
        return this.#onAppendEntries(m);
      case 'install-snapshot':
        return this.#onInstallSnapshot(m);
      case 'append-response':
        return this.#onAppendResponse(m);
    }
  }

  // ---- output ---------------------------------------------------------------------------------------------------

  hasReady(): boolean {
    return (
      this.#hardStateChanged ||
      this.#logWrites.length > 0 ||
      this.#messages.length > 0 ||
      this.#snapshotToApply !== null ||
      this.#commitIndex > this.#appliedIndex ||
      this.#statusKey() !== this.#reportedStatus
    );
  }

  /** Drains everything produced since the previous call; see ready.ts for what the host must do with it. */
  ready(): Ready {
    const hardState = this.#hardStateChanged ? { currentTerm: this.#term, votedFor: this.#votedFor } : null;
    const snapshotToApply = this.#snapshotToApply;
    if (snapshotToApply) this.#appliedIndex = Math.max(this.#appliedIndex, snapshotToApply.index);
    const committedEntries = this.#log.slice(this.#appliedIndex + 1, this.#commitIndex);
    this.#appliedIndex = Math.max(this.#appliedIndex, this.#commitIndex);
    const statusKey = this.#statusKey();
    const status = statusKey !== this.#reportedStatus ? this.status() : null;
    const ready: Ready = { hardState, logWrites: this.#logWrites, messages: this.#messages, snapshotToApply, committedEntries, status };
    this.#hardStateChanged = false;
    this.#logWrites = [];
    this.#messages = [];
    this.#snapshotToApply = null;
    this.#reportedStatus = statusKey;
    return ready;
  }

  // ---- roles ----------------------------------------------------------------------------------------------------

  #becomeFollower(term: number, leaderId: NodeId | null): void {
    if (term > this.#term) {
      this.#term = term;
      this.#votedFor = null;
      this.#hardStateChanged = true;
    }
    this.#role = 'follower';
    this.#leaderId = leaderId;
    this.#progress.clear();
    this.#votes.clear();
    this.#resetElectionTimer();
  }

  /** Asks for pre-votes at term + 1 without moving to it, so a node that cannot win never inflates the term. */
  #becomePreCandidate(): void {
    this.#role = 'pre-candidate';
    this.#leaderId = null;
    this.#startVoting(true);
  }

  #becomeCandidate(): void {
    this.#role = 'candidate';
    this.#leaderId = null;
    this.#term++;
    this.#votedFor = this.id;
    this.#hardStateChanged = true;
    this.#startVoting(false);
  }

  #startVoting(preVote: boolean): void {
    this.#resetElectionTimer();
    this.#votes.clear();
    this.#votes.set(this.id, true);
    for (const peer of this.#peers) {
      this.#send({ type: 'vote-request', from: this.id, to: peer, term: this.#term + (preVote ? 1 : 0), preVote, lastLogIndex: this.#log.lastIndex, lastLogTerm: this.#log.lastTerm });
    }
    this.#countVotes();
  }

  #countVotes(): void {
    let granted = 0;
    for (const vote of this.#votes.values()) if (vote) granted++;
    if (granted < this.#quorum) return;
    if (this.#role === 'pre-candidate') this.#becomeCandidate();
    else if (this.#role === 'candidate') this.#becomeLeader();
  }

  #becomeLeader(): void {
    this.#role = 'leader';
    this.#leaderId = this.id;
    this.#votes.clear();
    this.#electionElapsed = 0;
    this.#heartbeatElapsed = 0;
    for (const peer of this.#peers) this.#progress.set(peer, new Progress(this.#log.lastIndex + 1));
    // An entry of its own term lets the new leader commit what earlier leaders left uncommitted (§5.4.2, §8).
    this.#appendToLog([{ index: this.#log.lastIndex + 1, term: this.#term, kind: 'noop', data: new Uint8Array(0) }]);
    this.#broadcastAppend();
    this.#maybeCommit();
  }

  #resetElectionTimer(): void {
    this.#electionElapsed = 0;
    this.#randomizedElectionTimeout = randomInt(this.#random, this.#electionTimeout, 2 * this.#electionTimeout);
  }

  /** Whether a leader (this node included) was heard from within the minimum election timeout. */
  #inLease(): boolean {
    return this.#leaderId !== null && this.#electionElapsed < this.#electionTimeout;
  }

  #heardFromQuorum(): boolean {
    let active = 1;
    for (const progress of this.#progress.values()) {
      if (progress.recentlyActive) active++;
      progress.recentlyActive = false;
    }
    return active >= this.#quorum;
  }

  // ---- elections ------------------------------------------------------------------------------------------------

  #onVoteRequest(m: VoteRequest): void {
    const upToDate = this.#log.isUpToDate(m.lastLogIndex, m.lastLogTerm) && !(this.#recovering && m.lastLogIndex > 0);
    if (m.preVote) {
      // Granting changes nothing here; it only says "I would vote for you if you campaigned now".
      const granted = m.term > this.#term && upToDate && !this.#inLease();
      this.#send({ type: 'vote-response', from: this.id, to: m.from, term: granted ? m.term : this.#term, preVote: true, granted });
      return;
    }
    const granted = (this.#votedFor === null || this.#votedFor === m.from) && upToDate;
    if (granted) {
      this.#votedFor = m.from;
      this.#hardStateChanged = true;
      this.#electionElapsed = 0;
    }
    this.#send({ type: 'vote-response', from: this.id, to: m.from, term: this.#term, preVote: false, granted });
  }

  #onVoteResponse(m: VoteResponse): void {
    if (m.preVote ? this.#role !== 'pre-candidate' || m.term !== this.#term + 1 : this.#role !== 'candidate') return;
    this.#votes.set(m.from, m.granted);
    this.#countVotes();
  }

  // ---- replication: follower side -------------------------------------------------------------------------------

  /** A message of the current term from the leader: follow it and restart the election timer. */
  #heardFromLeader(leaderId: NodeId): boolean {
    if (this.#role === 'leader') return false; // two leaders in one term cannot happen; refuse to be confused by one
    if (this.#role !== 'follower') this.#becomeFollower(this.#term, leaderId);
    this.#leaderId = leaderId;
    this.#electionElapsed = 0;
    return true;
  }

  #onAppendEntries(m: AppendEntries): void {
    if (!this.#heardFromLeader(m.from)) return;
    let { prevIndex, prevTerm, entries } = m;
    if (prevIndex < this.#log.snapshotIndex) {
      // The compacted prefix is committed, so it matches any current leader's log: start from the snapshot instead.
      entries = entries.filter((e) => e.index > this.#log.snapshotIndex);
      prevIndex = this.#log.snapshotIndex;
      prevTerm = this.#log.snapshotTerm;
    }
    const ourPrevTerm = this.#log.termAt(prevIndex);
    if (ourPrevTerm !== prevTerm) {
      if (ourPrevTerm === undefined) return this.#send(this.#refusal(m.from, prevIndex, this.#log.lastIndex + 1, null));
      // Point the leader at the first index of the conflicting term so it can skip the whole term at once.
      return this.#send(this.#refusal(m.from, prevIndex, this.#log.firstIndexOfTerm(prevIndex), ourPrevTerm));
    }
    const lastNew = prevIndex + entries.length;
    for (let i = 0; i < entries.length; i++) {
      const ours = this.#log.termAt(entries[i].index);
      if (ours === entries[i].term) continue;
      if (ours !== undefined) {
        if (entries[i].index <= this.#commitIndex) throw new Error(`leader ${m.from} conflicts with committed entry ${entries[i].index}`);
        this.#log.truncateFrom(entries[i].index);
        this.#logWrites.push({ kind: 'truncate', fromIndex: entries[i].index });
      }
      this.#appendToLog(entries.slice(i));
      break;
    }
    // Only entries known to match the leader's may be marked committed; anything past lastNew may be stale.
    this.#commitIndex = Math.max(this.#commitIndex, Math.min(m.leaderCommit, lastNew));
    // Holding everything the leader has committed, this node's log again protects committed entries in elections.
    if (this.#recovering && this.#commitIndex >= m.leaderCommit) this.#recovering = false;
    this.#send({ type: 'append-response', from: this.id, to: m.from, term: this.#term, success: true, matchIndex: lastNew, rejectedIndex: 0, hintIndex: 0, hintTerm: null });
  }

  #onInstallSnapshot(m: InstallSnapshot): void {
    if (!this.#heardFromLeader(m.from)) return;
    if (m.snapshot.index > this.#commitIndex) {
      this.#installSnapshot(m.snapshot);
      this.#commitIndex = m.snapshot.index;
      this.#snapshotToApply = m.snapshot;
    }
    // Committed entries are in every later leader's log, so either way the logs agree up to our commit index.
    this.#send({ type: 'append-response', from: this.id, to: m.from, term: this.#term, success: true, matchIndex: this.#commitIndex, rejectedIndex: 0, hintIndex: 0, hintTerm: null });
  }

  #refusal(to: NodeId, rejectedIndex: number, hintIndex: number, hintTerm: number | null): AppendResponse {
    return { type: 'append-response', from: this.id, to, term: this.#term, success: false, matchIndex: 0, rejectedIndex, hintIndex, hintTerm };
  }

  // ---- replication: leader side ---------------------------------------------------------------------------------

  #onAppendResponse(m: AppendResponse): void {
    const progress = this.#role === 'leader' ? this.#progress.get(m.from) : undefined;
    if (!progress) return;
    progress.recentlyActive = true;
    if (m.success) {
      if (progress.acknowledge(m.matchIndex)) this.#maybeCommit();
      if (progress.next <= this.#log.lastIndex) this.#sendAppend(m.from);
      return;
    }
    // If we hold entries of the follower's conflicting term, our last one is where the logs may agree again;
    // otherwise skip the follower's whole run of that term.
    const ourLastOfTerm = m.hintTerm === null ? undefined : this.#log.lastIndexOfTerm(m.hintTerm, m.rejectedIndex);
    const next = ourLastOfTerm === undefined ? m.hintIndex : ourLastOfTerm + 1;
    if (progress.refuse(m.rejectedIndex, next, m.hintTerm === null ? m.hintIndex : null)) this.#sendAppend(m.from);
  }

  #broadcastAppend(): void {
    for (const peer of this.#peers) this.#sendAppend(peer);
  }

  #sendAppend(peer: NodeId): void {
    const progress = this.#progress.get(peer)!;
    const prevIndex = progress.next - 1;
    const prevTerm = this.#log.termAt(prevIndex);
    if (prevTerm === undefined) {
      // The follower needs entries we compacted away. Stay in probe so the (large) snapshot is re-sent once per
      // heartbeat or response until it is acknowledged, not once per proposal.
      progress.state = 'probe';
      this.#send({ type: 'install-snapshot', from: this.id, to: peer, term: this.#term, snapshot: this.#snapshot! });
      return;
    }
    const entries = this.#log.slice(progress.next, progress.next + this.#maxEntriesPerAppend - 1);
    this.#send({ type: 'append-entries', from: this.id, to: peer, term: this.#term, prevIndex, prevTerm, entries, leaderCommit: this.#commitIndex });
    if (progress.state === 'replicate' && entries.length > 0) progress.next = entries[entries.length - 1].index + 1;
  }

  /** Commits the highest index a majority holds, but only if it is from this term (§5.4.2: older terms' entries
   *  are committed indirectly, never by counting replicas). */
  #maybeCommit(): void {
    const matches = [this.#log.lastIndex, ...[...this.#progress.values()].map((p) => p.match)].sort((a, b) => b - a);
    const majorityIndex = matches[this.#quorum - 1];
    if (majorityIndex > this.#commitIndex && this.#log.termAt(majorityIndex) === this.#term) this.#commitIndex = majorityIndex;
  }

  // ---- plumbing -------------------------------------------------------------------------------------------------

  #appendToLog(entries: readonly LogEntry[]): void {
    for (const entry of entries) this.#log.append(entry);
    const last = this.#logWrites[this.#logWrites.length - 1];
    if (last?.kind === 'append') this.#logWrites[this.#logWrites.length - 1] = { kind: 'append', entries: [...last.entries, ...entries] };
    else this.#logWrites.push({ kind: 'append', entries: [...entries] });
  }

  #installSnapshot(snapshot: Snapshot): void {
    this.#log.installSnapshot(snapshot);
    this.#snapshot = snapshot;
    this.#logWrites.push({ kind: 'snapshot', snapshot });
  }

  #send(message: RaftMessage): void {
    this.#messages.push(message);
  }

  #statusKey(): string {
    return `${this.#role}/${this.#term}/${this.#leaderId}`;
  }
}
