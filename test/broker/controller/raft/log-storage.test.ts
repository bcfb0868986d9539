// The durable log (MemoryLogStorage) and the node's in-memory view (RaftLog) must agree after any sequence of the
// LogWrites a node produces: the node trusts that a restart from storage gives back the log it had written.
import t from 'tap';
import fc from 'fast-check';
import { MemoryLogStorage, applyLogWrite, persistReady } from '../../../../broker/controller/raft/log-storage.ts';
import { RaftLog } from '../../../../broker/controller/raft/raft-log.ts';
import type { LogWrite } from '../../../../broker/controller/raft/ready.ts';
import { logOfTerms } from './cluster-fixture.ts';
import { baseSeed } from './seed.ts';

type Op = { kind: 'append'; count: number; termBump: number } | { kind: 'truncate'; back: number } | { kind: 'snapshot'; back: number; sameTerm: boolean };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('append' as const), count: fc.integer({ min: 1, max: 5 }), termBump: fc.integer({ min: 0, max: 1 }) }),
  fc.record({ kind: fc.constant('truncate' as const), back: fc.integer({ min: 0, max: 6 }) }),
  fc.record({ kind: fc.constant('snapshot' as const), back: fc.integer({ min: -3, max: 6 }), sameTerm: fc.boolean() }),
);

/** Turns an abstract op into the LogWrite a node could produce from `log`'s state, applying it to `log`. */
function toWrite(log: RaftLog, o: Op): LogWrite | null {
  if (o.kind === 'append') {
    const term = log.lastTerm + o.termBump;
    const entries = Array.from({ length: o.count }, (_, i) => ({ index: log.lastIndex + 1 + i, term, kind: 'command' as const, data: new Uint8Array([i]) }));
    for (const e of entries) log.append(e);
    return { kind: 'append', entries };
  }
  if (o.kind === 'truncate') {
    const from = log.lastIndex + 1 - o.back;
    if (from <= log.snapshotIndex) return null;
    log.truncateFrom(from);
    return { kind: 'truncate', fromIndex: from };
  }
  // A snapshot at an index inside the log (compaction) or past its end / with another term (InstallSnapshot).
  const index = log.lastIndex - o.back;
  if (index <= log.snapshotIndex) return null;
  const term = o.sameTerm && index <= log.lastIndex ? log.termAt(index)! : log.lastTerm + 1;
  const snapshot = { index, term, data: new Uint8Array([index]) };
  log.installSnapshot(snapshot);
  return { kind: 'snapshot', snapshot };
}

t.test('storage replays the node\'s writes into the same log (property)', (t) => {
  const seed = baseSeed();
  t.comment(`fast-check seed ${seed} (RAFT_SEED=${seed} replays)`);
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      const log = new RaftLog();
      const storage = new MemoryLogStorage();
      for (const o of ops) {
        const write = toWrite(log, o);
        if (write) applyLogWrite(storage, write);
        if (storage.firstIndex() !== log.firstIndex || storage.lastIndex() !== log.lastIndex) return false;
        for (let i = log.snapshotIndex; i <= log.lastIndex; i++) if (storage.termAt(i) !== log.termAt(i)) return false;
        const restored = new RaftLog(storage.snapshot()?.index ?? 0, storage.snapshot()?.term ?? 0, storage.entries(storage.firstIndex(), storage.lastIndex()));
        if (restored.lastIndex !== log.lastIndex || restored.lastTerm !== log.lastTerm) return false;
      }
      return true;
    }),
    { seed, numRuns: 500 },
  );
  t.pass('500 random write sequences');
  t.end();
});

t.test('a snapshot keeps the entries after it only when the log agrees at its index', (t) => {
  const log = new RaftLog(0, 0, logOfTerms([1, 1, 2, 2, 3]));
  log.installSnapshot({ index: 3, term: 2 });
  t.same([log.snapshotIndex, log.firstIndex, log.lastIndex, log.termAt(3), log.termAt(2)], [3, 4, 5, 2, undefined]);
  log.installSnapshot({ index: 4, term: 9 });
  t.same([log.snapshotIndex, log.lastIndex, log.lastTerm], [4, 4, 9], 'disagreeing suffix discarded');
  t.throws(() => log.truncateFrom(4), /into the snapshot/);
  t.end();
});

t.test('persistReady writes hard state and log writes, in order', (t) => {
  const storage = new MemoryLogStorage();
  const entries = logOfTerms([1, 1, 1]);
  persistReady(storage, {
    hardState: { currentTerm: 2, votedFor: 3 },
    logWrites: [{ kind: 'append', entries }, { kind: 'truncate', fromIndex: 2 }, { kind: 'append', entries: [{ ...entries[1], term: 2 }] }],
    messages: [],
    snapshotToApply: null,
    committedEntries: [],
    status: null,
  });
  t.same(storage.hardState(), { currentTerm: 2, votedFor: 3 });
  t.same(storage.entries(1, 10).map((e) => e.term), [1, 2]);
  t.throws(() => storage.append(logOfTerms([1])), /expected 3/, 'appends must be contiguous');
  t.end();
});

t.test('term runs: where a term starts and where our last entry of a term is', (t) => {
  const log = new RaftLog(0, 0, logOfTerms([1, 1, 2, 2, 2, 4, 4]));
  t.same([log.firstIndexOfTerm(5), log.firstIndexOfTerm(3), log.firstIndexOfTerm(2)], [3, 3, 1]);
  t.same([log.lastIndexOfTerm(2, 7), log.lastIndexOfTerm(2, 4), log.lastIndexOfTerm(3, 7), log.lastIndexOfTerm(4, 5)], [5, 4, undefined, undefined]);
  log.installSnapshot({ index: 2, term: 1 });
  t.equal(log.firstIndexOfTerm(4), 3, 'never reaches into the snapshot');
  t.equal(log.lastIndexOfTerm(1, 7), undefined, 'entries inside the snapshot are not found');
  t.end();
});
