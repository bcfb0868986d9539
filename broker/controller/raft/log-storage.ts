// Durable storage of a node's hard state, snapshot and log. The node reads it once at start (see RaftNode.restore)
// and afterwards only produces LogWrites; `persistReady` applies a Ready's writes to it in the contract's order.
import type { LogWrite, Ready } from './ready.ts';
import type { HardState, LogEntry, Snapshot } from './types.ts';
import { EMPTY_HARD_STATE } from './types.ts';

export interface RaftLogStorage {
  hardState(): HardState;
  saveHardState(state: HardState): void;
  /** The latest snapshot, or null before the first compaction. */
  snapshot(): Snapshot | null;
  /** Stores `snapshot` and drops the entries it covers; drops every entry when the log disagrees at its index. */
  saveSnapshot(snapshot: Snapshot): void;
  /** Index of the first entry after the snapshot (lastIndex + 1 when there is none). */
  firstIndex(): number;
  lastIndex(): number;
  /** Term at `index`: the snapshot's at its own index, undefined when compacted away or past the end. */
  termAt(index: number): number | undefined;
  /** Entries with from <= index <= to that the log holds. */
  entries(from: number, to: number): LogEntry[];
  /** Appends entries that must start at lastIndex() + 1. */
  append(entries: readonly LogEntry[]): void;
  /** Removes every entry at or after `fromIndex`. */
  truncateSuffix(fromIndex: number): void;
  /** Makes everything written so far durable; a no-op for storage that is durable on every write. */
  sync(): void;
}

export function applyLogWrite(storage: RaftLogStorage, write: LogWrite): void {
  switch (write.kind) {
    case 'append':
      storage.append(write.entries);
      break;
    case 'truncate':
      storage.truncateSuffix(write.fromIndex);
      break;
    case 'snapshot':
      storage.saveSnapshot(write.snapshot);
      break;
  }
}

/** Step 1 of the Ready contract: hard state first, then the log writes in order, then one sync. */
export function persistReady(storage: RaftLogStorage, ready: Ready): void {
  if (ready.hardState) storage.saveHardState(ready.hardState);
  for (const write of ready.logWrites) applyLogWrite(storage, write);
  storage.sync();
}

/** Keeps everything in memory; every write counts as durable. For tests and the simulation. */
export class MemoryLogStorage implements RaftLogStorage {
  #hardState: HardState = EMPTY_HARD_STATE;
  #snapshot: Snapshot | null = null;
  #entries: LogEntry[] = [];

  hardState(): HardState {
    return this.#hardState;
  }

  saveHardState(state: HardState): void {
    this.#hardState = state;
  }

  snapshot(): Snapshot | null {
    return this.#snapshot;
  }

  #snapshotIndex(): number {
    return this.#snapshot?.index ?? 0;
  }

  saveSnapshot(snapshot: Snapshot): void {
    if (snapshot.index <= this.#snapshotIndex()) return;
    const agrees = this.termAt(snapshot.index) === snapshot.term;
    this.#entries = agrees ? this.#entries.filter((e) => e.index > snapshot.index) : [];
    this.#snapshot = snapshot;
  }

  firstIndex(): number {
    return this.#snapshotIndex() + 1;
  }

  lastIndex(): number {
    return this.#snapshotIndex() + this.#entries.length;
  }

  termAt(index: number): number | undefined {
    const base = this.#snapshotIndex();
    if (index === base) return this.#snapshot?.term ?? 0;
    if (index < base || index > this.lastIndex()) return undefined;
    return this.#entries[index - base - 1].term;
  }

  entries(from: number, to: number): LogEntry[] {
    const base = this.#snapshotIndex();
    return this.#entries.slice(Math.max(0, from - base - 1), Math.max(0, to - base));
  }

  append(entries: readonly LogEntry[]): void {
    for (const entry of entries) {
      if (entry.index !== this.lastIndex() + 1) throw new Error(`storage append at ${entry.index}, expected ${this.lastIndex() + 1}`);
      this.#entries.push(entry);
    }
  }

  truncateSuffix(fromIndex: number): void {
    const base = this.#snapshotIndex();
    if (fromIndex <= base) throw new Error(`cannot truncate into the snapshot (${fromIndex} <= ${base})`);
    this.#entries.length = Math.min(this.#entries.length, fromIndex - base - 1);
  }

  sync(): void {}
}
