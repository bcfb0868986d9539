// The checker on synthetic histories: a clean one passes, and each rule, broken on its own, is reported
// with the value, partition and offset involved.
import t from 'tap';
import { check } from './checker.ts';
import type { History, HistoryEvent, StoredRecord } from './history.ts';

/**
 * A clean run: client p sends p-0..p-5 round-robin over 2 partitions, all acked; one failed send that was
 * never written and one outstanding send that was; a consumer reads everything and commits; 3 replicas agree.
 */
function cleanHistory(): History {
  const events: HistoryEvent[] = [];
  const records: StoredRecord[] = [];
  let now = 1000;
  const next = [0, 0];
  for (let i = 0; i < 6; i++) {
    const value = `p-${i}`;
    const partition = i % 2;
    events.push({ type: 'send', client: 'p', value, partition, atMs: now++ });
    const offset = next[partition]++;
    events.push({ type: 'ack', client: 'p', value, partition, offset, atMs: now++ });
    records.push({ partition, offset, value });
  }
  events.push({ type: 'send', client: 'p', value: 'p-6', partition: 0, atMs: now++ });
  events.push({ type: 'fail', client: 'p', value: 'p-6', error: 'TimeoutError', atMs: now++ });
  events.push({ type: 'send', client: 'p', value: 'p-7', partition: 1, atMs: now++ });
  records.push({ partition: 1, offset: next[1]++, value: 'p-7' });
  events.push({ type: 'join', consumer: 'c', group: 'g', atMs: now++ });
  for (const r of records) events.push({ type: 'observe', consumer: 'c', partition: r.partition, offset: r.offset, value: r.value, atMs: now++ });
  events.push({ type: 'commit', group: 'g', partition: 0, offset: 2, atMs: now++ });
  events.push({ type: 'commit', group: 'g', partition: 0, offset: 3, atMs: now++ });
  events.push({ type: 'commit', group: 'g', partition: 1, offset: 4, atMs: now++ });
  events.push({ type: 'unknown', client: 'p', value: 'p-7', atMs: now++ });
  records.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  const replicas = [1, 2, 3].flatMap((nodeId) =>
    [0, 1].map((partition) => {
      const mine = records.filter((r) => r.partition === partition).map((r) => ({ ...r }));
      return { nodeId, partition, logStartOffset: 0, logEndOffset: mine.length, records: mine };
    }),
  );
  return {
    topic: 't',
    partitions: 2,
    events,
    final: {
      records,
      highWatermarks: { 0: 3, 1: 4 },
      committed: [
        { group: 'g', partition: 0, offset: 3 },
        { group: 'g', partition: 1, offset: 4 },
      ],
      replicas,
    },
  };
}

function problemsOf(h: History): string[] {
  return check(h).problems;
}

t.test('a clean history passes', async (t) => {
  const result = check(cleanHistory());
  t.same(result.problems, []);
  t.ok(result.ok);
  t.match(result.stats, { sent: 8, acked: 6, failed: 1, unknown: 1, observed: 7, commits: 3, joins: 1, finalRecords: 7, indeterminateWritten: 1 });
});

t.test('an unwritten failed send and an extra uncommitted record on a replica above the HW are fine', async (t) => {
  const h = cleanHistory();
  h.final.replicas[0].records.push({ partition: 0, offset: 3, value: 'p-6' });
  t.same(problemsOf(h), []);
});

t.test('a lost acknowledged value', async (t) => {
  const h = cleanHistory();
  h.final.records = h.final.records.filter((r) => r.value !== 'p-2');
  for (const rep of h.final.replicas) rep.records = rep.records.filter((r) => r.value !== 'p-2');
  h.events = h.events.filter((e) => !(e.type === 'observe' && e.value === 'p-2'));
  t.same(problemsOf(h), ['acknowledged value p-2 (partition 0 offset 1) is lost: not in the final read']);
});

t.test('a duplicated value', async (t) => {
  const h = cleanHistory();
  h.final.records.push({ partition: 1, offset: 4, value: 'p-1' });
  h.final.highWatermarks[1] = 5;
  for (const rep of h.final.replicas) if (rep.partition === 1) rep.records.push({ partition: 1, offset: 4, value: 'p-1' });
  t.same(problemsOf(h), ['value p-1 appears 2 times in the final read: partition 1 offset 0, partition 1 offset 4']);
});

t.test('a duplicated value that was never acknowledged', async (t) => {
  const h = cleanHistory();
  h.final.records.push({ partition: 1, offset: 4, value: 'p-7' });
  h.final.highWatermarks[1] = 5;
  for (const rep of h.final.replicas) if (rep.partition === 1) rep.records.push({ partition: 1, offset: 4, value: 'p-7' });
  t.same(problemsOf(h), ['value p-7 appears 2 times in the final read: partition 1 offset 3, partition 1 offset 4']);
});

t.test('final read offsets that do not increase', async (t) => {
  const h = cleanHistory();
  const i = h.final.records.findIndex((r) => r.value === 'p-4');
  [h.final.records[i - 1], h.final.records[i]] = [h.final.records[i], h.final.records[i - 1]];
  t.same(problemsOf(h), ['final read of partition 0: offset 1 (value p-2) follows offset 2']);
});

t.test('a value nobody sent', async (t) => {
  const h = cleanHistory();
  h.final.records.push({ partition: 1, offset: 4, value: 'ghost' });
  h.final.highWatermarks[1] = 5;
  for (const rep of h.final.replicas) if (rep.partition === 1) rep.records.push({ partition: 1, offset: 4, value: 'ghost' });
  t.same(problemsOf(h), ['value ghost at partition 1 offset 4 was never sent']);
});

t.test('a final read past the high watermark', async (t) => {
  const h = cleanHistory();
  h.final.highWatermarks[1] = 3;
  t.same(problemsOf(h), [
    'final read of partition 1 has offset 3 at or above the high watermark 3',
    'group g partition 1: committed offset 4 is past the high watermark 3',
  ]);
});

t.test('an ack at a different offset than the record', async (t) => {
  const h = cleanHistory();
  const ack = h.events.find((e) => e.type === 'ack' && e.value === 'p-3')!;
  if (ack.type === 'ack') ack.offset = 5;
  t.same(problemsOf(h), [
    'acknowledged value p-3 was acked at partition 1 offset 5 but is at partition 1 offset 1',
    "p's ack for p-5 at partition 1 offset 2 is not after its earlier ack for p-3 at offset 5",
  ]);
});

t.test('an ack at an offset that holds another value', async (t) => {
  const h = cleanHistory();
  const ack = h.events.find((e) => e.type === 'ack' && e.value === 'p-3')!;
  if (ack.type === 'ack') ack.offset = 0;
  t.same(problemsOf(h), [
    'partition 1 offset 0 holds p-1 for the final read but p-3 for the ack to p',
    'acknowledged value p-3 was acked at partition 1 offset 0 but is at partition 1 offset 1',
    "p's ack for p-3 at partition 1 offset 0 is not after its earlier ack for p-1 at offset 0",
  ]);
});

t.test("a producer's offsets going backwards", async (t) => {
  const h = cleanHistory();
  // Swap the order of two acks of partition 0 (records stay where they are).
  const a = h.events.findIndex((e) => e.type === 'ack' && e.value === 'p-2');
  const b = h.events.findIndex((e) => e.type === 'ack' && e.value === 'p-4');
  [h.events[a], h.events[b]] = [h.events[b], h.events[a]];
  t.same(problemsOf(h), ["p's ack for p-2 at partition 0 offset 1 is not after its earlier ack for p-4 at offset 2"]);
});

t.test('a consumer saw a record that was later lost', async (t) => {
  const h = cleanHistory();
  h.events.push({ type: 'observe', consumer: 'c', partition: 1, offset: 4, value: 'p-6', atMs: 9999 });
  t.same(problemsOf(h), ['consumer c saw p-6 at partition 1 offset 4, which the final read does not have']);
});

t.test('a consumer saw a record that was later replaced', async (t) => {
  const h = cleanHistory();
  const obs = h.events.find((e) => e.type === 'observe' && e.value === 'p-7')!;
  if (obs.type === 'observe') obs.value = 'p-6';
  t.same(problemsOf(h), [
    'partition 1 offset 3 holds p-7 for the final read but p-6 for consumer c',
    'consumer c saw p-6 at partition 1 offset 3, where the final read has p-7',
  ]);
});

t.test('a consumer going back below a commit acknowledged before it rejoined', async (t) => {
  const h = cleanHistory();
  h.events.push({ type: 'join', consumer: 'c', group: 'g', atMs: 9998 });
  h.events.push({ type: 'observe', consumer: 'c', partition: 0, offset: 0, value: 'p-0', atMs: 9999 });
  t.same(problemsOf(h), ['consumer c went back on partition 0 from offset 2 to 0 (p-0), below the commit 3 acknowledged before it joined']);
});

t.test('a consumer re-reading from the committed offset after rejoining is fine', async (t) => {
  const h = cleanHistory();
  h.events.splice(
    h.events.findIndex((e) => e.type === 'commit' && e.partition === 1 && e.offset === 4),
    1,
  );
  h.events.push({ type: 'commit', group: 'g', partition: 1, offset: 2, atMs: 9997 });
  h.events.push({ type: 'join', consumer: 'c', group: 'g', atMs: 9998 });
  h.events.push({ type: 'observe', consumer: 'c', partition: 1, offset: 2, value: 'p-5', atMs: 9999 });
  h.final.committed[1].offset = 2;
  t.same(problemsOf(h), []);
});

t.test('a commit acknowledged while the consumer was rejoining does not bound where it resumes', async (t) => {
  const h = cleanHistory();
  const i = h.events.findIndex((e) => e.type === 'commit' && e.partition === 0 && e.offset === 3);
  const [late] = h.events.splice(i, 1);
  h.events.push({ type: 'join', consumer: 'c', group: 'g', atMs: 9997 });
  h.events.push({ ...late, atMs: 9998 });
  h.events.push({ type: 'observe', consumer: 'c', partition: 0, offset: 2, value: 'p-4', atMs: 9999 });
  t.same(problemsOf(h), []);
});

t.test('a commit going backwards', async (t) => {
  const h = cleanHistory();
  h.events.push({ type: 'commit', group: 'g', partition: 0, offset: 1, atMs: 9999 });
  t.same(problemsOf(h), ['group g commit for partition 0 went backwards: 1 after 3']);
});

t.test('a lost committed offset', async (t) => {
  const h = cleanHistory();
  h.final.committed = h.final.committed.filter((c) => c.partition !== 1);
  h.final.committed[0].offset = 2;
  t.same(problemsOf(h), [
    'group g partition 0: committed offset is 2 after an acknowledged commit of 3',
    'group g partition 1: committed offset is -1 after an acknowledged commit of 4',
  ]);
});

t.test('a replica missing records below the high watermark', async (t) => {
  const h = cleanHistory();
  const rep = h.final.replicas.find((r) => r.nodeId === 2 && r.partition === 1)!;
  rep.records = rep.records.slice(0, 2);
  rep.logEndOffset = 2;
  t.same(problemsOf(h), ['node 2 partition 1 lacks 2 record(s) below the high watermark 4, first p-5 at offset 2 (its log ends at 2)']);
});

t.test('a replica diverging from the leader below the high watermark', async (t) => {
  const h = cleanHistory();
  const rep = h.final.replicas.find((r) => r.nodeId === 3 && r.partition === 0)!;
  rep.records[2] = { partition: 0, offset: 2, value: 'p-6' };
  t.same(problemsOf(h), ["partition 0 offset 2 holds p-4 for the final read but p-6 for node 3's log"]);
});

t.test('a replica with a record where the leader has a gap', async (t) => {
  const h = cleanHistory();
  h.final.records = h.final.records.filter((r) => !(r.partition === 0 && r.offset === 1));
  h.events = h.events.filter((e) => !(e.type === 'observe' && e.value === 'p-2'));
  for (const rep of h.final.replicas) if (rep.nodeId !== 1) rep.records = rep.records.filter((r) => !(r.partition === 0 && r.offset === 1));
  t.same(problemsOf(h), [
    'acknowledged value p-2 (partition 0 offset 1) is lost: not in the final read',
    'node 1 partition 0 has p-2 at offset 1, which the leader\'s log does not',
  ]);
});
