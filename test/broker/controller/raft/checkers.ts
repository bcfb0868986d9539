// Raft's safety properties (Figure 3 of the Raft paper) checked against what the simulation observes. Each check
// throws a SafetyViolation naming the property, so a failing seed says what broke and where.
import type { RaftLogView } from '../../../../broker/controller/raft/node.ts';
import type { LogEntry, NodeId } from '../../../../broker/controller/raft/types.ts';

export class SafetyViolation extends Error {
  override name = 'SafetyViolation';
}

export function entryKey(entry: Pick<LogEntry, 'kind' | 'data'>): string {
  return entry.kind === 'noop' ? 'noop' : `cmd:${Buffer.from(entry.data).toString('latin1')}`;
}

interface Committed {
  term: number;
  key: string;
  /** The lowest term of an observer that saw it committed: an upper bound on the term it was committed in. */
  committedBy: number;
}

export class SafetyChecker {
  readonly #leaderOfTerm = new Map<number, NodeId>();
  readonly #committed = new Map<number, Committed>();
  #highestCommitted = 0;
  readonly #appliedDigest = new Map<number, number>();
  readonly #commandIndex = new Map<string, number>();

  get leaderTerms(): number {
    return this.#leaderOfTerm.size;
  }

  get highestCommitted(): number {
    return this.#highestCommitted;
  }

  /** Election Safety: at most one leader per term. */
  observeLeader(id: NodeId, term: number): void {
    const known = this.#leaderOfTerm.get(term);
    if (known !== undefined && known !== id) throw new SafetyViolation(`Election Safety: nodes ${known} and ${id} both led term ${term}`);
    this.#leaderOfTerm.set(term, id);
  }

  /** An entry that node `id`, in `observerTerm`, considers committed; committed entries never change. */
  observeCommitted(id: NodeId, observerTerm: number, entry: LogEntry): void {
    const key = entryKey(entry);
    const known = this.#committed.get(entry.index);
    if (known && (known.term !== entry.term || known.key !== key)) {
      throw new SafetyViolation(`State Machine Safety: node ${id} committed ${key}@term${entry.term} at index ${entry.index}, already committed as ${known.key}@term${known.term}`);
    }
    this.#committed.set(entry.index, { term: entry.term, key, committedBy: Math.min(known?.committedBy ?? Infinity, observerTerm) });
    this.#highestCommitted = Math.max(this.#highestCommitted, entry.index);
  }

  /**
   * Leader Completeness: a leader of `term` holds every entry committed in an earlier term. Entries inside its
   * snapshot are checked through the applied digests instead (State Machine Safety).
   */
  checkLeaderCompleteness(id: NodeId, term: number, log: RaftLogView): void {
    for (const [index, committed] of this.#committed) {
      if (committed.committedBy >= term || index <= log.snapshotIndex) continue;
      const entry = log.entry(index);
      if (!entry || entry.term !== committed.term || entryKey(entry) !== committed.key) {
        const found = entry ? `${entryKey(entry)}@term${entry.term}` : 'nothing';
        throw new SafetyViolation(`Leader Completeness: leader ${id} of term ${term} has ${found} at index ${index}, committed as ${committed.key}@term${committed.term}`);
      }
    }
  }

  /** State Machine Safety on the applied side: every node's state after applying `index` is the same. */
  observeApplied(id: NodeId, index: number, digest: number, command: string | null): void {
    const known = this.#appliedDigest.get(index);
    if (known !== undefined && known !== digest) throw new SafetyViolation(`State Machine Safety: node ${id} state after index ${index} differs from another node's`);
    this.#appliedDigest.set(index, digest);
    if (command === null) return;
    const at = this.#commandIndex.get(command);
    if (at !== undefined && at !== index) throw new SafetyViolation(`Integrity: command ${command} applied at index ${at} and at index ${index}`);
    this.#commandIndex.set(command, index);
  }

  appliedAt(command: string): number | undefined {
    return this.#commandIndex.get(command);
  }
}

/**
 * Log Matching: if two logs hold an entry with the same index and term, they hold the same entries up to there.
 * Compares the overlap of every pair of logs (the parts not compacted away).
 */
export function checkLogMatching(logs: ReadonlyMap<NodeId, RaftLogView>): void {
  const ids = [...logs.keys()];
  for (let i = 0; i < ids.length; i++) {
    for (let j = i + 1; j < ids.length; j++) {
      const a = logs.get(ids[i])!;
      const b = logs.get(ids[j])!;
      const from = Math.max(a.firstIndex, b.firstIndex);
      let agreeing = Math.min(a.lastIndex, b.lastIndex);
      while (agreeing >= from && a.termAt(agreeing) !== b.termAt(agreeing)) agreeing--;
      for (let index = from; index <= agreeing; index++) {
        const x = a.entry(index)!;
        const y = b.entry(index)!;
        if (x.term !== y.term || entryKey(x) !== entryKey(y)) {
          throw new SafetyViolation(`Log Matching: nodes ${ids[i]} and ${ids[j]} agree at index ${agreeing} but differ at ${index} (${entryKey(x)}@term${x.term} vs ${entryKey(y)}@term${y.term})`);
        }
      }
    }
  }
}
