// Scenario tests of one RaftNode's rules, with every message delivered by hand.
import t from 'tap';
import type { AppendResponse, RaftMessage, VoteResponse } from '../../../../broker/controller/raft/messages.ts';
import { RaftNode } from '../../../../broker/controller/raft/node.ts';
import { seededRandom } from '../../../../broker/controller/raft/random.ts';
import { elect, makeNode, persisted, pump, repeat, tickUntilReady } from './cluster-fixture.ts';

const text = (data: Uint8Array) => new TextDecoder().decode(data);

t.test('a single-node quorum elects itself and commits a proposal in the same Ready it persists it', (t) => {
  const node = makeNode(1, [1]);
  for (let i = 0; i < 20 && node.status().role !== 'leader'; i++) node.tick();
  t.equal(node.status().role, 'leader');
  t.equal(node.status().term, 1);
  const election = node.ready();
  t.same(election.hardState, { currentTerm: 1, votedFor: 1 });
  t.match(election.status, { role: 'leader', leaderId: 1 });
  t.same(election.committedEntries.map((e) => e.kind), ['noop']);
  const result = node.propose(new TextEncoder().encode('hello'));
  t.same(result, { ok: true, index: 2, term: 1 }, 'index 1 is the new leader noop');
  const ready = node.ready();
  t.same(ready.logWrites.flatMap((w) => (w.kind === 'append' ? w.entries.map((e) => e.index) : [])), [2]);
  t.same(ready.committedEntries.map((e) => (e.kind === 'noop' ? 'noop' : text(e.data))), ['hello'], 'the noop went out in an earlier Ready');
  t.end();
});

t.test('proposals to a follower are refused with the leader it knows', (t) => {
  const nodes = new Map([1, 2, 3].map((id) => [id, makeNode(id, [1, 2, 3])]));
  t.same(nodes.get(2)!.propose(new Uint8Array([1])), { ok: false, reason: 'not-leader', leaderId: null }, 'before any election');
  elect(nodes, 1);
  t.same(nodes.get(2)!.propose(new Uint8Array([1])), { ok: false, reason: 'not-leader', leaderId: 1 });
  t.end();
});

t.test('a vote goes out in the same Ready as the hard state recording it, and only one per term', (t) => {
  const voter = makeNode(2, [1, 2, 3]);
  voter.receive({ type: 'vote-request', from: 1, to: 2, term: 5, preVote: false, lastLogIndex: 0, lastLogTerm: 0 });
  const ready = voter.ready();
  t.same(ready.hardState, { currentTerm: 5, votedFor: 1 }, 'persist this ...');
  t.match(ready.messages, [{ type: 'vote-response', to: 1, term: 5, granted: true }], '... before sending this');
  voter.receive({ type: 'vote-request', from: 3, to: 2, term: 5, preVote: false, lastLogIndex: 9, lastLogTerm: 4 });
  t.match(voter.ready().messages, [{ type: 'vote-response', to: 3, granted: false }], 'already voted in term 5');
  // Restarted from what was persisted, it still refuses.
  const restarted = makeNode(2, [1, 2, 3], { hardState: ready.hardState!, snapshot: null, entries: [] });
  restarted.receive({ type: 'vote-request', from: 3, to: 2, term: 5, preVote: false, lastLogIndex: 9, lastLogTerm: 4 });
  t.match(restarted.ready().messages, [{ type: 'vote-response', granted: false }], 'the vote survived the restart');
  // A vote in the node's current term (no term change) must be persisted too.
  const sameTerm = makeNode(3, [1, 2, 3], { hardState: { currentTerm: 5, votedFor: null }, snapshot: null, entries: [] });
  sameTerm.receive({ type: 'vote-request', from: 1, to: 3, term: 5, preVote: false, lastLogIndex: 0, lastLogTerm: 0 });
  t.same(sameTerm.ready().hardState, { currentTerm: 5, votedFor: 1 });
  t.end();
});

t.test('votes and pre-votes are refused to a candidate whose log is behind', (t) => {
  for (const preVote of [false, true]) {
    const voter = makeNode(2, [1, 2, 3], persisted([1, 1, 2]));
    voter.receive({ type: 'vote-request', from: 1, to: 2, term: 3, preVote, lastLogIndex: 5, lastLogTerm: 1 });
    t.match(voter.ready().messages, [{ type: 'vote-response', preVote, granted: false }], `stale last term (preVote ${preVote})`);
    voter.receive({ type: 'vote-request', from: 3, to: 2, term: 3, preVote, lastLogIndex: 2, lastLogTerm: 2 });
    t.match(voter.ready().messages, [{ type: 'vote-response', preVote, granted: false }], `same term, shorter log (preVote ${preVote})`);
  }
  t.end();
});

t.test('an election timeout starts a pre-vote at term + 1 without leaving the current term', (t) => {
  const node = makeNode(1, [1, 2, 3], persisted([1, 1], 7));
  const ready = tickUntilReady(node);
  t.equal(ready.hardState, null, 'nothing to persist: the term did not move');
  t.equal(node.status().role, 'pre-candidate');
  t.equal(node.status().term, 7);
  t.match(ready.messages, [{ type: 'vote-request', preVote: true, term: 8, lastLogIndex: 2, lastLogTerm: 1 }, { type: 'vote-request', preVote: true, term: 8 }]);
  // Granting a pre-vote does not move the voter to that term either.
  const voter = makeNode(2, [1, 2, 3], persisted([1, 1], 7));
  voter.receive(ready.messages.find((m) => m.to === 2)!);
  const answer = voter.ready();
  t.equal(answer.hardState, null);
  t.match(answer.messages, [{ type: 'vote-response', preVote: true, granted: true, term: 8 }]);
  t.equal(voter.status().term, 7);
  t.end();
});

t.test('a conflicting follower is repaired in a few round trips, one per conflicting term', (t) => {
  // The leader's log diverges from follower 2's after index 2 for 40 entries; 2 holds two other terms there.
  const leaderLog = [1, 1, ...repeat(4, 40)];
  const nodes = new Map<number, RaftNode>([
    [1, makeNode(1, [1, 2, 3], persisted(leaderLog))],
    [2, makeNode(2, [1, 2, 3], persisted([1, 1, ...repeat(2, 20), ...repeat(3, 20)]))],
    [3, makeNode(3, [1, 2, 3], persisted(leaderLog))],
  ]);
  let refusals = 0;
  elect(nodes, 1, (m) => {
    if (m.type === 'append-response' && m.from === 2 && !m.success) refusals++;
    return true;
  });
  t.ok(refusals <= 2, `${refusals} refusals (one per index would be 40)`);
  const leader = nodes.get(1)!.log;
  const follower = nodes.get(2)!.log;
  t.equal(follower.lastIndex, leader.lastIndex);
  for (let i = 1; i <= leader.lastIndex; i++) t.equal(follower.termAt(i), leader.termAt(i), `term at ${i}`);
  t.end();
});

t.test('a leader commits an earlier term\'s entry only once an entry of its own term is on a majority', (t) => {
  // Raft §5.4.2 / Figure 8: index 2 (term 2) on a majority is not enough; the term-4 noop at index 3 must be too.
  const nodes = new Map<number, RaftNode>([
    [1, makeNode(1, [1, 2, 3], persisted([1, 2], 3))],
    [2, makeNode(2, [1, 2, 3], persisted([1]))],
    [3, makeNode(3, [1, 2, 3], persisted([1], 3))],
  ]);
  // Win the election, but drop every append so that nobody has replicated anything yet.
  elect(nodes, 1, (m) => m.type !== 'append-entries');
  const leader = nodes.get(1)!;
  t.equal(leader.status().term, 4);
  const ack = (matchIndex: number): AppendResponse => ({ type: 'append-response', from: 3, to: 1, term: 4, success: true, matchIndex, rejectedIndex: 0, hintIndex: 0, hintTerm: null });
  leader.receive(ack(2));
  t.equal(leader.status().commitIndex, 0, 'index 2 is on nodes 1 and 3, but it is from term 2');
  leader.receive(ack(3));
  t.equal(leader.status().commitIndex, 3, 'the term-4 noop is on a majority: it and everything before it commit');
  t.end();
});

t.test('a stale leader learns the newer term from a follower\'s answer and steps down', (t) => {
  const stale = makeNode(1, [1, 2, 3]);
  const nodes = new Map([[1, stale], [2, makeNode(2, [1, 2, 3])], [3, makeNode(3, [1, 2, 3])]]);
  elect(nodes, 1);
  const newer: VoteResponse = { type: 'vote-response', from: 2, to: 1, term: 9, preVote: false, granted: false };
  stale.receive(newer);
  t.equal(stale.status().role, 'follower');
  t.equal(stale.status().term, 9);
  t.same(stale.ready().hardState, { currentTerm: 9, votedFor: null });
  t.end();
});

t.test('a follower with a longer stale tail reports only what it verified as matching', (t) => {
  const follower = makeNode(2, [1, 2, 3], persisted([1, 1, 2, 2, 2]));
  follower.receive({ type: 'append-entries', from: 1, to: 2, term: 3, prevIndex: 2, prevTerm: 1, entries: [], leaderCommit: 2 });
  const ready = follower.ready();
  t.match(ready.messages, [{ type: 'append-response', success: true, matchIndex: 2 }] as Partial<RaftMessage>[]);
  t.equal(follower.status().commitIndex, 2, 'commit never passes the verified prefix');
  t.equal(follower.log.lastIndex, 5, 'the unverified tail stays until a conflicting entry arrives');
  t.end();
});

t.test('node construction rejects configurations that cannot work', (t) => {
  t.throws(() => new RaftNode({ id: 4, voters: [1, 2, 3], random: seededRandom(1) }), /not among the voters/);
  t.throws(() => new RaftNode({ id: 1, voters: [1, 2, 3], random: seededRandom(1), electionTimeoutTicks: 2, heartbeatIntervalTicks: 2 }), /heartbeat/);
  t.end();
});

t.test('a follower that lost its whole log (emptied data directory) is brought back from the start', (t) => {
  const nodes = new Map([1, 2, 3].map((id) => [id, makeNode(id, [1, 2, 3])]));
  elect(nodes, 1);
  const leader = nodes.get(1)!;
  for (let i = 0; i < 5; i++) leader.propose(new TextEncoder().encode(`e${i}`));
  pump(nodes, [...leader.ready().messages]);
  const lastIndex = leader.log.lastIndex;
  t.equal(nodes.get(2)!.log.lastIndex, lastIndex, 'follower 2 had everything');
  // Node 2 comes back with nothing: no hard state, no entries. The leader's record says it matched lastIndex.
  nodes.set(2, new RaftNode({ id: 2, voters: [1, 2, 3], random: seededRandom(2), electionTimeoutTicks: 10, heartbeatIntervalTicks: 2, recovering: true }));
  leader.propose(new TextEncoder().encode('after'));
  pump(nodes, [...leader.ready().messages]);
  for (let i = 0; i < 4; i++) {
    leader.tick();
    pump(nodes, [...leader.ready().messages]);
  }
  t.equal(nodes.get(2)!.log.lastIndex, leader.log.lastIndex, 'the emptied follower holds the whole log again');
  t.equal(nodes.get(2)!.status().commitIndex, leader.status().commitIndex);
  t.end();
});

t.test('a voter without state votes only for candidates without entries until a leader has caught it up', (t) => {
  const voter = new RaftNode({ id: 2, voters: [1, 2, 3], random: seededRandom(2), electionTimeoutTicks: 10, heartbeatIntervalTicks: 2, recovering: true });
  for (const preVote of [true, false]) {
    voter.receive({ type: 'vote-request', from: 3, to: 2, term: 7, preVote, lastLogIndex: 4, lastLogTerm: 2 });
    t.match(voter.ready().messages, [{ type: 'vote-response', granted: false }], `a candidate with entries is refused (preVote ${preVote}): it may lack committed ones`);
  }
  voter.receive({ type: 'vote-request', from: 1, to: 2, term: 8, preVote: false, lastLogIndex: 0, lastLogTerm: 0 });
  t.match(voter.ready().messages, [{ type: 'vote-response', granted: true }], 'a forming cluster still elects a leader');
  // Leader 1 of term 8 brings it up to its commit index: from then on it votes by the usual rule.
  const entries = [{ index: 1, term: 8, kind: 'noop' as const, data: new Uint8Array() }];
  voter.receive({ type: 'append-entries', from: 1, to: 2, term: 8, prevIndex: 0, prevTerm: 0, entries, leaderCommit: 1 });
  voter.ready();
  // Leader 1 then goes silent; once its lease has run out the voter listens to candidates again.
  for (let i = 0; i < 25; i++) voter.tick();
  voter.ready();
  voter.receive({ type: 'vote-request', from: 3, to: 2, term: 9, preVote: false, lastLogIndex: 1, lastLogTerm: 8 });
  t.match(voter.ready().messages, [{ type: 'vote-response', granted: true }], 'caught up, it votes for an up-to-date candidate');
  t.end();
});
