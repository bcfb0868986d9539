// The agent's disk buffer: order, bounds, acknowledgement, and recovery after a crash (torn tail,
// acknowledged records skipped, marks of unacknowledged records reported).
import t from 'tap';
import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskBuffer } from '../../../../agents/agent/buffer/disk-buffer.ts';
import type { NewRecord } from '../../../../agents/agent/buffer/buffer-frame.ts';

const dirs: string[] = [];
t.teardown(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'agent-buffer-'));
  dirs.push(d);
  return d;
}

const record = (i: number, file = 'f#0'): NewRecord => ({ timestamp: 1_700_000_000_000 + i, topic: 'logs.raw', key: 'host-a', value: Buffer.from(`line ${i} ${'x'.repeat(i % 50)}`), mark: { file, position: (i + 1) * 10 } });

t.test('records come back in order, across segments, with every field intact', async (t) => {
  const dir = tempDir();
  const { buffer } = DiskBuffer.open(dir, { maxBytes: 1 << 30, segmentBytes: 4096, ackedSeq: 0 });
  for (let i = 0; i < 1000; i += 10) buffer.append(Array.from({ length: 10 }, (_, j) => record(i + j)));
  const segmentsBefore = readdirSync(dir).length;
  t.ok(segmentsBefore > 5, 'rolled into several segments');
  t.equal(buffer.records, 1000);
  const got = [];
  for (;;) {
    const batch = buffer.read(77, 1 << 20);
    if (batch.length === 0) break;
    got.push(...batch);
  }
  t.equal(got.length, 1000);
  t.same(got.map((r) => r.seq), Array.from({ length: 1000 }, (_, i) => i + 1), 'seqs are 1..1000 in order');
  t.equal(got[123].value.toString(), record(123).value.toString());
  t.same(got[5].mark, { file: 'f#0', position: 60 });
  t.equal(got[5].timestamp, 1_700_000_000_005);
  buffer.ack(got.slice(0, 500));
  t.equal(buffer.records, 500);
  t.ok(readdirSync(dir).length <= segmentsBefore / 2 + 1, 'acknowledged segments are deleted');
  buffer.ack(got.slice(500));
  t.equal(buffer.records, 0);
  t.equal(buffer.bytes, 0);
  buffer.close();
});

t.test('full at the bound; acknowledgement frees space', async (t) => {
  const { buffer } = DiskBuffer.open(tempDir(), { maxBytes: 10_000, segmentBytes: 4096, ackedSeq: 0 });
  let n = 0;
  while (!buffer.full) buffer.append([record(n++)]);
  t.ok(buffer.bytes >= 10_000 && buffer.bytes < 10_200, `stops at the bound (${buffer.bytes} bytes)`);
  const batch = buffer.read(10, 1 << 20);
  buffer.ack(batch);
  t.notOk(buffer.full, 'space again after an acknowledgement');
  buffer.close();
});

t.test('recovery: acknowledged records skipped, torn tail cut, marks of the rest reported, seqs continue', async (t) => {
  const dir = tempDir();
  let { buffer } = DiskBuffer.open(dir, { maxBytes: 1 << 30, segmentBytes: 2048, ackedSeq: 0 });
  for (let i = 0; i < 100; i++) buffer.append([record(i, i < 50 ? 'a#0' : 'b#1')]);
  const first = buffer.read(40, 1 << 20);
  buffer.ack(first);
  buffer.close();
  // A crash in the middle of the last append leaves half a frame.
  const segments = readdirSync(dir).sort();
  const last = join(dir, segments.at(-1)!);
  appendFileSync(last, Buffer.from([0, 0, 0, 200, 1, 2, 3]));
  const sizeWithJunk = statSync(last).size;
  const reopened = DiskBuffer.open(dir, { maxBytes: 1 << 30, segmentBytes: 2048, ackedSeq: 40 });
  buffer = reopened.buffer;
  t.equal(reopened.recovered.truncatedBytes, 7, 'the torn frame is cut');
  t.equal(statSync(last).size, sizeWithJunk - 7);
  t.equal(reopened.recovered.records, 60, 'only unacknowledged records count');
  t.equal(reopened.recovered.marks.get('a#0'), 500, 'furthest buffered position of file a');
  t.equal(reopened.recovered.marks.get('b#1'), 1000, 'furthest buffered position of file b');
  const rest = buffer.read(1000, 1 << 20);
  t.equal(rest[0].seq, 41, 'reading resumes after the acknowledged seq');
  t.equal(rest.at(-1)!.seq, 100);
  const more = buffer.append([record(100)]);
  t.equal(more.firstSeq, 101, 'new records continue the sequence');
  buffer.close();
});

t.test('a corrupt frame in the middle ends the readable log there', async (t) => {
  const dir = tempDir();
  const { buffer } = DiskBuffer.open(dir, { maxBytes: 1 << 30, segmentBytes: 1 << 20, ackedSeq: 0 });
  for (let i = 0; i < 10; i++) buffer.append([record(i)]);
  buffer.close();
  const seg = join(dir, readdirSync(dir)[0]);
  const size = statSync(seg).size;
  truncateSync(seg, Math.floor(size / 2));
  const { buffer: again, recovered } = DiskBuffer.open(dir, { maxBytes: 1 << 30, segmentBytes: 1 << 20, ackedSeq: 0 });
  t.ok(recovered.records >= 4 && recovered.records < 10, `kept the whole frames before the damage (${recovered.records})`);
  const all = again.read(100, 1 << 20);
  t.equal(all.length, recovered.records);
  t.same(all.map((r) => r.seq), Array.from({ length: all.length }, (_, i) => i + 1));
  again.close();
});

t.test('a record larger than the read size is still read', async (t) => {
  const { buffer } = DiskBuffer.open(tempDir(), { maxBytes: 1 << 30, segmentBytes: 8 << 20, ackedSeq: 0 });
  buffer.append([{ timestamp: 1, topic: 't', key: 'k', value: Buffer.alloc(3 << 20, 1) }, record(1)]);
  const a = buffer.read(10, 1000);
  t.equal(a.length, 1, 'one big record');
  t.equal(a[0].value.length, 3 << 20);
  const b = buffer.read(10, 1000);
  t.equal(b.length, 1);
  t.equal(b[0].seq, 2);
  buffer.close();
});
