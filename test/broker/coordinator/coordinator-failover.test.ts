// Coordinator failover: the broker leading a __consumer_offsets partition coordinates its groups. Two coordinators
// over two real replicated logs; the test plays the replication layer (copying the leader's batches to the
// follower) so a commit is answered only once it is on both, and a leadership move is unload on A, load on B.
import t, { type Test } from 'tap';
import { LogManager } from '../../../broker/storage/log-manager.ts';
import { GroupCoordinator, DEFAULT_COORDINATOR_CONFIG, OFFSETS_TOPIC } from '../../../broker/coordinator/group-coordinator.ts';
import type { OffsetsPartitionAccess } from '../../../broker/coordinator/offsets-partition-access.ts';
import { ErrorCode } from '../../../broker/protocol/error-codes.ts';
import { createLogger } from '../../../broker/server/logger.ts';
import type { BrokerContext } from '../../../broker/server/broker-context.ts';
import type { RequestContext } from '../../../broker/handlers/handler.ts';
import { joinGroupHandler } from '../../../broker/handlers/join-group.ts';
import { syncGroupHandler } from '../../../broker/handlers/sync-group.ts';
import { heartbeatHandler } from '../../../broker/handlers/heartbeat.ts';
import { leaveGroupHandler } from '../../../broker/handlers/leave-group.ts';
import { offsetCommitHandler } from '../../../broker/handlers/offset-commit.ts';
import { offsetFetchHandler } from '../../../broker/handlers/offset-fetch.ts';
import { describeGroupsHandler } from '../../../broker/handlers/describe-groups.ts';
import { listGroupsHandler } from '../../../broker/handlers/list-groups.ts';
import { deleteGroupsHandler } from '../../../broker/handlers/delete-groups.ts';
import { tempDir, removeDir } from '../../helpers/broker-process.ts';

const quiet = createLogger('test', true);
const PARTITIONS = 3;
const config = { ...DEFAULT_COORDINATOR_CONFIG, offsetsTopicPartitions: PARTITIONS, minSessionTimeoutMs: 100, initialRebalanceDelayMs: 0 };
const MEMBER_ID_REQUIRED = 79;

/** A broker's storage as a cluster member has it: replicated logs, the user topic and __consumer_offsets. */
async function openNode(t: Test, name: string): Promise<LogManager> {
  const dir = tempDir(`failover-${name}`);
  const logs = await LogManager.open(dir, 1, {}, quiet, { replicated: true });
  t.teardown(async () => {
    await logs.close();
    removeDir(dir);
  });
  logs.createTopic('orders', 2, {});
  logs.createTopic(OFFSETS_TOPIC, PARTITIONS, { 'cleanup.policy': 'compact' });
  return logs;
}

/**
 * The replication layer for one leader and one follower: a commit waits until its batch was copied to the
 * follower and the leader's HW moved past it. With `replicating` off, commits time out as with a lost ISR.
 */
class HandReplication {
  replicating = true;
  private readonly leader: LogManager;
  private readonly follower: LogManager;
  private readonly leaderEpoch: number;

  constructor(leader: LogManager, follower: LogManager, leaderEpoch: number) {
    this.leader = leader;
    this.follower = follower;
    this.leaderEpoch = leaderEpoch;
  }

  copy(partition: number): void {
    const from = this.leader.getLog(OFFSETS_TOPIC, partition)!;
    const to = this.follower.getLog(OFFSETS_TOPIC, partition)!;
    while (to.logEndOffset < from.logEndOffset) {
      for (const chunk of from.read(to.logEndOffset, 1024 * 1024, true, from.logEndOffset).records) to.appendAsFollower(chunk);
    }
    from.setHighWatermark(to.logEndOffset);
    to.setHighWatermark(from.highWatermark);
  }

  access(): OffsetsPartitionAccess {
    return {
      leaderLog: (partition) => ({ log: this.leader.getLog(OFFSETS_TOPIC, partition)!, leaderEpoch: this.leaderEpoch }),
      waitReplicated: async (partition, lastOffset) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (!this.replicating) return ErrorCode.REQUEST_TIMED_OUT;
        this.copy(partition);
        return this.leader.getLog(OFFSETS_TOPIC, partition)!.highWatermark > lastOffset ? ErrorCode.NONE : ErrorCode.REQUEST_TIMED_OUT;
      },
    };
  }
}

function coordinator(t: Test, logs: LogManager, access: OffsetsPartitionAccess): GroupCoordinator {
  const c = new GroupCoordinator(logs, config, quiet, { access, partitionCount: PARTITIONS, manageTopic: false });
  c.start();
  t.teardown(() => c.close());
  return c;
}

function ctx(groups: GroupCoordinator, logs: LogManager, apiVersion: number): RequestContext {
  return { broker: { groups, logs, log: quiet } as unknown as BrokerContext, apiVersion, clientId: 'failover-test', remote: '127.0.0.1:40000' };
}

async function joinAndSync(groups: GroupCoordinator, logs: LogManager, groupId: string) {
  const join = (memberId: string) =>
    joinGroupHandler.handle({ groupId, sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 30_000, memberId, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from('sub') }] }, ctx(groups, logs, 5));
  let joined = (await join(''))!;
  if (joined.errorCode === MEMBER_ID_REQUIRED) joined = (await join(joined.memberId))!;
  const memberId = joined.memberId;
  const synced = (await syncGroupHandler.handle({ groupId, generationId: joined.generationId, memberId, assignments: [{ memberId, assignment: Buffer.from('orders-0,1') }] }, ctx(groups, logs, 3)))!;
  return { joined, synced, memberId, generationId: joined.generationId };
}

function commit(groups: GroupCoordinator, logs: LogManager, groupId: string, memberId: string, generationId: number, offsets: number[]) {
  return offsetCommitHandler.handle(
    { groupId, generationIdOrMemberEpoch: generationId, memberId, groupInstanceId: null, topics: [{ name: 'orders', partitions: offsets.map((offset, partitionIndex) => ({ partitionIndex, committedOffset: offset, committedLeaderEpoch: 0, committedMetadata: '' })) }] },
    ctx(groups, logs, 8),
  ) as Promise<{ topics: { partitions: { errorCode: number }[] }[] }>;
}

async function fetched(groups: GroupCoordinator, logs: LogManager, groupId: string) {
  const res = (await offsetFetchHandler.handle({ groups: [{ groupId, topics: [{ name: 'orders', partitionIndexes: [0, 1] }] }] }, ctx(groups, logs, 8)))!;
  const group = res.groups![0];
  return { errorCode: group.errorCode, offsets: group.topics.flatMap((topic) => topic.partitions.map((p) => p.committedOffset)) };
}

const allPartitions = (fn: (p: number) => void) => Array.from({ length: PARTITIONS }, (_, p) => fn(p));

t.test('after a leadership move the new coordinator serves the same committed offsets and groups', async (t) => {
  const [logsA, logsB] = [await openNode(t, 'a'), await openNode(t, 'b')];
  const aToB = new HandReplication(logsA, logsB, 0);
  const bToA = new HandReplication(logsB, logsA, 1);
  const a = coordinator(t, logsA, aToB.access());
  const b = coordinator(t, logsB, bToA.access());
  allPartitions((p) => a.loadPartition(p));
  t.equal(b.coordinatorStatus('workers'), 'not-coordinator', 'B coordinates nothing before it leads');

  const { synced, memberId, generationId } = await joinAndSync(a, logsA, 'workers');
  t.equal(synced.errorCode, ErrorCode.NONE);
  const committed = await commit(a, logsA, 'workers', memberId, generationId, [42, 7]);
  t.same(committed.topics[0].partitions.map((p) => p.errorCode), [0, 0], 'the commit is answered once replicated');
  t.equal(await a.commitOffsets('admin-tool', [{ topic: 'orders', partition: 1, offset: 99, leaderEpoch: 0, metadata: 'reset' }]), ErrorCode.NONE);
  t.same((await fetched(a, logsA, 'workers')).offsets, [42, 7]);

  allPartitions((p) => a.unloadPartition(p));
  allPartitions((p) => b.loadPartition(p));

  t.equal(a.coordinatorStatus('workers'), 'not-coordinator');
  t.same(await fetched(a, logsA, 'workers'), { errorCode: ErrorCode.NOT_COORDINATOR, offsets: [] }, 'the old coordinator refers clients elsewhere');
  t.equal((await heartbeatHandler.handle({ groupId: 'workers', generationId, memberId }, ctx(a, logsA, 3)))!.errorCode, ErrorCode.NOT_COORDINATOR);
  t.same(a.groupIds(), [], 'the old coordinator forgot the groups it no longer coordinates');

  t.equal(b.coordinatorStatus('workers'), 'active');
  t.same(await fetched(b, logsB, 'workers'), { errorCode: ErrorCode.NONE, offsets: [42, 7] }, 'the new coordinator serves the committed offsets');
  t.equal(b.committed('admin-tool', 'orders', 1)?.metadata, 'reset', 'offsets of groups without members too');
  const described = (await describeGroupsHandler.handle({ groups: ['workers'], includeAuthorizedOperations: false }, ctx(b, logsB, 5)))!.groups[0];
  t.equal(described.groupState, 'Stable', 'the group comes back in its last generation');
  t.same(described.members.map((m) => [m.memberId, m.memberAssignment.toString()]), [[memberId, 'orders-0,1']], 'with its member and assignment');
  t.equal((await heartbeatHandler.handle({ groupId: 'workers', generationId, memberId }, ctx(b, logsB, 3)))!.errorCode, ErrorCode.NONE, 'the member carries on at B without rejoining');

  const again = await commit(b, logsB, 'workers', memberId, generationId, [50, 8]);
  t.same(again.topics[0].partitions.map((p) => p.errorCode), [0, 0], 'the group keeps committing at B, stamped with B\'s leader epoch');
  t.same((await fetched(b, logsB, 'workers')).offsets, [50, 8]);
  const offsetsLogOfWorkers = logsA.getLog(OFFSETS_TOPIC, b.partitionFor('workers'))!;
  t.equal(offsetsLogOfWorkers.latestEpoch(), 1, 'B\'s commit reached A as a follower with B\'s epoch');
});

t.test('a commit that never reaches the ISR fails with COORDINATOR_NOT_AVAILABLE and stays invisible', async (t) => {
  const [logsA, logsB] = [await openNode(t, 'a2'), await openNode(t, 'b2')];
  const aToB = new HandReplication(logsA, logsB, 0);
  const a = coordinator(t, logsA, aToB.access());
  const b = coordinator(t, logsB, new HandReplication(logsB, logsA, 1).access());
  allPartitions((p) => a.loadPartition(p));
  const { memberId, generationId } = await joinAndSync(a, logsA, 'workers');
  t.same((await commit(a, logsA, 'workers', memberId, generationId, [10, 20])).topics[0].partitions.map((p) => p.errorCode), [0, 0]);

  aToB.replicating = false;
  const lost = await commit(a, logsA, 'workers', memberId, generationId, [11, 21]);
  t.same(lost.topics[0].partitions.map((p) => p.errorCode), [ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.COORDINATOR_NOT_AVAILABLE], 'the client is told to retry');
  t.same((await fetched(a, logsA, 'workers')).offsets, [10, 20], 'OffsetFetch does not show the unreplicated commit');

  // A second member joining waits in JoinGroup for the first to rejoin; leadership moves meanwhile.
  const joinNew = (id: string) =>
    joinGroupHandler.handle({ groupId: 'workers', sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 30_000, memberId: id, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from('sub') }] }, ctx(a, logsA, 5))!;
  const newMemberId = (await joinNew(''))!.memberId;
  const waiting = joinNew(newMemberId);
  t.equal(a.existingGroup('workers')?.state, 'PreparingRebalance');
  allPartitions((p) => a.unloadPartition(p));
  t.equal((await waiting)!.errorCode, ErrorCode.NOT_COORDINATOR, 'a member waiting in JoinGroup is sent to find the new coordinator');

  allPartitions((p) => b.loadPartition(p));
  t.same((await fetched(b, logsB, 'workers')).offsets, [10, 20], 'the new coordinator has the last replicated commit');
});

t.test('a group whose offsets partition is not coordinated here gets NOT_COORDINATOR and changes nothing', async (t) => {
  const logs = await openNode(t, 'idle');
  const groups = coordinator(t, logs, new HandReplication(logs, logs, 0).access());
  const g = 'elsewhere';
  const lengths = () => Array.from({ length: PARTITIONS }, (_, p) => logs.getLog(OFFSETS_TOPIC, p)!.logEndOffset);
  const before = lengths();

  const join = (await joinGroupHandler.handle({ groupId: g, sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 30_000, memberId: '', protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] }, ctx(groups, logs, 5)))!;
  t.equal(join.errorCode, ErrorCode.NOT_COORDINATOR, 'JoinGroup');
  t.equal((await syncGroupHandler.handle({ groupId: g, generationId: 1, memberId: 'm', assignments: [] }, ctx(groups, logs, 3)))!.errorCode, ErrorCode.NOT_COORDINATOR, 'SyncGroup');
  t.equal((await heartbeatHandler.handle({ groupId: g, generationId: 1, memberId: 'm' }, ctx(groups, logs, 3)))!.errorCode, ErrorCode.NOT_COORDINATOR, 'Heartbeat');
  t.equal((await leaveGroupHandler.handle({ groupId: g, memberId: 'm' }, ctx(groups, logs, 1)))!.errorCode, ErrorCode.NOT_COORDINATOR, 'LeaveGroup v1');
  t.same(await leaveGroupHandler.handle({ groupId: g, members: [{ memberId: 'm', groupInstanceId: null }] }, ctx(groups, logs, 4)), { throttleTimeMs: 0, errorCode: ErrorCode.NOT_COORDINATOR, members: [] }, 'LeaveGroup v4');
  t.same((await commit(groups, logs, g, '', -1, [5, 6])).topics[0].partitions.map((p) => p.errorCode), [ErrorCode.NOT_COORDINATOR, ErrorCode.NOT_COORDINATOR], 'OffsetCommit');
  t.equal((await fetched(groups, logs, g)).errorCode, ErrorCode.NOT_COORDINATOR, 'OffsetFetch v8');
  const v5 = (await offsetFetchHandler.handle({ groupId: g, topics: [{ name: 'orders', partitionIndexes: [0] }] }, ctx(groups, logs, 5)))!;
  t.same([v5.errorCode, v5.topics], [ErrorCode.NOT_COORDINATOR, []], 'OffsetFetch v5: the top-level error');
  const v1 = (await offsetFetchHandler.handle({ groupId: g, topics: [{ name: 'orders', partitionIndexes: [0] }] }, ctx(groups, logs, 1)))!;
  t.equal(v1.topics![0].partitions[0].errorCode, ErrorCode.NOT_COORDINATOR, 'OffsetFetch v1: the error per partition');
  t.equal((await describeGroupsHandler.handle({ groups: [g], includeAuthorizedOperations: false }, ctx(groups, logs, 5)))!.groups[0].errorCode, ErrorCode.NOT_COORDINATOR, 'DescribeGroups');
  t.equal((await deleteGroupsHandler.handle({ groupsNames: [g] }, ctx(groups, logs, 2)))!.results[0].errorCode, ErrorCode.NOT_COORDINATOR, 'DeleteGroups');
  const listed = (await listGroupsHandler.handle({ statesFilter: [], typesFilter: [] }, ctx(groups, logs, 5)))!;
  t.same([listed.errorCode, listed.groups], [ErrorCode.NONE, []], 'ListGroups lists only coordinated groups');

  t.same(groups.groupIds(), [], 'no group was created');
  t.same(lengths(), before, 'nothing was written to __consumer_offsets');
});
