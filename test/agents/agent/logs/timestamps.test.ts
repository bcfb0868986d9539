// Timestamp fields as services write them: RFC 3339, epoch numbers of any unit, log4j/Python and nginx forms.
import t from 'tap';
import { MAX_TIMESTAMP, MIN_TIMESTAMP, parseTimestamp } from '../../../../agents/agent/logs/timestamps.ts';

const at = Date.UTC(2026, 10, 23, 8, 15, 2, 123); // 2026-11-23T08:15:02.123Z
const atSecond = at - 123;

t.test('RFC 3339 / ISO 8601', async (t) => {
  t.equal(parseTimestamp('2026-11-23T08:15:02.123Z'), at);
  t.equal(parseTimestamp('2026-11-23t08:15:02.123z'), at, 'lower-case t and z');
  t.equal(parseTimestamp('2026-11-23T09:15:02.123+01:00'), at, 'offset with colon');
  t.equal(parseTimestamp('2026-11-23T09:15:02.123+0100'), at, 'offset without colon');
  t.equal(parseTimestamp('2026-11-23T03:15:02.123-05'), at, 'hours-only offset');
  t.equal(parseTimestamp('2026-11-23T13:45:02.123+05:30'), at);
  t.equal(parseTimestamp('2026-11-23T08:15:02.123456789Z'), at, 'nanosecond fraction truncated to ms');
  t.equal(parseTimestamp('2026-11-23T08:15:02.1Z'), atSecond + 100, 'short fraction');
  t.equal(parseTimestamp('2026-11-23T08:15:02Z'), atSecond);
  t.equal(parseTimestamp('2026-11-23T08:15Z'), atSecond - 2000, 'no seconds');
  t.equal(parseTimestamp('2026-11-23'), Date.UTC(2026, 10, 23), 'date only');
  t.equal(parseTimestamp('  2026-11-23T08:15:02.123Z\n'), at, 'surrounding blanks');
});

t.test('no zone means UTC, whatever the machine zone', async (t) => {
  t.equal(parseTimestamp('2026-11-23T08:15:02.123'), at);
  t.equal(parseTimestamp('2026-11-23 08:15:02.123'), at);
});

t.test('common log formats', async (t) => {
  t.equal(parseTimestamp('2026-11-23 08:15:02,123'), at, 'log4j / Python logging');
  t.equal(parseTimestamp('2026/11/23 08:15:02'), atSecond, "Go's log package");
  t.equal(parseTimestamp('2026-11-23 08:15:02 UTC'), atSecond);
  t.equal(parseTimestamp('2026-11-23 09:15:02 +0100'), atSecond);
  t.equal(parseTimestamp('23/Nov/2026:08:15:02 +0000'), atSecond, 'nginx / Apache');
  t.equal(parseTimestamp('23/Nov/2026:09:15:02 +0100'), atSecond);
  t.equal(parseTimestamp('23/nov/2026:03:15:02 -0500'), atSecond, 'month name in any case');
  t.equal(parseTimestamp('23/Nov/2026:08:15:02'), atSecond, 'no zone: UTC');
  t.equal(parseTimestamp('Mon, 23 Nov 2026 08:15:02 GMT'), atSecond, 'RFC 1123 / HTTP date');
});

t.test('epoch numbers: the unit by magnitude', async (t) => {
  t.equal(parseTimestamp(1795421702), atSecond, 'seconds');
  t.equal(parseTimestamp(1795421702.123), at, 'fractional seconds');
  t.equal(parseTimestamp(at), at, 'milliseconds');
  t.equal(parseTimestamp(at * 1000 + 456), at, 'microseconds');
  t.equal(parseTimestamp(at * 1e6), at, 'nanoseconds');
  t.equal(parseTimestamp('1795421702'), atSecond, 'numeric string, seconds');
  t.equal(parseTimestamp('1795421702.123'), at);
  t.equal(parseTimestamp(String(at)), at);
  t.equal(parseTimestamp('1795421702123456'), at, 'numeric string, microseconds');
  t.equal(parseTimestamp('1795421702123999999'), at, 'nanosecond strings are cut, not rounded (2^53)');
});

t.test('out of bounds or unreadable: undefined', async (t) => {
  t.equal(parseTimestamp('1999-12-31T23:59:59.999Z'), undefined, 'before 2000');
  t.equal(parseTimestamp('2100-01-01T00:00:00.001Z'), undefined, 'after 2100');
  t.equal(parseTimestamp(MIN_TIMESTAMP), MIN_TIMESTAMP, 'the bounds themselves are in');
  t.equal(parseTimestamp(MAX_TIMESTAMP), MAX_TIMESTAMP);
  t.equal(parseTimestamp(0), undefined);
  t.equal(parseTimestamp(-1795421702), undefined);
  t.equal(parseTimestamp(42), undefined);
  t.equal(parseTimestamp(Number.POSITIVE_INFINITY), undefined);
  t.equal(parseTimestamp(Number.NaN), undefined);
  for (const bad of ['', 'now', '1', 'yesterday 12:00', '2026-13-01T00:00:00Z', '2026-02-30', '2026-11-23T24:00:00Z', '2026-11-23T08:60:00Z',
    '2026-11-23T08:15:02+25:00', '2026-11-23T08:15:02 EST', '2026-11-23T08:15:02Zjunk', '2026-11-23X08:15:02', '2026-11-23T08:15:02.Z',
    '23/Foo/2026:08:15:02 +0000', '1.2.3', '12ab', '-1795421702', 'Mon, 23 Nov 2026']) {
    t.equal(parseTimestamp(bad), undefined, JSON.stringify(bad));
  }
  t.equal(parseTimestamp('2028-02-29'), Date.UTC(2028, 1, 29), 'leap day');
  t.equal(parseTimestamp('2026-02-29'), undefined, 'not a leap year');
  t.equal(parseTimestamp(true), undefined);
  t.equal(parseTimestamp({ seconds: 1 }), undefined);
  t.equal(parseTimestamp(null), undefined);
});
