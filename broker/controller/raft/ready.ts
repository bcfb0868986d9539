// What a node hands its host after one or more inputs. The node never performs I/O; the host does, in this order:
//
//   1. persist `hardState` (if not null), then each of `logWrites` in order, and make them durable (fsync);
//   2. only then send `messages`: a vote, an append acknowledgement or a new leader's heartbeat promises that the
//      state written in step 1 survives a crash, so none may leave before it is on disk;
//   3. restore the state machine from `snapshotToApply` (if not null), then apply `committedEntries` in order
//      (skipping `noop` entries); these are already durable, so step 3 may also overlap step 2;
//   4. act on `status` (role or leader changes), e.g. redirect clients.
//
// A crash anywhere before step 1 completes loses only what no other node has seen, because nothing from this batch
// was sent: the restarted node is one that simply never received those inputs. Writes within a batch may land
// partially (a prefix of them) without harm, as long as they land in order.
import type { RaftMessage } from './messages.ts';
import type { HardState, LogEntry, RaftStatus, Snapshot } from './types.ts';

/** One change to the durable log. `snapshot` also discards the compacted prefix (and the rest, if it conflicts). */
export type LogWrite =
  | { readonly kind: 'append'; readonly entries: readonly LogEntry[] }
  | { readonly kind: 'truncate'; readonly fromIndex: number }
  | { readonly kind: 'snapshot'; readonly snapshot: Snapshot };

export interface Ready {
  readonly hardState: HardState | null;
  readonly logWrites: readonly LogWrite[];
  readonly messages: readonly RaftMessage[];
  readonly snapshotToApply: Snapshot | null;
  readonly committedEntries: readonly LogEntry[];
  /** Set when role, term or leader changed since the previous Ready. */
  readonly status: RaftStatus | null;
}

export function isEmptyReady(ready: Ready): boolean {
  return (
    ready.hardState === null &&
    ready.logWrites.length === 0 &&
    ready.messages.length === 0 &&
    ready.snapshotToApply === null &&
    ready.committedEntries.length === 0 &&
    ready.status === null
  );
}
