// What a leader knows about one follower's log (Raft's nextIndex/matchIndex) and how it sends to it.
//
// `probe`: the leader does not know where the logs diverge; it sends one AppendEntries per heartbeat or response
// and waits for the answer. `replicate`: the last response matched, so the leader streams entries optimistically,
// advancing `next` as it sends; a loss shows up as a refusal and drops the follower back to probe.

export type ProgressState = 'probe' | 'replicate';

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** Heard from in the current check-quorum window (see RaftNode#checkQuorum). */
  recentlyActive = false;

  constructor(next: number) {
    this.next = next;
  }

  /** A success for `matchIndex`; returns false when it tells nothing new (a duplicate or a reordered old answer). */
  acknowledge(matchIndex: number): boolean {
    this.state = 'replicate';
    if (matchIndex <= this.match) return false;
    this.match = matchIndex;
    this.next = Math.max(this.next, matchIndex + 1);
    return true;
  }

  /**
   * A refusal of prevIndex `rejectedIndex`: retry from `next` (the leader's reading of the follower's hint), never
   * below what is known to match and never past the index just refused. A refusal at or below `match` is stale,
   * unless `followerLogShorterThan` (the follower's log end + 1, when it simply lacks the entry) shows it lost entries.
   */
  refuse(rejectedIndex: number, next: number, followerLogShorterThan: number | null = null): boolean {
    if (rejectedIndex <= this.match) {
      // A follower whose log now ends below what it acknowledged lost its disk (restarted with an emptied data
      // directory): start over from what it has. Lowering `match` never commits anything; a reordered old
      // refusal that looks like this only costs a resend.
      if (followerLogShorterThan === null || followerLogShorterThan > this.match) return false;
      this.match = followerLogShorterThan - 1;
      this.state = 'probe';
      this.next = followerLogShorterThan;
      return true;
    }
    this.state = 'probe';
    this.next = Math.max(this.match + 1, Math.min(next, rejectedIndex));
    return true;
  }
}
