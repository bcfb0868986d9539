// The node's in-memory view of its log: a compacted prefix (summarised by a snapshot's index and term) followed by
// the entries after it. The node changes this view first and reports each change as a LogWrite for the host to make
// durable (see ready.ts), so the view may run ahead of the disk between two Ready batches, never behind it.
import type { LogEntry, Snapshot } from './types.ts';

export class RaftLog {
  #snapshotIndex: number;
  #snapshotTerm: number;
  #entries: LogEntry[];

  constructor(snapshotIndex = 0, snapshotTerm = 0, entries: readonly LogEntry[] = []) {
    this.#snapshotIndex = snapshotIndex;
    this.#snapshotTerm = snapshotTerm;
    this.#entries = [];
    for (const entry of entries) {
      if (entry.index <= snapshotIndex) continue; // already covered by the snapshot
      if (entry.index !== this.lastIndex + 1) throw new Error(`log entries are not contiguous at index ${entry.index}`);
      this.#entries.push(entry);
    }
  }

  get snapshotIndex(): number {
    return this.#snapshotIndex;
  }

  get snapshotTerm(): number {
    return this.#snapshotTerm;
  }

  get firstIndex(): number {
    return this.#snapshotIndex + 1;
  }

  get lastIndex(): number {
    return this.#snapshotIndex + this.#entries.length;
  }

  get lastTerm(): number {
    return this.#entries.length === 0 ? this.#snapshotTerm : this.#entries[this.#entries.length - 1].term;
  }

  /** The term of the entry at `index`; undefined when it is compacted away (below the snapshot) or beyond the end. */
  termAt(index: number): number | undefined {
    if (index === this.#snapshotIndex) return this.#snapshotTerm;
    if (index < this.#snapshotIndex || index > this.lastIndex) return undefined;
    return this.#entries[index - this.#snapshotIndex - 1].term;
  }

  entry(index: number): LogEntry | undefined {
    if (index <= this.#snapshotIndex || index > this.lastIndex) return undefined;
    return this.#entries[index - this.#snapshotIndex - 1];
  }

  /** Entries with from <= index <= to, clipped to what the log holds. */
  slice(from: number, to: number): LogEntry[] {
    const start = Math.max(from, this.firstIndex) - this.#snapshotIndex - 1;
    const end = Math.min(to, this.lastIndex) - this.#snapshotIndex;
    return start < end ? this.#entries.slice(start, end) : [];
  }

  append(entry: LogEntry): void {
    if (entry.index !== this.lastIndex + 1) throw new Error(`append at ${entry.index}, expected ${this.lastIndex + 1}`);
    this.#entries.push(entry);
  }

  /** Drops every entry at or after `from`. */
  truncateFrom(from: number): void {
    if (from <= this.#snapshotIndex) throw new Error(`cannot truncate into the snapshot (${from} <= ${this.#snapshotIndex})`);
    this.#entries.length = Math.max(0, from - this.#snapshotIndex - 1);
  }

  /**
   * Makes `snapshot` the compacted prefix. Entries after it are kept when the log agrees with the snapshot at its
   * index (Raft §7: a snapshot of a prefix the follower already has must not discard what follows); otherwise the
   * whole log is replaced by the snapshot.
   */
  installSnapshot(snapshot: Pick<Snapshot, 'index' | 'term'>): void {
    if (snapshot.index <= this.#snapshotIndex) return;
    const keepsSuffix = this.termAt(snapshot.index) === snapshot.term;
    this.#entries = keepsSuffix ? this.#entries.slice(snapshot.index - this.#snapshotIndex) : [];
    this.#snapshotIndex = snapshot.index;
    this.#snapshotTerm = snapshot.term;
  }

  /** The first index of the run of entries with the same term as `index` (not looking into the snapshot). */
  firstIndexOfTerm(index: number): number {
    const term = this.termAt(index);
    let first = index;
    while (first - 1 > this.#snapshotIndex && this.termAt(first - 1) === term) first--;
    return first;
  }

  /** The last index at or below `atOrBelow` holding an entry of `term`, or undefined (terms only grow along a log). */
  lastIndexOfTerm(term: number, atOrBelow: number): number | undefined {
    let index = Math.min(atOrBelow, this.lastIndex);
    while (index > this.#snapshotIndex && this.termAt(index)! > term) index--;
    return index > this.#snapshotIndex && this.termAt(index) === term ? index : undefined;
  }

  /** Whether a candidate whose log ends at (lastIndex, lastTerm) is at least as up to date as this log (§5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    return lastTerm > this.lastTerm || (lastTerm === this.lastTerm && lastIndex >= this.lastIndex);
  }
}
