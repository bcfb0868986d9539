// The safety checkers must catch what they claim to catch; otherwise a passing simulation proves nothing.
import t from 'tap';
import { RaftLog } from '../../../../broker/controller/raft/raft-log.ts';
import { SafetyChecker, checkLogMatching } from './checkers.ts';
import { logOfTerms } from './cluster-fixture.ts';

t.test('Election Safety: two leaders in one term', (t) => {
  const checker = new SafetyChecker();
  checker.observeLeader(1, 3);
  checker.observeLeader(1, 3);
  checker.observeLeader(2, 4);
  t.throws(() => checker.observeLeader(2, 3), /Election Safety/);
  t.end();
});

t.test('State Machine Safety: a different entry committed, or a different state applied, at one index', (t) => {
  const checker = new SafetyChecker();
  const [entry] = logOfTerms([1]);
  checker.observeCommitted(1, 1, entry);
  checker.observeCommitted(2, 2, entry);
  t.throws(() => checker.observeCommitted(3, 2, { ...entry, term: 2 }), /State Machine Safety/);
  checker.observeApplied(1, 1, 42, 'a');
  t.throws(() => checker.observeApplied(2, 1, 43, 'a'), /State Machine Safety/);
  t.throws(() => checker.observeApplied(2, 2, 44, 'a'), /Integrity/, 'one command applied at two indexes');
  t.end();
});

t.test('Leader Completeness: a later leader missing an entry committed in an earlier term', (t) => {
  const checker = new SafetyChecker();
  for (const entry of logOfTerms([1, 1, 2])) checker.observeCommitted(1, 2, entry);
  checker.checkLeaderCompleteness(2, 2, new RaftLog()); // committed during term 2: not required of term 2's leader
  checker.checkLeaderCompleteness(2, 3, new RaftLog(0, 0, logOfTerms([1, 1, 2, 3])));
  t.throws(() => checker.checkLeaderCompleteness(3, 3, new RaftLog(0, 0, logOfTerms([1, 1]))), /Leader Completeness/);
  t.throws(() => checker.checkLeaderCompleteness(3, 3, new RaftLog(0, 0, logOfTerms([1, 1, 3]))), /Leader Completeness/);
  t.end();
});

t.test('Log Matching: logs that agree at an index but differ before it', (t) => {
  const a = new RaftLog(0, 0, logOfTerms([1, 1, 2, 2]));
  const b = new RaftLog(0, 0, logOfTerms([1, 1, 2, 3, 3]));
  checkLogMatching(new Map([[1, a], [2, b]]));
  const forged = logOfTerms([1, 1, 2]);
  forged[1] = { ...forged[1], data: new TextEncoder().encode('other') };
  t.throws(() => checkLogMatching(new Map([[1, a], [2, new RaftLog(0, 0, forged)]])), /Log Matching/);
  t.end();
});
