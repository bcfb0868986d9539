import t from 'tap';
import { Group, type JoinRequest } from '../../../broker/coordinator/group.ts';

const timeouts = { minSessionTimeoutMs: 10, maxSessionTimeoutMs: 60_000, initialRebalanceDelayMs: 30 };
const meta = (s: string) => Buffer.from(s);

function joinReq(over: Partial<JoinRequest> = {}): JoinRequest {
  return {
    memberId: '',
    groupInstanceId: null,
    clientId: 'c',
    clientHost: '127.0.0.1',
    sessionTimeoutMs: 1000,
    rebalanceTimeoutMs: 500,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: meta('m') }],
    requireKnownMemberId: true,
    ...over,
  };
}

async function joinNew(group: Group, over: Partial<JoinRequest> = {}) {
  const first = await group.join(joinReq(over));
  if (first.errorCode !== 79) return first;
  return group.join(joinReq({ ...over, memberId: first.memberId }));
}

t.test('two members form a generation, the leader assigns, both get their assignment', async (t) => {
  const persisted: number[] = [];
  const g = new Group('g', timeouts, (grp) => persisted.push(grp.generationId));
  const [a, b] = await Promise.all([joinNew(g), joinNew(g)]);
  t.equal(a.errorCode, 0);
  t.equal(b.errorCode, 0);
  t.equal(a.generationId, 1);
  t.equal(a.leader, b.leader);
  const leader = a.memberId === a.leader ? a : b;
  const follower = leader === a ? b : a;
  t.equal(leader.members.length, 2, 'leader sees all members');
  t.equal(follower.members.length, 0, 'followers see none');
  t.equal(g.state, 'CompletingRebalance');
  const [ls, fs] = await Promise.all([
    g.sync({ memberId: leader.memberId, groupInstanceId: null, generationId: 1, protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId: leader.memberId, assignment: meta('L') }, { memberId: follower.memberId, assignment: meta('F') }] }),
    g.sync({ memberId: follower.memberId, groupInstanceId: null, generationId: 1, protocolType: null, protocolName: null, assignments: [] }),
  ]);
  t.equal(ls.assignment.toString(), 'L');
  t.equal(fs.assignment.toString(), 'F');
  t.equal(g.state, 'Stable');
  t.same(persisted, [1]);
  t.equal(g.heartbeat(follower.memberId, null, 1), 0);
  t.equal(g.heartbeat(follower.memberId, null, 0), 22, 'ILLEGAL_GENERATION');
  t.equal(g.heartbeat('nobody', null, 1), 25, 'UNKNOWN_MEMBER_ID');
  g.close();
});

t.test('a member leaving triggers a rebalance; heartbeats say REBALANCE_IN_PROGRESS', async (t) => {
  const g = new Group('g', timeouts);
  const [a, b] = await Promise.all([joinNew(g), joinNew(g)]);
  await Promise.all([
    g.sync({ memberId: a.leader, groupInstanceId: null, generationId: 1, protocolType: null, protocolName: null, assignments: [] }),
    g.sync({ memberId: a.leader === a.memberId ? b.memberId : a.memberId, groupInstanceId: null, generationId: 1, protocolType: null, protocolName: null, assignments: [] }),
  ]);
  t.same(g.leave([{ memberId: b.memberId, groupInstanceId: null }]), [0]);
  t.equal(g.state, 'PreparingRebalance');
  t.equal(g.heartbeat(a.memberId, null, 1), 27);
  const again = await g.join(joinReq({ memberId: a.memberId }));
  t.equal(again.generationId, 2);
  t.equal(again.leader, a.memberId);
  g.close();
});

t.test('a member whose session expires is removed', async (t) => {
  const g = new Group('g', timeouts);
  const [a, b] = await Promise.all([joinNew(g, { sessionTimeoutMs: 50 }), joinNew(g, { sessionTimeoutMs: 50 })]);
  void b;
  // Only a keeps heartbeating.
  const beat = setInterval(() => g.heartbeat(a.memberId, null, g.generationId), 10);
  await new Promise((r) => setTimeout(r, 150));
  clearInterval(beat);
  t.equal(g.members.size, 1);
  t.ok(g.members.has(a.memberId));
  g.close();
});

t.test('MEMBER_ID_REQUIRED, unknown members and inconsistent protocols', async (t) => {
  const g = new Group('g', timeouts);
  const first = await g.join(joinReq());
  t.equal(first.errorCode, 79);
  t.ok(first.memberId.length > 0);
  t.equal((await g.join(joinReq({ memberId: 'made-up' }))).errorCode, 25);
  t.equal((await g.join(joinReq({ sessionTimeoutMs: 1 }))).errorCode, 26, 'INVALID_SESSION_TIMEOUT');
  const joined = await g.join(joinReq({ memberId: first.memberId }));
  t.equal(joined.errorCode, 0);
  t.equal((await g.join(joinReq({ protocols: [{ name: 'other', metadata: meta('') }] }))).errorCode, 23);
  g.close();
});

t.test('a static member restarting with the same subscription keeps its assignment without a rebalance', async (t) => {
  const g = new Group('g', timeouts);
  const a = await joinNew(g, { groupInstanceId: 'i-1' });
  await g.sync({ memberId: a.memberId, groupInstanceId: 'i-1', generationId: 1, protocolType: null, protocolName: null, assignments: [{ memberId: a.memberId, assignment: meta('A') }] });
  const restarted = await g.join(joinReq({ groupInstanceId: 'i-1' }));
  t.equal(restarted.errorCode, 0);
  t.not(restarted.memberId, a.memberId, 'new member id');
  t.equal(restarted.generationId, 1, 'no new generation');
  t.equal(g.state, 'Stable');
  const s = await g.sync({ memberId: restarted.memberId, groupInstanceId: 'i-1', generationId: 1, protocolType: null, protocolName: null, assignments: [] });
  t.equal(s.assignment.toString(), 'A');
  t.equal(g.heartbeat(a.memberId, 'i-1', 1), 25, 'the old id is gone');
  g.close();
});

t.test('offset commits are checked against the generation', async (t) => {
  const g = new Group('g', timeouts);
  t.equal(g.validateCommit('', null, -1), 0, 'standalone commit on an empty group');
  const a = await joinNew(g);
  t.equal(g.validateCommit(a.memberId, null, 1), 27, 'REBALANCE_IN_PROGRESS while completing');
  await g.sync({ memberId: a.memberId, groupInstanceId: null, generationId: 1, protocolType: null, protocolName: null, assignments: [] });
  t.equal(g.validateCommit(a.memberId, null, 1), 0);
  t.equal(g.validateCommit(a.memberId, null, 7), 22);
  t.equal(g.validateCommit('x', null, 1), 25);
  t.equal(g.validateCommit('', null, -1), 25, 'standalone commit on an active group');
  g.close();
});
