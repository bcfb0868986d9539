// Randomized runs of the controller's decisions against the image: brokers fail, return, shut down; topics
// come and go; leaders shrink and expand ISRs (and send stale requests); preferred-leader elections run.
// After every step the cluster invariants must hold and every decision's records must survive the Raft log
// (encode, decode) and a snapshot. Failures print fast-check's seed and path for replay.
import t from 'tap';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  alterPartition,
  controlledShutdown,
  createTopic,
  deleteTopic,
  electPreferredLeaders,
  fenceBroker,
  registerBroker,
  unfenceBroker,
  type Decision,
} from '../../../../broker/controller/metadata/controller-decisions.ts';
import { ControllerErrorCode as Code } from '../../../../broker/controller/metadata/controller-errors.ts';
import { MetadataImage, type PartitionState } from '../../../../broker/controller/metadata/metadata-image.ts';
import { decodeRecordBatch, encodeRecordBatch } from '../../../../broker/controller/metadata/record-codec.ts';
import { cluster, endpointsOf, incarnation, leaderCounts } from './cluster-fixture.ts';

type Op =
  | { kind: 'fail'; broker: number }
  | { kind: 'return'; broker: number }
  | { kind: 'shutdown'; broker: number; complete: boolean }
  | { kind: 'create'; partitions: number; replicationFactor: number }
  | { kind: 'delete'; pick: number }
  | { kind: 'shrink'; pick: number; who: number }
  | { kind: 'expand'; pick: number; who: number }
  | { kind: 'stale'; pick: number }
  | { kind: 'prefer' };

const broker = fc.integer({ min: 1, max: 5 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('fail' as const), broker }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('return' as const), broker }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('shutdown' as const), broker, complete: fc.boolean() }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('create' as const), partitions: fc.integer({ min: 1, max: 4 }), replicationFactor: fc.integer({ min: 1, max: 4 }) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('shrink' as const), pick: fc.nat(), who: fc.nat() }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('expand' as const), pick: fc.nat(), who: fc.nat() }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('stale' as const), pick: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('prefer' as const) }), weight: 2 },
);

/** A simulated controller: takes decisions, pushes their records through the wire format, applies them. */
class Controller {
  image: MetadataImage;
  private starts = 0;
  private topics = 0;
  constructor(brokers: number) {
    this.image = cluster(brokers);
  }

  commit<T extends object>(decision: Decision<T>): Decision<T> {
    if (!decision.ok) return decision;
    const before = this.image;
    // What Raft carries: the batch's bytes. Decoding must give the same records back.
    const carried = decodeRecordBatch(encodeRecordBatch(decision.records));
    assert.deepStrictEqual(carried, decision.records);
    const result = before.applyAll(carried);
    assert.ok(result.ok, `the image refused a decision's records: ${!result.ok && result.reason}`);
    this.image = result.image;
    checkInvariants(this.image);
    checkTransition(before, this.image);
    return decision;
  }

  restart(brokerId: number): void {
    const reg = this.commit(registerBroker(this.image, { brokerId, incarnationId: incarnation(brokerId, ++this.starts), endpoints: endpointsOf(brokerId), rack: null }));
    assert.ok(reg.ok);
    this.commit(unfenceBroker(this.image, brokerId, reg.brokerEpoch));
    assert.equal(this.image.broker(brokerId)?.state, 'active');
  }

  partitionAt(pick: number): PartitionState | undefined {
    const all = this.image.allPartitions();
    return all.length === 0 ? undefined : all[pick % all.length].partition;
  }

  alter(p: PartitionState, newIsr: number[], over: { partitionEpoch?: number } = {}) {
    return alterPartition(this.image, {
      brokerId: p.leader,
      brokerEpoch: this.image.broker(p.leader)!.brokerEpoch,
      topicId: p.topicId,
      partitionId: p.partitionId,
      leaderEpoch: p.leaderEpoch,
      partitionEpoch: over.partitionEpoch ?? p.partitionEpoch,
      newIsr,
    });
  }

  run(op: Op): void {
    const image = this.image;
    switch (op.kind) {
      case 'fail':
        if (image.broker(op.broker)) this.commit(fenceBroker(image, op.broker));
        return;
      case 'return':
        if (image.broker(op.broker)) this.restart(op.broker);
        return;
      case 'shutdown': {
        const b = image.broker(op.broker);
        if (!b) return;
        const d = this.commit(controlledShutdown(image, op.broker, b.brokerEpoch));
        assert.ok(d.ok);
        assert.equal(this.image.partitionsLedBy(op.broker).length, d.remainingLeaderships, 'remainingLeaderships is what it still leads');
        for (const ref of this.image.partitionsLedBy(op.broker)) {
          const p = this.image.partition(ref.topicId, ref.partitionId)!;
          assert.ok(!p.isr.some((id) => id !== op.broker && this.image.isEligible(id)), 'leadership stays only where no other ISR member could take it');
        }
        if (op.complete) this.commit(fenceBroker(this.image, op.broker));
        return;
      }
      case 'create': {
        const topicId = `00000000-0000-4000-8000-${(++this.topics).toString(16).padStart(12, '0')}`;
        const d = this.commit(createTopic(image, { name: `t${this.topics}`, topicId, partitions: op.partitions, replicationFactor: op.replicationFactor, configs: new Map() }));
        const live = image.eligibleBrokerIds().length;
        if (op.replicationFactor > live) assert.equal(!d.ok && d.code, Code.INVALID_REPLICATION_FACTOR);
        else assert.ok(d.ok, `creation refused: ${!d.ok && d.message}`);
        return;
      }
      case 'delete': {
        const topics = image.topics();
        if (topics.length > 0) assert.ok(this.commit(deleteTopic(image, topics[op.pick % topics.length].name)).ok);
        return;
      }
      case 'shrink': {
        const p = this.partitionAt(op.pick);
        if (!p || p.leader < 0) return;
        const followers = p.isr.filter((id) => id !== p.leader);
        if (followers.length === 0) return;
        const out = followers[op.who % followers.length];
        const d = this.commit(this.alter(p, p.isr.filter((id) => id !== out)));
        assert.ok(d.ok, `shrink refused: ${!d.ok && d.message}`);
        return;
      }
      case 'expand': {
        const p = this.partitionAt(op.pick);
        if (!p || p.leader < 0) return;
        const outside = p.replicas.filter((id) => !p.isr.includes(id));
        if (outside.length === 0) return;
        const joiner = outside[op.who % outside.length];
        const d = this.commit(this.alter(p, [...p.isr, joiner]));
        if (image.isEligible(joiner)) assert.ok(d.ok, `expand refused: ${!d.ok && d.message}`);
        else assert.equal(!d.ok && d.code, Code.INELIGIBLE_REPLICA);
        return;
      }
      case 'stale': {
        const p = this.partitionAt(op.pick);
        if (!p || p.leader < 0 || p.partitionEpoch === 0) return;
        const d = this.alter(p, [p.leader], { partitionEpoch: p.partitionEpoch - 1 });
        assert.equal(!d.ok && d.code, Code.INVALID_UPDATE_VERSION, 'a request from an older partition state is refused');
        return;
      }
      case 'prefer':
        this.commit(electPreferredLeaders(image));
        return;
    }
  }
}

function checkInvariants(image: MetadataImage): void {
  for (const { topic, partition: p } of image.allPartitions()) {
    const where = `${topic.name}-${p.partitionId}`;
    assert.ok(p.replicas.length > 0 && new Set(p.replicas).size === p.replicas.length, `${where}: replicas distinct`);
    assert.ok(p.replicas.every((id) => image.broker(id) !== undefined), `${where}: replicas on registered brokers`);
    assert.ok(p.isr.length > 0 && new Set(p.isr).size === p.isr.length, `${where}: ISR non-empty and distinct`);
    assert.ok(p.isr.every((id) => p.replicas.includes(id)), `${where}: ISR ⊆ replicas`);
    if (p.leader >= 0) {
      assert.ok(p.isr.includes(p.leader), `${where}: leader ∈ ISR`);
      assert.notEqual(image.broker(p.leader)!.state, 'fenced', `${where}: a fenced broker leads nothing`);
    } else {
      assert.ok(!p.isr.some((id) => image.isEligible(id)), `${where}: offline only when no ISR member could lead`);
    }
    if (p.isr.length > 1) assert.ok(p.isr.every((id) => image.broker(id)!.state !== 'fenced'), `${where}: a fenced broker stays in an ISR only as its last member`);
  }
}

function checkTransition(before: MetadataImage, after: MetadataImage): void {
  for (const { topic, partition: was } of before.allPartitions()) {
    const now = after.partition(was.topicId, was.partitionId);
    if (!now) continue;
    const where = `${topic.name}-${was.partitionId}`;
    assert.deepStrictEqual(now.replicas, was.replicas, `${where}: replicas are fixed`);
    if (now.leader !== was.leader) {
      assert.ok(now.leaderEpoch > was.leaderEpoch, `${where}: leader ${was.leader} → ${now.leader} bumps the leader epoch`);
      if (now.leader >= 0) assert.ok(was.isr.includes(now.leader), `${where}: new leader ${now.leader} came from the ISR [${was.isr}] (no unclean election)`);
    } else {
      assert.equal(now.leaderEpoch, was.leaderEpoch, `${where}: same leader, same leader epoch`);
    }
    const changed = now.leader !== was.leader || now.isr.join() !== was.isr.join();
    assert.ok(changed ? now.partitionEpoch > was.partitionEpoch : now.partitionEpoch === was.partitionEpoch, `${where}: partition epoch moves exactly with changes`);
  }
}

function assertSnapshotRoundTrips(image: MetadataImage): void {
  const bytes = image.snapshot();
  const loaded = MetadataImage.load(bytes);
  assert.deepStrictEqual(loaded.snapshot(), bytes);
  assert.deepStrictEqual(loaded.brokers(), image.brokers());
  assert.deepStrictEqual(loaded.allPartitions(), image.allPartitions());
  assert.equal(loaded.highestBrokerEpoch, image.highestBrokerEpoch);
}

t.test('random failures, returns, shutdowns, topic changes and ISR changes keep the invariants', async (t) => {
  let steps = 0;
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5 }), fc.array(opArb, { maxLength: 60 }), (brokers, ops) => {
      const controller = new Controller(brokers);
      for (const op of ops) {
        controller.run(op);
        assertSnapshotRoundTrips(controller.image);
        steps++;
      }
    }),
    { numRuns: 1000 },
  );
  t.ok(steps > 1000, `${steps} steps checked`);
});

t.test('with every broker back and caught up, preferred-leader election balances leaders within one', async (t) => {
  const churn = opArb.filter((op) => op.kind !== 'create' && op.kind !== 'delete');
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 5 }),
      fc.array(fc.record({ partitions: fc.integer({ min: 1, max: 6 }), rf: fc.nat() }), { minLength: 1, maxLength: 5 }),
      fc.array(churn, { maxLength: 30 }),
      (brokers, topics, ops) => {
        const controller = new Controller(brokers);
        topics.forEach(({ partitions, rf }, i) => {
          const topicId = `00000000-0000-4000-9000-${(i + 1).toString(16).padStart(12, '0')}`;
          const d = controller.commit(createTopic(controller.image, { name: `b${i}`, topicId, partitions, replicationFactor: 1 + (rf % brokers), configs: new Map() }));
          assert.ok(d.ok);
        });
        for (const op of ops) controller.run(op);

        // Heal: every broker not active restarts; every leader takes its caught-up followers back.
        for (const b of controller.image.brokers()) if (b.state !== 'active') controller.restart(b.brokerId);
        for (const { partition: p } of controller.image.allPartitions()) {
          assert.ok(p.leader >= 0, 'with every broker back, no partition is offline');
          if (p.isr.length < p.replicas.length) assert.ok(controller.commit(controller.alter(p, [...p.replicas])).ok);
        }
        controller.commit(electPreferredLeaders(controller.image));
        for (const { partition: p } of controller.image.allPartitions()) assert.equal(p.leader, p.replicas[0], 'led by its preferred replica');
        const counts = [...leaderCounts(controller.image).values()];
        assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `leader counts ${counts}`);
      },
    ),
    { numRuns: 300 },
  );
  t.pass('300 runs balanced');
});
