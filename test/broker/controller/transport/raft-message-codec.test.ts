import t from 'tap';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RaftCodecError, decodeRaftMessage, encodeRaftMessage } from '../../../../broker/controller/transport/raft-message-codec.ts';
import type { RaftMessage } from '../../../../broker/controller/raft/messages.ts';
import type { LogEntry } from '../../../../broker/controller/raft/types.ts';

// Messages are plain objects, as the decoder builds them (fast-check's default is a null prototype).
const record: typeof fc.record = ((model: never) => fc.record(model, { noNullPrototype: true })) as typeof fc.record;

const nodeIdArb = fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }));
const numberArb = fc.oneof(fc.nat(1000), fc.maxSafeNat());
/** Plain Uint8Arrays (not Buffers): what the decoder hands out. */
const dataArb = fc.uint8Array({ maxLength: 40 }).map((a) => new Uint8Array(a));
const envelope = { from: nodeIdArb, to: nodeIdArb, term: numberArb };

const appendEntriesArb = fc
  .tuple(fc.nat(1_000_000), numberArb, numberArb, numberArb, fc.array(fc.tuple(numberArb, fc.constantFrom('command' as const, 'noop' as const), dataArb), { maxLength: 6 }))
  .chain(([prevIndex, prevTerm, leaderCommit, term, entries]) =>
    record({ ...envelope, term: fc.constant(term) }).map((env) => ({
      type: 'append-entries' as const,
      ...env,
      prevIndex,
      prevTerm,
      entries: entries.map(([entryTerm, kind, data], i): LogEntry => ({ index: prevIndex + 1 + i, term: entryTerm, kind, data })),
      leaderCommit,
    })),
  );

const messageArb: fc.Arbitrary<RaftMessage> = fc.oneof(
  record({ type: fc.constant('vote-request' as const), ...envelope, preVote: fc.boolean(), lastLogIndex: numberArb, lastLogTerm: numberArb }),
  record({ type: fc.constant('vote-response' as const), ...envelope, preVote: fc.boolean(), granted: fc.boolean() }),
  appendEntriesArb,
  record({
    type: fc.constant('append-response' as const),
    ...envelope,
    success: fc.boolean(),
    matchIndex: numberArb,
    rejectedIndex: numberArb,
    hintIndex: numberArb,
    hintTerm: fc.option(numberArb, { nil: null }),
  }),
  record({ type: fc.constant('install-snapshot' as const), ...envelope, snapshot: record({ index: numberArb, term: numberArb, data: dataArb }) }),
);

function decodeError(bytes: Uint8Array): string {
  try {
    decodeRaftMessage(bytes);
  } catch (err) {
    if (err instanceof RaftCodecError) return err.message;
    throw err;
  }
  throw new Error('decoded without error');
}

const heartbeat: RaftMessage = { type: 'append-entries', from: 1, to: 2, term: 3, prevIndex: 7, prevTerm: 2, entries: [], leaderCommit: 5 };

t.test('decode(encode(m)) equals m for every message', async (t) => {
  fc.assert(
    fc.property(messageArb, (m) => {
      assert.deepStrictEqual(decodeRaftMessage(encodeRaftMessage(m)), m);
    }),
    { numRuns: 3000 },
  );
  t.pass('3000 generated messages round-trip');
});

t.test('the wire form is pinned: version, type, then big-endian int64 fields', async (t) => {
  const m: RaftMessage = { type: 'vote-response', from: 1, to: 2, term: 3, preVote: true, granted: false };
  const int64 = (n: number) => [0, 0, 0, 0, 0, 0, 0, n];
  t.same([...encodeRaftMessage(m)], [0, 2, ...int64(1), ...int64(2), ...int64(3), 1, 0]);
  t.same(decodeRaftMessage(Uint8Array.from(encodeRaftMessage(m))), m, 'a plain Uint8Array decodes too');
});

t.test('every truncation of a valid encoding is refused', async (t) => {
  fc.assert(
    fc.property(messageArb, (m) => {
      const bytes = encodeRaftMessage(m);
      for (let at = 0; at < bytes.length; at++) assert.throws(() => decodeRaftMessage(bytes.subarray(0, at)), RaftCodecError);
    }),
    { numRuns: 300 },
  );
  t.pass();
});

t.test('trailing bytes are refused', async (t) => {
  t.match(decodeError(Buffer.concat([encodeRaftMessage(heartbeat), Buffer.from([0])])), /trailing/);
});

t.test('unknown version or type is refused', async (t) => {
  const bytes = Buffer.from(encodeRaftMessage(heartbeat));
  t.match(decodeError(Buffer.concat([Buffer.from([1]), bytes.subarray(1)])), /version 1/);
  t.match(decodeError(Buffer.concat([bytes.subarray(0, 1), Buffer.from([9]), bytes.subarray(2)])), /unknown raft message type 9/);
});

t.test('values beyond 2^53 - 1, node id 0, booleans other than 0/1 and negative lengths are refused', async (t) => {
  const vote = Buffer.from(encodeRaftMessage({ type: 'vote-response', from: 1, to: 2, term: 3, preVote: true, granted: false }));
  const unsafeTerm = Buffer.from(vote);
  unsafeTerm.writeUInt32BE(0x200000, 18); // term = 2^53
  t.match(decodeError(unsafeTerm), /term is not a safe integer/);
  const zeroFrom = Buffer.from(vote);
  zeroFrom.writeUInt32BE(0, 6);
  zeroFrom.writeUInt32BE(0, 10);
  t.match(decodeError(zeroFrom), /from is 0/);
  const badBool = Buffer.from(vote);
  badBool[26] = 2;
  t.match(decodeError(badBool), /not a boolean/);

  const snapshot = Buffer.from(encodeRaftMessage({ type: 'install-snapshot', from: 1, to: 2, term: 3, snapshot: { index: 4, term: 3, data: Uint8Array.of(1, 2) } }));
  const negative = Buffer.from(snapshot);
  negative.writeInt32BE(-1, 2 + 24 + 16);
  t.match(decodeError(negative), /length -1/);
  const tooLong = Buffer.from(snapshot);
  tooLong.writeInt32BE(1000, 2 + 24 + 16);
  t.match(decodeError(tooLong), /needs 1000 bytes/);

  const entries = Buffer.from(encodeRaftMessage({ ...heartbeat, entries: [{ index: 8, term: 3, kind: 'noop', data: new Uint8Array() }] }) as Buffer);
  const hugeCount = Buffer.from(entries);
  hugeCount.writeInt32BE(1_000_000, 2 + 24 + 24);
  t.match(decodeError(hugeCount), /cannot fit/, 'a count the bytes cannot hold is refused before allocating');
  const badKind = Buffer.from(entries);
  badKind[2 + 24 + 24 + 4 + 16] = 7;
  t.match(decodeError(badKind), /unknown kind 7/);
  const gap = Buffer.from(entries);
  gap.writeUInt32BE(9, 2 + 24 + 24 + 4 + 4);
  t.match(decodeError(gap), /index 9, expected 8/);
});

t.test('encoding refuses messages no node sends', async (t) => {
  const bad: unknown[] = [
    { ...heartbeat, term: -1 },
    { ...heartbeat, term: 1.5 },
    { ...heartbeat, prevIndex: Number.MAX_SAFE_INTEGER + 1 },
    { ...heartbeat, from: 0 },
    { ...heartbeat, entries: [{ index: 9, term: 3, kind: 'command', data: new Uint8Array() }] },
    { ...heartbeat, entries: [{ index: 8, term: 3, kind: 'other', data: new Uint8Array() }] },
    { type: 'append-response', from: 1, to: 2, term: 1, success: true, matchIndex: 0, rejectedIndex: 0, hintIndex: 0, hintTerm: undefined },
    { type: 'vote-request', from: 1, to: 2, term: 1, preVote: 'yes', lastLogIndex: 0, lastLogTerm: 0 },
    { type: 'nonsense', from: 1, to: 2, term: 1 },
  ];
  for (const m of bad) t.throws(() => encodeRaftMessage(m as RaftMessage), RaftCodecError, JSON.stringify(m));
});

t.test('random junk never throws anything but RaftCodecError, and what decodes is its own encoding', async (t) => {
  let accepted = 0;
  const check = (bytes: Uint8Array) => {
    try {
      const m = decodeRaftMessage(bytes);
      assert.deepStrictEqual(encodeRaftMessage(m), Buffer.from(bytes));
      accepted++;
    } catch (err) {
      assert.ok(err instanceof RaftCodecError, `unexpected ${String(err)}`);
    }
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), check), { numRuns: 3000 });
  // Mostly-valid inputs reach deeper than pure junk: flip a few bytes of real encodings.
  fc.assert(
    fc.property(messageArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 }), (m, flips) => {
      const bytes = Buffer.from(encodeRaftMessage(m));
      for (const [at, mask] of flips) bytes[at % bytes.length] ^= mask;
      check(bytes);
    }),
    { numRuns: 3000 },
  );
  t.ok(accepted > 0, `${accepted} corrupted inputs were still valid encodings and round-tripped`);
});
