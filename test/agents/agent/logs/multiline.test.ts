// Multiline assembly: stack traces and tracebacks become one record each, with exact file offsets, closed by
// the next start line, a quiet timeout, or the line and byte limits.
import t from 'tap';
import { MultilineAssembler, type Assembled, type MultilineConfig } from '../../../../agents/agent/logs/multiline.ts';

/** Pushes every `\n`-terminated line of `content` (starting at byte `base`) as a tailer would. */
function feed(a: MultilineAssembler, content: string, now = 0, base = 0): Assembled[] {
  const out: Assembled[] = [];
  let offset = base;
  for (const line of content.split('\n').slice(0, -1)) {
    const end = offset + Buffer.byteLength(line) + 1;
    out.push(...a.push(line, offset, end, now));
    offset = end;
  }
  return out;
}

/** What each record's offsets cut out of the file: its lines, each with its newline, if they are exact. */
function cut(file: string, records: Assembled[]): string[] {
  const bytes = Buffer.from(file);
  return records.map((r) => bytes.subarray(r.startOffset, r.endOffset).toString());
}
const withNewlines = (records: Assembled[]) => records.map((r) => `${r.text}\n`);

const java = [
  'Exception in thread "main" java.lang.IllegalStateException: boom',
  '\tat com.x.Y.z(Y.java:10)',
  '\tat com.x.Main.main(Main.java:5)',
  'Caused by: java.io.IOException: disk full',
  '\tat com.x.Disk.write(Disk.java:3)',
  '\t... 3 more',
].join('\n');

t.test('a Java stack trace is one record', async (t) => {
  // A line that does not begin with a blank or "Caused by:" starts a record.
  const a = new MultilineAssembler({ startPattern: '^(?!\\s|Caused by:)' });
  const file = `${java}\n${java}\nApplication stopped\n`;
  const out = feed(a, file);
  t.same(out.map((r) => r.text), [java, java], 'each trace complete when the next start line comes');
  t.equal(a.pendingStartOffset(), out[1].endOffset, 'the last line waits for what follows it');
  out.push(...a.flushAll());
  t.same(out.map((r) => r.text), [java, java, 'Application stopped']);
  t.same(cut(file, out), withNewlines(out), 'offsets exact');
  t.equal(out[0].startOffset, 0);
  t.equal(out[1].startOffset, out[0].endOffset, 'records tile the file');
  t.equal(out[2].endOffset, Buffer.byteLength(file));
  t.equal(a.pendingStartOffset(), undefined);
});

t.test('a Python traceback, with a timestamp as the start pattern', async (t) => {
  // '^\\S' would split a traceback: its last line ("ValueError: …") starts in column 0. The timestamp that
  // begins every logging line does not appear inside a traceback.
  const config: MultilineConfig = { startPattern: '^\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}', timeoutMs: 500 };
  const traceback = [
    '2026-11-23 08:15:02,123 ERROR worker: job 7 failed',
    'Traceback (most recent call last):',
    '  File "/app/worker.py", line 42, in run',
    '    result = handle(job)',
    '  File "/app/jobs.py", line 10, in handle',
    "    raise ValueError('bad input: é')",
    "ValueError: bad input: é",
  ].join('\n');
  const file = `2026-11-23 08:15:01,000 INFO worker: job 7 started\n${traceback}\n2026-11-23 08:15:03,000 INFO worker: job 8 started\n`;
  const a = new MultilineAssembler(config);
  const out = feed(a, file, 1000);
  t.same(out.map((r) => r.text), ['2026-11-23 08:15:01,000 INFO worker: job 7 started', traceback]);
  t.equal(a.pendingStartOffset(), Buffer.byteLength(file) - Buffer.byteLength('2026-11-23 08:15:03,000 INFO worker: job 8 started\n'), 'the last line waits');
  t.same(a.flushDue(1499), [], 'not yet idle for 500 ms');
  const last = a.flushDue(1500);
  t.same(last.map((r) => r.text), ['2026-11-23 08:15:03,000 INFO worker: job 8 started']);
  t.same(cut(file, [...out, ...last]), withNewlines([...out, ...last]), 'offsets exact');
  t.equal(out[1].endOffset - out[1].startOffset, Buffer.byteLength(`${traceback}\n`), 'byte offsets, not characters (é is two bytes)');
});

t.test('lines before the first start line form their own record', async (t) => {
  const a = new MultilineAssembler({ startPattern: '^\\d{4}-' });
  const file = '\tat com.x.Y.z(Y.java:10)\n\t... 3 more\n2026-11-23 first\n';
  const out = feed(a, file, 0, 100);
  t.same(out, [{ text: '\tat com.x.Y.z(Y.java:10)\n\t... 3 more', startOffset: 100, endOffset: 137 }], 'the tail of a trace read from the middle of the file');
  t.same(a.flushAll(), [{ text: '2026-11-23 first', startOffset: 137, endOffset: 154 }]);
});

t.test('timeouts: idle since the last line, and continuation after a flush', async (t) => {
  const a = new MultilineAssembler({ startPattern: '^START', timeoutMs: 1000 });
  t.same(a.push('START one', 0, 10, 0), []);
  t.same(a.push('  more', 10, 17, 800), []);
  t.same(a.flushDue(1700), [], 'a new line restarts the wait');
  t.same(a.flushDue(1800), [{ text: 'START one\n  more', startOffset: 0, endOffset: 17 }]);
  t.equal(a.pendingStartOffset(), undefined);
  t.same(a.flushDue(5000), [], 'nothing pending, nothing flushed');
  t.same(a.push('  late', 17, 24, 6000), [], 'a late continuation is not glued to a record already sent');
  t.same(a.flushAll(), [{ text: '  late', startOffset: 17, endOffset: 24 }]);
  t.same(new MultilineAssembler({ startPattern: '^START' }).flushAll(), []);
});

t.test('the checkpoint position: the start of the pending record', async (t) => {
  const a = new MultilineAssembler({ startPattern: '^S' });
  t.equal(a.pendingStartOffset(), undefined);
  a.push('S1', 0, 3, 0);
  t.equal(a.pendingStartOffset(), 0);
  a.push(' c', 3, 6, 0);
  t.equal(a.pendingStartOffset(), 0, 'continuations do not move it');
  a.push('S2', 6, 9, 0);
  t.equal(a.pendingStartOffset(), 6, 'a completed record moves it');
  // A restart re-reads from 6 and assembles the same record.
  const again = new MultilineAssembler({ startPattern: '^S' });
  again.push('S2', 6, 9, 0);
  a.push(' d', 9, 12, 0);
  again.push(' d', 9, 12, 0);
  t.same(again.flushAll(), a.flushAll());
});

t.test('maxLines and maxBytes close a record early', async (t) => {
  const a = new MultilineAssembler({ startPattern: '^S', maxLines: 3 });
  const out = feed(a, 'S\n1\n2\n3\n4\nS\n');
  t.same(out.map((r) => r.text), ['S\n1\n2', '3\n4'], 'three lines, then the rest of the trace on its own');
  t.same(a.flushAll().map((r) => r.text), ['S']);

  const b = new MultilineAssembler({ startPattern: '^S', maxBytes: 10 });
  const file = 'S123\nabcd\nef\nS\n';
  const bytes = [...feed(b, file), ...b.flushAll()];
  t.same(bytes.map((r) => r.text), ['S123\nabcd', 'ef', 'S'], 'closed when full (10 bytes), never past it');
  t.same(cut(file, bytes), withNewlines(bytes));
  const c = new MultilineAssembler({ startPattern: '^S', maxBytes: 8 });
  t.same(feed(c, 'S12\n12345\n'), [{ text: 'S12', startOffset: 0, endOffset: 4 }], 'a line that would overflow starts a new record');
  t.same(c.flushAll(), [{ text: '12345', startOffset: 4, endOffset: 10 }]);
  const d = new MultilineAssembler({ startPattern: '^S', maxBytes: 4 });
  t.same(feed(d, 'S\n0123456789\nx\n').map((r) => r.text), ['S', '0123456789'], 'one line over the limit is a record by itself');
  const e = new MultilineAssembler({ startPattern: '^S', maxLines: 1 });
  t.same(e.push('S', 0, 2, 0), [{ text: 'S', startOffset: 0, endOffset: 2 }], 'a start line can both close the pending record and fill its own');
  e.push('x', 2, 4, 0);
  t.same(e.push('S', 4, 6, 0), [{ text: 'S', startOffset: 4, endOffset: 6 }]);
});

t.test('defaults and config errors', async (t) => {
  const a = new MultilineAssembler({ startPattern: '^S' });
  const many = feed(a, `S\n${'x\n'.repeat(600)}`);
  t.equal(many.length, 1, 'maxLines defaults to 500');
  t.equal(many[0].text.split('\n').length, 500);
  a.push('x', 0, 2, 10_000);
  t.same(a.flushDue(10_999), [], 'timeoutMs defaults to 1000');
  t.equal(a.flushDue(11_000)[0].text.split('\n').length, 102, 'the 101 lines left over, and the last');
  t.throws(() => new MultilineAssembler({ startPattern: '(unclosed' }), /invalid multiline start pattern "\(unclosed": /);
  t.throws(() => new MultilineAssembler({ startPattern: '^S', mode: 'halt_with' as MultilineConfig['mode'] }), /unknown multiline mode "halt_with"/);
  t.throws(() => new MultilineAssembler({ startPattern: '^S', maxLines: -1 }), /maxLines must be 0 or more/);
  for (const mode of ['continue_through', 'halt_before'] as const) {
    const m = new MultilineAssembler({ startPattern: '^S', mode });
    t.same([...feed(m, 'S\n c\nS\n'), ...m.flushAll()].map((r) => r.text), ['S\n c', 'S'], mode);
  }
});
