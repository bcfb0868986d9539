// The leader's per-partition bookkeeping: HW over the maximal ISR, ISR expansion and shrink proposals with
// Kafka's timing rules, pending-change semantics (KIP-497), and acks=all waiters.
import t from 'tap';
import fc from 'fast-check';
import { PartitionLeaderState, type LeaderLog, type PartitionLeaderOptions } from '../../../broker/replication/partition-leader-state.ts';
import { ErrorCode } from '../../../broker/protocol/error-codes.ts';

const NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20;

/** A log end and a high watermark, as a replicated Log keeps them (HW clamped to the log end). */
class TestLog implements LeaderLog {
  logEndOffset = 0;
  highWatermark = 0;
  setHighWatermark(o: number): void {
    this.highWatermark = Math.min(Math.max(o, 0), this.logEndOffset);
  }
}

interface Proposal {
  isr: number[];
  partitionEpoch: number;
  accept(): void;
  reject(): void;
}

function setup(over: Partial<PartitionLeaderOptions> & { leo?: number } = {}) {
  const log = new TestLog();
  log.logEndOffset = over.leo ?? 0;
  let now = 0;
  const proposals: Proposal[] = [];
  const state: PartitionLeaderState = new PartitionLeaderState({
    selfId: 1,
    log,
    leaderEpoch: 3,
    partitionEpoch: 7,
    replicas: [1, 2, 3],
    isr: [1, 2, 3],
    leaderEpochStartOffset: 0,
    replicaLagTimeMaxMs: 1000,
    now: () => now,
    proposeIsr: (isr, partitionEpoch) =>
      new Promise<void>((resolve, reject) => {
        proposals.push({
          isr,
          partitionEpoch,
          accept: () => {
            state.applyPartitionChange(isr, partitionEpoch + 1);
            resolve();
          },
          reject: () => reject(new Error('refused')),
        });
      }),
    ...over,
  });
  return {
    log,
    state,
    proposals,
    setNow: (n: number) => (now = n),
    append: (n: number) => {
      log.logEndOffset += n;
      state.onLocalAppend();
    },
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

t.test('HW is the smallest log end over the ISR and never moves back', async (t) => {
  const { log, state, append } = setup();
  append(10);
  t.equal(log.highWatermark, 0, 'followers have not fetched yet');
  state.followerFetched(2, 5, 10);
  t.equal(log.highWatermark, 0, 'follower 3 unknown');
  state.followerFetched(3, 7, 10);
  t.equal(log.highWatermark, 5);
  state.followerFetched(2, 10, 20);
  t.equal(log.highWatermark, 7);
  t.equal(state.followerLeo(2), 10);
  t.equal(state.followerLeo(3), 7);
  t.equal(state.followerLeo(1), 10, 'the leader’s own LEO');
  t.equal(state.followerLeo(9), -1);
  state.followerFetched(3, 6, 30); // a follower that truncated
  t.equal(log.highWatermark, 7, 'HW does not move backwards');
});

t.test('an ISR of one: the leader’s appends commit at once', async (t) => {
  const { log, append } = setup({ replicas: [1], isr: [1] });
  append(4);
  t.equal(log.highWatermark, 4);
});

t.test('a caught-up replica outside the ISR is proposed for addition, counted at once', async (t) => {
  const { log, state, proposals, append } = setup({ isr: [1, 2], leaderEpochStartOffset: 8 });
  append(10);
  state.followerFetched(2, 9, 1);
  t.equal(log.highWatermark, 9);
  state.followerFetched(3, 5, 1);
  t.equal(proposals.length, 0, 'behind the HW');
  state.followerFetched(3, 9, 2);
  t.equal(proposals.length, 1);
  t.same(proposals[0].isr, [1, 2, 3]);
  t.equal(proposals[0].partitionEpoch, 7);
  t.same(state.isr, [1, 2], 'not committed yet');
  t.same([...state.maximalIsr].sort(), [1, 2, 3], 'pending addition counts');
  state.followerFetched(2, 10, 3);
  t.equal(log.highWatermark, 9, 'HW waits for the replica being added');
  state.followerFetched(3, 10, 3);
  t.equal(proposals.length, 1, 'one proposal in flight');
  t.equal(log.highWatermark, 10);
  proposals[0].accept();
  await settle();
  t.same(state.isr, [1, 2, 3]);
  t.same(state.maximalIsr, [1, 2, 3]);
});

t.test('a replica must reach the leader epoch start offset before joining', async (t) => {
  const { log, state, proposals } = setup({ isr: [1, 2], leaderEpochStartOffset: 8, leo: 10 });
  state.followerFetched(2, 6, 1);
  t.equal(log.highWatermark, 6);
  state.followerFetched(3, 6, 1);
  t.equal(proposals.length, 0, 'at the HW but below the epoch start');
  state.followerFetched(3, 9, 2);
  t.equal(proposals.length, 1);
  t.same(proposals[0].isr, [1, 2, 3]);
});

t.test('a lagging ISR follower is proposed for removal; it counts until the removal commits', async (t) => {
  const { log, state, proposals, append, setNow } = setup({ leo: 10 });
  // Follower 2 keeps up; follower 3 fetched at 500 while behind, then caught up to that fetch's leader LEO.
  state.followerFetched(2, 10, 100);
  state.followerFetched(3, 5, 500);
  append(10);
  state.followerFetched(3, 10, 900); // >= leader LEO seen at its previous fetch: caught up as of 500
  state.followerFetched(2, 20, 1000);
  t.equal(log.highWatermark, 10);
  state.maybeShrinkIsr(1400);
  t.equal(proposals.length, 0, 'within the lag window of its previous fetch');
  state.maybeShrinkIsr(1600);
  t.equal(proposals.length, 1);
  t.same(proposals[0].isr, [1, 2]);
  t.same(state.maximalIsr, [1, 2, 3], 'a pending removal still counts');
  state.followerFetched(2, 20, 1700);
  t.equal(log.highWatermark, 10, 'HW still held by the follower being removed');
  state.maybeShrinkIsr(5000);
  t.equal(proposals.length, 1, 'one proposal in flight');
  setNow(2000);
  proposals[0].accept();
  await settle();
  t.same(state.isr, [1, 2]);
  t.equal(log.highWatermark, 20, 'the committed removal lets the HW advance');
});

t.test('a follower fetching at the leader’s LEO stays in the ISR', async (t) => {
  const { state, proposals, append } = setup({ leo: 10 });
  for (let now = 0; now <= 10_000; now += 400) {
    append(1);
    state.followerFetched(2, state.followerLeo(1), now);
    state.followerFetched(3, state.followerLeo(1), now);
    state.maybeShrinkIsr(now);
  }
  t.equal(proposals.length, 0);
});

t.test('the leader never proposes removing itself', async (t) => {
  const { state, proposals } = setup({ replicas: [1, 2], isr: [1, 2] });
  state.maybeShrinkIsr(100_000);
  t.equal(proposals.length, 1);
  t.same(proposals[0].isr, [1]);
});

t.test('a refused proposal is cleared and retried on the next trigger only', async (t) => {
  const { state, proposals } = setup({ replicas: [1, 2, 3], isr: [1, 2, 3] });
  state.followerFetched(2, 0, 0);
  state.maybeShrinkIsr(5000);
  t.equal(proposals.length, 1);
  proposals[0].reject();
  await settle();
  await settle();
  t.equal(proposals.length, 1, 'no hot retry loop');
  t.same(state.maximalIsr, [1, 2, 3]);
  state.maybeShrinkIsr(5100);
  t.equal(proposals.length, 2, 'retried on the next timer tick');
  t.same(proposals[1].isr, [1]);
  // A refused expansion likewise.
  const b = setup({ isr: [1], leo: 4 });
  b.state.followerFetched(2, 4, 1);
  t.equal(b.proposals.length, 1);
  b.proposals[0].reject();
  await settle();
  t.same(b.state.maximalIsr, [1], 'the refused addition no longer counts');
  b.state.followerFetched(2, 4, 2);
  t.equal(b.proposals.length, 2);
  // A proposeIsr that throws synchronously is a refusal too.
  let calls = 0;
  const c = setup({
    isr: [1],
    proposeIsr: () => {
      calls++;
      throw new Error('no controller');
    },
  });
  c.state.followerFetched(2, 0, 1);
  await settle();
  c.state.followerFetched(2, 0, 2);
  t.equal(calls, 2);
});

t.test('acks=all waiters', async (t) => {
  t.test('NONE once the HW reaches the offset, in offset order', async (t) => {
    const { log, state, append } = setup({ replicas: [1, 2], isr: [1, 2] });
    append(100);
    const done: number[] = [];
    const offsets = Array.from({ length: 50 }, (_, i) => ((i * 37) % 100) + 1);
    const waits = offsets.map((o) => state.waitForReplication(o, 2, 30_000).then((code) => {
      t.equal(code, ErrorCode.NONE);
      t.ok(log.highWatermark >= o, `offset ${o} completed at HW ${log.highWatermark}`);
      done.push(o);
    }));
    for (let leo = 10; leo <= 100; leo += 10) {
      state.followerFetched(2, leo, leo);
      await settle();
      t.equal(done.length, offsets.filter((o) => o <= leo).length, `HW ${leo}`);
    }
    await Promise.all(waits);
    t.equal(await state.waitForReplication(50, 2, 1), ErrorCode.NONE, 'already replicated: answers at once');
  });

  t.test('NOT_ENOUGH_REPLICAS_AFTER_APPEND when the committed ISR is below min.insync', async (t) => {
    const { state, append } = setup({ replicas: [1, 2], isr: [1] });
    append(5);
    t.equal(await state.waitForReplication(5, 2, 1000), NOT_ENOUGH_REPLICAS_AFTER_APPEND);
    t.equal(await state.waitForReplication(5, 1, 1000), ErrorCode.NONE);
  });

  t.test('REQUEST_TIMED_OUT when the HW does not get there', async (t) => {
    const { state, append } = setup({ replicas: [1, 2], isr: [1, 2] });
    append(5);
    t.equal(await state.waitForReplication(5, 2, 20), ErrorCode.REQUEST_TIMED_OUT);
    // Many timed-out waiters behind a stuck HW do not break later ones.
    const codes = await Promise.all(Array.from({ length: 200 }, () => state.waitForReplication(5, 2, 5)));
    t.ok(codes.every((c) => c === ErrorCode.REQUEST_TIMED_OUT));
    const later = state.waitForReplication(5, 2, 30_000);
    state.followerFetched(2, 5, 1);
    t.equal(await later, ErrorCode.NONE);
  });

  t.test('NOT_LEADER_OR_FOLLOWER after resign', async (t) => {
    const { state, proposals, append } = setup({ replicas: [1, 2], isr: [1, 2] });
    append(5);
    const pending = state.waitForReplication(5, 2, 30_000);
    state.resign();
    t.equal(await pending, ErrorCode.NOT_LEADER_OR_FOLLOWER);
    t.equal(await state.waitForReplication(1, 1, 30_000), ErrorCode.NOT_LEADER_OR_FOLLOWER);
    state.maybeShrinkIsr(1_000_000);
    state.followerFetched(2, 5, 1);
    t.equal(proposals.length, 0, 'a resigned leader proposes nothing');
  });
});

t.test('property: over random interleavings the HW never decreases nor passes a maximal-ISR member’s LEO', async (t) => {
  type Cmd =
    | { kind: 'append'; n: number }
    | { kind: 'fetch'; replica: number; advance: number }
    | { kind: 'tick'; ms: number }
    | { kind: 'decide'; accept: boolean };
  const cmd: fc.Arbitrary<Cmd> = fc.oneof(
    fc.record({ kind: fc.constant('append' as const), n: fc.integer({ min: 0, max: 5 }) }),
    fc.record({ kind: fc.constant('fetch' as const), replica: fc.constantFrom(2, 3, 4), advance: fc.integer({ min: 0, max: 6 }) }),
    fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 800 }) }),
    fc.record({ kind: fc.constant('decide' as const), accept: fc.boolean() }),
  );
  await fc.assert(
    fc.asyncProperty(fc.subarray([2, 3, 4]), fc.integer({ min: 0, max: 5 }), fc.array(cmd, { maxLength: 120 }), async (others, startLeo, cmds) => {
      const { log, state, proposals, append, setNow } = setup({ replicas: [1, 2, 3, 4], isr: [1, ...others], leo: startLeo, leaderEpochStartOffset: startLeo });
      log.highWatermark = 0;
      const followerLeo = new Map<number, number>([[2, 0], [3, 0], [4, 0]]);
      let now = 0;
      let decided = 0;
      let lastHw = log.highWatermark;
      const check = (what: string) => {
        if (log.highWatermark < lastHw) throw new Error(`${what}: HW went back from ${lastHw} to ${log.highWatermark}`);
        lastHw = log.highWatermark;
        for (const id of state.maximalIsr) {
          const leo = id === 1 ? log.logEndOffset : state.followerLeo(id);
          if (log.highWatermark > Math.max(leo, 0)) {
            throw new Error(`${what}: HW ${log.highWatermark} above the LEO ${leo} of ISR member ${id}`);
          }
        }
      };
      for (const c of cmds) {
        if (c.kind === 'append') append(c.n);
        else if (c.kind === 'fetch') {
          const leo = Math.min(followerLeo.get(c.replica)! + c.advance, log.logEndOffset);
          followerLeo.set(c.replica, leo);
          state.followerFetched(c.replica, leo, now);
        } else if (c.kind === 'tick') {
          now += c.ms;
          setNow(now);
          state.maybeShrinkIsr(now);
        } else if (decided < proposals.length) {
          const p = proposals[decided++];
          if (c.accept) p.accept();
          else p.reject();
          await Promise.resolve();
          await Promise.resolve();
        }
        check(c.kind);
        if (!state.maximalIsr.includes(1)) throw new Error('the leader left its own ISR');
      }
    }),
    { numRuns: 300 },
  );
  t.pass('property held');
});
